"""The later look at a confirmed run: an announced episode that turns out not to be a cramp.

With EMG only there is no posture, and on getting up nothing in a run's first
``min_duration_s`` (the rise onto the legs: a ramp to the calf's standing level) tells it from
a cramp. Walking then sets in: the calf fires once per stride, so its envelope becomes
*periodic* (steps at 0.5-2.5 Hz), while a cramp's involuntary discharge waxes and wanes
irregularly. So a run that lasts ``evidence.review_to_s`` is looked at again on
``review_from_s`` to ``review_to_s`` after its onset; if its envelope's stride rhythm
(:func:`~detector.pipeline.emg_shape.emg_shape`) exceeds ``review_max_rhythm`` (the
autocorrelation climbs by more than 1 from its trough: anti-correlated at half a stride,
correlated at a whole one), the episode is withdrawn (:class:`~detector.episode.EpisodeWithdrawn`).

The live announcement stays as early as before (at the 10-s criterion); the withdrawal comes
at ``review_to_s``. The look only uses a fixed window of epochs relative to the onset, so the
decision is the same live and in replay, whatever the chunking. Runs shorter than
``review_to_s`` are kept as confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.config import DetectorConfig
from detector.pipeline.emg_shape import emg_shape


@dataclass(frozen=True)
class RunReview:
    """The later look of one detection mode (EMG only).

    Parameters
    ----------
    config : DetectorConfig
        Thresholds (``config.evidence.review_*``).
    eps : int
        Epochs per second.
    """

    config: DetectorConfig
    eps: int

    def window(self, onset: int) -> tuple[int, int]:
        """Epochs ``[a, b)`` of the later look at a run begun at epoch ``onset``."""
        v = self.config.evidence
        return onset + round(v.review_from_s * self.eps), onset + round(v.review_to_s * self.eps)

    def withdraw(self, envelope_uv: np.ndarray) -> str | None:
        """Why the run is not a cramp, or ``None`` if the later look keeps it.

        Parameters
        ----------
        envelope_uv : ndarray, shape (n,)
            Resting-comparable EMG envelope of the look's epochs (uV), NaN where unusable.

        Returns
        -------
        str or None
            The reason in plain words, or ``None``.
        """
        v = self.config.evidence
        shape = emg_shape(envelope_uv, ~np.isnan(envelope_uv), eps=self.eps,
                          smooth_s=v.smooth_s, lull_ratio=v.lull_ratio)
        if shape is not None and shape.rhythm > v.review_max_rhythm:
            return "rhythmic activity (walking)"
        return None


def make_review(mode: str, *, config: DetectorConfig, eps: int) -> RunReview | None:
    """The later look of a detection mode: EMG only has one; with accelerometers the posture
    and leg movement already tell walking apart, so ``None``."""
    return RunReview(config=config, eps=eps) if mode == "emg" else None
