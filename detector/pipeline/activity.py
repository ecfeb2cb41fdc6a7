"""The EMG level the activity decision is made on, with the same confidence at every rate.

An epoch's envelope is an RMS over ``epoch_s`` of band-limited noise-like EMG; how far it
scatters about the true level depends on how many independent samples it holds, about
``2 x bandwidth x epoch_s``: 86 in a 0.1-s epoch of 1 kHz EMG (20-450 Hz), 14 at 200 Hz
(20-90 Hz). The same threshold on single epochs is therefore a noisier decision at 200 Hz: a
cramp near the threshold flickers across it and fails its duty. Here the power is averaged,
causally, over as many epochs as it takes to hold ``activity_min_dof`` independent samples,
so the decision's noise no longer depends on the sampling rate. The calf tremor (the shank's
RMS above the tremor edge, three axes) is averaged the same way (``tremor_min_dof``): a 0.1-s
epoch holds 27 independent samples at 100 Hz but under 5 at 25 Hz.

A *flat* epoch (band-passed RMS below ``flat_uv``) is below the front end's resolution: a
coarse 8-bit-like ADC reads a resting calf as zeros. It is not evidence of a lifted electrode
alone, and it is certainly not contraction, so it counts as rest here (level 0) rather than as
unusable; missing and saturated epochs are unknown (NaN).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from detector.pipeline.features import EpochFeatures


def smoothing_epochs(*, band_hz: tuple[float, float] | None, epoch_s: float,
                     min_dof: float, axes: int = 1) -> int:
    """Epochs to average so that the level holds ``min_dof`` independent samples.

    Parameters
    ----------
    band_hz : (float, float) or None
        Band edges of the signal (Hz); ``None`` (unknown) gives 1.
    epoch_s : float
        Epoch length (s).
    min_dof : float
        Independent samples wanted, ``2 x bandwidth x duration x axes``.
    axes : int
        Independent axes summed into the level (3 for an accelerometer's magnitude).
    """
    if band_hz is None:
        return 1
    per_epoch = 2.0 * max(band_hz[1] - band_hz[0], 1e-9) * epoch_s * axes
    return max(1, math.ceil(min_dof / per_epoch - 1e-9))


class RmsSmoother:
    """Stream processor: an RMS level per epoch in, its causal power mean over ``k`` epochs
    out (same unit), shape (n,) -> (n,); NaN where the epoch itself is unknown.

    Parameters
    ----------
    k : int
        Epochs averaged (the current and ``k - 1`` previous ones).
    """

    def __init__(self, *, k: int) -> None:
        self.k = max(1, int(k))
        self._tail = np.empty(0)

    def push(self, rms: np.ndarray) -> np.ndarray:
        """Smoothed level of each epoch of ``rms``, shape (n,)."""
        power = np.asarray(rms, dtype=float) ** 2
        if self.k == 1:
            return np.sqrt(power)
        joined = np.concatenate([self._tail, power])
        pad = np.concatenate([np.full(max(self.k - 1 - self._tail.shape[0], 0), np.nan),
                              joined])
        self._tail = joined[-(self.k - 1):]
        n = power.shape[0]
        if n == 0:
            return np.empty(0)
        windows = sliding_window_view(pad, self.k)[-n:]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: unknown
            level = np.sqrt(np.nanmean(windows, axis=1))
        # an epoch that is itself unusable is never active
        return np.where(np.isnan(power), np.nan, level)


class EmgLevel(RmsSmoother):
    """Stream processor: epoch features in, the smoothed EMG level per epoch out (uV).

    Parameters
    ----------
    k : int
        Epochs averaged (power mean over the current and ``k - 1`` previous epochs).
    """

    @staticmethod
    def resting_envelope(f: EpochFeatures) -> np.ndarray:
        """Envelope (uV) with flat epochs as 0 and missing/saturated ones NaN, shape (n,)."""
        below_resolution = f.emg_flat & ~f.emg_missing & ~f.emg_saturated
        return np.where(below_resolution, 0.0,
                        np.where(f.emg_valid, f.envelope_uv, np.nan))

    def push_features(self, f: EpochFeatures) -> np.ndarray:
        """Smoothed EMG level of each epoch of ``f`` (uV), shape (n,); NaN where unusable."""
        return self.push(self.resting_envelope(f))
