"""Per-epoch evidence of all channels, aligned on the pipeline's epoch grid."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from detector.config import DetectorConfig
from detector.pipeline.motion import (
    AnklePull,
    plantar_flexion_deg,
    sagittal_angles,
    shank_incline_deg,
)


@dataclass(frozen=True)
class EpochFeatures:
    """Evidence of consecutive epochs ``first_epoch .. first_epoch + n - 1``.

    Every array has shape (n,); NaN (or False for flags) where the channel is absent or the
    samples are missing.

    Attributes
    ----------
    envelope_uv : EMG RMS per epoch (uV).
    emg_valid : EMG usable (not missing, flat or saturated).
    emg_flat, emg_saturated, emg_hum, emg_missing : quality flags.
    lying : 1.0 lying, 0.0 upright (standing or sitting), NaN unknown (from the shank, else
        the foot).
    movement_g : largest gross (whole-leg, 0.5 Hz to the tremor edge) movement of the two
        sensors (g). The tremor band is taken out: the vibration of a contracting calf
        (mechanomyogram) is evidence of contraction, not movement of the leg.
    tremor_g : calf tremor-band RMS on the shank (g).
    plantar_flexion_deg : foot-to-shank angle beyond neutral (deg); NaN where it cannot be
        known: lying exactly on a side, the leg in gross movement (the mean acceleration is
        then not gravity), or outside the ankle's physical range of motion.
    acc_missing : an accelerometer that exists has no samples.
    incline_deg : the posture sensor's (the shank's, else the foot's) long axis above
        horizontal (deg), its mean over the epoch; NaN without samples. ``None``: not given
        (hand-made features), taken as unknown.
    pull_deg : change of the foot-to-shank angle over ``motion.pull_lookback_s`` (deg,
        positive towards plantar flexion; :class:`~detector.pipeline.motion.AnklePull`),
        readable down to ``motion.pull_min_sagittal_g``, so also lying almost exactly on a
        side; NaN where unknown, ``None`` without both sensors.
    relative_angle_deg : the foot-to-shank angle that ``pull_deg`` compares
        (:meth:`~detector.pipeline.motion.AnklePull.relative_deg`: no calibration offset,
        readable down to ``motion.pull_min_sagittal_g``; near a side a sensor's offset biases
        its absolute value, hardly its changes) (deg); NaN where moving or unreadable,
        ``None`` without both sensors.
    """

    first_epoch: int
    envelope_uv: np.ndarray
    emg_valid: np.ndarray
    emg_flat: np.ndarray
    emg_saturated: np.ndarray
    emg_hum: np.ndarray
    emg_missing: np.ndarray
    lying: np.ndarray
    movement_g: np.ndarray
    tremor_g: np.ndarray
    plantar_flexion_deg: np.ndarray
    acc_missing: np.ndarray
    incline_deg: np.ndarray | None = field(default=None)
    pull_deg: np.ndarray | None = None
    relative_angle_deg: np.ndarray | None = None

    @property
    def n_epochs(self) -> int:
        """Number of epochs."""
        return int(self.envelope_uv.shape[0])

    def slice(self, start: int, stop: int) -> EpochFeatures:
        """Epochs ``[start, stop)`` counted from ``first_epoch`` (relative indices)."""
        pull = None if self.pull_deg is None else self.pull_deg[start:stop]
        rel = None if self.relative_angle_deg is None else self.relative_angle_deg[start:stop]
        return EpochFeatures(self.first_epoch + start, *(
            getattr(self, name)[start:stop] for name in _ARRAY_FIELDS),
            incline_deg=None if self.incline_deg is None else self.incline_deg[start:stop],
            pull_deg=pull, relative_angle_deg=rel)

    @staticmethod
    def concat(parts: list[EpochFeatures]) -> EpochFeatures:
        """Join consecutive feature chunks."""
        inclines = [p.incline_deg if p.incline_deg is not None else np.full(p.n_epochs, np.nan)
                    for p in parts]
        pulls = [p.pull_deg for p in parts]
        pull = None if any(x is None for x in pulls) else np.concatenate(pulls)
        rels = [p.relative_angle_deg for p in parts]
        rel = None if any(x is None for x in rels) else np.concatenate(rels)
        return EpochFeatures(parts[0].first_epoch, *(
            np.concatenate([getattr(p, name) for p in parts]) for name in _ARRAY_FIELDS),
            incline_deg=np.concatenate(inclines), pull_deg=pull, relative_angle_deg=rel)


_ARRAY_FIELDS = ("envelope_uv", "emg_valid", "emg_flat", "emg_saturated", "emg_hum",
                 "emg_missing", "lying", "movement_g", "tremor_g", "plantar_flexion_deg",
                 "acc_missing")


def gross_movement_g(sensor: dict[str, np.ndarray]) -> np.ndarray:
    """Whole-leg movement of one sensor without its tremor band (g), shape (n,).

    The >0.5 Hz power minus the power above the tremor edge leaves the 0.5 Hz-to-edge band:
    rollovers, steps and leg movements, but not the calf's own vibration. A sensor without a
    tremor band keeps its full >0.5 Hz movement.
    """
    total = sensor["movement_g"]
    tremor = sensor["tremor_g"]
    with np.errstate(invalid="ignore"):
        gross = np.sqrt(np.maximum(total * total - tremor * tremor, 0.0))
    return np.where(np.isnan(tremor), total, gross)


def combine_epochs(first_epoch: int, n: int, *, emg: dict[str, np.ndarray] | None,
                   shank: dict[str, np.ndarray] | None, foot: dict[str, np.ndarray] | None,
                   config: DetectorConfig, pull: AnklePull | None = None) -> EpochFeatures:
    """Fuse per-channel epoch arrays into :class:`EpochFeatures` (pure but for ``pull``).

    Parameters
    ----------
    first_epoch, n : int
        Epoch range.
    emg : dict or None
        ``envelope_uv``, ``flat``, ``saturated``, ``hum``, ``missing`` arrays of shape (n,).
    shank, foot : dict or None
        ``gravity_g`` (n, 3), ``movement_g`` (n,) above 0.5 Hz, ``tremor_g`` (n,) above the
        tremor edge (NaN where not computed).
    config : DetectorConfig
        Motion thresholds.
    pull : AnklePull, optional
        The stream's ankle-pull tracker (its state carries across chunks); with both
        sensors it fills ``pull_deg``.
    """
    nan = np.full(n, np.nan)
    false = np.zeros(n, dtype=bool)
    if emg is not None:
        env = emg["envelope_uv"]
        flags = [emg[k] for k in ("flat", "saturated", "hum", "missing")]
        valid = ~(flags[0] | flags[1] | flags[3])
    else:
        env, flags, valid = nan, [false] * 4, false
    m = config.motion
    lying = nan
    movement = nan
    tremor = nan
    angle = nan
    acc_missing = false
    incline = nan
    sensors = [s for s in (shank, foot) if s is not None]
    if sensors:
        posture_src = sensors[0]["gravity_g"]
        incline = shank_incline_deg(posture_src)
        lying = np.where(np.isnan(incline), np.nan, (incline <= m.lying_max_incline_deg) * 1.0)
        movement = gross_movement_g(sensors[0])
        acc_missing = np.isnan(sensors[0]["movement_g"])
        if len(sensors) > 1:
            movement = np.fmax(movement, gross_movement_g(sensors[1]))
            acc_missing = acc_missing | np.isnan(sensors[1]["movement_g"])
    if shank is not None:
        tremor = shank["tremor_g"]
    angles = None
    if shank is not None and foot is not None:
        angles = sagittal_angles(shank["gravity_g"], foot["gravity_g"])
        angle = plantar_flexion_deg(shank["gravity_g"], foot["gravity_g"],
                                    neutral_offset_deg=m.neutral_offset_deg,
                                    min_sagittal_g=m.min_sagittal_g, angles=angles)
        with np.errstate(invalid="ignore"):
            unknowable = ((movement > m.movement_g) | (angle < m.ankle_min_deg)
                          | (angle > m.ankle_max_deg))
        angle = np.where(unknowable, np.nan, angle)
    pull_deg = rel = None
    if shank is not None and foot is not None and pull is not None:
        with np.errstate(invalid="ignore"):
            still = ~(movement > m.movement_g)
        rel = pull.relative_deg(shank["gravity_g"], foot["gravity_g"], still=still,
                                angles=angles)
        pull_deg = pull.push(shank["gravity_g"], foot["gravity_g"], still=still,
                             angles=angles, relative_deg=rel)
    return EpochFeatures(first_epoch, env, valid, flags[0], flags[1], flags[2], flags[3],
                         lying, movement, tremor, angle, acc_missing, incline_deg=incline,
                         pull_deg=pull_deg, relative_angle_deg=rel)
