"""Sample times from device counters and RTC ticks, fitted to host receive times.

The band stamps each packet with the counter of its first sample and the RTC ticks at that
sample. Within the device these are exact (up to a tick of rounding), so per stream a
least-squares line gives ticks per sample. Host receive times are the device time of the
packet's last sample plus a delay that is never negative: connection interval, queueing,
a slow central, retransmissions. So the device-to-host line is fitted to the *lower envelope*
of the receive times: the earliest arrival in each time bin, then a Theil-Sen line through
those minima. Late packets (jitter, delayed bursts, backfill) only raise points above the
envelope and cannot bias it; a few bins that are wrong in either direction move the medians
little. Clock drift up to +-100 ppm is absorbed by the fitted slope.

The host only estimates offset and drift; the band's counters and ticks fix every interval.
So the fit is bounded by what a crystal can do: the drift is at most :data:`MAX_DRIFT_PPM`
(slope pairs implying more are left out of the median, and the result is clamped), ticks per
sample stay within :data:`MAX_DRIFT_PPM` of nominal, and host times that are not finite are
ignored. A host that stalls for minutes, delivers a backlog in a burst, runs a simulated
night at any speed, or steps its clock (NTP, a time-zone mistake, by an hour backwards) can
shift where the night sits in time (the offset follows the larger part of the night) but
cannot stretch or shrink it: durations stay those of the band's own clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

MAX_DRIFT_PPM = 1000.0
"""Largest device-to-host clock drift believed (ppm). Watch crystals are within +-20 ppm,
cheap ceramic resonators +-0.5 % at worst; a band that is off by more has a broken clock,
and a host whose arrival times imply more is stalling, bursting or stepping its clock."""
HOST_TIME_LIMIT_S = 1e11
"""Host receive times beyond +-this (UNIX s, year 5138) are forged or corrupt: ignored."""
MAX_BINS = 400
"""Most bins of the lower envelope (the Theil-Sen fit is quadratic in their number)."""
MIN_BINS = 20
POINTS_PER_BIN = 100
"""Packets wanted per bin, so that each bin likely holds one that was barely delayed."""


@dataclass(frozen=True, kw_only=True)
class PacketTimes:
    """Timing fields of one stream's packets, in arrival order.

    Attributes
    ----------
    counter : ndarray of int64, shape (n,)
        First-sample counter of each packet, unwrapped (see :func:`unwrap`).
    n_samples : ndarray of int64, shape (n,)
        Samples in each packet.
    ticks : ndarray of int64, shape (n,)
        Device RTC ticks at the first sample, unwrapped.
    received_s : ndarray of float64, shape (n,)
        Host receive time (s since the Unix epoch).
    live : ndarray of bool, shape (n,)
        False for backfilled packets (sent long after their samples; left out of the
        host fit).
    """

    counter: np.ndarray
    n_samples: np.ndarray
    ticks: np.ndarray
    received_s: np.ndarray
    live: np.ndarray


@dataclass(frozen=True, kw_only=True)
class StreamTiming:
    """Fitted timing of one stream.

    Attributes
    ----------
    origin : int
        Counter value that is sample index 0 of the recording (may be below the first
        counter received, when the first packets were lost).
    rate_hz : float
        Samples per host second.
    ticks_per_sample : float
        Device RTC ticks per sample.
    t0_s : float
        Host time of sample index 0 (s since the Unix epoch).
    """

    origin: int
    rate_hz: float
    ticks_per_sample: float
    t0_s: float


@dataclass(frozen=True, kw_only=True)
class ClockFit:
    """Device-to-host clock relation and per-stream timing.

    Attributes
    ----------
    start_s : float
        Host time of sample index 0 of every stream (s since the Unix epoch).
    host_per_tick : float
        Host seconds per device RTC tick (``1 / tick_hz`` scaled by the clock's drift).
    host_at_tick0_s : float
        Host time of RTC tick 0 (of the packets' unwrapped ticks): host time of RTC reading
        ``T`` is ``host_at_tick0_s + host_per_tick * T``.
    drift_ppm : float
        Device RTC drift relative to the host clock, parts per million (positive: the
        device clock runs fast).
    streams : dict of int to StreamTiming
        Per stream id.
    n_points : int
        Packets used in the host fit.
    """

    start_s: float
    host_per_tick: float
    host_at_tick0_s: float
    drift_ppm: float
    streams: dict[int, StreamTiming]
    n_points: int


def unwrap(values: np.ndarray, *, modulus: int) -> np.ndarray:
    """Undo wrap-around of a counter given in arrival order.

    Each value is placed within half a modulus of the one before it.

    Parameters
    ----------
    values : ndarray of int, shape (n,)
        Counter readings in ``[0, modulus)``.
    modulus : int
        Wrap-around modulus (e.g. ``2**32``).

    Returns
    -------
    ndarray of int64, shape (n,)
    """
    v = np.asarray(values, dtype=np.int64)
    if v.size == 0:
        return v
    half = modulus // 2
    d = np.diff(v)
    if not d.size or (int(d.min()) >= -half and int(d.max()) < half):
        return v.copy()  # no step wraps: every step is its own residue, the sum is v itself
    steps = (d + half) % modulus - half
    return v[0] + np.concatenate(([0], np.cumsum(steps)))


def device_line(counter: np.ndarray, ticks: np.ndarray, *,
                nominal_ticks_per_sample: float) -> tuple[float, float]:
    """Fit ``ticks = a + b * counter`` for one stream (least squares, outliers removed).

    Parameters
    ----------
    counter, ticks : ndarray, shape (n,)
        Unwrapped first-sample counters and RTC ticks of the stream's packets.
    nominal_ticks_per_sample : float
        ``tick_hz / rate_hz``; used when the counters span too little to fit a slope.

    Returns
    -------
    a : float
        Ticks at counter 0.
    b : float
        Ticks per sample.
    """
    c = np.asarray(counter, dtype=np.float64)
    t = np.asarray(ticks, dtype=np.float64)
    nominal = float(nominal_ticks_per_sample)
    c0, t0 = median(c), median(t)
    dc, dt = c - c0, t - t0
    b = nominal
    keep = np.ones(c.shape, dtype=bool)
    every = True  # keep is all True: the arrays are used whole, not copied through the mask

    def kept(x: np.ndarray) -> np.ndarray:
        return x if every else x[keep]

    for _ in range(3):
        if np.ptp(kept(dc)) * nominal < 64.0:
            break
        fitted = _ls_slope(kept(dc), kept(dt))
        if fitted is None or abs(fitted / nominal - 1.0) * 1e6 > MAX_DRIFT_PPM:
            break  # counters or ticks that no crystal makes: keep the nominal rate
        b = fitted
        res = dt - b * dc
        res -= median(kept(res))
        new = np.abs(res) <= 2.0  # rounding to whole ticks leaves |residual| < 1
        if new.sum() < 2 or np.array_equal(new, keep):
            keep = new if new.sum() >= 2 else keep
            every = bool(keep.all())
            break
        keep = new
        every = bool(keep.all())
    a = t0 + median(kept(dt) - b * kept(dc)) - b * c0
    return a, b


def median(values: np.ndarray) -> float:
    """``float(np.median(values))`` of a 1-D float array, bit for bit, without ``numpy.ma``.

    ``np.median`` asks ``numpy.ma`` whether its NaN check met a masked array, which imports
    it (some 10 ms once per process, in the serial open of a capture replay; nothing else
    in a replay needs it). The same steps: one partition that puts the middle value(s) and
    the largest in place, NaN when the largest is NaN, else the mean of the middle value(s).
    """
    x = np.asarray(values, dtype=np.float64)
    n = int(x.shape[0])
    if x.ndim != 1 or n == 0:
        return float(np.median(x))  # numpy's own answer (and warning) for the odd cases
    half = n // 2
    kth = [half - 1, half, n - 1] if n % 2 == 0 else [half, n - 1]
    part = np.partition(x, kth)
    if np.isnan(part[-1]):
        return float("nan")
    return float(np.mean(part[half - 1:half + 1] if n % 2 == 0 else part[half:half + 1]))


def _ls_slope(x: np.ndarray, y: np.ndarray) -> float | None:
    """Least-squares slope of ``y`` on ``x`` (both centred), or ``None`` if undefined.

    The sums of products are numpy loops, not BLAS ``dot``: a multithreaded BLAS on a busy
    machine spends tens of ms per call waiting for its threads.
    """
    xm = x - x.mean()
    den = float(np.einsum("i,i->", xm, xm))
    if not np.isfinite(den) or den <= 0.0:
        return None
    slope = float(np.einsum("i,i->", xm, y - y.mean())) / den
    return slope if np.isfinite(slope) else None


def lower_envelope_line(x: np.ndarray, y: np.ndarray, *,
                        max_drift_ppm: float = MAX_DRIFT_PPM) -> tuple[float, float]:
    """Fit ``y = a + b * x`` under points that are late by a non-negative delay.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Device time (s, any origin).
    y : ndarray, shape (n,)
        Host time (s) at which the event stamped ``x`` was seen; ``y >= true(x)``.
    max_drift_ppm : float
        Largest ``|b - 1|`` believed (ppm); the slope is bounded to it.

    Returns
    -------
    a, b : float
        Intercept (s) and slope (host s per device s) of the envelope.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    bound = max_drift_ppm * 1e-6
    x0, y0 = float(x.min()), float(y[np.argmin(x)])
    u, v = x - x0, (y - y0) - (x - x0)  # residual from slope 1: offset + drift*u + delay
    span = float(u.max())
    n_bins = min(MAX_BINS, max(MIN_BINS, u.size // POINTS_PER_BIN))
    width = span / n_bins if span > 0 else 1.0
    idx = np.minimum((u / width).astype(np.int64), n_bins - 1)
    low = _bin_minima(idx, v, n_bins)
    bu, bv = u[low], v[low]
    slope, offset = bounded_theil_sen(bu, bv, min_du=0.25 * width, bound=bound)
    b = 1.0 + slope
    a = y0 + offset - b * x0
    return a, b


def _bin_minima(idx: np.ndarray, v: np.ndarray, n_bins: int) -> np.ndarray:
    """Per non-empty bin, ascending: the index of its point of least ``v`` (the earliest of
    equal ones), as a stable sort by ``(idx, v)`` finds it.

    One unbuffered minimum per bin, then the first point at its bin's minimum (no sort of the
    half million packets of a night); with non-finite values, the sort.
    """
    if not np.isfinite(v).all():
        order = np.lexsort((v, idx))
        first = np.ones(order.size, dtype=bool)
        first[1:] = idx[order][1:] != idx[order][:-1]
        return order[first]
    least = np.full(n_bins, np.inf)
    np.minimum.at(least, idx, v)
    at_least = np.flatnonzero(v == least[idx])
    _bins, first = np.unique(idx[at_least], return_index=True)
    return at_least[first]


def bounded_theil_sen(u: np.ndarray, v: np.ndarray, *, min_du: float,
                      bound: float) -> tuple[float, float]:
    """Median-of-pairwise-slopes line ``v = offset + slope * u`` with the slope bounded.

    Parameters
    ----------
    u, v : ndarray, shape (n,)
        Points (s): device time and the host's residual from slope 1 (a few hundred at most:
        all pairs are formed).
    min_du : float
        Pairs closer than this in ``u`` (s) give no slope.
    bound : float
        Largest ``|slope|`` believed (a fraction: ppm x 1e-6). Pairs across a host clock
        step, a stall or a burst imply drifts no clock has and are left out.

    Returns
    -------
    slope, offset : float
        0 slope when no pair qualifies; the offset is the median residual.
    """
    slope = 0.0
    if u.size >= 2:
        i, j = np.triu_indices(u.size, k=1)
        du = u[j] - u[i]
        ok = du > min_du
        pair = (v[j] - v[i])[ok] / du[ok]
        pair = pair[np.abs(pair) <= bound]
        if pair.size:
            slope = float(np.clip(median(pair), -bound, bound))
    return slope, median(v - slope * u)


def fit_clock(streams: Mapping[int, PacketTimes], *, tick_hz: float,
              nominal_rates_hz: Mapping[int, float]) -> ClockFit:
    """Fit sample times of every stream to the host clock.

    Parameters
    ----------
    streams : mapping of stream id to PacketTimes
        Every packet received per stream (live and backfilled), with at least one packet.
    tick_hz : float
        Nominal RTC tick rate (Hz).
    nominal_rates_hz : mapping of stream id to float
        Nominal sampling rate of each stream (Hz).

    Raises
    ------
    ValueError
        No packets, no finite host time, or counters/ticks that place nothing in time.

    Returns
    -------
    ClockFit
        Index 0 of every stream is placed at the earliest stream start (``start_s``), so
        streams started together share index 0 and a stream whose first packets were lost
        starts at the right index.
    """
    if not streams:
        raise ValueError("no packets to fit")
    lines: dict[int, tuple[float, float]] = {}
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for sid, pt in streams.items():
        a, b = device_line(pt.counter, pt.ticks,
                           nominal_ticks_per_sample=tick_hz / nominal_rates_hz[sid])
        lines[sid] = (a, b)
        if not (np.isfinite(a) and np.isfinite(b) and b > 0):
            raise ValueError(f"stream {sid}: counters and ticks give no usable clock")
        lines[sid] = (a, b)
        received = np.asarray(pt.received_s, dtype=np.float64)
        finite = np.isfinite(received) & (np.abs(received) < HOST_TIME_LIMIT_S)
        use = pt.live & finite if (pt.live & finite).any() else finite
        if bool(use.all()):  # every packet (no copies by a mask)
            last = pt.counter + pt.n_samples - 1
            ys.append(received)
        else:
            last = pt.counter[use] + pt.n_samples[use] - 1
            ys.append(received[use])
        xs.append((a + b * last.astype(np.float64)) / tick_hz)
    x, y = np.concatenate(xs), np.concatenate(ys)
    if x.size == 0:
        raise ValueError("no packet has a plausible host receive time")
    host_a, host_b = lower_envelope_line(x, y)  # host s = host_a + host_b * device s
    if not np.isfinite(host_a):
        raise ValueError("the host receive times give no usable clock offset")
    starts = {sid: (a + b * float(streams[sid].counter.min())) for sid, (a, b) in lines.items()}
    t_start_ticks = min(starts.values())
    timing: dict[int, StreamTiming] = {}
    for sid, (a, b) in lines.items():
        cmin = int(streams[sid].counter.min())
        lead = (starts[sid] - t_start_ticks) / b
        if not np.isfinite(lead):
            raise ValueError(f"stream {sid}: counters and ticks give no usable clock")
        origin = cmin - round(lead)
        timing[sid] = StreamTiming(
            origin=origin, rate_hz=tick_hz / (b * host_b), ticks_per_sample=b,
            t0_s=host_a + host_b * (a + b * origin) / tick_hz,
        )
    return ClockFit(
        start_s=host_a + host_b * t_start_ticks / tick_hz, host_per_tick=host_b / tick_hz,
        host_at_tick0_s=host_a,
        drift_ppm=(1.0 / host_b - 1.0) * 1e6, streams=timing, n_points=int(x.size),
    )
