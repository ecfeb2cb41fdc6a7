"""An online estimate of the band's clock against the host's, as the night goes on.

The morning fit (:func:`~detector.capture.clockfit.fit_clock`) places every sample in time
from the band's own counters and RTC ticks; host arrival times only estimate the offset and
drift of the band's clock, from the *lower envelope* of the arrivals (a packet is never
received before its last sample was taken; it can be late by any amount). This is the same
estimate kept up to date packet by packet, in bounded memory:

- per stream, ticks per sample by least squares on running sums (the counters and ticks are
  exact up to a tick of rounding), bounded to :data:`~detector.capture.clockfit.MAX_DRIFT_PPM`
  of nominal;
- the device time of each live packet's last sample (its ticks, not the host clock) goes into
  a bin of device time, which keeps only the earliest arrival (the least delayed packet);
  when there are more than ``max_bins`` bins their width doubles, merging neighbours;
- host time = ``a + b * device time``, a Theil-Sen line through the bin minima with the
  slope pairs no crystal can make left out (stalls, bursts after a backfill, clock steps),
  as the morning fit does.

So a live onset converted with this estimate converges to the one the morning fit gives,
instead of drifting away at the band's clock error (0.36 s an hour at 100 ppm).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from detector.capture.clockfit import (
    HOST_TIME_LIMIT_S,
    MAX_BINS,
    MAX_DRIFT_PPM,
    bounded_theil_sen,
)

INITIAL_BIN_S = 10.0
"""Width of an arrival bin at the start of the night (s of device time); doubles as needed."""


@dataclass
class _DeviceLine:
    """Running least-squares fit of ``ticks = a + b * counter`` for one stream."""

    nominal: float
    c0: int | None = None
    t0: int | None = None
    n: int = 0
    sx: float = 0.0
    sy: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0

    def add(self, counter: int, ticks: int) -> None:
        if self.c0 is None or self.t0 is None:
            self.c0, self.t0 = counter, ticks
        x, y = float(counter - self.c0), float(ticks - self.t0)
        self.n += 1
        self.sx += x
        self.sy += y
        self.sxx += x * x
        self.sxy += x * y

    @property
    def slope(self) -> float:
        """Ticks per sample (nominal until the counters span enough to tell)."""
        if self.n < 2:
            return self.nominal
        den = self.n * self.sxx - self.sx * self.sx
        if den <= 0 or np.sqrt(max(self.sxx / self.n - (self.sx / self.n) ** 2, 0.0)) \
                * self.nominal < 64.0:
            return self.nominal
        b = (self.n * self.sxy - self.sx * self.sy) / den
        if not np.isfinite(b) or abs(b / self.nominal - 1.0) * 1e6 > MAX_DRIFT_PPM:
            return self.nominal
        return float(b)

    def ticks_at(self, counter: float) -> float:
        """Device ticks of sample ``counter`` (unwrapped)."""
        assert self.c0 is not None and self.t0 is not None
        b = self.slope
        intercept = (self.sy - b * self.sx) / self.n  # mean residual, relative to (c0, t0)
        return self.t0 + intercept + b * (counter - self.c0)


class OnlineClock:
    """Device-to-host clock of one acquisition run, estimated as packets arrive.

    Parameters
    ----------
    tick_hz : float
        Nominal RTC tick rate of the band (Hz).
    nominal_rates_hz : mapping of int to float
        Nominal sampling rate per stream id (Hz).
    initial_bin_s : float
        Starting width of an arrival bin (s of device time).
    max_bins : int
        Most bins kept (memory and the quadratic Theil-Sen cost are bounded by it).
    """

    def __init__(self, *, tick_hz: float, nominal_rates_hz: Mapping[int, float],
                 initial_bin_s: float = INITIAL_BIN_S, max_bins: int = MAX_BINS) -> None:
        self.tick_hz = float(tick_hz)
        self._lines = {sid: _DeviceLine(nominal=self.tick_hz / float(r))
                       for sid, r in nominal_rates_hz.items()}
        self.bin_s = float(initial_bin_s)
        self.max_bins = int(max_bins)
        self._bins: dict[int, tuple[float, float]] = {}  # bin -> (device s, host s) earliest
        self._backfill_only: dict[int, tuple[float, float]] = {}
        self._cached: tuple[float, float] | None = None
        self.n_points = 0

    def observe(self, stream_id: int, *, counter: int, n_samples: int, ticks: int,
                received_s: float, live: bool) -> None:
        """Take one data packet's timing.

        Parameters
        ----------
        stream_id : int
        counter : int
            Unwrapped counter of the packet's first sample.
        n_samples : int
            Samples in the packet.
        ticks : int
            Unwrapped RTC ticks at the first sample.
        received_s : float
            Host receive time (UNIX s).
        live : bool
            False for a backfilled packet (sent long after its samples).
        """
        line = self._lines.get(stream_id)
        if line is None:
            return
        line.add(counter, ticks)
        if not (np.isfinite(received_s) and abs(received_s) < HOST_TIME_LIMIT_S):
            return
        device_s = (ticks + line.slope * (n_samples - 1)) / self.tick_hz
        bins = self._bins if live else self._backfill_only
        key = int(np.floor(device_s / self.bin_s))
        old = bins.get(key)
        if old is None or received_s - device_s < old[1] - old[0]:
            bins[key] = (device_s, received_s)
            self._cached = None
        self.n_points += int(live)
        if len(bins) > self.max_bins:
            self._coarsen()

    def _coarsen(self) -> None:
        self.bin_s *= 2.0
        for name in ("_bins", "_backfill_only"):
            merged: dict[int, tuple[float, float]] = {}
            for x, y in getattr(self, name).values():
                key = int(np.floor(x / self.bin_s))
                old = merged.get(key)
                if old is None or y - x < old[1] - old[0]:
                    merged[key] = (x, y)
            setattr(self, name, merged)
        self._cached = None

    @property
    def ready(self) -> bool:
        """True once a packet with a plausible host time was seen."""
        return bool(self._bins or self._backfill_only)

    @property
    def n_live_bins(self) -> int:
        """Bins of device time holding a live packet's earliest arrival (a line needs 2)."""
        return len(self._bins)

    def host_line(self) -> tuple[float, float]:
        """``(a, b)`` with host s = ``a + b *`` device s (the current estimate).

        Raises
        ------
        ValueError
            No packet with a plausible host time yet.
        """
        if self._cached is None:
            pts = self._bins or self._backfill_only
            if not pts:
                raise ValueError("no packet has a plausible host receive time yet")
            xy = np.asarray(sorted(pts.values()), dtype=np.float64)
            self._cached = envelope_line(xy[:, 0], xy[:, 1], width_s=self.bin_s)
        return self._cached

    def host_time_s(self, stream_id: int, counter: float) -> float | None:
        """Host time (UNIX s) of sample ``counter`` of a stream, or ``None`` if not known."""
        line = self._lines.get(stream_id)
        if line is None or line.n == 0 or not self.ready:
            return None
        a, b = self.host_line()
        return a + b * line.ticks_at(counter) / self.tick_hz

    def host_time_at_ticks(self, ticks: float) -> float | None:
        """Host time (UNIX s) of an RTC reading (unwrapped ticks), or ``None`` if not known."""
        if not self.ready:
            return None
        a, b = self.host_line()
        return a + b * float(ticks) / self.tick_hz

    def rate_hz(self, stream_id: int) -> float | None:
        """Samples per host second of a stream, as estimated now."""
        line = self._lines.get(stream_id)
        if line is None or line.n == 0 or not self.ready:
            return None
        return self.tick_hz / (line.slope * self.host_line()[1])

    def drift_ppm(self) -> float | None:
        """Drift of the band's clock relative to the host's (ppm; positive: band fast)."""
        if not self.ready:
            return None
        return (1.0 / self.host_line()[1] - 1.0) * 1e6


def envelope_line(x: np.ndarray, y: np.ndarray, *, width_s: float,
                  max_drift_ppm: float = MAX_DRIFT_PPM) -> tuple[float, float]:
    """Theil-Sen line through per-bin earliest arrivals, drifts beyond the bound left out.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Device time of each bin's earliest packet (s), ascending.
    y : ndarray, shape (n,)
        Its host receive time (s).
    width_s : float
        Bin width (s); pairs closer than a quarter of it are not used for the slope.
    max_drift_ppm : float
        Largest drift believed (ppm).

    Returns
    -------
    a, b : float
        Host s = ``a + b *`` device s.
    """
    bound = max_drift_ppm * 1e-6
    x0, y0 = float(x[0]), float(y[0])
    u, v = x - x0, (y - y0) - (x - x0)
    slope, offset = bounded_theil_sen(u, v, min_du=0.25 * width_s, bound=bound)
    b = 1.0 + slope
    return y0 + offset - b * x0, b
