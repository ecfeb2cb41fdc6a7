"""Session clocks: the host's wall clock, or a simulated night's clock running N times faster.

A session reads time and waits only through a :class:`Timebase`, so the same session code runs
a real night, a sped-up simulated night, or a test that moves time by hand.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Timebase(Protocol):
    """Where a session gets its time from."""

    def now_s(self) -> float:
        """Host time, seconds since the Unix epoch (UTC)."""
        ...

    async def sleep(self, duration_s: float) -> None:
        """Wait ``duration_s`` seconds of this timebase."""
        ...


class WallTimebase:
    """The host's real clock (``time.time``) and ``asyncio.sleep``."""

    def now_s(self) -> float:
        """Host UNIX time (s)."""
        return time.time()

    async def sleep(self, duration_s: float) -> None:
        """Sleep for real."""
        await asyncio.sleep(max(0.0, duration_s))


class ScaledTimebase:
    """A simulated night's clock: ``origin_unix_s + clock()``, running ``factor`` x real time.

    Parameters
    ----------
    clock : callable returning float
        Seconds since the simulation started (e.g. ``firmware_sim.firmware.ScaledClock``).
    origin_unix_s : float
        UNIX time the simulated night starts at.
    factor : float
        Simulated seconds per wall-clock second.
    """

    def __init__(self, clock: Callable[[], float], *, origin_unix_s: float,
                 factor: float) -> None:
        if not factor > 0:
            raise ValueError("factor must be positive")
        self._clock = clock
        self._origin = origin_unix_s
        self._factor = factor

    def now_s(self) -> float:
        """Simulated UNIX time (s)."""
        return self._origin + self._clock()

    async def sleep(self, duration_s: float) -> None:
        """Wait ``duration_s`` simulated seconds (``duration_s / factor`` for real)."""
        await asyncio.sleep(max(0.0, duration_s) / self._factor)


class Backoff:
    """Capped exponential backoff: 0 for the first try, then ``initial_s`` doubling to ``max_s``.

    Parameters
    ----------
    initial_s : float
        Delay after the first failure (s).
    max_s : float
        Largest delay (s).
    """

    def __init__(self, *, initial_s: float, max_s: float) -> None:
        if not (0 < initial_s <= max_s):
            raise ValueError("need 0 < initial_s <= max_s")
        self.initial_s = initial_s
        self.max_s = max_s
        self.failures = 0

    def next_delay_s(self) -> float:
        """Delay before the next attempt (s); counts one more failure."""
        delay = 0.0 if self.failures == 0 else min(
            self.max_s, self.initial_s * 2.0 ** (self.failures - 1))
        self.failures += 1
        return delay

    def reset(self) -> None:
        """A connection worked: start again from no delay."""
        self.failures = 0
