"""Polar Measurement Data (PMD) accelerometer: profile as data and pure decoders.

Facts from Polar's public SDK (polarofficial/polar-ble-sdk; the decoders are written here,
not ported). The PMD service has a control point (write, indicate) and a data characteristic
(notify); a client enables both before writing commands.

Control point
    Commands are ``[opcode][measurement type][setting type, count, value...]...``; values
    are little-endian with a width fixed per setting type. Responses are
    ``F0 [opcode][measurement type][status][more][parameters...]``; the start response's
    parameters may carry the FACTOR setting (float32) that scales compressed frames. A
    message ``01 [types...]`` instead says the device stopped those online streams.
Data frame
    ``[measurement type][u64 timestamp][frame type][payload]``: the timestamp is that of the
    *last* sample, ns since 2000-01-01T00:00:00 UTC. Frame type bit 7 marks a delta-compressed
    frame. ACC raw types 0/1/2 hold 3 x int8/int16/int24 per sample, in mG. Compressed frames
    hold a reference sample (3 x int16) and blocks ``[bit width][count][count x 3 deltas]``,
    bits read LSB-first, each delta sign-extended and added to the previous sample. Type 0x80
    values times factor x 1000 are mG; type 0x81 values are mG (times factor when it is not 1).
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from detector.errors import CrampInputError
from detector.profiles.errors import DecodeError
from detector.signals import ChannelSpec

Bytes = bytes | bytearray | memoryview

POLAR_EPOCH_UNIX_S = 946_684_800
"""Seconds from 1970-01-01 to 2000-01-01 (UTC), the origin of PMD timestamps."""

_MAX_TIMESTAMP_NS = 2**62
"""Timestamps are kept in int64 ns; 2**62 ns after 2000 leaves headroom for rounding."""

_UUID_TEMPLATE = "fb005c8{:x}-02e7-f387-1cad-8acd2d8df0c8"


class MeasurementType(enum.IntEnum):
    """PMD measurement types (byte 0 of a data frame, byte 1 of a command)."""

    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAG = 6
    SDK_MODE = 9


class ControlOpcode(enum.IntEnum):
    """Control-point command opcodes used here."""

    GET_SETTINGS = 1
    START = 2
    STOP = 3


class SettingType(enum.IntEnum):
    """Setting types of the ``type, count, value...`` lists."""

    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5


class ResponseStatus(enum.IntEnum):
    """Status byte of a control-point response."""

    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14


@dataclass(frozen=True, kw_only=True)
class PmdProfile:
    """The PMD GATT profile and layout constants, as data.

    Attributes
    ----------
    service_uuid, control_point_uuid, data_uuid : str
        128-bit UUIDs (lowercase text).
    response_code : int
        First byte of every control-point response.
    stopped_code : int
        First byte of a device-initiated "online measurement stopped" message.
    header_bytes : int
        Length of a data frame header (type, u64 timestamp, frame type).
    compressed_bit : int
        Frame-type bit marking a delta-compressed frame.
    setting_bytes : dict of SettingType to int
        Width of one value of each setting type.
    acc_channels : int
        Axes per ACC sample.
    acc_raw_bytes : dict of int to int
        Bytes per axis value of each raw ACC frame type.
    acc_compressed_resolution_bits : int
        Width of the reference sample values of compressed ACC frames.
    """

    service_uuid: str = _UUID_TEMPLATE.format(0)
    control_point_uuid: str = _UUID_TEMPLATE.format(1)
    data_uuid: str = _UUID_TEMPLATE.format(2)
    response_code: int = 0xF0
    stopped_code: int = 0x01
    header_bytes: int = 10
    compressed_bit: int = 0x80
    setting_bytes: dict[SettingType, int] = field(default_factory=lambda: {
        SettingType.SAMPLE_RATE: 2, SettingType.RESOLUTION: 2, SettingType.RANGE: 2,
        SettingType.RANGE_MILLIUNIT: 4, SettingType.CHANNELS: 1, SettingType.FACTOR: 4})
    acc_channels: int = 3
    acc_raw_bytes: dict[int, int] = field(default_factory=lambda: {0: 1, 1: 2, 2: 3})
    acc_compressed_resolution_bits: int = 16


POLAR_PMD = PmdProfile()


@dataclass(frozen=True, kw_only=True)
class AccSettings:
    """Settings of one accelerometer stream, as sent in a start command.

    Attributes
    ----------
    sample_rate_hz : int
        Sampling rate (Hz).
    resolution_bits : int
        Sample resolution (bits).
    range_g : int
        Full-scale range (+-g).
    channels : int, optional
        Number of axes; sent only when given (some devices list it among their settings).
    """

    sample_rate_hz: int
    resolution_bits: int
    range_g: int
    channels: int | None = None


H10_ACC_200HZ = AccSettings(sample_rate_hz=200, resolution_bits=16, range_g=8)
"""Polar H10 accelerometer at 200 Hz, 16 bit, +-8 g."""

# -------------------------------------------------------------------------------- commands


def build_get_settings_command(measurement: MeasurementType) -> bytes:
    """Return the control-point command asking which settings ``measurement`` supports."""
    return bytes([ControlOpcode.GET_SETTINGS, measurement])


def build_stop_command(measurement: MeasurementType) -> bytes:
    """Return the control-point command stopping ``measurement``."""
    return bytes([ControlOpcode.STOP, measurement])


def build_start_command(
    measurement: MeasurementType, settings: Sequence[tuple[SettingType, int]]
) -> bytes:
    """Return the control-point command starting ``measurement`` with ``settings``.

    Parameters
    ----------
    measurement : MeasurementType
        Stream to start.
    settings : sequence of (SettingType, int)
        Selected values, written in the given order, one value each. FACTOR is read-only.

    Raises
    ------
    ValueError
        FACTOR given, or a value that does not fit its setting's width.
    """
    out = bytearray([ControlOpcode.START, measurement])
    widths = POLAR_PMD.setting_bytes
    for kind, value in settings:
        if kind == SettingType.FACTOR:
            raise ValueError("the FACTOR setting is reported by the device, never sent")
        width = widths[kind]
        if not 0 <= value < 1 << (8 * width):
            raise ValueError(f"{kind.name} value {value} does not fit {width} unsigned bytes")
        out += bytes([kind, 1]) + int(value).to_bytes(width, "little")
    return bytes(out)


def build_start_acc_command(settings: AccSettings) -> bytes:
    """Return the start command of the accelerometer stream.

    Examples
    --------
    >>> build_start_acc_command(H10_ACC_200HZ).hex(" ")
    '02 02 00 01 c8 00 01 01 10 00 02 01 08 00'
    """
    chosen = [(SettingType.SAMPLE_RATE, settings.sample_rate_hz),
              (SettingType.RESOLUTION, settings.resolution_bits),
              (SettingType.RANGE, settings.range_g)]
    if settings.channels is not None:
        chosen.append((SettingType.CHANNELS, settings.channels))
    return build_start_command(MeasurementType.ACC, chosen)


# ------------------------------------------------------------------ control-point responses


@dataclass(frozen=True, kw_only=True)
class ControlPointResponse:
    """A control-point response (``F0 op type status more params``).

    Attributes
    ----------
    opcode : int
        Command answered (see :class:`ControlOpcode`).
    measurement_type : int
        Measurement the command was about.
    status : int
        Result code (see :class:`ResponseStatus`); 0 is success.
    more : bool
        The device will send more parameters in a following response.
    parameters : bytes
        Parameters following the header (empty unless the status is success).
    """

    opcode: int
    measurement_type: int
    status: int
    more: bool
    parameters: bytes

    @property
    def ok(self) -> bool:
        """True when the command succeeded."""
        return self.status == ResponseStatus.SUCCESS

    @property
    def status_name(self) -> str:
        """Name of the status code, or ``"UNKNOWN_<n>"``."""
        try:
            return ResponseStatus(self.status).name
        except ValueError:
            return f"UNKNOWN_{self.status}"


@dataclass(frozen=True, kw_only=True)
class MeasurementStopped:
    """Device-initiated message: the listed online streams were stopped.

    Attributes
    ----------
    measurement_types : tuple of int
        Measurement types that stopped.
    """

    measurement_types: tuple[int, ...]


def parse_control_point_message(data: Bytes) -> ControlPointResponse | MeasurementStopped:
    """Decode one control-point indication.

    Parameters
    ----------
    data : bytes-like
        The indication's value.

    Returns
    -------
    ControlPointResponse or MeasurementStopped
        A response to a command, or the device's "online measurement stopped" message.

    Raises
    ------
    DecodeError
        Empty, shorter than a response header, or an unknown first byte.
    """
    raw = bytes(data)
    where = "polar_pmd.control_point"
    if not raw:
        raise DecodeError(where, "empty message; expected at least 1 byte")
    if raw[0] == POLAR_PMD.stopped_code:
        return MeasurementStopped(measurement_types=tuple(raw[1:]))
    if raw[0] != POLAR_PMD.response_code:
        raise DecodeError(where, f"first byte 0x{raw[0]:02x}; expected 0xf0 or 0x01")
    if len(raw) < 4:
        raise DecodeError(where, f"{len(raw)} bytes; a response has at least 4")
    success = raw[3] == ResponseStatus.SUCCESS
    return ControlPointResponse(
        opcode=raw[1], measurement_type=raw[2], status=raw[3],
        more=success and len(raw) > 4 and raw[4] != 0,
        parameters=raw[5:] if success else b"",
    )


@dataclass(frozen=True, kw_only=True)
class PmdSettings:
    """Setting values listed by a device, in the order received.

    Attributes
    ----------
    sample_rates_hz, resolutions_bits, ranges, ranges_milliunit, channels : tuple of int
        Values of each setting type (empty when absent). Ranges are in the measurement's
        unit (g for ACC); milliunit ranges in thousandths of it.
    factors : tuple of float
        FACTOR values (float32), present in start responses only.
    """

    sample_rates_hz: tuple[int, ...] = ()
    resolutions_bits: tuple[int, ...] = ()
    ranges: tuple[int, ...] = ()
    ranges_milliunit: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    factors: tuple[float, ...] = ()


_SETTING_FIELDS = {
    SettingType.SAMPLE_RATE: "sample_rates_hz", SettingType.RESOLUTION: "resolutions_bits",
    SettingType.RANGE: "ranges", SettingType.RANGE_MILLIUNIT: "ranges_milliunit",
    SettingType.CHANNELS: "channels", SettingType.FACTOR: "factors",
}


def parse_settings(data: Bytes) -> PmdSettings:
    """Decode a ``type, count, value...`` settings list.

    A list of 0 or 1 byte is empty (as in Polar's SDK). A setting type listed twice keeps its
    last list. Values are unsigned little-endian except FACTOR (float32).

    Raises
    ------
    DecodeError
        Unknown setting type, or a list cut short.
    """
    raw = bytes(data)
    where = "polar_pmd.settings"
    found: dict[str, tuple[int | float, ...]] = {}
    offset = 0
    widths = POLAR_PMD.setting_bytes
    while len(raw) > 1 and offset < len(raw):
        if offset + 2 > len(raw):
            raise DecodeError(where, f"setting header cut short at byte {offset}")
        code, count = raw[offset], raw[offset + 1]
        if code not in _SETTING_FIELDS:
            raise DecodeError(where, f"unknown setting type {code} at byte {offset}; expected 0-5")
        kind = SettingType(code)
        width = widths[kind]
        offset += 2
        end = offset + count * width
        if end > len(raw):
            raise DecodeError(where, f"{kind.name} lists {count} values but the data ends early")
        chunk = raw[offset:end]
        if kind == SettingType.FACTOR:
            values: tuple[int | float, ...] = struct.unpack(f"<{count}f", chunk)
        else:
            values = tuple(int.from_bytes(chunk[i:i + width], "little")
                           for i in range(0, len(chunk), width))
        found[_SETTING_FIELDS[kind]] = values
        offset = end
    return PmdSettings(**found)  # type: ignore[arg-type]


def settings_from_response(response: ControlPointResponse) -> PmdSettings:
    """Decode the settings carried by a successful get-settings or start response.

    Raises
    ------
    DecodeError
        The response reports a failure, or its parameters are not a settings list.
    """
    if not response.ok:
        raise DecodeError("polar_pmd.control_point",
                          f"command {response.opcode} failed with {response.status_name}")
    return parse_settings(response.parameters)


def start_response_factor(response: ControlPointResponse) -> float:
    """Return the FACTOR of a successful start response (1.0 when it carries none).

    Raises
    ------
    DecodeError
        Not a successful START response, or a factor that is not finite and positive.
    """
    where = "polar_pmd.control_point"
    if response.opcode != ControlOpcode.START:
        raise DecodeError(where, f"opcode {response.opcode}; expected a START (2) response")
    factors = settings_from_response(response).factors
    if not factors:
        return 1.0
    factor = factors[0]
    if not (math.isfinite(factor) and factor > 0):
        raise DecodeError(where, f"FACTOR {factor!r}; expected a finite positive number")
    return factor


# ------------------------------------------------------------------------------ data frames


@dataclass(frozen=True, kw_only=True)
class FrameHeader:
    """The 10-byte header of a PMD data frame.

    Attributes
    ----------
    measurement_type : int
        Byte 0 (see :class:`MeasurementType`).
    timestamp_ns : int
        Time of the frame's last sample, ns since 2000-01-01 UTC (u64).
    frame_type : int
        Frame type without the compression bit (0-127).
    compressed : bool
        True for a delta-compressed frame.
    """

    measurement_type: int
    timestamp_ns: int
    frame_type: int
    compressed: bool


def parse_frame_header(data: Bytes) -> FrameHeader:
    """Decode the header of a PMD data frame.

    Raises
    ------
    DecodeError
        Fewer than 10 bytes.
    """
    raw = bytes(data)
    if len(raw) < POLAR_PMD.header_bytes:
        raise DecodeError("polar_pmd.data",
                          f"{len(raw)} bytes; a frame header is {POLAR_PMD.header_bytes}")
    kind = raw[9]
    return FrameHeader(measurement_type=raw[0],
                       timestamp_ns=int.from_bytes(raw[1:9], "little"),
                       frame_type=kind & 0x7F,
                       compressed=bool(kind & POLAR_PMD.compressed_bit))


@dataclass(frozen=True, kw_only=True, eq=False)
class AccFrame:
    """A decoded accelerometer frame.

    Attributes
    ----------
    timestamp_ns : int
        Time of the last sample, ns since 2000-01-01 UTC (the frame's timestamp).
    frame_type : int
        Frame type without the compression bit.
    compressed : bool
        True for a delta-compressed frame.
    counts : ndarray of int64, shape (n, 3)
        Values as carried by the frame (mG for raw frames, device units for compressed).
    acc_mg : ndarray of float64, shape (n, 3)
        Acceleration in milli-g, axes x, y, z of the device.
    sample_times_ns : ndarray of int64, shape (n,)
        Time of each sample, ns since 2000-01-01 UTC; the last equals ``timestamp_ns``.
    fs : float
        Sampling rate of the stream (Hz).
    """

    timestamp_ns: int
    frame_type: int
    compressed: bool
    counts: np.ndarray
    acc_mg: np.ndarray
    sample_times_ns: np.ndarray
    fs: float

    @property
    def n_samples(self) -> int:
        """Number of samples in the frame."""
        return int(self.counts.shape[0])

    @property
    def unix_times_s(self) -> np.ndarray:
        """Sample times as Unix seconds (float64, shape (n,))."""
        return pmd_ns_to_unix_s(self.sample_times_ns)


def pmd_ns_to_unix_s(timestamp_ns: np.ndarray | int) -> np.ndarray:
    """Convert PMD timestamps (ns since 2000-01-01 UTC) to Unix seconds (float64)."""
    return np.asarray(timestamp_ns, dtype=np.float64) / 1e9 + POLAR_EPOCH_UNIX_S


def _signed_le(raw: bytes, width: int) -> np.ndarray:
    """Signed little-endian integers of ``width`` bytes each, as int64."""
    if width in (1, 2):
        return np.frombuffer(raw, dtype=f"<i{width}").astype(np.int64)
    octets = np.frombuffer(raw, dtype=np.uint8).astype(np.int64).reshape(-1, width)
    values = np.zeros(octets.shape[0], dtype=np.int64)
    for i in range(width):
        values |= octets[:, i] << (8 * i)
    sign = np.int64(1) << (8 * width - 1)
    return np.where(values & sign, values - (sign << 1), values)


def decode_delta_payload(payload: Bytes, *, channels: int, resolution_bits: int) -> np.ndarray:
    """Decode a delta-compressed payload into samples.

    Parameters
    ----------
    payload : bytes-like
        Frame content after the 10-byte header.
    channels : int
        Values per sample.
    resolution_bits : int
        Resolution of the reference sample; it takes ``ceil(resolution_bits / 8)`` bytes
        per channel, signed little-endian.

    Returns
    -------
    ndarray of int64, shape (n, channels)
        The reference sample followed by one row per delta.

    Raises
    ------
    DecodeError
        Reference sample or block cut short, a bit width of 0 or above 32, a block of 0
        samples, or values leaving the 32-bit range the device computes in.
    """
    raw = bytes(payload)
    where = "polar_pmd.data"
    if channels < 1 or not 1 <= resolution_bits <= 32:
        raise DecodeError("polar_pmd.layout", f"{channels} channels of {resolution_bits} bits; "
                                              "expected >= 1 channel of 1-32 bits")
    ref_width = -(-resolution_bits // 8)
    ref_bytes = channels * ref_width
    if len(raw) < ref_bytes:
        raise DecodeError(where, f"compressed payload of {len(raw)} bytes; "
                                 f"the reference sample needs {ref_bytes}")
    rows = [_signed_le(raw[:ref_bytes], ref_width).reshape(1, channels)]
    offset = ref_bytes
    while offset < len(raw):
        if offset + 2 > len(raw):
            raise DecodeError(where, f"delta block header cut short at byte {offset}")
        width, count = raw[offset], raw[offset + 1]
        if not 1 <= width <= 32:
            raise DecodeError(where, f"delta bit width {width} at byte {offset}; expected 1-32")
        if count == 0:
            raise DecodeError(where, f"delta block of 0 samples at byte {offset}")
        n_bits = width * count * channels
        start, end = offset + 2, offset + 2 + -(-n_bits // 8)
        if end > len(raw):
            raise DecodeError(where, f"delta block at byte {offset} needs {end - start} bytes; "
                                     f"{len(raw) - start} left")
        bits = np.unpackbits(np.frombuffer(raw[start:end], dtype=np.uint8), bitorder="little")
        fields = bits[:n_bits].reshape(-1, width).astype(np.int64)
        values = fields @ (np.int64(1) << np.arange(width, dtype=np.int64))
        sign = np.int64(1) << (width - 1)
        values = np.where(values & sign, values - (sign << 1), values)
        rows.append(values.reshape(count, channels))
        offset = end
    samples = np.cumsum(np.concatenate(rows), axis=0)
    if samples.size and (samples.min() < -(2**31) or samples.max() >= 2**31):
        raise DecodeError(where, "accumulated deltas leave the 32-bit sample range")
    return samples


def sample_times_ns(
    timestamp_ns: int, n_samples: int, *, fs: float, previous_timestamp_ns: int | None = None
) -> np.ndarray:
    """Rebuild the time of each sample of a frame whose last sample is at ``timestamp_ns``.

    Parameters
    ----------
    timestamp_ns : int
        Frame timestamp (last sample), ns since 2000-01-01 UTC.
    n_samples : int
        Samples in the frame (>= 1).
    fs : float
        Sampling rate (Hz); sets the spacing when ``previous_timestamp_ns`` is None.
    previous_timestamp_ns : int, optional
        Timestamp of the previous frame of the same stream. When given, the samples are
        spread evenly over ``(previous, timestamp]`` as Polar's SDK does, which absorbs the
        device clock's drift against ``fs``.

    Returns
    -------
    ndarray of int64, shape (n_samples,)
        Sample times in ns since 2000-01-01 UTC, rounded half to even; the last is exact.

    Raises
    ------
    DecodeError
        ``fs`` not finite and positive, a previous timestamp not before this one, or times
        before 2000 or beyond the int64 range.
    """
    where = "polar_pmd.data"
    if not (math.isfinite(fs) and fs > 0):
        raise DecodeError("fs", f"sampling rate {fs!r} Hz; expected a finite positive number")
    if n_samples < 1:
        raise DecodeError(where, "a frame without samples")
    if timestamp_ns >= _MAX_TIMESTAMP_NS:
        raise DecodeError(where, f"timestamp {timestamp_ns} ns is beyond year 2146; "
                                 f"expected below {_MAX_TIMESTAMP_NS}")
    steps = np.arange(n_samples, dtype=np.float64)
    if previous_timestamp_ns is None:
        if (n_samples - 1) * (1e9 / fs) > timestamp_ns:
            raise DecodeError(where, f"{n_samples} samples at {fs} Hz would start before 2000 "
                                     f"(frame at {timestamp_ns} ns)")
        back = np.rint((n_samples - 1 - steps) * (1e9 / fs)).astype(np.int64)
        times = np.int64(timestamp_ns) - back
    else:
        if not 0 <= previous_timestamp_ns < timestamp_ns:
            raise DecodeError(where, f"timestamp {timestamp_ns} ns is not after the previous "
                                     f"frame's {previous_timestamp_ns} ns")
        delta = (timestamp_ns - previous_timestamp_ns) / n_samples
        times = np.int64(previous_timestamp_ns) + np.rint((steps + 1) * delta).astype(np.int64)
        times[-1] = timestamp_ns
    if times[0] < 0:
        raise DecodeError(where, f"first sample would be before 2000 (frame at {timestamp_ns} ns)")
    return times


def decode_acc_frame(
    data: Bytes, *, fs: float, factor: float, previous_timestamp_ns: int | None = None
) -> AccFrame:
    """Decode one ACC data notification.

    Parameters
    ----------
    data : bytes-like
        The notification's value (header and payload).
    fs : float
        Sampling rate the stream was started with (Hz).
    factor : float
        FACTOR from the start response (:func:`start_response_factor`; 1.0 when absent).
        Used by compressed frames only.
    previous_timestamp_ns : int, optional
        Previous frame's timestamp; see :func:`sample_times_ns`.

    Returns
    -------
    AccFrame
        Samples in mG with their times.

    Raises
    ------
    DecodeError
        Not an ACC frame, an unsupported frame type, a payload whose length does not match
        its type, a malformed compressed payload, or bad ``fs``/``factor``.
    """
    where = "polar_pmd.data"
    if not (math.isfinite(factor) and factor > 0):
        raise DecodeError("factor", f"{factor!r}; expected a finite positive number")
    header = parse_frame_header(data)
    if header.measurement_type != MeasurementType.ACC:
        raise DecodeError(where, f"measurement type {header.measurement_type}; expected ACC (2)")
    payload = bytes(data)[POLAR_PMD.header_bytes:]
    channels = POLAR_PMD.acc_channels
    if header.compressed:
        if header.frame_type not in (0, 1):
            raise DecodeError(where, f"compressed ACC frame type {header.frame_type}; "
                                     "expected 0 or 1")
        counts = decode_delta_payload(
            payload, channels=channels, resolution_bits=POLAR_PMD.acc_compressed_resolution_bits)
        if header.frame_type == 0:
            acc_mg = counts * (factor * 1000.0)
        else:
            acc_mg = counts.astype(np.float64) if factor == 1.0 else counts * factor
    else:
        width = POLAR_PMD.acc_raw_bytes.get(header.frame_type)
        if width is None:
            raise DecodeError(where, f"raw ACC frame type {header.frame_type}; expected 0, 1 or 2")
        step = width * channels
        if not payload or len(payload) % step:
            raise DecodeError(where, f"raw type {header.frame_type} payload of {len(payload)} "
                                     f"bytes; expected a positive multiple of {step}")
        counts = _signed_le(payload, width).reshape(-1, channels)
        acc_mg = counts.astype(np.float64)
    times = sample_times_ns(header.timestamp_ns, counts.shape[0], fs=fs,
                            previous_timestamp_ns=previous_timestamp_ns)
    return AccFrame(timestamp_ns=header.timestamp_ns, frame_type=header.frame_type,
                    compressed=header.compressed, counts=counts, acc_mg=acc_mg,
                    sample_times_ns=times, fs=float(fs))


# ------------------------------------------------------------------ mapping to the pipeline


@dataclass(frozen=True, kw_only=True)
class PolarFootMapping:
    """How a Polar sensor strapped to the foot feeds the pipeline's ``foot_acc`` channel.

    Attributes
    ----------
    axis_order : tuple of int
        Device axis (0 = x, 1 = y, 2 = z) that becomes the pipeline's x, y and z.
    axis_sign : tuple of int
        +1 or -1 per pipeline axis, applied after reordering.
    """

    axis_order: tuple[int, int, int] = (0, 1, 2)
    axis_sign: tuple[int, int, int] = (1, 1, 1)

    def __post_init__(self) -> None:
        if sorted(self.axis_order) != [0, 1, 2]:
            raise CrampInputError("polar.axis_order",
                                  f"{self.axis_order}; expected a permutation of (0, 1, 2)")
        if len(self.axis_sign) != 3 or any(s not in (1, -1) for s in self.axis_sign):
            raise CrampInputError("polar.axis_sign", f"{self.axis_sign}; expected three of +-1")


POLAR_ON_FOOT = PolarFootMapping()


def foot_acc_g(frame: AccFrame, *, mapping: PolarFootMapping = POLAR_ON_FOOT) -> np.ndarray:
    """Return the frame's samples as the pipeline's foot accelerometer.

    Returns
    -------
    ndarray of float64, shape (n, 3)
        Acceleration in g, axes reordered and signed as ``mapping`` says.
    """
    order = list(mapping.axis_order)
    return frame.acc_mg[:, order] * np.asarray(mapping.axis_sign, dtype=np.float64) / 1000.0


def foot_channel_spec(
    *, fs: float, range_g: float | None = None, mapping: PolarFootMapping = POLAR_ON_FOOT
) -> ChannelSpec:
    """Describe the ``foot_acc`` channel a Polar stream feeds.

    Parameters
    ----------
    fs : float
        Sampling rate the stream was started with (Hz).
    range_g : float, optional
        Full-scale range (+-g), giving the channel's rails.
    mapping : PolarFootMapping
        Axis mapping; names the source axes in pipeline order.
    """
    if not (math.isfinite(fs) and fs > 0):
        raise DecodeError("fs", f"sampling rate {fs!r} Hz; expected a finite positive number")
    names = ("x", "y", "z")
    labels = tuple(f"{'-' if s < 0 else ''}polar_acc_{names[a]}"
                   for a, s in zip(mapping.axis_order, mapping.axis_sign, strict=True))
    rails = None if range_g is None else (-float(range_g), float(range_g))
    return ChannelSpec(role="foot_acc", fs=float(fs), unit="g", source_labels=labels, rails=rails)
