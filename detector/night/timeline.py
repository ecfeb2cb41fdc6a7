"""The night's one timeline: the band's sample grid, mapped to host time by a clock.

The pipeline always runs on the band's own sample grid: sample ``i`` of a channel is at
``i / fs`` night seconds with ``fs`` the band's *nominal* rate, so the epochs hold the same
samples live and in the morning's replay. A clock maps night samples to host time: the
online estimate (:class:`~detector.night.clock.OnlineClock`) live, the morning fit
(:class:`~detector.capture.clockfit.ClockFit`) in replay. An episode found on the grid is
then placed in time through the clock, so the live and the stored night differ only by how
far the online clock estimate is from the final fit.

:func:`map_result` places a result's episodes and in-bed periods, what the night reports in
time. Its gaps, duration and per-second trace stay on the grid: they count samples
(``round(gap.start_s * fs)`` is the first missing sample's index), and move from host time
by no more than the clock's drift (0.36 s an hour at 100 ppm).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from detector.pipeline.result import NightResult

if TYPE_CHECKING:
    from detector.capture.clockfit import ClockFit
    from detector.night.tick_grid import TickGrid


class SampleClock(Protocol):
    """Host time of a night sample of one role (``None`` when it cannot say yet)."""

    def host_time_s(self, role: str, index: float) -> float | None:
        """Host time (UNIX s) of night sample ``index`` of ``role``."""


class FittedClock:
    """The morning's clock: night samples of the first run placed by a :class:`ClockFit`.

    Parameters
    ----------
    fit : ClockFit
        The fit of the capture's first run (the night's timeline; later runs sit at their
        logged sample offsets on it, as live).
    stream_ids : mapping of str to int
        Stream id of each role.
    shift_s : float
        Seconds added to every host time (a start time given by the user moves the night).
    grids : mapping of str to (TickGrid, int), optional
        Roles placed on the RTC's grid by their ticks (the accelerometers), with their
        counter origin: their samples are placed through the RTC, not their own stream.
    """

    def __init__(self, fit: ClockFit, *, stream_ids: Mapping[str, int],
                 shift_s: float = 0.0,
                 grids: Mapping[str, tuple[TickGrid, int]] | None = None) -> None:
        self._timing = {role: fit.streams[sid] for role, sid in stream_ids.items()
                        if sid in fit.streams}
        self.shift_s = float(shift_s)
        self._fit = fit
        self._grids = dict(grids or {})

    def host_time_s(self, role: str, index: float) -> float | None:
        """Host time (UNIX s) of night sample ``index`` of ``role`` (``None``: no stream)."""
        timing = self._timing.get(role)
        if timing is None:
            return None
        placed = self._grids.get(role)
        if placed is not None:
            grid, origin = placed
            ticks = grid.ticks_of(index, origin=origin)
            if ticks is not None:
                return self._fit.host_at_tick0_s + self._fit.host_per_tick * ticks \
                    + self.shift_s
        return timing.t0_s + self.shift_s + float(index) / timing.rate_hz


def clock_time(clock: SampleClock, channels: Mapping[str, float], night_s: float
               ) -> datetime | None:
    """Host time of night second ``night_s`` through ``clock``.

    Parameters
    ----------
    clock : SampleClock
    channels : mapping of role to nominal rate (Hz)
        In the order the roles are tried; the first role the clock can place is used (the
        same order live and in replay, so both use the same stream's line).
    night_s : float
        Seconds on the sample grid (sample index / nominal rate).

    Returns
    -------
    datetime or None
        Aware UTC time; ``None`` if no role can be placed yet.
    """
    for role, fs in channels.items():
        t = clock.host_time_s(role, night_s * fs)
        if t is not None:
            return datetime.fromtimestamp(t, UTC)
    return None


def map_result(result: NightResult, to_utc: Callable[[float], datetime]) -> NightResult:
    """A result's times placed by a clock.

    Parameters
    ----------
    result : NightResult
        As the pipeline gives it (times on the sample grid, from ``info.start_utc``).
    to_utc : callable
        ``to_utc(night_s)``: host time of night second ``night_s``.

    Returns
    -------
    NightResult
        Episode onsets (``onset_utc`` and ``onset_s``), offsets, set-aside runs and in-bed
        periods as seconds of host time from ``info.start_utc``; ``onset_utc`` is the clock's
        time of the onset. Gaps, duration and trace unchanged (on the grid).
    """
    start = result.info.start_utc

    def host_s(night_s: float) -> float:
        return (to_utc(night_s) - start).total_seconds()

    episodes = []
    for e in result.episodes:
        at = to_utc(e.onset_s)
        onset = (at - start).total_seconds()
        episodes.append(dataclasses.replace(e, onset_utc=at, onset_s=onset,
                                            offset_s=host_s(e.offset_s)))
    beds = tuple((host_s(a), host_s(b)) for a, b in result.in_bed_periods)
    aside = tuple(dataclasses.replace(w, onset_s=host_s(w.onset_s),
                                      withdrawn_s=host_s(w.withdrawn_s))
                  for w in result.set_aside)
    return dataclasses.replace(result, episodes=tuple(episodes), in_bed_periods=beds,
                               set_aside=aside)
