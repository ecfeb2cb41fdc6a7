"""The shape of a contraction run's EMG envelope: steadiness, stride rhythm, lulls, bursts.

Pure measurements on one judged window's envelope (:func:`emg_shape`), used by the evidence
rules (:mod:`detector.pipeline.evidence`) to tell a cramp (sustained, waxing and waning within
seconds) from walking (a stride rhythm), turning over and rising onto the toes (phasic bursts
on a low floor) and standing (a slow sway at the calf's tonic level).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.pipeline.quantiles import median, percentile

RHYTHM_LAGS_S = (0.4, 2.0)
"""Lags searched for the stride rhythm of walking (s): step rates of 0.5 to 2.5 Hz."""
FAST_TREND_S = 2.0
"""Moving mean taken out of the log envelope before its fast modulation is measured (s)."""


@dataclass(frozen=True)
class EmgShape:
    """Shape of a run's EMG envelope over the judged window.

    Attributes
    ----------
    steadiness : 10th over 90th percentile of the smoothed envelope after the first 40 % of
        the window (the ramp-up), 1 = perfectly steady.
    rhythm : largest rise of the log envelope's autocorrelation, at stride lags, above its
        lowest value at shorter lags (walking: high; a randomly modulated envelope: near 0).
    lull_fraction : fraction of epochs below ``lull_ratio`` x the run's median envelope.
    burst_excess : how far the smoothed log envelope reaches above its median more than it
        reaches below it, ``log(p95 / p50) - log(p50 / p10)`` over the whole window: phasic
        bursts on a low floor (turning over, rising onto the toes) give a large positive
        value; a sustained contraction that waxes and wanes, with lulls and its own ramp-up,
        gives a value near zero or below.
    fast_modulation : standard deviation of the smoothed log envelope's held part about its
        own ``FAST_TREND_S`` moving mean (see below).
    burst_reach, floor_spread : the two halves of ``burst_excess``: how far the smoothed log
        envelope reaches above its median, ``log(p95 / p50)``, and below it,
        ``log(p50 / p10)`` (natural log units). Phasic bursts on a flat floor have their
        median on the floor: a large reach over a small spread.
    """

    steadiness: float
    rhythm: float
    lull_fraction: float
    burst_excess: float = 0.0
    fast_modulation: float = 0.0
    """Standard deviation of the smoothed log envelope about its own 2-s moving mean:
    how much the level waxes and wanes within seconds. Standing sways slowly (0.03-0.5 Hz)
    and leaves little; a cramp's irregular discharge waxes and wanes within a second or two."""
    burst_reach: float = 0.0
    floor_spread: float = 0.0

    def bursts_on_floor(self, *, min_reach: float, max_skew: float) -> bool:
        """Whether the envelope is phasic bursts on a flat floor: it reaches above its median
        by at least ``min_reach`` and more than ``max_skew`` x as far as it falls below it
        (natural log units; ``evidence.burst_skew_min_reach``, ``evidence.max_burst_skew``).
        A log-normal waxing and waning is symmetric about its median (ratio 1.28)."""
        return self.burst_reach >= min_reach and self.burst_reach > max_skew * self.floor_spread


def emg_shape(envelope_uv: np.ndarray, valid: np.ndarray, *, eps: int, smooth_s: float,
              lull_ratio: float) -> EmgShape | None:
    """Measure an envelope's steadiness, rhythm and lulls (pure).

    Parameters
    ----------
    envelope_uv, valid : ndarray, shape (n,)
        Envelope per epoch (uV) and whether it is usable.
    eps : int
        Epochs per second.
    smooth_s : float
        Moving-mean length applied before the steadiness is measured (s).
    lull_ratio : float
        Lull depth relative to the median.

    Returns
    -------
    EmgShape or None
        ``None`` when under half the epochs are usable or the window is under 3 s.
    """
    n = envelope_uv.shape[0]
    if n < 3 * eps or valid.sum() * 2 < n:
        return None
    env = np.where(valid, envelope_uv, np.nan)
    idx = np.arange(n)
    good = ~np.isnan(env)
    env = np.interp(idx, idx[good], env[good])
    med = median(env)
    lulls = float(np.mean(env < lull_ratio * med))
    k = max(1, round(smooth_s * eps))
    smooth = np.convolve(env, np.ones(k) / k, mode="valid")
    # steadiness of the held part: the ramp-up (of a cramp, or of standing up) comes first
    p10, p90 = percentile(smooth[int(0.4 * smooth.shape[0]):], [10, 90])
    steadiness = float(p10 / p90) if p90 > 0 else 1.0
    # phasic bursts: brief excursions far above a floor the envelope otherwise sits on
    q10, q50, q95 = percentile(np.log(np.maximum(smooth, 1e-3)), [10, 50, 95])
    burst_excess = float((q95 - q50) - (q50 - q10))
    # fast modulation of the held part, like the steadiness: the ramp-up is a slow change
    logs = np.log(np.maximum(smooth[int(0.4 * smooth.shape[0]):], 1e-3))
    k2 = max(2, round(FAST_TREND_S * eps))
    if logs.shape[0] > k2:
        trend = np.convolve(logs, np.ones(k2) / k2, mode="valid")
        lead = (k2 - 1) // 2
        fast = float(np.std(logs[lead:lead + trend.shape[0]] - trend))
    else:
        fast = 0.0
    # rhythm: a periodic envelope has an autocorrelation that falls to a trough and comes
    # back to a peak at the stride period; a randomly modulated one only decays
    x = np.log(np.maximum(smooth, 1e-3))
    x = x - x.mean()
    denom = float(np.dot(x, x))
    rhythm = 0.0
    m = x.shape[0]
    lo, hi = round(RHYTHM_LAGS_S[0] * eps), min(round(RHYTHM_LAGS_S[1] * eps), m // 2)
    if denom > 0 and hi > lo:
        r = np.array([np.dot(x[:-lag], x[lag:]) / denom for lag in range(1, hi + 1)])
        trough = np.minimum.accumulate(r)
        rhythm = float(np.max(r[lo - 1:] - trough[lo - 1:]))
    return EmgShape(steadiness=steadiness, rhythm=rhythm, lull_fraction=lulls,
                    burst_excess=burst_excess, fast_modulation=fast,
                    burst_reach=float(q95 - q50), floor_spread=float(q50 - q10))
