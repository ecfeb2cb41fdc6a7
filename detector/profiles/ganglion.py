"""OpenBCI Ganglion over BLE: profile as data and pure packet decoders (firmware 2, deltas).

Facts from OpenBCI's own open-source code (OpenBCI_Ganglion_Library definitions,
OpenBCI_JavaScript_Utilities and OpenBCI_NodeJS_Ganglion); the decoders are written here.

The board samples 4 channels at 200 Hz (MCP3912, 24-bit) and sends 20-byte notifications on
the receive characteristic; the first byte, the packet ID, says what the rest is:

``0``
    Uncompressed: 4 x int24 big-endian counts, one sample (the anchor of a cycle).
``1..100``
    18-bit delta compression (accelerometer on): 2 samples x 4 channels x 18 bits packed
    big-endian in bytes 1-18, then one aux byte (byte 19: an int8 accelerometer axis when
    ``ID % 10`` is 1, 2 or 3).
``101..200``
    19-bit delta compression (accelerometer off): 2 x 4 x 19 bits in bytes 1-19.
``201..205``
    Impedance of channels 1-4 and the reference (ASCII number), ``206``/``207``: a text
    message in several parts / its last part.

A delta field carries its sign in its least significant bit: an odd field ``f`` is
``f - 2**bits``, an even one is ``f``. Samples are rebuilt as ``previous - delta``, from the
uncompressed anchor; packet ``n`` holds the samples ``2n - 1`` and ``2n`` of the cycle (for
19-bit packets ``n`` is ``ID - 100``). A cycle is the anchor plus 100 packets: 201 samples.
Counts convert to volts as ``1.2 / (8388607 x 1.5 x 51)`` (Vref 1.2 V, gain 51, the 1.5 of
OpenBCI's client). Commands are ASCII bytes written to the send characteristic (``b`` start,
``s`` stop, ``n``/``N`` accelerometer on/off).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from detector.profiles.errors import DecodeError
from detector.signals import ChannelSpec
from detector.text_fields import is_ascii_digits

Bytes = bytes | bytearray | memoryview


@dataclass(frozen=True, kw_only=True)
class GanglionProfile:
    """The Ganglion's GATT profile and packet constants, as data.

    Attributes
    ----------
    service_uuid, receive_uuid, send_uuid, disconnect_uuid : str
        128-bit UUIDs (lowercase text): the Simblee service (16-bit ``FE84``), the notify
        characteristic carrying packets, the write characteristic taking commands, and the
        one a client writes to ask the board to drop the link.
    fs_hz : float
        Sampling rate of the BLE stream (Hz).
    channels : int
        Channels per sample.
    packet_bytes : int
        Length of a data notification.
    samples_per_cycle : int
        Samples from one uncompressed anchor to the next (1 + 100 packets x 2).
    uv_per_count : float
        Microvolts per ADC count.
    name_prefix : str
        Advertised-name prefix.
    """

    service_uuid: str = "0000fe84-0000-1000-8000-00805f9b34fb"
    receive_uuid: str = "2d30c082-f39f-4ce6-923f-3484ea480596"
    send_uuid: str = "2d30c083-f39f-4ce6-923f-3484ea480596"
    disconnect_uuid: str = "2d30c084-f39f-4ce6-923f-3484ea480596"
    fs_hz: float = 200.0
    channels: int = 4
    packet_bytes: int = 20
    samples_per_cycle: int = 201
    uv_per_count: float = 1.2e6 / (8388607.0 * 1.5 * 51.0)
    name_prefix: str = "Ganglion"


GANGLION = GanglionProfile()

START_STREAM = b"b"
STOP_STREAM = b"s"
ACCEL_ON = b"n"
ACCEL_OFF = b"N"


class PacketKind(enum.Enum):
    """What a packet ID announces."""

    UNCOMPRESSED = "uncompressed"
    DELTA_18 = "delta18"
    DELTA_19 = "delta19"
    IMPEDANCE = "impedance"
    MESSAGE = "message"
    MESSAGE_END = "message_end"


def packet_kind(packet_id: int) -> PacketKind:
    """The kind of packet ``packet_id`` announces.

    Raises
    ------
    DecodeError
        An ID the firmware never sends (208-255).
    """
    if packet_id == 0:
        return PacketKind.UNCOMPRESSED
    if 1 <= packet_id <= 100:
        return PacketKind.DELTA_18
    if 101 <= packet_id <= 200:
        return PacketKind.DELTA_19
    if 201 <= packet_id <= 205:
        return PacketKind.IMPEDANCE
    if packet_id == 206:
        return PacketKind.MESSAGE
    if packet_id == 207:
        return PacketKind.MESSAGE_END
    raise DecodeError("ganglion.packet", f"packet ID {packet_id}; expected 0-207")


@dataclass(frozen=True, kw_only=True)
class GanglionPacket:
    """One decoded notification.

    Attributes
    ----------
    packet_id : int
        Byte 0.
    kind : PacketKind
    counts : ndarray of int64, shape (1, 4) or None
        The anchor sample of an uncompressed packet (ADC counts).
    deltas : ndarray of int64, shape (2, 4) or None
        The two deltas of a compressed packet (``sample = previous - delta``).
    cycle_position : int
        Position in its cycle of the packet's first sample (0 for the anchor, ``2n - 1``
        for compressed packet ``n``); -1 for packets without samples.
    aux : int or None
        The aux byte of an 18-bit packet (int8).
    text : str
        Impedance value or message text (ASCII), else ``""``.
    """

    packet_id: int
    kind: PacketKind
    counts: np.ndarray | None = None
    deltas: np.ndarray | None = None
    cycle_position: int = -1
    aux: int | None = None
    text: str = ""

    @property
    def n_samples(self) -> int:
        """Samples the packet carries (0, 1 or 2)."""
        if self.counts is not None:
            return 1
        return 0 if self.deltas is None else 2


def signed_lsb(fields: np.ndarray, *, bits: int) -> np.ndarray:
    """Ganglion sign convention: an odd ``bits``-bit field is negative (``f - 2**bits``).

    Examples
    --------
    >>> signed_lsb(np.array([0x0A101, 0x2C000, 0x3FFFF]), bits=18).tolist()
    [-220927, 180224, -1]
    """
    f = np.asarray(fields, dtype=np.int64) & ((1 << bits) - 1)
    return np.where(f & 1, f - (1 << bits), f)


def unpack_fields(payload: Bytes, *, bits: int, count: int) -> np.ndarray:
    """Read ``count`` unsigned fields of ``bits`` bits packed big-endian (MSB first).

    Raises
    ------
    DecodeError
        ``payload`` shorter than ``count x bits`` bits.
    """
    raw = bytes(payload)
    need = (count * bits + 7) // 8
    if len(raw) < need:
        raise DecodeError("ganglion.packet", f"{len(raw)} payload bytes; {count} fields of "
                          f"{bits} bits need {need}")
    value = int.from_bytes(raw[:need], "big") >> (need * 8 - count * bits)
    mask = (1 << bits) - 1
    out = [(value >> (bits * (count - 1 - k))) & mask for k in range(count)]
    return np.asarray(out, dtype=np.int64)


def decode_deltas(payload: Bytes, *, bits: int) -> np.ndarray:
    """The 2 x 4 signed deltas of a compressed packet's payload (bytes after the ID).

    Parameters
    ----------
    payload : bytes-like
        At least 18 (``bits=18``) or 19 (``bits=19``) bytes.
    bits : {18, 19}

    Returns
    -------
    ndarray of int64, shape (2, 4)
        ``[sample][channel]``.

    Raises
    ------
    DecodeError
        Another width, or too few bytes.
    """
    if bits not in (18, 19):
        raise DecodeError("ganglion.packet", f"delta width {bits}; expected 18 or 19")
    return signed_lsb(unpack_fields(payload, bits=bits, count=8), bits=bits).reshape(2, 4)


def decode_packet(data: Bytes) -> GanglionPacket:
    """Decode one notification of the receive characteristic.

    Raises
    ------
    DecodeError
        Empty, an unknown packet ID, or fewer bytes than the packet kind needs.
    """
    raw = bytes(data)
    if not raw:
        raise DecodeError("ganglion.packet", "empty notification; expected 20 bytes")
    pid = raw[0]
    kind = packet_kind(pid)
    body = raw[1:]
    if kind is PacketKind.UNCOMPRESSED:
        if len(body) < 12:
            raise DecodeError("ganglion.packet", f"uncompressed packet of {len(raw)} bytes; "
                              "expected at least 13 (ID + 4 x 24-bit counts)")
        counts = np.asarray([int.from_bytes(body[3 * k:3 * k + 3], "big", signed=True)
                             for k in range(GANGLION.channels)], dtype=np.int64)
        return GanglionPacket(packet_id=pid, kind=kind, counts=counts.reshape(1, 4),
                              cycle_position=0)
    if kind in (PacketKind.DELTA_18, PacketKind.DELTA_19):
        bits = 18 if kind is PacketKind.DELTA_18 else 19
        n = pid if bits == 18 else pid - 100
        aux = None
        if bits == 18 and len(body) >= 19:
            aux = int.from_bytes(body[18:19], "big", signed=True)
        return GanglionPacket(packet_id=pid, kind=kind, deltas=decode_deltas(body, bits=bits),
                              cycle_position=2 * n - 1, aux=aux)
    return GanglionPacket(packet_id=pid, kind=kind,
                          text=body.rstrip(b"\x00").decode("ascii", errors="replace"))


@dataclass(frozen=True, kw_only=True)
class GanglionCalfMapping:
    """Which Ganglion channel is the calf EMG of which leg.

    Attributes
    ----------
    channel_legs : dict of int to str
        Ganglion channel (0-3) -> ``"left"``/``"right"``. One channel per leg; the same
        all night, never chosen from the data.
    """

    channel_legs: dict[int, str]

    def __post_init__(self) -> None:
        legs = list(self.channel_legs.values())
        if not self.channel_legs or len(set(legs)) != len(legs):
            raise ValueError("give one Ganglion channel per leg")
        for ch, leg in self.channel_legs.items():
            if ch not in range(GANGLION.channels) or leg not in ("left", "right", "unknown"):
                raise ValueError(f"channel {ch} -> {leg!r}: expected channel 0-3 and a leg "
                                 "of left, right or unknown")


def parse_channel_legs(text: str) -> GanglionCalfMapping:
    """Parse ``"1=left,2=right"`` (channels numbered 1-4, as printed on the board).

    Raises
    ------
    DecodeError
        Not of that form.
    """
    where = "--ganglion-channels"
    pairs: dict[int, str] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        ch, sep, leg = part.partition("=")
        if not sep or not is_ascii_digits(ch.strip()):
            raise DecodeError(where, f"{part!r}; expected CHANNEL=LEG, e.g. 1=left")
        pairs[int(ch) - 1] = leg.strip().lower()
    try:
        return GanglionCalfMapping(channel_legs=pairs)
    except ValueError as exc:
        raise DecodeError(where, str(exc)) from None


def emg_channel_spec(*, channel: int) -> ChannelSpec:
    """Describe the ``emg`` channel one Ganglion input feeds (rails: the int24 limits)."""
    rails = (-(2**23) * GANGLION.uv_per_count, (2**23 - 1) * GANGLION.uv_per_count)
    return ChannelSpec(role="emg", fs=GANGLION.fs_hz, unit="uV",
                       source_labels=(f"ganglion_ch{channel + 1}",), rails=rails)
