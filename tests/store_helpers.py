"""Build synthetic :class:`NightResult` objects for the store, report and export tests.

The numbers are made here, independently of the code under test, so tests can compare what
the store/report shows with what went in.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from detector.cli import export_cmd, report_cmd
from detector.config import DetectorConfig
from detector.episode import Episode
from detector.pipeline.result import NightResult, NightTrace
from detector.signals import ChannelSpec, Gap, RecordingInfo

FS_EMG = 1000.0
FS_ACC = 100.0


@dataclass(frozen=True)
class EpisodeSpec:
    """An episode to plant: onset (s from start), duration (s), leg, peak EMG (uV), angle."""

    onset_s: float
    duration_s: float
    leg: str = "left"
    peak_emg_uv: float = 80.0
    plantar_flexion_deg: float | None = 35.0


def make_night(
    *,
    rng: np.random.Generator,
    start_utc: datetime = datetime(2024, 3, 3, 21, 0, tzinfo=UTC),
    duration_s: int = 4 * 3600,
    in_bed: Sequence[tuple[float, float]] = ((1800.0, 4 * 3600 - 900.0),),
    episodes: Sequence[EpisodeSpec] = (EpisodeSpec(5400.0, 95.0), EpisodeSpec(9000.0, 40.0)),
    gaps: Sequence[tuple[float, float]] = ((7200.0, 7260.0),),
    poor_signal: Sequence[tuple[float, float]] = ((10800.0, 10920.0),),
    leg: str = "left",
    path: str = "/data/night.edf",
    parameters: dict[str, Any] | None = None,
    detector_version: str = "0.1.0",
    labels: dict[str, tuple[str, ...]] | None = None,
    fs_emg: float = FS_EMG,
    fs_acc: float = FS_ACC,
) -> NightResult:
    """Return a plausible night with known episodes, gaps and poor-signal stretches.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the trace noise.
    start_utc : datetime
        Recording start (aware).
    duration_s : int
        Recording length (s); the trace has this many one-second bins.
    in_bed : sequence of (float, float)
        In-bed periods (s from start).
    episodes : sequence of EpisodeSpec
        Episodes to plant; the trace shows high EMG and plantar flexion there.
    gaps : sequence of (float, float)
        Data gaps on every channel (s from start).
    poor_signal : sequence of (float, float)
        Stretches of flat EMG (electrode lift), not gaps.
    leg : str
        Leg the band was on.
    path : str
        Recording path written in the result.
    parameters : dict, optional
        Detector parameters; ``DetectorConfig().to_dict()`` by default.
    detector_version : str
        Version string stored with the run.
    labels : dict, optional
        Source labels per role (as a reader would find them in the file).
    fs_emg, fs_acc : float
        Sampling rates (Hz) written in the channel descriptions.
    """
    labels = labels or {"emg": ("EMG calf",), "shank_acc": ("SX", "SY", "SZ"),
                        "foot_acc": ("FX", "FY", "FZ")}
    n = int(duration_s)
    t = np.arange(n) + 0.5
    envelope = 3.0 + rng.gamma(2.0, 0.5, n)
    baseline = np.full(n, 3.0)
    lying = np.zeros(n)
    movement = 0.02 + rng.exponential(0.01, n)
    angle = 5.0 + rng.normal(0.0, 2.0, n)
    tremor = np.full(n, 0.001)
    valid = np.ones(n)
    for a, b in in_bed:
        lying[(t >= a) & (t < b)] = 1.0
    eps = []
    for spec in episodes:
        sel = (t >= spec.onset_s) & (t < spec.onset_s + spec.duration_s)
        envelope[sel] = spec.peak_emg_uv * (0.6 + 0.4 * rng.random(int(sel.sum())))
        if spec.plantar_flexion_deg is not None:
            angle[sel] = spec.plantar_flexion_deg
        tremor[sel] = 0.01
        in_bed_flag = any(a <= spec.onset_s < b for a, b in in_bed)
        eps.append(Episode(
            onset_s=spec.onset_s, offset_s=spec.onset_s + spec.duration_s,
            onset_utc=start_utc + timedelta(seconds=spec.onset_s), leg=spec.leg,
            in_bed=in_bed_flag, peak_emg_uv=spec.peak_emg_uv,
            mean_emg_uv=0.8 * spec.peak_emg_uv, plantar_flexion_deg=spec.plantar_flexion_deg,
            confidence=0.9, evidence=("sustained_emg", "plantar_flexion"),
            quality_notes=(),
        ))
    gap_objs = []
    for a, b in gaps:
        sel = (t >= a) & (t < b)
        valid[sel] = 0.0
        envelope[sel] = np.nan
        angle[sel] = np.nan
        for role, fs in (("emg", fs_emg), ("shank_acc", fs_acc), ("foot_acc", fs_acc)):
            gap_objs.append(Gap(role=role, start_s=a, end_s=b,
                                samples_missing=round((b - a) * fs)))
    for a, b in poor_signal:
        sel = (t >= a) & (t < b)
        valid[sel] = 0.0
        envelope[sel] = 0.05
    info = RecordingInfo(
        path=path, start_utc=start_utc, duration_s=float(duration_s),
        channels={
            "emg": ChannelSpec(role="emg", fs=fs_emg, unit="uV", source_labels=labels["emg"]),
            "shank_acc": ChannelSpec(role="shank_acc", fs=fs_acc, unit="g",
                                     source_labels=labels["shank_acc"]),
            "foot_acc": ChannelSpec(role="foot_acc", fs=fs_acc, unit="g",
                                    source_labels=labels["foot_acc"]),
        },
        leg=leg, file_format="edf+",
    )
    trace = NightTrace(emg_envelope_uv=envelope, emg_baseline_uv=baseline, lying=lying,
                       movement_g=movement, plantar_flexion_deg=angle, tremor_g=tremor,
                       valid=valid)
    missing = sum(b - a for a, b in gaps)
    quality = {
        "emg": {"flat_s": float(sum(b - a for a, b in poor_signal)), "saturated_s": 0.0,
                "hum_s": 0.0, "motion_s": 0.0, "missing_s": float(missing),
                "coverage": 1.0 - missing / duration_s},
    }
    return NightResult(
        info=info, mode="emg+acc", episodes=tuple(eps), in_bed_periods=tuple(in_bed),
        gaps=tuple(gap_objs), quality=quality, trace=trace, detector_version=detector_version,
        parameters=parameters if parameters is not None else DetectorConfig().to_dict(),
    )


def cramp(argv: list[str]) -> int:
    """Run ``cramp report`` / ``cramp export`` as the console script would (errors raise)."""
    parser = argparse.ArgumentParser(prog="cramp")
    sub = parser.add_subparsers(dest="command", required=True)
    report_cmd.register(sub)
    export_cmd.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))
