"""The EMG channel's quantisation step, as its samples have shown it so far.

A front end's analogue-to-digital converter reads the electrode voltage in whole steps (the
least significant bit: an int8 band about 10 uV, a 24-bit board a few nV), so consecutive
samples of a quantised channel differ by whole multiples of that step and the smallest nonzero
difference ever seen is the step itself once the signal has moved by one. Continuous samples
(resampled or filtered before they reach the detector) have no lattice; their smallest
difference shrinks towards zero, and so does the estimate. The step is a property of the
channel, not of the calf: it says how coarsely a relaxed calf's noise can be read, whatever the
person is doing (:meth:`detector.pipeline.review.RunReview.at_end`).

The estimate is kept as the epochs at which it fell, so that it reads the same at any past
epoch whatever the chunking (the difference across a block boundary is taken as well; a gap
breaks the chain of consecutive samples). Once it has fallen to ``enough_uv`` it is not refined
further: the caller says below which step the value no longer matters (the relaxed level only
follows a step coarser than ``evidence.relaxed_max_uv / evidence.relaxed_step_ratio``, 4 uV), so
the usual channel (continuous, or a 16/24-bit converter) costs one look at its first samples
instead of a pass over every sample of the night.
"""

from __future__ import annotations

import numpy as np

from detector.pipeline.epochs import epoch_of_sample

TINY_DIFF_UV = 1e-9
"""Sample differences at or below this (uV) are taken for equal samples (floating-point
residue of a unit conversion), not for a step of the converter."""


FINE_STEP_UV = 0.01
"""A step below this (uV) is fine: far under the quietest front end's noise (0.5 uV RMS and
more), so it says nothing about that noise; the estimate stops there at the latest."""


class StepEstimate:
    """Smallest nonzero change between consecutive EMG samples up to each epoch (uV).

    Parameters
    ----------
    fs : float
        EMG sampling rate (Hz).
    epochs_per_s : int
        Epochs per second of the pipeline.
    enough_uv : float
        Once the estimate is at or below this step (uV) it is not refined: a finer step would
        change nothing for the caller. At least :data:`FINE_STEP_UV`.
    """

    def __init__(self, *, fs: float, epochs_per_s: int,
                 enough_uv: float = FINE_STEP_UV) -> None:
        self.fs = fs
        self.epochs_per_s = epochs_per_s
        self.enough_uv = max(float(enough_uv), FINE_STEP_UV)
        self._marks: list[tuple[int, float]] = []  # (epoch, new smallest step)
        self._last = np.nan  # the last sample pushed (uV)
        self._next_sample = 0

    def push(self, samples_uv: np.ndarray, *, start_sample: int) -> None:
        """Take the next samples (uV, shape (n,); NaN where missing) from ``start_sample``."""
        x = np.asarray(samples_uv, dtype=float).reshape(-1)
        if not x.shape[0]:
            return
        contiguous = start_sample == self._next_sample and np.isfinite(self._last)
        last = self._last
        self._last = float(x[-1])
        self._next_sample = start_sample + x.shape[0]
        if self._lowest() <= self.enough_uv:
            return
        # the difference across the boundary first, then those within the block
        d = np.abs(np.diff(x, prepend=last) if contiguous else np.diff(x))
        first = start_sample - 1 if contiguous else start_sample
        if not d.shape[0]:
            return
        with np.errstate(invalid="ignore"):
            d[~(d > TINY_DIFF_UV)] = np.inf  # NaN (missing) and equal samples: no step
        if not float(d.min()) < self._lowest():
            return
        low = np.minimum.accumulate(np.concatenate([[self._lowest()], d]))
        for i in np.flatnonzero(low[1:] < low[:-1]).tolist():
            epoch = epoch_of_sample(first + i + 1, fs=self.fs, epochs_per_s=self.epochs_per_s)
            if self._marks and self._marks[-1][0] == epoch:
                self._marks[-1] = (epoch, float(low[i + 1]))
            else:
                self._marks.append((epoch, float(low[i + 1])))
            if low[i + 1] <= self.enough_uv:  # enough: the same last mark whatever the chunking
                break

    def _lowest(self) -> float:
        return self._marks[-1][1] if self._marks else np.inf

    def at(self, epoch: int) -> float:
        """The smallest step seen up to the end of ``epoch`` (uV; NaN before any)."""
        below = [v for k, v in self._marks if k <= epoch]
        return below[-1] if below else float("nan")
