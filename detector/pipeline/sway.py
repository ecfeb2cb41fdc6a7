"""Balance sway of an upright leg: how much the leg's incline wanders within seconds.

Standing, the body is an inverted pendulum balanced over the ankles: the shank sways, and on
the toes (a small base of support) the balance corrections grow. Sitting or lying, the shank
rests on the floor, the chair or the mattress and its incline is still, a cramp or not: a
cramp locks the ankle, it does not sway the leg. So the sway tells a weight-bearing leg from
a supported one, which the incline itself (the shank near vertical in both) cannot.
"""

from __future__ import annotations

import numpy as np

from detector.pipeline.quantiles import median


def sway_deg(incline_deg: np.ndarray | None, *, block_epochs: int,
             min_changes: int = 3) -> float | None:
    """Median change of the leg's incline between consecutive blocks (deg).

    Parameters
    ----------
    incline_deg : ndarray, shape (n,) or None
        Per-epoch incline of the posture sensor (deg); NaN where unknown.
    block_epochs : int
        Epochs per block; the incline is averaged over each block first, so that the calf's
        tremor and the sensor's noise average out and the 0.3-2 Hz balance corrections stay.
    min_changes : int
        Fewest block-to-block changes with both blocks known for a verdict.

    Returns
    -------
    float or None
        The median absolute change (deg), ``None`` when it cannot be known.
    """
    if incline_deg is None:
        return None
    k = max(1, int(block_epochs))
    n = incline_deg.shape[0] // k
    if n < min_changes + 1:
        return None
    blocks = incline_deg[:n * k].reshape(n, k)
    known = ~np.isnan(blocks).any(axis=1)
    means = np.where(known, np.nanmean(np.where(known[:, None], blocks, 0.0), axis=1), np.nan)
    changes = np.abs(np.diff(means))
    changes = changes[~np.isnan(changes)]
    if changes.size < min_changes:
        return None
    # what jitter from one epoch to the next (sensor noise, and the calf tremor aliased into
    # the 0.1-s means) leaves in a block mean: 1/sqrt(k) of it; balance sway is slow, so
    # its epoch-to-epoch steps are small beside its block-to-block changes
    steps = np.abs(np.diff(incline_deg))
    steps = steps[~np.isnan(steps)]
    jitter = median(steps) / np.sqrt(k) if steps.size else 0.0
    return max(0.0, median(changes) - jitter)
