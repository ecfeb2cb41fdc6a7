"""Pure encoders and decoders for the LegBand protocol's data packets and status characteristic.

Every layout comes from :mod:`detector.profiles.legband`; this module only applies it (the
control point's commands and responses are :mod:`detector.profiles.legband_control`).
Decoders accept any bytes-like value and either return a value or raise
:class:`~detector.errors.CrampInputError` with a one-line message. Encoders raise
``ValueError`` for values the protocol cannot carry: they are fed by our own code, never by a
user.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from detector.errors import CrampInputError
from detector.profiles.legband import LEGBAND, LegBandProfile, StreamSpec

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

