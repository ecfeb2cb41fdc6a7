"""Double-threshold hold of an EMG-only contraction: on at the activity threshold, off at rest.

A cramp's envelope waxes and wanes (its discharge is irregular), so a weak cramp, whose level
sits near the activity threshold (``emg.active_ratio`` x rest, ``emg.active_rise_uv`` above
it), crosses that threshold on and off for its whole length although the muscle never comes
back to rest: judged epoch by epoch it fails its duty, and it is lost or logged in pieces.
Surface-EMG onset detection handles this with two thresholds (the AASM leg-movement rules:
onset 8 uV above the resting level, offset only once the EMG is back within 2 uV of it): once
the level has crossed the activity threshold, the contraction goes on until the level is back
at rest. The rest criterion is the one the episode's two ends are measured with
(``episode.onset_ratio`` x the resting level, or within ``episode.onset_rise_uv`` of it), so
the hold, the onset and the end agree.

The hold only decides where a contraction lasts; whether it is a cramp is still the rule's
verdict on its shape (rhythm, lulls, bursts, standing) and its rest before.
"""

from __future__ import annotations

import numpy as np


class EmgHold:
    """Stream processor: per-epoch activity and EMG level in, held flags out, shape (n,).

    An epoch is held when it is active, or not at rest (level above ``rest_fraction`` x the
    activity threshold ``max(active_ratio x rest, rest + active_rise_uv)``) with an active
    epoch since the EMG last sat at rest for ``release_epochs`` in a row (a lull longer than a
    cramp's own, which the run bridges anyway). Epochs at rest are never held: a brief lull
    stays a gap in the run. Unusable epochs count as rest. Causal, so the same for any chunking.

    Parameters
    ----------
    active_ratio, active_rise_uv : float
        The activity threshold: multiple of the resting level and rise above it (uV).
    rest_fraction : float
        Fraction of the activity threshold at or below which the EMG is at rest.
    release_epochs : int
        Epochs at rest in a row that end the hold (``episode.max_dip_s``).
    """

    def __init__(self, *, active_ratio: float, active_rise_uv: float, rest_fraction: float,
                 release_epochs: int) -> None:
        self.active_ratio = active_ratio
        self.active_rise_uv = active_rise_uv
        self.rest_fraction = rest_fraction
        self.release = max(1, int(release_epochs))
        self._last_active = -1
        self._last_release = -1
        self._streak = 0  # epochs at rest in a row up to the last one seen

    def push(self, *, first_epoch: int, active: np.ndarray, level_uv: np.ndarray,
             rest_uv: np.ndarray) -> np.ndarray:
        """Held flag per epoch.

        Parameters
        ----------
        first_epoch : int
            Index of the first epoch of this chunk.
        active : ndarray of bool, shape (n,)
            The rule's activity decision.
        level_uv, rest_uv : ndarray, shape (n,)
            EMG level the decision was made on and the resting level (uV); NaN: unusable.

        Returns
        -------
        ndarray of bool, shape (n,)
            Active, or not at rest while the hold lasts.
        """
        n = active.shape[0]
        if n == 0:
            return active.copy()
        with np.errstate(invalid="ignore"):
            up = level_uv > self.rest_fraction * np.maximum(self.active_ratio * rest_uv,
                                                            rest_uv + self.active_rise_uv)
        rest = ~up & ~active  # an unusable level is not contraction as far as is seen
        pos = np.arange(n)
        last_break = np.maximum.accumulate(np.where(~rest, pos, -1))
        streak = np.where(last_break >= 0, pos - last_break, pos + 1 + self._streak)
        idx = pos + first_epoch
        release = rest & (streak == self.release)
        last_release = np.maximum.accumulate(np.where(release, idx, self._last_release))
        last_active = np.maximum.accumulate(np.where(active, idx, self._last_active))
        self._streak = int(streak[-1]) if rest[-1] else 0
        self._last_active, self._last_release = int(last_active[-1]), int(last_release[-1])
        return active | (up & (last_active > last_release) & (last_active >= 0))
