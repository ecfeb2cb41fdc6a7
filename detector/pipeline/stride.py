"""The stride correlation of an EMG envelope: how much of it repeats one stride later.

Walking, one calf fires once per stride: a brief push-off burst (0.2-0.5 s) followed by a
return to the standing tonic level for the rest of the stride. The rhythm of
:func:`~detector.pipeline.emg_shape.emg_shape` is the autocorrelation's *comeback*: its peak at
a stride lag less its trough at a shorter lag. For a low-duty burst train the trough is
shallow (most of a stride is floor next to more floor), so a weak walk on a swaying standing
floor comes back by under 1 and is kept; for a cramp's random waxing and waning the trough
and the later bump are both random scatter, and the comeback adds them up (dev cramps
reach 0.9). The peak alone tells them apart better: one stride later a walk's envelope is
high again where it was high, while a cramp's autocorrelation, once past its own correlation
time (its first zero crossing), only scatters about zero.

:func:`stride_correlation` therefore reads the largest autocorrelation of the log envelope
at stride lags beyond its first zero crossing. The envelope is smoothed only briefly
(``smooth_s``, shorter than a push-off burst): the 0.5-s smoothing of the run's shape
measures spreads a 0.3-s burst into the floor beside it (measured: a cramp's peak came out
higher and a walk's lower with it).

Not handled: a turn (1.5-4 s of pivoting with the calf held active) inside the look is a slow
bump that dominates the window's variance; the stride correlation of that look falls to
about 0 (the next look, without the turn, usually sees the strides again). Taking out a 2-s
trend first was measured and dropped: it let cramps' scatter reach 0.5.
"""

from __future__ import annotations

import numpy as np

from detector.pipeline.emg_shape import RHYTHM_LAGS_S


def stride_correlation(envelope_uv: np.ndarray, valid: np.ndarray, *, eps: int,
                       smooth_s: float) -> float | None:
    """Largest autocorrelation of the smoothed log envelope at stride lags (pure).

    Parameters
    ----------
    envelope_uv, valid : ndarray, shape (n,)
        Envelope per epoch (uV) and whether it is usable.
    eps : int
        Epochs per second.
    smooth_s : float
        Moving-mean length applied before the autocorrelation (s).

    Returns
    -------
    float or None
        The autocorrelation (-1 to 1) at its highest point within
        :data:`~detector.pipeline.emg_shape.RHYTHM_LAGS_S` after it first went below zero
        (0.0 if it never does there: no period within reach); ``None`` when under half the
        epochs are usable or the window is under 3 s.
    """
    n = envelope_uv.shape[0]
    if n < 3 * eps or valid.sum() * 2 < n:
        return None
    idx = np.arange(n)
    good = valid & ~np.isnan(envelope_uv)
    env = np.interp(idx, idx[good], envelope_uv[good])
    k = max(1, round(smooth_s * eps))
    smooth = np.convolve(env, np.ones(k) / k, mode="valid")
    x = np.log(np.maximum(smooth, 1e-3))
    x = x - x.mean()
    denom = float(np.dot(x, x))
    m = x.shape[0]
    lo, hi = round(RHYTHM_LAGS_S[0] * eps), min(round(RHYTHM_LAGS_S[1] * eps), m // 2)
    if not denom > 0 or hi < lo:
        return 0.0
    r = np.array([np.dot(x[:-lag], x[lag:]) / denom for lag in range(1, hi + 1)])
    below = np.flatnonzero(r < 0.0)
    if not below.size:
        return 0.0
    first = max(lo - 1, int(below[0]))
    return float(np.max(r[first:])) if first < hi else 0.0
