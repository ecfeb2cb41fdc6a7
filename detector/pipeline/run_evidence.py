"""What a contraction run's epochs show: the measurements an evidence rule judges.

A pure function on the run's epoch features and levels; the episode detector
(:mod:`detector.pipeline.episodes`) cuts the run out of its history and hands it here.
"""

from __future__ import annotations

import numpy as np

from detector.config import DetectorConfig
from detector.pipeline.activity import EmgLevel
from detector.pipeline.emg_shape import emg_shape
from detector.pipeline.evidence import Levels, RunEvidence, tremor_on
from detector.pipeline.features import EpochFeatures
from detector.pipeline.quantiles import median, nanmedian
from detector.pipeline.sway import sway_deg


def run_evidence(f: EpochFeatures, levels: Levels, active: np.ndarray, strong: np.ndarray, *,
                 uses_emg: bool, tonic_ref_uv: float, rested_before: bool, recorded_s: float,
                 eps: int, config: DetectorConfig) -> RunEvidence:
    """Measure a run of ``n`` epochs.

    Parameters
    ----------
    f : EpochFeatures
        The run's epochs.
    levels : Levels
        Resting EMG (uV) and tremor (g) levels per epoch, shape (n,) each.
    active, strong : ndarray of bool, shape (n,)
        The rule's active epochs, and those strongly active.
    uses_emg : bool
        Whether the mode's rule judges EMG (else EMG figures are ``None``).
    tonic_ref_uv : float
        The standing tonic reference at the run's last epoch (uV; NaN if not yet set).
    rested_before : bool
        Whether the leg rested since the last judged run ended.
    recorded_s : float
        Seconds recorded up to the run's end.
    eps : int
        Epochs per second.
    config : DetectorConfig
        Thresholds.

    Returns
    -------
    RunEvidence
    """
    n = max(f.n_epochs, 1)
    env = f.envelope_uv[f.emg_valid]
    pf = f.plantar_flexion_deg[~np.isnan(f.plantar_flexion_deg)]
    lying = f.lying[~np.isnan(f.lying)]
    with np.errstate(invalid="ignore"):
        tremor = float(np.mean(tremor_on(f, levels, config)))
        moving = float(np.mean(f.movement_g > config.motion.movement_g))
    v = config.evidence
    rest_env = EmgLevel.resting_envelope(f)
    shape = (emg_shape(rest_env, ~np.isnan(rest_env), eps=eps, smooth_s=v.smooth_s,
                       lull_ratio=v.lull_ratio) if uses_emg else None)
    tonic_ratio = None
    if uses_emg and tonic_ref_uv > 0 and np.any(~np.isnan(rest_env)):
        tonic_ratio = nanmedian(rest_env) / tonic_ref_uv
    return RunEvidence(
        duty=float(active.sum()) / n,
        peak_uv=float(env.max()) if env.size and uses_emg else None,
        mean_uv=float(env.mean()) if env.size and uses_emg else None,
        plantar_flexion_deg=median(pf) if pf.size else None,
        tremor_fraction=tremor,
        moving_fraction=moving,
        lying_fraction=float(lying.mean()) if lying.size else None,
        hum_fraction=float(np.mean(f.emg_hum)),
        valid_fraction=float(np.mean(f.emg_valid)) if uses_emg else float(np.mean(~f.acc_missing)),
        shape=shape,
        rested_before=rested_before,
        tonic_ratio=tonic_ratio,
        strong_duty=float(strong.sum()) / n,
        recorded_s=recorded_s,
        sway_deg=sway_deg(f.incline_deg, block_epochs=round(v.sway_block_s * eps)),
    )


def start_ratio(before_uv: np.ndarray, lowest_uv: float) -> float | None:
    """How far above a relaxed calf a run began: the median of ``before_uv`` (the resting
    envelope before the run's ramp can have begun, uV, NaN where unusable) over the lowest
    settled resting level of the recording so far (``lowest_uv``, uV); ``None`` when either is
    unknown (no unit)."""
    usable = before_uv[~np.isnan(before_uv)]
    if not usable.size or not lowest_uv > 0:
        return None
    return median(usable) / lowest_uv
