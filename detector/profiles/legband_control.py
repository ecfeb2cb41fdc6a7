"""Pure encoder and decoder of the LegBand control point: commands, responses, their errors.

Every layout comes from :mod:`detector.profiles.legband` (its ``control`` part); this module
only applies it, as :mod:`detector.profiles.legband_codec` does for data packets and the status
characteristic. Decoders accept any bytes-like value and either return a value or raise
:class:`ControlPointError` (a :class:`~detector.errors.CrampInputError`) with a one-line message
and the status code the band answers with. Encoders raise ``ValueError`` for values the
protocol cannot carry: they are fed by our own code, never by a user.
"""

from __future__ import annotations

import struct
from dataclasses import astuple, dataclass
from typing import Any

from detector.errors import CrampInputError
from detector.profiles.legband import LEGBAND, LegBandProfile, Opcode, Status
from detector.profiles.legband_codec import Bytes


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
