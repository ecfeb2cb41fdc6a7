"""The simulated band for ``cramp record --simulate``: a night model streamed over real GATT.

Night model (:mod:`firmware_sim.night`) -> :class:`~firmware_sim.firmware.Firmware` -> bumble
GATT server (:class:`~firmware_sim.gatt.LegBandPeripheral`) on an in-process ``LocalLink`` ->
the project's bleak backend. The session connects with the ordinary ``BleakClient``.

The band's clock is a ``ManualClock`` moved by a :class:`SteppedDriver` in fixed steps; the
session reads and sleeps on the same clock through a :class:`ManualTimebase`. Without pacing
the steps go as fast as the CPU allows (deterministic, for tests); with ``pace=N``
(:func:`drive_paced`, ``cramp record --simulate --speed N``) the driver waits so that the night
runs at most ``N`` times faster than real time. Time advances from the host's event loop, one
step after the other, so a slow or busy machine slows the demo down instead of letting the
band's clock run ahead of a central that cannot keep up (which would overflow its buffer).

A radio outage (:meth:`SimulatedBand.outage`) drops the link and keeps the band silent (not
advertising, so unreachable) for a while: the band keeps sampling into its ring buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
from bleak.backends.device import BLEDevice
from bumble.link import LocalLink

from detector.ble.session_types import SessionConfig
from firmware_sim.bleak_backend import backends_for
from firmware_sim.firmware import Firmware, FirmwareConfig, ManualClock
from firmware_sim.gatt import DEFAULT_BAND_ADDRESS, LegBandPeripheral
from firmware_sim.night import NightChunk, NightScenario, synthesize_chunks

T = TypeVar("T")


class NightFeed:
    """A firmware signal feed over a night synthesised chunk by chunk (bounded memory).

    The firmware asks for ever later times (the on-band envelope reaches back a few ms), so
    only the chunks around the latest request are kept.

    Parameters
    ----------
    scenario : NightScenario
        The night.
    rng : numpy.random.Generator
        Source of the night's randomness.
    chunk_s : float
        Synthesis chunk (s).
    """

    def __init__(self, scenario: NightScenario, *, rng: np.random.Generator,
                 chunk_s: float = 60.0) -> None:
        self.scenario = scenario
        self._chunks: Iterator[NightChunk] = synthesize_chunks(scenario, rng=rng,
                                                               chunk_s=chunk_s)
        self._fs = {"emg": float(scenario.fs_emg), "shank_acc": float(scenario.fs_acc),
                    "foot_acc": float(scenario.fs_acc)}
        self._kept: list[NightChunk] = []
        self._arrays: dict[str, tuple[int, np.ndarray]] = {}
        self._done = False

    @property
    def duration_s(self) -> float:
        """Length of the night (s)."""
        return float(self.scenario.duration_s)

    def _ensure(self, t_max: float, t_min: float) -> None:
        changed = False
        while not self._done and (not self._kept or self._end_s(self._kept[-1]) <= t_max + 0.1):
            try:
                self._kept.append(next(self._chunks))
                changed = True
            except StopIteration:
                self._done = True
        while len(self._kept) > 2 and self._end_s(self._kept[1]) < t_min - 1.0:
            self._kept.pop(0)
            changed = True
        if changed or not self._arrays:
            first = self._kept[0]
            self._arrays = {
                "emg": (first.emg_start_sample, np.concatenate([c.emg_uv for c in self._kept])),
                "shank_acc": (first.acc_start_sample,
                              np.concatenate([c.shank_acc_g for c in self._kept])),
                "foot_acc": (first.acc_start_sample,
                             np.concatenate([c.foot_acc_g for c in self._kept])),
            }

    def _end_s(self, chunk: NightChunk) -> float:
        return (chunk.emg_start_sample + chunk.emg_uv.shape[0]) / self._fs["emg"]

    def __call__(self, role: str, t_s: np.ndarray) -> np.ndarray:
        """Signal of ``role`` at true times ``t_s`` (s): (n,) uV or (n, 3) g."""
        t = np.asarray(t_s, dtype=np.float64)
        if t.size == 0:
            return np.zeros((0,) if role == "emg" else (0, 3))
        self._ensure(float(t.max()), float(t.min()))
        first, values = self._arrays[role]
        fs = self._fs[role]
        pos = np.clip(t * fs - first, 0.0, values.shape[0] - 1)
        i0 = np.floor(pos).astype(np.int64)
        i1 = np.minimum(i0 + 1, values.shape[0] - 1)
        frac = pos - i0
        if values.ndim == 1:
            return values[i0] * (1.0 - frac) + values[i1] * frac
        return values[i0] * (1.0 - frac)[:, None] + values[i1] * frac[:, None]


class _OutagePeripheral(LegBandPeripheral):
    """A LegBandPeripheral whose radio can be switched off (no link, no advertising)."""

    radio_off_until_s: float = -1.0
    _silenced: bool = False

    def radio_on(self) -> bool:
        return self.clock() >= self.radio_off_until_s

    async def _advertise(self) -> None:
        if self.radio_on():
            await super()._advertise()
        else:
            self._silenced = True

    async def step(self) -> int:
        sent = await super().step()
        if self._silenced and self.radio_on() and self.connection is None \
                and self.firmware.powered:
            self._silenced = False
            await super()._advertise()
        return sent


@dataclass
class SimulatedBand:
    """A simulated LegBand on its own in-process link.

    Attributes
    ----------
    link : LocalLink
    firmware : Firmware
    peripheral : LegBandPeripheral
    clock : callable returning float
        The firmware's true time (s).
    """

    link: LocalLink
    firmware: Firmware
    peripheral: _OutagePeripheral
    clock: Callable[[], float]

    @classmethod
    async def create(cls, feed: Callable[[str, np.ndarray], np.ndarray], *,
                     clock: Callable[[], float], rng: np.random.Generator,
                     config: FirmwareConfig | None = None,
                     serial_number: str = "LB-000001") -> SimulatedBand:
        """Build the band and start advertising (call from a running event loop)."""
        firmware = Firmware(feed, config=config or FirmwareConfig(), rng=rng)
        link = LocalLink()
        peripheral = _OutagePeripheral.on_link(link, firmware, clock=clock,
                                               serial_number=serial_number)
        assert isinstance(peripheral, _OutagePeripheral)
        await peripheral.start()
        return cls(link=link, firmware=firmware, peripheral=peripheral, clock=clock)

    @property
    def client_backend(self) -> type:
        """bleak client backend class bound to this band's link."""
        return backends_for(self.link)[1]

    @property
    def scanner_backend(self) -> type:
        """bleak scanner backend class bound to this band's link."""
        return backends_for(self.link)[0]

    @property
    def ble_device(self) -> BLEDevice:
        """A bleak device handle for the band (as a scan would give)."""
        return BLEDevice(DEFAULT_BAND_ADDRESS, self.peripheral.local_name, None)

    @property
    def connected(self) -> bool:
        """True while a central is connected."""
        return self.peripheral.connection is not None

    def radio_on(self) -> bool:
        """False during an outage."""
        return self.peripheral.radio_on()

    def awaiting_connection(self) -> bool:
        """Reachable, powered and advertising but not connected: a central may be connecting."""
        return (self.radio_on() and self.firmware.powered and not self.connected
                and self.peripheral.device.is_advertising)

    def outage(self, *, start_s: float, duration_s: float) -> None:
        """Drop the link at true time ``start_s`` and stay unreachable for ``duration_s``."""
        self.firmware.schedule_disconnect(start_s)
        self._outages.append((start_s, start_s + duration_s))

    def __post_init__(self) -> None:
        self._outages: list[tuple[float, float]] = []
        self._restarts: list[float] = []

    def restart(self, *, at_s: float) -> None:
        """Reset the band's firmware at true time ``at_s`` (see ``Firmware.restart``)."""
        self._restarts = sorted([*self._restarts, float(at_s)])

    def _update_radio(self) -> None:
        now = self.clock()
        while self._restarts and self._restarts[0] <= now:
            self._restarts.pop(0)
            self.firmware.restart()
        for a, b in self._outages:
            if a <= now < b:
                self.peripheral.radio_off_until_s = max(self.peripheral.radio_off_until_s, b)

    async def step(self) -> int:
        """Advance the band to its clock and send what it produced."""
        self._update_radio()
        return await self.peripheral.step()

    async def run_scaled(self, *, period_s: float, stop: asyncio.Event) -> None:
        """Step every ``period_s`` wall seconds until ``stop`` is set or the battery is empty."""
        while not stop.is_set():
            await self.step()
            if not self.firmware.powered:
                await self.peripheral.device.stop_advertising()
                return
            await asyncio.sleep(period_s)


class ManualTimebase:
    """Session time over a :class:`ManualClock` moved by a :class:`SteppedDriver`.

    Parameters
    ----------
    clock : ManualClock
        The band's clock (s since the simulation started).
    origin_unix_s : float
        UNIX time of clock 0.
    """

    def __init__(self, clock: ManualClock, *, origin_unix_s: float) -> None:
        self._clock = clock
        self._origin = origin_unix_s
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._ids = itertools.count()

    def now_s(self) -> float:
        """Simulated UNIX time (s)."""
        return self._origin + self._clock()

    async def sleep(self, duration_s: float) -> None:
        """Wait until the driver has moved the clock ``duration_s`` further."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._clock() + max(0.0, duration_s),
                                        next(self._ids), future))
        await future

    def wake_due(self) -> None:
        """Resolve every sleeper whose time has come (the driver calls this)."""
        now = self._clock()
        while self._sleepers and self._sleepers[0][0] <= now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)


class SteppableBand(Protocol):
    """A simulated peripheral a :class:`SteppedDriver` can move (LegBand, Polar, Myo)."""

    @property
    def connected(self) -> bool:
        """True while a central is connected."""
        ...

    def awaiting_connection(self) -> bool:
        """Reachable and advertising but not connected."""
        ...

    async def step(self) -> int:
        """Advance the band to its clock and send what it produced."""
        ...


_HOLD_PAUSE_S = 0.001
"""One real-time pause of a clock hold (s)."""


class SteppedDriver:
    """Moves a simulated band's ``ManualClock`` in steps, deterministically.

    Each step advances the clock by ``step_s``, runs the band, wakes session sleepers due,
    and yields to the event loop ``yields`` times. While ``hold()`` is true and the band
    is reachable but not yet connected (a connection is being made), the clock waits, in
    pauses of 1 ms of real time, at most ``hold_limit_s / 1 ms`` of them per connection:
    reconnections then happen at the same simulated time whatever the machine's speed. The
    limit counts pauses, not real seconds, so that a loaded host (each pause then takes
    longer) waits at least as many event-loop turns as an idle one: which connections
    finish inside the hold depends on the set-up's own progress, never on the host's speed.

    Parameters
    ----------
    band : SteppableBand
        The simulated LegBand, or a Polar / Myo peripheral.
    clock : ManualClock
        The band's clock.
    timebase : ManualTimebase
        The session's timebase over the same clock.
    step_s : float
        Clock step (s).
    yields : int
        Event-loop turns per step.
    hold_limit_s : float
        Hold of the clock per connection, as this many seconds' worth of 1-ms event-loop
        pauses (s; at least this long in real time, longer on a loaded host).
    pace : float, optional
        Simulated seconds per real second at most (``None``: as fast as possible).
    max_behind_s : float
        With ``pace``: when the steps fall more than this many real seconds behind the pace
        (a slow machine, a stall), the pace restarts from now instead of racing to catch up.
    hold_through_setup : bool
        Hold the clock until ``hold()`` is false (the whole connection set-up: MTU exchange,
        service discovery and, with a session's ``connect_pending``, the GATT set-up until
        the band streams), not only until the band is connected.
    """

    def __init__(self, band: SteppableBand, clock: ManualClock, timebase: ManualTimebase, *,
                 step_s: float = 0.1, yields: int = 12, hold_limit_s: float = 5.0,
                 pace: float | None = None, max_behind_s: float = 0.5,
                 hold_through_setup: bool = True) -> None:
        if not step_s > 0 or (pace is not None and not pace > 0):
            raise ValueError("step_s and pace must be positive")
        self.band = band
        self.clock = clock
        self.timebase = timebase
        self.step_s = step_s
        self.yields = yields
        self.hold_limit_s = hold_limit_s
        self.pace = pace
        self.max_behind_s = max_behind_s
        self.hold_through_setup = hold_through_setup
        self.steps = 0
        self.behind_real_s = 0.0
        """With ``pace``: real seconds the night fell behind the pace (the demo's slow-down)."""

    async def run(self, *, keep_going: Callable[[], bool],
                  hold: Callable[[], bool] = lambda: False,
                  stall_s: Callable[[float], float] | None = None) -> None:
        """Step until ``keep_going()`` is false.

        ``stall_s(now)``, if given, is called before each step: seconds by which the clock
        jumps at once (a host stall: the band samples on while the host does not run).
        """
        loop = asyncio.get_running_loop()
        real0, sim0 = loop.time(), self.clock()
        limit = max(1, round(self.hold_limit_s / _HOLD_PAUSE_S))
        held = 0  # pauses held since hold() last was false (one connection's)
        while keep_going():
            if not hold():
                held = 0
            # a connection being made: the band advertising for it, or already linked while
            # the central finishes its set-up (MTU, services, subscriptions, START) - at a
            # high pace a step is seconds of the night, which would pass unrecorded, and the
            # set-up must not time out in simulated time
            if hold() and (self.band.awaiting_connection() or self.band.connected):
                while hold() and (self.hold_through_setup or not self.band.connected) \
                        and held < limit and keep_going():
                    await asyncio.sleep(_HOLD_PAUSE_S)
                    held += 1
            jump = stall_s(self.clock()) if stall_s is not None else 0.0
            self.clock.advance(self.step_s + max(0.0, jump))
            self.steps += 1
            try:
                await self.band.step()
            except Exception as exc:  # the simulated radio's own failure: one line, go on
                logging.getLogger(__name__).warning("simulated band: %s: %s",
                                                    type(exc).__name__, exc)
            self.timebase.wake_due()
            for _ in range(self.yields):
                await asyncio.sleep(0)
            if self.pace is not None:
                wait = real0 + (self.clock() - sim0) / self.pace - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                elif -wait > self.max_behind_s:
                    self.behind_real_s += -wait
                    real0 += -wait


def paced_step_s(speed: float) -> float:
    """Clock step (simulated s) for a night run ``speed`` times faster than real time.

    About a hundred steps per real second, never under 0.1 s of the night.
    """
    return max(0.1, 0.01 * speed)


def paced_session_config(*, mtu: int, speed: float) -> SessionConfig:
    """Session timeouts for a paced simulated night (in simulated seconds).

    Data arrives once per clock step, so the watchdog and the command timeouts allow several
    steps; a machine too slow for the pace only slows the night down (time is the steps').
    A connection attempt is abandoned after 10 simulated seconds: the clock is held while a
    reachable band connects, so only an attempt at an unreachable band (an outage) runs
    that long, and the in-process link never completes such an attempt by itself.
    """
    step = paced_step_s(speed)
    return SessionConfig(mtu=mtu, watchdog_s=max(5.0, 5.0 * step),
                         connect_timeout_s=5.0, connect_attempts=1,
                         command_timeout_s=max(10.0, 10.0 * step),
                         setup_timeout_s=max(20.0, 40.0 * step))


async def drive_paced(band: SteppableBand, clock: ManualClock, timebase: ManualTimebase,
                      session_run: Awaitable[T], *, speed: float,
                      connect_pending: Callable[[], bool]) -> T:
    """Run a session against a simulated band whose clock is stepped at ``speed`` x real time.

    Parameters
    ----------
    band : SteppableBand
        The simulated peripheral.
    clock : ManualClock
        Its clock (also the session's, through ``timebase``).
    timebase : ManualTimebase
        The session's timebase.
    session_run : awaitable
        The session's ``run()`` (or a wrapper of it).
    speed : float
        Simulated seconds per real second, at most.
    connect_pending : callable returning bool
        The session's ``connect_pending`` (the clock holds while a connection is made).

    Returns
    -------
    What ``session_run`` returns.
    """
    # a connection on a busy machine may take many real seconds: the night waits for it
    driver = SteppedDriver(band, clock, timebase, step_s=paced_step_s(speed), pace=speed,
                           hold_limit_s=60.0)
    task = asyncio.ensure_future(session_run)
    try:
        await driver.run(keep_going=lambda: not task.done(), hold=connect_pending)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return task.result()
