"""The project's own leg band ("LegBand"): its GATT profile, as data.

Everything a client or the firmware simulator needs to know about the band lives here once:
the 128-bit UUIDs, the streams with their allowed rates, full-scale ranges and scale factors,
and the byte layouts of the data packet, the control-point commands and responses, and the
status characteristic. :mod:`detector.profiles.legband_codec` (data, status) and
:mod:`detector.profiles.legband_control` (control point) turn bytes into values and back
using only these definitions; ``docs/protocol.md`` describes the same layout in prose.

All multi-byte fields are little-endian. Samples are signed 16-bit ADC counts; a count times
the stream's LSB (``full_scale / 32768``) is the value in the stream's unit (uV or g).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import Literal

from detector.signals import ChannelRole

_UUID_TEMPLATE = "657a{:04x}-77dd-4df4-bdc8-84cccc8c15ff"


def legband_uuid(short: int) -> str:
    """Return the band's 128-bit UUID with ``short`` in the 16-bit slot (lowercase text)."""
    return _UUID_TEMPLATE.format(short)


class Opcode(enum.IntEnum):
    """Control-point command opcodes (first byte of a command)."""

    START = 0x01
    STOP = 0x02
    SET_RATE = 0x03
    SET_RANGE = 0x04
    TIME_SYNC = 0x05
    CALIBRATE_NEUTRAL = 0x06
    BACKFILL = 0x07


class Status(enum.IntEnum):
    """Result codes carried in every control-point response."""

    SUCCESS = 0x00
    OPCODE_NOT_SUPPORTED = 0x01
    INVALID_LENGTH = 0x02
    INVALID_PARAMETER = 0x03
    INVALID_STATE = 0x04
    NOT_AVAILABLE = 0x05
    MOTION_DETECTED = 0x06


@dataclass(frozen=True, kw_only=True)
class StreamSpec:
    """One sample stream of the band.

    Attributes
    ----------
    stream_id : int
        Identifier carried in the low nibble of the packet's first byte (1-15).
    name : str
        Short name (``"emg_raw"``, ``"emg_envelope"``, ``"shank_acc"``, ``"foot_acc"``).
    role : {"emg", "shank_acc", "foot_acc"}
        Pipeline channel the stream feeds.
    kind : {"raw", "envelope", "accel"}
        Raw EMG, on-band EMG envelope (RMS, uV), or 3-axis accelerometer.
    axes : int
        Values per sample (1 or 3); accelerometer samples are interleaved x, y, z.
    unit : str
        Unit of a decoded value (``"uV"`` or ``"g"``).
    rates_hz : tuple of int
        Allowed sampling rates in Hz; the packet's rate code is an index into it.
    full_scales : tuple of int
        Allowed ranges (+-full scale) in ``unit``; the packet's range code is an index into it.
    default_rate_hz, default_full_scale : int
        Settings after power-on.
    """

    stream_id: int
    name: str
    role: ChannelRole
    kind: Literal["raw", "envelope", "accel"]
    axes: int
    unit: str
    rates_hz: tuple[int, ...]
    full_scales: tuple[int, ...]
    default_rate_hz: int
    default_full_scale: int

    @property
    def mask_bit(self) -> int:
        """Bit of this stream in the START command's stream mask."""
        return 1 << (self.stream_id - 1)

    @property
    def sample_bytes(self) -> int:
        """Bytes one sample takes in a packet (2 per axis)."""
        return 2 * self.axes

    def lsb(self, full_scale: int) -> float:
        """Value of one ADC count, in ``unit``, at range ``full_scale`` (``unit``)."""
        return full_scale / 32768.0

    def rate_code(self, rate_hz: int) -> int:
        """Index of ``rate_hz`` in :attr:`rates_hz`; ``ValueError`` if not allowed."""
        return self.rates_hz.index(rate_hz)

    def range_code(self, full_scale: int) -> int:
        """Index of ``full_scale`` in :attr:`full_scales`; ``ValueError`` if not allowed."""
        return self.full_scales.index(full_scale)


@dataclass(frozen=True, kw_only=True)
class DataLayout:
    """Byte layout of a data-characteristic notification.

    ``header_format`` fields, in order: ``version << 4 | stream_id``; flags (bit 7 backfill,
    bits 3-2 rate code, bits 1-0 range code, bits 6-4 reserved = 0); sequence number (u16,
    per stream, wraps); first-sample counter (u32, per stream since START); device time of
    the first sample (u32, RTC ticks of ``tick_hz``). Then ``n x axes`` int16 samples.
    """

    version: int = 1
    header_format: str = "<BBHII"
    sample_format: str = "<h"
    sample_dtype: str = "<i2"
    backfill_flag: int = 0x80
    reserved_flags: int = 0x70
    rate_shift: int = 2
    code_mask: int = 0x03
    tick_hz: int = 32768
    seq_modulus: int = 1 << 16
    counter_modulus: int = 1 << 32

    @property
    def header_size(self) -> int:
        """Header length in bytes."""
        return struct.calcsize(self.header_format)


@dataclass(frozen=True, kw_only=True)
class ControlLayout:
    """Byte layout of control-point commands and their indicated responses.

    A command is ``opcode`` followed by the opcode's parameters (``command_params``). A
    response is ``response_code, request opcode, status`` followed by the parameters listed in
    ``response_params`` for that (opcode, status) pair, or none.
    """

    response_code: int = 0x80
    response_header_format: str = "<BBB"
    command_params: tuple[tuple[Opcode, str], ...] = (
        (Opcode.START, "<B"),  # stream mask
        (Opcode.STOP, "<"),
        (Opcode.SET_RATE, "<BH"),  # stream id, rate Hz
        (Opcode.SET_RANGE, "<BH"),  # stream id, full scale in the stream's unit
        (Opcode.TIME_SYNC, "<Q"),  # host time, us since the Unix epoch
        (Opcode.CALIBRATE_NEUTRAL, "<"),
        (Opcode.BACKFILL, "<BH"),  # stream id, first sequence number wanted
    )
    response_params: tuple[tuple[Opcode, Status, str], ...] = (
        (Opcode.START, Status.SUCCESS, "<I"),  # device ticks at sample 0
        (Opcode.SET_RATE, Status.SUCCESS, "<BH"),
        (Opcode.SET_RANGE, Status.SUCCESS, "<BH"),
        (Opcode.TIME_SYNC, Status.SUCCESS, "<QI"),  # echoed host time, device ticks
        (Opcode.CALIBRATE_NEUTRAL, Status.SUCCESS, "<6h"),  # shank xyz, foot xyz in mg
        (Opcode.BACKFILL, Status.SUCCESS, "<BHII"),  # stream, seq, first sample, count
        (Opcode.BACKFILL, Status.NOT_AVAILABLE, "<BH"),  # stream, oldest seq still held
    )

    def command_format(self, opcode: Opcode) -> str:
        """Struct format of the parameters of ``opcode``."""
        return dict(self.command_params)[opcode]

    def response_format(self, opcode: int, status: int) -> str:
        """Struct format of the parameters of a response (``"<"`` when it has none)."""
        for op, st, fmt in self.response_params:
            if op == opcode and st == status:
                return fmt
        return "<"


@dataclass(frozen=True, kw_only=True)
class StatusLayout:
    """Byte layout of the status characteristic (read and notify).

    Fields: battery % (u8); electrode contact bits (u8, bit i = lead i touching skin); transmit
    buffer fill % (u8); state flags (u8: bit 0 streaming, bit 1 battery low, bit 2 transmit
    overflow has happened since START); notifications dropped on overflow since START (u32);
    firmware version major, minor, patch (3 x u8).
    """

    format: str = "<BBBBIBBB"
    flag_streaming: int = 0x01
    flag_battery_low: int = 0x02
    flag_overflow: int = 0x04

    @property
    def size(self) -> int:
        """Length of the status value in bytes."""
        return struct.calcsize(self.format)


def _default_streams() -> tuple[StreamSpec, ...]:
    return (
        StreamSpec(
            stream_id=1, name="emg_raw", role="emg", kind="raw", axes=1, unit="uV",
            rates_hz=(500, 1000, 2000), full_scales=(2048, 8192),
            default_rate_hz=1000, default_full_scale=8192,
        ),
        StreamSpec(
            stream_id=2, name="emg_envelope", role="emg", kind="envelope", axes=1, unit="uV",
            rates_hz=(50,), full_scales=(8192,),
            default_rate_hz=50, default_full_scale=8192,
        ),
        StreamSpec(
            stream_id=3, name="shank_acc", role="shank_acc", kind="accel", axes=3, unit="g",
            rates_hz=(25, 50, 100), full_scales=(2, 4, 8),
            default_rate_hz=50, default_full_scale=4,
        ),
        StreamSpec(
            stream_id=4, name="foot_acc", role="foot_acc", kind="accel", axes=3, unit="g",
            rates_hz=(25, 50, 100), full_scales=(2, 4, 8),
            default_rate_hz=50, default_full_scale=4,
        ),
    )  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class LegBandProfile:
    """The whole LegBand GATT profile.

    Attributes
    ----------
    service_uuid, data_uuid, control_uuid, status_uuid : str
        The custom service and its characteristics: data (notify), control point (write,
        indicate), status (read, notify).
    local_name_prefix : str
        Start of the advertised complete local name.
    streams : tuple of StreamSpec
        The band's sample streams.
    leads : tuple of str
        Electrode leads, in the bit order of the status contact byte.
    att_mtu_default, att_mtu_max : int
        ATT MTU before any exchange, and the largest the band accepts.
    """

    service_uuid: str = legband_uuid(0x0001)
    data_uuid: str = legband_uuid(0x0002)
    control_uuid: str = legband_uuid(0x0003)
    status_uuid: str = legband_uuid(0x0004)
    local_name_prefix: str = "LegBand"
    streams: tuple[StreamSpec, ...] = field(default_factory=_default_streams)
    leads: tuple[str, ...] = ("emg_plus", "emg_minus", "reference")
    att_mtu_default: int = 23
    att_mtu_max: int = 247
    data: DataLayout = field(default_factory=DataLayout)
    control: ControlLayout = field(default_factory=ControlLayout)
    status: StatusLayout = field(default_factory=StatusLayout)

    def stream(self, stream_id: int) -> StreamSpec:
        """The stream with id ``stream_id``; ``KeyError`` if there is none."""
        for spec in self.streams:
            if spec.stream_id == stream_id:
                return spec
        raise KeyError(stream_id)

    def stream_named(self, name: str) -> StreamSpec:
        """The stream called ``name``; ``KeyError`` if there is none."""
        for spec in self.streams:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def all_streams_mask(self) -> int:
        """START mask that selects every stream."""
        mask = 0
        for spec in self.streams:
            mask |= spec.mask_bit
        return mask

    def samples_per_packet(self, stream_id: int, *, att_mtu: int) -> int:
        """Most samples of a stream one notification carries at ``att_mtu``.

        A notification's value is ``att_mtu - 3`` bytes (opcode and handle take 3).
        """
        spec = self.stream(stream_id)
        room = att_mtu - 3 - self.data.header_size
        return max(0, room // spec.sample_bytes)


LEGBAND = LegBandProfile()
"""The LegBand profile as shipped (protocol version 1)."""
