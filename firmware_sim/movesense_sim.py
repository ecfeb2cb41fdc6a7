"""A simulated Movesense sensor running the ``gatt_sensordata_app`` protocol, with bumble.

The command characteristic (write) takes ``HELLO``, ``SUBSCRIBE /Meas/Acc/<rate>`` and
``UNSUBSCRIBE``; the data characteristic (notify) answers ``HELLO`` with ``01 ref Hello``, a
refused subscription with ``01 ref <HTTP status, high byte first>`` and streams ``02 ref``
+ u32 timestamp (ms of the first sample, the sensor's clock since its boot) + n x 3 float32
(m/s^2). Every subscription ends when the link drops, as on the sensor.

With ``samples_per_message`` a message always carries that many samples; one longer than a
notification (ATT MTU - 3 bytes) goes out as ``DATA`` (its first bytes) then ``DATA_PART2``
(``03 ref`` + the rest), as the vendor's framing allows.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from bumble import gatt
from bumble.device import Connection, Device
from bumble.link import LocalLink

from detector.profiles.movesense import (
    MOVESENSE,
    STANDARD_GRAVITY_MS2,
    Command,
    Response,
)
from detector.text_fields import is_ascii_digits
from firmware_sim.gatt import new_link_device
from firmware_sim.sim_peripheral import Notification, SimPeripheral

MOVESENSE_SIM_ADDRESS = "D0:5B:A4:00:00:04"
HTTP_BAD_REQUEST = 400
HTTP_NOT_FOUND = 404
HTTP_INSUFFICIENT_STORAGE = 507
MAX_SUBSCRIPTIONS = 2


def encode_acc_data(reference: int, *, timestamp_ms: int, acc_ms2: np.ndarray) -> bytes:
    """A DATA notification of accelerometer samples (n, 3) in m/s^2."""
    a = np.asarray(acc_ms2, dtype="<f4").reshape(-1, 3)
    return (bytes([Response.DATA, reference]) + (int(timestamp_ms) % (1 << 32))
            .to_bytes(4, "little") + a.tobytes())


def split_message(message: bytes, *, max_bytes: int) -> list[bytes]:
    """One DATA notification, or DATA + DATA_PART2 when ``message`` exceeds ``max_bytes``.

    Raises
    ------
    ValueError
        Not a DATA notification, or too long for two notifications.
    """
    if len(message) < 2 or message[0] != Response.DATA:
        raise ValueError("expected a DATA notification")
    if len(message) <= max_bytes:
        return [message]
    rest = message[max_bytes:]
    if len(rest) + 2 > max_bytes:
        raise ValueError(f"a message of {len(message)} bytes does not fit two notifications "
                         f"of {max_bytes}")
    return [message[:max_bytes], bytes([Response.DATA_PART2, message[1]]) + rest]


def _result(reference: int, status: int) -> bytes:
    return bytes([Response.COMMAND_RESULT, reference]) + status.to_bytes(2, "big")


class MovesensePeripheral(SimPeripheral):
    """A Movesense sensor streaming ``acc_g`` (n, 3), sampled at ``fs`` Hz.

    Parameters
    ----------
    device : bumble.device.Device
    acc_g : ndarray, shape (n, 3)
        Accelerometer samples (g) at the sensor's native rate ``fs``.
    fs : int
        Native rate of ``acc_g``; subscriptions at other offered rates are served by
        decimating or repeating samples.
    clock : callable returning float
        True time (s).
    boot_ms : int
        The sensor's clock (ms) at true time 0.
    samples_per_message : int, optional
        Samples in every message (split over two notifications when longer than one);
        default: as many as fit one notification, at most ``rate // 13``.
    local_name, address : str
    link : LocalLink, optional
    clock_ppm : float
        The sensor's oscillator against true time (ppm; see
        :class:`~firmware_sim.sim_peripheral.SimPeripheral`): its ms timestamps run with it.
    """

    def __init__(self, device: Device, *, acc_g: np.ndarray, fs: int,
                 clock: Callable[[], float], boot_ms: int = 123_456,
                 samples_per_message: int | None = None,
                 local_name: str = "Movesense 000000000004",
                 address: str = MOVESENSE_SIM_ADDRESS, link: LocalLink | None = None,
                 clock_ppm: float = 0.0) -> None:
        super().__init__(device, clock=clock, service_uuid=MOVESENSE.service_uuid,
                         short_name="Movesens", local_name=local_name, address=address,
                         link=link, clock_ppm=clock_ppm)
        self.acc_g = np.asarray(acc_g, dtype=np.float64)
        if self.acc_g.ndim != 2 or self.acc_g.shape[1] != 3:
            raise ValueError(f"acc_g must have shape (n, 3), got {self.acc_g.shape}")
        self.acc_g = self.on_own_oscillator(self.acc_g)
        self.fs = int(fs)
        self.boot_ms = int(boot_ms)
        if samples_per_message is not None and samples_per_message < 1:
            raise ValueError("samples_per_message must be at least 1")
        self.samples_per_message = samples_per_message
        self.subscriptions: dict[int, int] = {}
        """Client reference -> subscribed rate (Hz)."""
        self.next_sample: dict[int, int] = {}
        self.commands: list[bytes] = []
        self._pending: list[bytes] = []
        self.data_char = gatt.Characteristic(
            MOVESENSE.data_uuid, gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.READABLE, b"")
        self.command_char = gatt.Characteristic(
            MOVESENSE.command_uuid, gatt.Characteristic.Properties.WRITE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_command_write))
        device.add_services([gatt.Service(MOVESENSE.service_uuid,
                                          [self.command_char, self.data_char])])
        device.gatt_server.max_mtu = 247

    @classmethod
    def on_link(cls, link: LocalLink, *, acc_g: np.ndarray, fs: int,
                clock: Callable[[], float], samples_per_message: int | None = None,
                address: str = MOVESENSE_SIM_ADDRESS,
                clock_ppm: float = 0.0) -> MovesensePeripheral:
        """Create the sensor on an in-process link (call from a running event loop)."""
        device = new_link_device(link, address=address, name="Movesense 000000000004")
        return cls(device, acc_g=acc_g, fs=fs, clock=clock, address=address, link=link,
                   samples_per_message=samples_per_message, clock_ppm=clock_ppm)

    def _notification_bytes(self) -> int:
        conn = self.connection
        return (conn.att_mtu if conn is not None else 23) - 3

    def _per_notification(self, rate: int) -> int:
        if self.samples_per_message is not None:
            return self.samples_per_message
        return max(1, min(max(1, rate // 13), (self._notification_bytes() - 6) // 12))

    def _sample(self, rate: int, k: int) -> np.ndarray:
        idx = min(self.acc_g.shape[0] - 1, math.floor(k * self.fs / rate + 1e-9))
        return self.acc_g[idx]

    def _samples(self, rate: int, first: int, n: int) -> np.ndarray:
        """``_sample(rate, k)`` for ``k`` in ``first .. first + n - 1``, as one (n, 3) array."""
        k = np.arange(first, first + n, dtype=np.int64)
        idx = np.minimum(self.acc_g.shape[0] - 1, np.floor(k * self.fs / rate + 1e-9))
        return self.acc_g[idx.astype(np.int64)]

    def produce(self, now_s: float) -> list[Notification]:
        """Command answers, then full notifications of the samples measured up to ``now_s``."""
        out: list[Notification] = [(self.data_char, p) for p in self._pending]
        self._pending = []
        for ref, rate in self.subscriptions.items():
            per = self._per_notification(rate)
            last = math.floor(self.acc_g.shape[0] * rate / self.fs)
            due = min(last, math.floor(self.device_s(now_s) * rate + 1e-9) + 1)
            n_messages = max(0, (due - self.next_sample[ref]) // per)
            if n_messages == 0:
                continue
            first = self.next_sample[ref]
            # every sample of the whole block at once: the same indices as ``_sample`` takes
            # one by one (at MTU 23 a message holds one sample)
            block = self._samples(rate, first, n_messages * per) * STANDARD_GRAVITY_MS2
            max_bytes = self._notification_bytes()
            for m in range(n_messages):
                k = first + m * per
                stamp = self.boot_ms + round(k * 1000.0 / rate)
                message = encode_acc_data(ref, timestamp_ms=stamp,
                                          acc_ms2=block[m * per:(m + 1) * per])
                out.extend((self.data_char, part)
                           for part in split_message(message, max_bytes=max_bytes))
            self.next_sample[ref] = first + n_messages * per
        return out

    def handle_command(self, command: bytes) -> None:
        """Apply one command; answers go out with the next notifications."""
        self.commands.append(bytes(command))
        if len(command) < 2 or command[1] == 0:
            return
        op, ref, data = command[0], command[1], command[2:]
        if op == Command.HELLO:
            self._pending.append(bytes([Response.COMMAND_RESULT, ref]) + b"Hello")
        elif op == Command.UNSUBSCRIBE:
            self.subscriptions.pop(ref, None)
        elif op == Command.SUBSCRIBE:
            path = data.decode("utf-8", errors="replace").strip("/")
            parts = path.split("/")
            if len(parts) != 3 or parts[:2] != ["Meas", "Acc"] or not is_ascii_digits(parts[2]):
                self._pending.append(_result(ref, HTTP_NOT_FOUND))
            elif int(parts[2]) not in MOVESENSE.imu_rates_hz:
                self._pending.append(_result(ref, HTTP_BAD_REQUEST))
            elif ref not in self.subscriptions and \
                    len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
                self._pending.append(_result(ref, HTTP_INSUFFICIENT_STORAGE))
            else:
                rate = int(parts[2])
                self.subscriptions[ref] = rate
                self.next_sample[ref] = math.ceil(self.device_s(self.clock()) * rate - 1e-9)

    def on_connected(self) -> None:
        """A new connection: no subscription yet."""
        self.subscriptions.clear()
        self._pending = []

    def on_disconnected(self) -> None:
        """The sensor ends every subscription when the link drops."""
        self.subscriptions.clear()
        self._pending = []

    def _on_command_write(self, _connection: Connection, value: bytes) -> None:
        self.handle_command(bytes(value))
