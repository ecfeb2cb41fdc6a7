"""Pure encoders and decoders for the LegBand protocol (data, control point, status).

Every layout comes from :mod:`detector.profiles.legband`; this module only applies it.
Decoders accept any bytes-like value and either return a value or raise
:class:`~detector.errors.CrampInputError` with a one-line message (control-point decoding
raises its subclass :class:`ControlPointError`, which also carries the status code the band
answers with). Encoders raise ``ValueError`` for values the protocol cannot carry: they are
fed by our own code, never by a user.
"""

from __future__ import annotations

import struct
from dataclasses import astuple, dataclass
from typing import Any

import numpy as np

from detector.errors import CrampInputError
from detector.profiles.legband import LEGBAND, LegBandProfile, Opcode, Status, StreamSpec

Bytes = bytes | bytearray | memoryview

# --------------------------------------------------------------------------------------------
# Data packets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class DataPacket:
    """One data notification.

    Attributes
    ----------
    stream_id : int
        Stream the samples belong to.
    seq : int
        Sequence number (0-65535, per stream, wraps).
    first_sample : int
        Counter of the first sample since START (0 to 2**32 - 1, wraps).
    device_ticks : int
        Band RTC time of the first sample, ticks of ``profile.data.tick_hz`` (u32, wraps).
    rate_code, range_code : int
        Indices into the stream's ``rates_hz`` and ``full_scales``.
    samples : ndarray of int16, shape (n,) or (n, 3)
        ADC counts; one column per axis for accelerometers.
    backfill : bool
        True when the packet resends buffered samples after a BACKFILL command.
    """

    stream_id: int
    seq: int
    first_sample: int
    device_ticks: int
    rate_code: int
    range_code: int
    samples: np.ndarray
    backfill: bool = False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataPacket):
            return NotImplemented
        head = ("stream_id", "seq", "first_sample", "device_ticks", "rate_code", "range_code")
        return all(getattr(self, k) == getattr(other, k) for k in head) and (
            self.backfill == other.backfill
            and self.samples.shape == other.samples.shape
            and bool(np.array_equal(self.samples, other.samples))
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def n_samples(self) -> int:
        """Number of samples (rows) in the packet."""
        return int(self.samples.shape[0])


def _spec_or_raise(profile: LegBandProfile, stream_id: int, where: str) -> StreamSpec:
    try:
        return profile.stream(stream_id)
    except KeyError:
        known = [s.stream_id for s in profile.streams]
        problem = f"unknown stream id {stream_id}; expected one of {known}"
        raise CrampInputError(where, problem) from None


def encode_data_packet(
    packet: DataPacket, *, profile: LegBandProfile = LEGBAND, att_mtu: int | None = None
) -> bytes:
    """Serialise a data packet.

    Parameters
    ----------
    packet : DataPacket
        Packet to encode; ``samples`` shape (n,) or (n, axes), n >= 1.
    profile : LegBandProfile
        Profile whose layout is used.
    att_mtu : int, optional
        When given, the result must fit one notification at this ATT MTU.

    Returns
    -------
    bytes
        ``header + samples``, little-endian.
    """
    layout = profile.data
    spec = profile.stream(packet.stream_id)
    samples = np.asarray(packet.samples)
    if samples.ndim == 1 and spec.axes == 1:
        samples = samples[:, None]
    if samples.ndim != 2 or samples.shape[1] != spec.axes or samples.shape[0] < 1:
        raise ValueError(f"samples must have shape (n>=1, {spec.axes}), got {samples.shape}")
    if not (0 <= packet.rate_code < len(spec.rates_hz)):
        raise ValueError(f"rate code {packet.rate_code} invalid for {spec.name}")
    if not (0 <= packet.range_code < len(spec.full_scales)):
        raise ValueError(f"range code {packet.range_code} invalid for {spec.name}")
    if samples.dtype.kind not in "iu" or samples.min() < -32768 or samples.max() > 32767:
        raise ValueError("samples must be integers in the int16 range")
    flags = (packet.rate_code << layout.rate_shift) | packet.range_code
    if packet.backfill:
        flags |= layout.backfill_flag
    try:
        header = struct.pack(
            layout.header_format,
            (layout.version << 4) | spec.stream_id,
            flags,
            packet.seq,
            packet.first_sample,
            packet.device_ticks,
        )
    except struct.error as exc:
        raise ValueError(f"packet header field out of range: {exc}") from None
    body = samples.astype(layout.sample_dtype).tobytes()
    out = header + body
    if att_mtu is not None and len(out) > att_mtu - 3:
        raise ValueError(f"packet of {len(out)} bytes does not fit ATT MTU {att_mtu}")
    return out


@dataclass(frozen=True, kw_only=True)
class DataHeader:
    """The header of a data notification and its sample count, without the samples.

    Attributes are those of :class:`DataPacket`; ``n_samples`` is the number of samples
    (rows) the body holds.
    """

    stream_id: int
    seq: int
    first_sample: int
    device_ticks: int
    rate_code: int
    range_code: int
    n_samples: int
    backfill: bool


def decode_data_header(payload: Bytes, *, profile: LegBandProfile = LEGBAND) -> DataHeader:
    """Parse and check a data notification's header and body length (no sample decoding).

    Cheaper than :func:`decode_data_packet` when only counters and times are needed (e.g. to
    fit the band's clock over a whole capture); accepts exactly the same payloads.

    Raises
    ------
    CrampInputError
        If the bytes are not a valid packet of this profile.
    """
    where = "legband data packet"
    layout = profile.data
    hsize = layout.header_size
    if len(payload) < hsize:
        raise CrampInputError(where, f"{len(payload)} bytes; the header alone is {hsize} bytes")
    vs, flags, seq, first, ticks = struct.unpack_from(layout.header_format, payload, 0)
    version, stream_id = vs >> 4, vs & 0x0F
    if version != layout.version:
        raise CrampInputError(where, f"protocol version {version}; expected {layout.version}")
    spec = _spec_or_raise(profile, stream_id, where)
    if flags & layout.reserved_flags:
        raise CrampInputError(where, f"reserved flag bits set in 0x{flags:02x}")
    rate_code = (flags >> layout.rate_shift) & layout.code_mask
    range_code = flags & layout.code_mask
    if rate_code >= len(spec.rates_hz):
        raise CrampInputError(where, f"rate code {rate_code} not defined for {spec.name}")
    if range_code >= len(spec.full_scales):
        raise CrampInputError(where, f"range code {range_code} not defined for {spec.name}")
    body_len = len(payload) - hsize
    if not body_len or body_len % spec.sample_bytes:
        raise CrampInputError(
            where,
            f"{body_len} sample bytes; expected a positive multiple of {spec.sample_bytes} "
            f"for {spec.name}",
        )
    return DataHeader(stream_id=stream_id, seq=seq, first_sample=first, device_ticks=ticks,
                      rate_code=rate_code, range_code=range_code,
                      n_samples=body_len // spec.sample_bytes,
                      backfill=bool(flags & layout.backfill_flag))


def decode_data_packet(payload: Bytes, *, profile: LegBandProfile = LEGBAND) -> DataPacket:
    """Parse a data notification.

    Parameters
    ----------
    payload : bytes-like
        The notification value.
    profile : LegBandProfile
        Profile whose layout is used.

    Returns
    -------
    DataPacket
        With ``samples`` of shape (n,) for 1-axis streams or (n, 3) for accelerometers.

    Raises
    ------
    CrampInputError
        If the bytes are not a valid packet of this profile.
    """
    raw = bytes(payload)
    head = decode_data_header(raw, profile=profile)
    spec = profile.stream(head.stream_id)
    samples = np.frombuffer(raw, dtype=profile.data.sample_dtype,
                            offset=profile.data.header_size).astype(np.int16)
    if spec.axes > 1:
        samples = samples.reshape(-1, spec.axes)
    return DataPacket(
        stream_id=head.stream_id,
        seq=head.seq,
        first_sample=head.first_sample,
        device_ticks=head.device_ticks,
        rate_code=head.rate_code,
        range_code=head.range_code,
        samples=samples,
        backfill=head.backfill,
    )


def packet_rate_hz(packet: DataPacket, *, profile: LegBandProfile = LEGBAND) -> int:
    """Sampling rate in Hz that the packet's rate code stands for."""
    return profile.stream(packet.stream_id).rates_hz[packet.rate_code]


def packet_values(packet: DataPacket, *, profile: LegBandProfile = LEGBAND) -> np.ndarray:
    """Samples of a packet in the stream's unit.

    Returns
    -------
    ndarray of float64, shape (n,) or (n, 3)
        uV for EMG streams, g for accelerometers (counts x LSB of the packet's range).
    """
    spec = profile.stream(packet.stream_id)
    lsb = spec.lsb(spec.full_scales[packet.range_code])
    return packet.samples.astype(np.float64) * lsb


# --------------------------------------------------------------------------------------------
# Control point
# --------------------------------------------------------------------------------------------


class ControlPointError(CrampInputError):
    """A control-point command the band cannot accept.

    Attributes
    ----------
    opcode : int
        Opcode of the rejected command (0 when the write was empty).
    status : Status
        Status code the band answers with.
    """

    def __init__(self, opcode: int, status: Status, problem: str) -> None:
        self.opcode = opcode
        self.status = status
        super().__init__("legband control command", problem)


@dataclass(frozen=True)
class StartCommand:
    """Start a new acquisition run of the streams in ``stream_mask``."""

    stream_mask: int


@dataclass(frozen=True)
class StopCommand:
    """Stop acquisition."""


@dataclass(frozen=True)
class SetRateCommand:
    """Set the sampling rate (Hz) of a stream; only while stopped."""

    stream_id: int
    rate_hz: int


@dataclass(frozen=True)
class SetRangeCommand:
    """Set the full scale (in the stream's unit) of a stream; only while stopped."""

    stream_id: int
    full_scale: int


@dataclass(frozen=True)
class TimeSyncCommand:
    """Tell the band the host time; the band answers with its RTC ticks."""

    host_time_us: int


@dataclass(frozen=True)
class CalibrateNeutralCommand:
    """Take the last second of both accelerometers as the neutral posture."""


@dataclass(frozen=True)
class BackfillCommand:
    """Resend a stream's buffered samples from packet ``from_seq`` up to now."""

    stream_id: int
    from_seq: int


Command = (
    StartCommand
    | StopCommand
    | SetRateCommand
    | SetRangeCommand
    | TimeSyncCommand
    | CalibrateNeutralCommand
    | BackfillCommand
)

_COMMAND_TYPES: dict[Opcode, type] = {
    Opcode.START: StartCommand,
    Opcode.STOP: StopCommand,
    Opcode.SET_RATE: SetRateCommand,
    Opcode.SET_RANGE: SetRangeCommand,
    Opcode.TIME_SYNC: TimeSyncCommand,
    Opcode.CALIBRATE_NEUTRAL: CalibrateNeutralCommand,
    Opcode.BACKFILL: BackfillCommand,
}
_OPCODE_OF: dict[type, Opcode] = {cls: op for op, cls in _COMMAND_TYPES.items()}


def command_opcode(command: Command) -> Opcode:
    """Opcode of a command object."""
    return _OPCODE_OF[type(command)]


def encode_command(command: Command, *, profile: LegBandProfile = LEGBAND) -> bytes:
    """Serialise a control-point command: opcode byte, then its parameters."""
    opcode = command_opcode(command)
    fmt = profile.control.command_format(opcode)
    try:
        return bytes([opcode]) + struct.pack(fmt, *astuple(command))
    except struct.error as exc:
        raise ValueError(f"{opcode.name} parameter out of range: {exc}") from None


def decode_command(payload: Bytes, *, profile: LegBandProfile = LEGBAND) -> Command:
    """Parse and validate a control-point command.

    Raises
    ------
    ControlPointError
        With status ``OPCODE_NOT_SUPPORTED``, ``INVALID_LENGTH`` or ``INVALID_PARAMETER``.
    """
    raw = bytes(payload)
    if not raw:
        raise ControlPointError(0, Status.INVALID_LENGTH, "empty write; expected an opcode")
    try:
        opcode = Opcode(raw[0])
    except ValueError:
        raise ControlPointError(
            raw[0], Status.OPCODE_NOT_SUPPORTED, f"opcode 0x{raw[0]:02x} is not supported"
        ) from None
    fmt = profile.control.command_format(opcode)
    want = struct.calcsize(fmt)
    if len(raw) - 1 != want:
        raise ControlPointError(
            opcode,
            Status.INVALID_LENGTH,
            f"{opcode.name} takes {want} parameter bytes, got {len(raw) - 1}",
        )
    command = _COMMAND_TYPES[opcode](*struct.unpack(fmt, raw[1:]))
    _validate_command(command, opcode, profile)
    return command


def _validate_command(command: Command, opcode: Opcode, profile: LegBandProfile) -> None:
    def bad(problem: str) -> ControlPointError:
        return ControlPointError(opcode, Status.INVALID_PARAMETER, problem)

    if isinstance(command, StartCommand):
        allowed = profile.all_streams_mask
        if command.stream_mask == 0 or command.stream_mask & ~allowed:
            raise bad(f"stream mask 0x{command.stream_mask:02x}; expected bits of 0x{allowed:02x}")
        return
    if isinstance(command, SetRateCommand | SetRangeCommand | BackfillCommand):
        try:
            spec = profile.stream(command.stream_id)
        except KeyError:
            raise bad(f"unknown stream id {command.stream_id}") from None
        if isinstance(command, SetRateCommand) and command.rate_hz not in spec.rates_hz:
            raise bad(f"{spec.name} rate {command.rate_hz} Hz; allowed {spec.rates_hz}")
        if isinstance(command, SetRangeCommand) and command.full_scale not in spec.full_scales:
            raise bad(
                f"{spec.name} range {command.full_scale} {spec.unit}; allowed {spec.full_scales}"
            )


@dataclass(frozen=True)
class StartResult:
    """START accepted: the band RTC ticks at sample 0 of the new run."""

    run_start_ticks: int


@dataclass(frozen=True)
class RateResult:
    """SET_RATE accepted (echo)."""

    stream_id: int
    rate_hz: int


@dataclass(frozen=True)
class RangeResult:
    """SET_RANGE accepted (echo)."""

    stream_id: int
    full_scale: int


@dataclass(frozen=True)
class TimeSyncResult:
    """TIME_SYNC answer: the host time sent, and the band RTC ticks when it arrived."""

    host_time_us: int
    device_ticks: int


@dataclass(frozen=True)
class CalibrationResult:
    """CALIBRATE_NEUTRAL answer: mean gravity vectors (mg) of shank and foot."""

    shank_x_mg: int
    shank_y_mg: int
    shank_z_mg: int
    foot_x_mg: int
    foot_y_mg: int
    foot_z_mg: int


@dataclass(frozen=True)
class BackfillResult:
    """BACKFILL accepted: ``n_samples`` from counter ``first_sample`` will be resent."""

    stream_id: int
    from_seq: int
    first_sample: int
    n_samples: int


@dataclass(frozen=True)
class BackfillUnavailable:
    """BACKFILL refused: the asked packet is gone; ``oldest_seq`` is the oldest still held."""

    stream_id: int
    oldest_seq: int


ResponseResult = (
    StartResult
    | RateResult
    | RangeResult
    | TimeSyncResult
    | CalibrationResult
    | BackfillResult
    | BackfillUnavailable
)

_RESULT_TYPES: dict[tuple[int, int], type] = {
    (Opcode.START, Status.SUCCESS): StartResult,
    (Opcode.SET_RATE, Status.SUCCESS): RateResult,
    (Opcode.SET_RANGE, Status.SUCCESS): RangeResult,
    (Opcode.TIME_SYNC, Status.SUCCESS): TimeSyncResult,
    (Opcode.CALIBRATE_NEUTRAL, Status.SUCCESS): CalibrationResult,
    (Opcode.BACKFILL, Status.SUCCESS): BackfillResult,
    (Opcode.BACKFILL, Status.NOT_AVAILABLE): BackfillUnavailable,
}


@dataclass(frozen=True, kw_only=True)
class ControlResponse:
    """A control-point response (sent as an indication).

    Attributes
    ----------
    opcode : int
        Opcode of the command answered (as received, even if unsupported; 0 if empty).
    status : Status
        Result code.
    result : ResponseResult or None
        Parameters for the (opcode, status) pairs that have them.
    """

    opcode: int
    status: Status
    result: Any = None

    @property
    def ok(self) -> bool:
        """True when ``status`` is SUCCESS."""
        return self.status == Status.SUCCESS


def encode_response(response: ControlResponse, *, profile: LegBandProfile = LEGBAND) -> bytes:
    """Serialise a control-point response."""
    ctl = profile.control
    head = struct.pack(ctl.response_header_format, ctl.response_code, response.opcode,
                       response.status)  # fmt: skip
    expected = _RESULT_TYPES.get((response.opcode, response.status))
    if expected is None:
        if response.result is not None:
            raise ValueError(f"response {response.opcode}/{response.status} takes no result")
        return head
    if not isinstance(response.result, expected):
        raise ValueError(f"response needs a {expected.__name__}, got {response.result!r}")
    fmt = ctl.response_format(response.opcode, response.status)
    try:
        return head + struct.pack(fmt, *astuple(response.result))
    except struct.error as exc:
        raise ValueError(f"response parameter out of range: {exc}") from None


def decode_response(payload: Bytes, *, profile: LegBandProfile = LEGBAND) -> ControlResponse:
    """Parse a control-point response.

    Raises
    ------
    CrampInputError
        If the bytes are not a response of this profile.
    """
    where = "legband control response"
    ctl = profile.control
    raw = bytes(payload)
    hsize = struct.calcsize(ctl.response_header_format)
    if len(raw) < hsize:
        raise CrampInputError(where, f"{len(raw)} bytes; expected at least {hsize}")
    code, opcode, status_raw = struct.unpack_from(ctl.response_header_format, raw, 0)
    if code != ctl.response_code:
        raise CrampInputError(where, f"first byte 0x{code:02x}; expected 0x{ctl.response_code:02x}")
    try:
        status = Status(status_raw)
    except ValueError:
        raise CrampInputError(where, f"unknown status code 0x{status_raw:02x}") from None
    fmt = ctl.response_format(opcode, status)
    want = struct.calcsize(fmt)
    if len(raw) - hsize != want:
        raise CrampInputError(
            where, f"{len(raw) - hsize} parameter bytes for opcode {opcode}; expected {want}"
        )
    result_type = _RESULT_TYPES.get((opcode, status))
    result = None
    if result_type is not None:
        values = struct.unpack(fmt, raw[hsize:])
        result = result_type(*values)
    return ControlResponse(opcode=opcode, status=status, result=result)


# --------------------------------------------------------------------------------------------
# Status characteristic
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BandStatus:
    """Value of the status characteristic.

    Attributes
    ----------
    battery_pct : int
        Battery charge, 0-100 %.
    contact : tuple of bool
        Electrode contact per lead, in ``profile.leads`` order.
    tx_fill_pct : int
        Fill of the transmit buffer, 0-100 %.
    streaming, battery_low, overflow : bool
        State flags; ``overflow`` means notifications were dropped since START.
    dropped_packets : int
        Notifications dropped on transmit overflow since START (they stay backfillable).
    firmware_version : tuple of int
        Major, minor, patch.
    """

    battery_pct: int
    contact: tuple[bool, ...]
    tx_fill_pct: int
    streaming: bool
    battery_low: bool
    overflow: bool
    dropped_packets: int
    firmware_version: tuple[int, int, int]


def encode_status(status: BandStatus, *, profile: LegBandProfile = LEGBAND) -> bytes:
    """Serialise the status characteristic value."""
    lay = profile.status
    if len(status.contact) != len(profile.leads):
        raise ValueError(f"contact needs {len(profile.leads)} leads, got {len(status.contact)}")
    contact_bits = sum(1 << i for i, on in enumerate(status.contact) if on)
    flags = (
        (lay.flag_streaming if status.streaming else 0)
        | (lay.flag_battery_low if status.battery_low else 0)
        | (lay.flag_overflow if status.overflow else 0)
    )
    if not (0 <= status.battery_pct <= 100 and 0 <= status.tx_fill_pct <= 100):
        raise ValueError("battery_pct and tx_fill_pct must be 0-100")
    try:
        return struct.pack(lay.format, status.battery_pct, contact_bits, status.tx_fill_pct,
                           flags, status.dropped_packets, *status.firmware_version)  # fmt: skip
    except struct.error as exc:
        raise ValueError(f"status field out of range: {exc}") from None


def decode_status(payload: Bytes, *, profile: LegBandProfile = LEGBAND) -> BandStatus:
    """Parse the status characteristic value.

    Raises
    ------
    CrampInputError
        If the length or any field is not valid.
    """
    where = "legband status"
    lay = profile.status
    raw = bytes(payload)
    if len(raw) != lay.size:
        raise CrampInputError(where, f"{len(raw)} bytes; expected {lay.size}")
    battery, contact_bits, fill, flags, dropped, major, minor, patch = struct.unpack(
        lay.format, raw
    )
    if battery > 100:
        raise CrampInputError(where, f"battery {battery} %; expected 0-100")
    if fill > 100:
        raise CrampInputError(where, f"transmit buffer fill {fill} %; expected 0-100")
    n_leads = len(profile.leads)
    if contact_bits >> n_leads:
        raise CrampInputError(where, f"contact bits 0x{contact_bits:02x} beyond {n_leads} leads")
    known = lay.flag_streaming | lay.flag_battery_low | lay.flag_overflow
    if flags & ~known:
        raise CrampInputError(where, f"unknown state flags 0x{flags:02x}")
    return BandStatus(
        battery_pct=battery,
        contact=tuple(bool(contact_bits >> i & 1) for i in range(n_leads)),
        tx_fill_pct=fill,
        streaming=bool(flags & lay.flag_streaming),
        battery_low=bool(flags & lay.flag_battery_low),
        overflow=bool(flags & lay.flag_overflow),
        dropped_packets=dropped,
        firmware_version=(major, minor, patch),
    )
