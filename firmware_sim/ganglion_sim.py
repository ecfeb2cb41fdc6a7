"""A simulated OpenBCI Ganglion (firmware 2 packet format) served with bumble.

The receive characteristic (notify) sends 20-byte packets; the send characteristic (write)
takes the ASCII commands ``b`` (start) and ``s`` (stop). Each stream starts a cycle with an
uncompressed anchor (ID 0, 4 x int24 big-endian) and then 100 packets of two samples of
19-bit deltas (IDs 101-200), then the next anchor, as OpenBCI's client expects. As on the
board, streaming stops when the link drops; the client sends ``b`` again after reconnecting.

The encoder is closed-loop: each delta is ``previous - target`` rounded to a value the
sign-in-LSB field can carry (even when >= 0, odd when < 0), and ``previous`` is what the
client will rebuild, so the stream the client decodes is known exactly here
(:attr:`GanglionPeripheral.sent_counts`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from bumble import gatt
from bumble.device import Connection, Device
from bumble.link import LocalLink

from detector.profiles.ganglion import GANGLION, START_STREAM, STOP_STREAM
from firmware_sim.gatt import new_link_device
from firmware_sim.sim_peripheral import Notification, SimPeripheral

GANGLION_SIM_ADDRESS = "D0:5B:A4:00:00:05"
DELTA_BITS = 19
_INT24 = (-(2**23), 2**23 - 1)


def representable_delta(delta: np.ndarray, *, bits: int) -> np.ndarray:
    """The nearest values a ``bits``-bit sign-in-LSB field carries (even >= 0, odd < 0)."""
    d = np.asarray(delta, dtype=np.int64)
    pos = np.clip(2 * np.floor_divide(d + 1, 2), 0, (1 << bits) - 2)
    neg = np.clip(np.where(d % 2 == 0, d + 1, d), -((1 << bits) - 1), -1)
    return np.where(d >= 0, pos, neg)


def _representable(d: int, bits: int) -> int:
    """:func:`representable_delta` of one Python int."""
    if d >= 0:
        return min(2 * ((d + 1) // 2), (1 << bits) - 2)
    return max(d + 1 if d % 2 == 0 else d, -((1 << bits) - 1))


def pack_fields(values: np.ndarray, *, bits: int) -> bytes:
    """Pack signed values as ``bits``-bit sign-in-LSB fields, big-endian, MSB first."""
    acc = 0
    for v in np.asarray(values, dtype=np.int64).ravel().tolist():
        acc = (acc << bits) | (v & ((1 << bits) - 1))
    n = len(np.asarray(values).ravel()) * bits
    pad = (-n) % 8
    return (acc << pad).to_bytes((n + pad) // 8, "big")


def encode_anchor(counts: np.ndarray) -> bytes:
    """Packet ID 0: 4 x int24 big-endian, padded to 20 bytes."""
    c = np.clip(np.asarray(counts, dtype=np.int64), *_INT24)
    body = b"".join(int(v).to_bytes(3, "big", signed=True) for v in c.tolist())
    return (bytes([0]) + body).ljust(GANGLION.packet_bytes, b"\x00")


class DeltaEncoder:
    """Closed-loop delta encoder of one cycle: tracks what the client rebuilds."""

    def __init__(self, anchor: np.ndarray, *, bits: int = DELTA_BITS) -> None:
        self.bits = bits
        self.prev = np.clip(np.asarray(anchor, dtype=np.int64), *_INT24)

    def encode(self, packet_number: int, targets: np.ndarray) -> tuple[bytes, np.ndarray]:
        """Packet ``packet_number`` (1-100) for two target samples (2, 4) -> bytes, rebuilt."""
        # Python ints: two samples of four channels, a few hundred thousand packets a night,
        # where numpy's per-call cost on 4-element arrays dominated the simulated band's CPU
        prev = self.prev.tolist()
        rows_d: list[list[int]] = []
        rows_out: list[list[int]] = []
        for target in np.asarray(targets, dtype=np.int64)[:2].tolist():
            d = [_representable(p - t, self.bits) for p, t in zip(prev, target, strict=True)]
            prev = [p - x for p, x in zip(prev, d, strict=True)]
            rows_d.append(d)
            rows_out.append(prev)
        self.prev = np.array(prev, dtype=np.int64)
        deltas = np.array(rows_d, dtype=np.int64)
        out = np.array(rows_out, dtype=np.int64)
        pid = packet_number + (100 if self.bits == 19 else 0)
        payload = bytes([pid]) + pack_fields(deltas, bits=self.bits)
        return payload.ljust(GANGLION.packet_bytes, b"\x00"), out


class GanglionPeripheral(SimPeripheral):
    """A Ganglion streaming ``emg_counts`` (n, 4) at 200 Hz over GATT.

    Parameters
    ----------
    device : bumble.device.Device
    emg_counts : ndarray, shape (n, 4)
        ADC counts, sample ``i`` at true time ``i / 200``.
    clock : callable returning float
        True time (s).
    local_name, address : str
    link : LocalLink, optional
    clock_ppm : float
        The board's oscillator against true time (ppm; see
        :class:`~firmware_sim.sim_peripheral.SimPeripheral`; its packets carry no time).
    """

    def __init__(self, device: Device, *, emg_counts: np.ndarray, clock: Callable[[], float],
                 local_name: str = "Ganglion-SIM5", address: str = GANGLION_SIM_ADDRESS,
                 link: LocalLink | None = None, clock_ppm: float = 0.0) -> None:
        super().__init__(device, clock=clock, service_uuid=GANGLION.service_uuid,
                         short_name="Ganglion", local_name=local_name, address=address,
                         link=link, clock_ppm=clock_ppm)
        self.counts = np.asarray(emg_counts, dtype=np.int64)
        if self.counts.ndim != 2 or self.counts.shape[1] != GANGLION.channels:
            raise ValueError(f"emg_counts must have shape (n, 4), got {self.counts.shape}")
        self.counts = self.on_own_oscillator(self.counts)
        self.streaming = False
        self.next_sample = 0
        self.position = 0
        self.packets_sent = 0
        self.sent_counts: dict[int, np.ndarray] = {}
        """Sample index -> the counts (4,) the client rebuilds from what was sent."""
        self.drop_packets: set[int] = set()
        """Packets (by number sent) dropped on the air, for tests of lost-packet handling."""
        self._encoder: DeltaEncoder | None = None
        self.receive_char = gatt.Characteristic(
            GANGLION.receive_uuid, gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.READABLE, b"")
        self.send_char = gatt.Characteristic(
            GANGLION.send_uuid, gatt.Characteristic.Properties.WRITE
            | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_send_write))
        disconnect_char = gatt.Characteristic(
            GANGLION.disconnect_uuid, gatt.Characteristic.Properties.WRITE,
            gatt.Characteristic.WRITEABLE, gatt.CharacteristicValue(write=self._on_disconnect))
        device.add_services([gatt.Service(GANGLION.service_uuid,
                                          [self.receive_char, self.send_char,
                                           disconnect_char])])
        device.gatt_server.max_mtu = 23

    @classmethod
    def on_link(cls, link: LocalLink, *, emg_counts: np.ndarray, clock: Callable[[], float],
                address: str = GANGLION_SIM_ADDRESS,
                clock_ppm: float = 0.0) -> GanglionPeripheral:
        """Create the board on an in-process link (call from a running event loop)."""
        device = new_link_device(link, address=address, name="Ganglion-SIM5")
        return cls(device, emg_counts=emg_counts, clock=clock, address=address, link=link,
                   clock_ppm=clock_ppm)

    def produce(self, now_s: float) -> list[Notification]:
        """Packets of the samples measured up to ``now_s``."""
        if not self.streaming:
            return []
        due = min(self.counts.shape[0],
                  math.floor(self.device_s(now_s) * GANGLION.fs_hz + 1e-9) + 1)
        out: list[Notification] = []
        while True:
            need = 1 if self.position == 0 else 2
            if due - self.next_sample < need:
                break
            i = self.next_sample
            if self.position == 0:
                payload = encode_anchor(self.counts[i])
                self._encoder = DeltaEncoder(self.counts[i])
                self.sent_counts[i] = self._encoder.prev.copy()
            else:
                assert self._encoder is not None
                payload, rebuilt = self._encoder.encode((self.position + 1) // 2,
                                                        self.counts[i:i + 2])
                self.sent_counts[i], self.sent_counts[i + 1] = rebuilt[0], rebuilt[1]
            self.next_sample += need
            self.position = (self.position + need) % GANGLION.samples_per_cycle
            if self.packets_sent not in self.drop_packets:
                out.append((self.receive_char, payload))
            self.packets_sent += 1
        return out

    def on_connected(self) -> None:
        """A new connection: nothing streams until the client sends ``b``."""
        self.streaming = False

    def on_disconnected(self) -> None:
        """The stream stops when the link drops."""
        self.streaming = False

    def handle_command(self, command: bytes) -> None:
        """Apply an ASCII command (``b`` start, ``s`` stop; others are ignored)."""
        if command[:1] == START_STREAM and not self.streaming:
            self.streaming = True
            self.position = 0
            self.next_sample = math.ceil(self.device_s(self.clock()) * GANGLION.fs_hz - 1e-9)
        elif command[:1] == STOP_STREAM:
            self.streaming = False

    def _on_send_write(self, _connection: Connection, value: bytes) -> None:
        self.handle_command(bytes(value))

    def _on_disconnect(self, connection: Connection, _value: bytes) -> None:
        self._spawn(connection.disconnect())
