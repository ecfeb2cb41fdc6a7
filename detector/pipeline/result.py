"""What one recording's pass through the pipeline produces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from detector.episode import Episode, EpisodeWithdrawn
from detector.signals import Gap, RecordingInfo


@dataclass(frozen=True, kw_only=True)
class NightTrace:
    """Per-second summary of the night, for timelines and the episode store.

    All arrays have shape (n_seconds,); element ``i`` covers ``[i, i + 1)`` seconds from the
    recording start. Values that cannot exist in the recording's mode are all-NaN.

    Attributes
    ----------
    emg_envelope_uv : ndarray
        Mean EMG envelope (RMS, uV).
    emg_baseline_uv : ndarray
        Resting EMG level estimate (uV).
    lying : ndarray
        1.0 lying, 0.0 upright, NaN unknown.
    movement_g : ndarray
        Mean whole-leg movement (g).
    plantar_flexion_deg : ndarray
        Mean foot-to-shank angle beyond neutral (deg), NaN where not measurable.
    tremor_g : ndarray
        Mean calf tremor-band RMS (g).
    valid : ndarray
        1.0 where the signal was usable, 0.0 for gap / flat / saturated, as a mean.
    """

    emg_envelope_uv: np.ndarray
    emg_baseline_uv: np.ndarray
    lying: np.ndarray
    movement_g: np.ndarray
    plantar_flexion_deg: np.ndarray
    tremor_g: np.ndarray
    valid: np.ndarray

    @property
    def n_seconds(self) -> int:
        """Number of one-second bins."""
        return int(self.valid.shape[0])


@dataclass(frozen=True, kw_only=True)
class NightResult:
    """Episodes, in-bed period, gaps and quality of one recording.

    Attributes
    ----------
    info : RecordingInfo
        The recording the result comes from.
    mode : {"emg+acc", "emg", "acc"}
        Which evidence the detector had.
    episodes : tuple of Episode
        Cramp episodes in onset order.
    in_bed_periods : tuple of (float, float)
        In-bed periods as (start_s, end_s) from the recording start.
    gaps : tuple of Gap
        Intervals without samples, per channel.
    quality : dict
        Signal-quality summary (JSON-ready): seconds flat, saturated, with hum, with motion,
        missing, and coverage fraction, per channel.
    trace : NightTrace
        Per-second summary for timelines.
    detector_version : str
        Version of the package that produced the result.
    parameters : dict
        The full detector configuration used (``DetectorConfig.to_dict()``).
    set_aside : tuple of EpisodeWithdrawn
        Contractions announced live and then shown by a later look not to be cramps (for
        example the stride rhythm of walking), in onset order, with the reason. They are not
        episodes and count nowhere; the morning log lists them so that an alarm seen in the
        night is accounted for.
    """

    info: RecordingInfo
    mode: str
    episodes: tuple[Episode, ...]
    in_bed_periods: tuple[tuple[float, float], ...]
    gaps: tuple[Gap, ...]
    quality: dict[str, Any]
    trace: NightTrace
    detector_version: str
    parameters: dict[str, Any]
    set_aside: tuple[EpisodeWithdrawn, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary in the ``cramp replay --json`` recording shape."""
        return {
            "path": self.info.path,
            "start_utc": self.info.start_utc.isoformat().replace("+00:00", "Z"),
            "duration_s": round(self.info.duration_s, 3),
            "mode": self.mode,
            "leg": self.info.leg,
            "notes": list(self.info.notes),
            "episodes": [e.to_dict() for e in self.episodes],
            "set_aside": [{"onset_s": round(w.onset_s, 3), "withdrawn_s": round(w.withdrawn_s, 3),
                           "reason": w.reason} for w in self.set_aside],
            "in_bed_periods": [[round(a, 1), round(b, 1)] for a, b in self.in_bed_periods],
            "gaps": [
                {"channel": g.role, "start_s": round(g.start_s, 3), "end_s": round(g.end_s, 3),
                 "samples_missing": g.samples_missing}
                for g in self.gaps
            ],
            "quality": self.quality,
            "detector_version": self.detector_version,
            "parameters": self.parameters,
        }
