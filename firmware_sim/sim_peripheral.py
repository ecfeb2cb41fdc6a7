"""Shared plumbing of the simulated consumer bands (Polar PMD, Myo) served with bumble.

:class:`SimPeripheral` owns a bumble ``Device`` on an in-process ``LocalLink`` (see
:func:`firmware_sim.gatt.new_link_device`): it advertises one service UUID and a name, follows
the connection, switches its radio off during scheduled outages (dropping the link, not
advertising), and on every :meth:`SimPeripheral.step` sends the notifications a subclass
produced up to ``clock()``. :class:`firmware_sim.stepped_band.SteppedDriver` moves its
``ManualClock`` in fixed steps, as for the LegBand, so tests are deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
from bleak.backends.device import BLEDevice
from bumble import gatt
from bumble.device import Connection, Device
from bumble.link import LocalLink

from firmware_sim.bleak_backend import backends_for
from firmware_sim.gatt import advertising_payload, scan_response_payload

Notification = tuple[gatt.Characteristic, bytes]


class SimPeripheral:
    """Base of a simulated band: radio, connection, outages and notification sending.

    Parameters
    ----------
    device : bumble.device.Device
        The device to serve on.
    clock : callable returning float
        True time of the band (s since the simulation started).
    service_uuid : str
        128-bit service UUID put in the advertising data.
    short_name, local_name : str
        Shortened name (advertising data) and complete name (scan response).
    address : str
        The device's address.
    link : LocalLink, optional
        The in-process link the device is on (for :attr:`client_backend`).
    clock_ppm : float
        How fast the band's own oscillator runs against true time (ppm; positive: fast). Its
        sample ``k`` at nominal rate ``fs`` is taken at true time ``k / (fs (1 + ppm 1e-6))``
        and stamped (where the protocol stamps) with device time ``k / fs``.
    """

    def __init__(self, device: Device, *, clock: Callable[[], float], service_uuid: str,
                 short_name: str, local_name: str, address: str,
                 link: LocalLink | None = None, clock_ppm: float = 0.0) -> None:
        self.device = device
        self.clock_ppm = float(clock_ppm)
        self.address = address
        self.link = link
        self.clock = clock
        self.service_uuid = service_uuid
        self.short_name = short_name
        self.local_name = local_name
        self.connections = 0
        self._connection: Connection | None = None
        self._outages: list[tuple[float, float]] = []
        self._radio_off_until_s = float("-inf")
        self._stepped_to_s = float("-inf")
        """True time (s) of the last :meth:`step`: an outage overlapping the time since then
        drops the link even if it has already ended."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._advertising_lock = asyncio.Lock()
        """One advertising (re)start at a time: a step and the disconnection handler may both
        ask, and two concurrent HCI command sequences corrupt bumble's advertising sets."""
        device.on(device.EVENT_CONNECTION, self._on_connection)

    # --------------------------------------------------------------------- oscillator
    def device_s(self, true_s: float) -> float:
        """The band's own time (s) at true time ``true_s`` (its oscillator off by
        :attr:`clock_ppm`)."""
        return true_s * (1.0 + self.clock_ppm * 1e-6)

    def on_own_oscillator(self, signal: np.ndarray) -> np.ndarray:
        """``signal`` (sample ``i`` at true time ``i / fs``) as the band samples it, shape
        (m, ...): sample ``k`` is the one nearest true time ``k / (fs (1 + ppm 1e-6))``."""
        if self.clock_ppm == 0.0 or signal.shape[0] == 0:
            return signal
        scale = 1.0 + self.clock_ppm * 1e-6
        m = int(np.floor(signal.shape[0] * scale))
        idx = np.minimum(np.rint(np.arange(m) / scale).astype(np.int64), signal.shape[0] - 1)
        return signal[idx]

    # ------------------------------------------------------------------------ radio
    @property
    def client_backend(self) -> type:
        """bleak client backend class bound to this band's link."""
        if self.link is None:
            raise ValueError("the band is not on an in-process link")
        return backends_for(self.link)[1]

    @property
    def scanner_backend(self) -> type:
        """bleak scanner backend class bound to this band's link."""
        if self.link is None:
            raise ValueError("the band is not on an in-process link")
        return backends_for(self.link)[0]

    @property
    def ble_device(self) -> BLEDevice:
        """A bleak device handle for the band (as a scan would give)."""
        return BLEDevice(self.address, self.local_name, None)

    @property
    def connection(self) -> Connection | None:
        """The current connection, if any."""
        return self._connection

    @property
    def connected(self) -> bool:
        """True while a central is connected."""
        return self._connection is not None

    def radio_on(self) -> bool:
        """False during an outage."""
        return self.clock() >= self._radio_off_until_s

    def awaiting_connection(self) -> bool:
        """Reachable and advertising but not connected: a central may be connecting."""
        return self.radio_on() and not self.connected and self.device.is_advertising

    def outage(self, *, start_s: float, duration_s: float) -> None:
        """Drop the link at true time ``start_s`` and stay unreachable for ``duration_s``."""
        if not duration_s > 0:
            raise ValueError("duration_s must be positive")
        self._outages.append((start_s, start_s + duration_s))

    async def start(self) -> None:
        """Power the radio on and start advertising."""
        await self.device.power_on()
        await self._advertise()

    async def _advertise(self) -> None:
        async with self._advertising_lock:
            if self._connection is not None or not self.radio_on() or self.device.is_advertising:
                return
            await self._start_advertising()

    async def _start_advertising(self) -> None:
        await self.device.start_advertising(
            advertising_data=advertising_payload(service_uuid=self.service_uuid,
                                                 short_name=self.short_name),
            scan_response_data=scan_response_payload(local_name=self.local_name),
            advertising_interval_min=20.0, advertising_interval_max=20.0)

    # ------------------------------------------------------------------------- stepping
    async def step(self) -> int:
        """Advance to ``clock()``: apply outages, send what was produced, re-advertise.

        Returns
        -------
        int
            Notifications sent.
        """
        now = self.clock()
        dropped = False
        for a, b in self._outages:
            if a <= now < b:
                self._radio_off_until_s = max(self._radio_off_until_s, b)
            if a <= now and b > self._stepped_to_s:  # begun since the last step: even one
                dropped = True  # shorter than a step (a fast pace) drops the link once
        self._stepped_to_s = now
        connection = self._connection
        if connection is not None and (dropped or not self.radio_on()):
            await connection.disconnect()
            return 0
        out = self.produce(now)
        sent = 0
        if connection is not None and self._connection is connection:
            for char, payload in out:
                await self.device.notify_subscriber(connection, char, payload)
                sent += 1
            if out:
                await connection.drain()
        if self._connection is None and self.radio_on() and not self.device.is_advertising:
            await self._advertise()
        return sent

    def produce(self, now_s: float) -> list[Notification]:
        """Notifications due up to ``now_s`` (subclasses override; the base sends nothing)."""
        return []

    def on_connected(self) -> None:
        """A central connected (subclasses reset their per-connection state)."""

    def on_disconnected(self) -> None:
        """The link dropped (subclasses stop streaming, as the real devices do)."""

    # --------------------------------------------------------------------------- events
    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        self.connections += 1
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        self.on_connected()

    def _on_disconnection(self, _reason: int) -> None:
        self._connection = None
        self.on_disconnected()
        self._spawn(self._advertise())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
