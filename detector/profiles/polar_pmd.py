"""Polar Measurement Data (PMD) accelerometer: profile as data, commands, control point.

Facts from Polar's public SDK (polarofficial/polar-ble-sdk; the decoders are written here,
not ported). The PMD service has a control point (write, indicate) and a data characteristic
(notify); a client enables both before writing commands.

Control point
    Commands are ``[opcode][measurement type][setting type, count, value...]...``; values
    are little-endian with a width fixed per setting type. Responses are
    ``F0 [opcode][measurement type][status][more][parameters...]``; the start response's
    parameters may carry the FACTOR setting (float32) that scales compressed frames. A
    message ``01 [types...]`` instead says the device stopped those online streams.
Data frames
    Decoded in :mod:`detector.profiles.polar_pmd_frames`.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from detector.profiles.errors import DecodeError

Bytes = bytes | bytearray | memoryview

POLAR_EPOCH_UNIX_S = 946_684_800
"""Seconds from 1970-01-01 to 2000-01-01 (UTC), the origin of PMD timestamps."""

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
