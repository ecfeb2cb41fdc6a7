"""Detection accuracy on random model nights: event F1, onset and duration errors.

    python benchmarks/accuracy.py [--nights 12] [--hours 1] [--seed 0] [--mode emg+acc]
    python benchmarks/accuracy.py --sweep --nights 42 --seed 1000 [--hours 1] [--only emg]

Each night is drawn by ``firmware_sim.night.random_scenario`` (cramps of 10 s to 15 min, leg
movement series, rollovers, getting up, standing, artefacts...), synthesised, and fed to the
detector as in-memory arrays (the same streaming pipeline as replay). Cramps in the truth
table are scored against the detected episodes with ``detector.evaluation`` (one-to-one
overlap matching).

``--sweep`` draws a mix: night ``i`` (seed ``seed + i``) takes scenario family
``FAMILIES[i % 7]`` (mixed, quiet, plm, busy, artefact, lofi, daytime) and detection mode
``MODES[(i // 7) % 3]`` (emg+acc, emg, acc), so 42 nights cover every family in every mode
twice. EMG rates cycle through 500, 1000 and 2000 Hz (200 Hz for ``lofi``), accelerometers
through 25, 50 and 100 Hz. It prints F1 and false episodes per family and per mode, and the
false episodes by what they overlapped (standing, walking, rollover, PLM...). Tune on one
seed range, report on another.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from detector.config import DetectorConfig, load_config
from detector.episode import Episode
from detector.evaluation import pool_scores, score_events
from detector.evaluation_types import EventScores
from detector.pipeline.episodes import EpisodeDetector
from detector.pipeline.result import NightResult
from detector.replay import ArrayRecording, make_info, run_source
from detector.signals import ChannelSpec
from firmware_sim.night import SimulatedNight, random_scenario, synthesize
from firmware_sim.night_events import FAMILIES

MODES: tuple[str, ...] = ("emg+acc", "emg", "acc")
ROLES = {"emg+acc": ("emg", "shank_acc", "foot_acc"), "emg": ("emg",),
         "acc": ("shank_acc", "foot_acc")}
_OVERLAP_ORDER = ("cramp", "tiptoe", "stand", "walk", "stretch", "rollover", "plm", "lm",
                  "hypnic_jerk", "twitch", "electrode_lift", "hum", "motion_spike")
"""What a false episode is filed under when it overlaps several things (first wins)."""


@dataclass(frozen=True)
class NightRun:
    """One scored night."""

    seed: int
    family: str
    mode: str
    fs_emg: float
    scores: EventScores
    false_by: tuple[str, ...]
    missed: tuple[str, ...]


def sweep_draw(i: int) -> tuple[str, str, float, float]:
    """The sweep's ``i``-th night: family, detection mode, EMG rate (Hz), accelerometer rate
    (Hz)."""
    family = FAMILIES[i % len(FAMILIES)]
    mode = MODES[(i // len(FAMILIES)) % len(MODES)]
    fs_emg = 200.0 if family == "lofi" else (500.0, 1000.0, 2000.0)[i % 3]
    fs_acc = (25.0, 50.0, 100.0)[(i // 3) % 3]
    return family, mode, fs_emg, fs_acc


def emg_only_draws(nights: int) -> Iterator[tuple[int, str]]:
    """``(i, family)`` of the sweep's EMG-only nights among its first ``nights`` (see
    :func:`sweep_draw`); the EMG-only diagnostics replay just these."""
    for i in range(nights):
        family, mode, _fs_emg, _fs_acc = sweep_draw(i)
        if mode == "emg":
            yield i, family


def night_recording(*, seed: int, family: str, mode: str, hours: float, fs_emg: float,
                    fs_acc: float) -> tuple[SimulatedNight, ArrayRecording]:
    """Draw and synthesise one night and give the channels of ``mode`` as a recording:
    ``(night, recording)``."""
    rng = np.random.default_rng(seed)
    scenario = random_scenario(duration_s=hours * 3600.0, rng=rng, fs_emg=fs_emg,
                               fs_acc=fs_acc, family=family)
    night = synthesize(scenario, rng=rng)
    rails = (-scenario.emg_rails_uv, scenario.emg_rails_uv)
    channels = {"emg": ChannelSpec(role="emg", fs=fs_emg, unit="uV", rails=rails),
                "shank_acc": ChannelSpec(role="shank_acc", fs=fs_acc, unit="g"),
                "foot_acc": ChannelSpec(role="foot_acc", fs=fs_acc, unit="g")}
    roles = ROLES[mode]
    info = make_info(path=f"seed{seed}", start_utc=scenario.start_utc,
                     duration_s=scenario.duration_s, channels={r: channels[r] for r in roles})
    data = {"emg": night.emg_uv, "shank_acc": night.shank_acc_g, "foot_acc": night.foot_acc_g}
    return night, ArrayRecording(info=info, data={r: data[r] for r in roles})


def emg_only_night(*, seed: int, i: int,
                   hours: float) -> tuple[SimulatedNight, ArrayRecording]:
    """The sweep's ``i``-th night from ``seed`` (its family and rates), synthesised, and its
    EMG alone as a recording: ``(night, recording)`` (for the EMG-only diagnostics)."""
    family, _, fs_emg, fs_acc = sweep_draw(i)
    return night_recording(seed=seed, family=family, mode="emg", hours=hours, fs_emg=fs_emg,
                           fs_acc=fs_acc)


def run_fate(det: EpisodeDetector, *, state: str, n_withdrawn: int, onset_epoch: int,
             rejected_why: str) -> str:
    """What became of the run the detector ``det`` has just closed (for the diagnostics):
    ``state`` and ``n_withdrawn`` are its state and count of withdrawals before the close,
    ``rejected_why`` what failed at its verdict."""
    if state == "none":
        return "never judged (too short)"
    if state == "rejected":
        return "rejected: " + (rejected_why or "?")
    if state == "withdrawn" or len(det.withdrawn) > n_withdrawn:  # at a look or at its end
        return "withdrawn: " + next(w.reason for w in reversed(det.withdrawn)
                                    if w.onset_s == onset_epoch / det.eps)
    return "kept"


def score_cramps(night: SimulatedNight,
                 result: NightResult) -> tuple[pd.DataFrame, EventScores]:
    """The night's true cramps (re-indexed from 0) and the detected episodes scored against
    them: ``(cramps, scores)``; ``scores.pairs`` holds the truth and detected indices matched."""
    cramps = night.truth[night.truth.kind == "cramp"].reset_index(drop=True)
    return cramps, score_events(result.episodes,
                                list(zip(cramps.onset_s, cramps.duration_s, strict=True)))


def run_night(*, seed: int, family: str, mode: str, hours: float, fs_emg: float,
              fs_acc: float, config: DetectorConfig) -> NightRun:
    """Draw, synthesise, detect and score one night."""
    night, recording = night_recording(seed=seed, family=family, mode=mode, hours=hours,
                                       fs_emg=fs_emg, fs_acc=fs_acc)
    result = run_source(recording, config=config)
    truth, s = score_cramps(night, result)
    matched = {p.detected_index for p in s.pairs}
    false_by = tuple(_overlapped(ep, night.truth) for i, ep in enumerate(result.episodes)
                     if i not in matched)
    found = {p.truth_index for p in s.pairs}
    missed = tuple(f"{r.duration_s:.0f} s {r.posture} {r.emg_uv:.0f} uV {r.acc_g:.3f} g"
                   for i, r in enumerate(truth.itertuples()) if i not in found)
    return NightRun(seed=seed, family=family, mode=mode, fs_emg=fs_emg, scores=s,
                    false_by=false_by, missed=missed)


def _overlapped(ep: Episode, truth: pd.DataFrame) -> str:
    """Name what a false episode overlapped; 'upright' / 'lying' when nothing in particular."""
    a, b = ep.onset_s, ep.onset_s + ep.duration_s
    over = truth[(truth.onset_s < b) & (truth.onset_s + truth.duration_s > a)]
    kinds = set(over.kind)
    for kind in _OVERLAP_ORDER:
        if kind in kinds:
            return kind
    sitting = over[over.kind == "sitting"]
    if len(sitting):
        return "sitting"
    beds = truth[truth.kind == "in_bed"]
    in_bed = ((beds.onset_s <= a) & (beds.onset_s + beds.duration_s > a)).any()
    return "lying (nothing)" if in_bed else "standing"


def _line(label: str, runs: list[NightRun], hours: float) -> str:
    """One pooled line; false episodes per night and per 8 h of recording (the independent
    set's nights are 8 h: a rate per short night reads four to eight times too kind)."""
    pooled = pool_scores([r.scores for r in runs]).scores
    f1 = "-" if pooled.f1 is None else f"{pooled.f1:.3f}"
    n_false = sum(len(r.false_by) for r in runs)
    onsets = [abs(p.detected.onset_s - p.truth.onset_s) for r in runs for p in r.scores.pairs]
    med = f"{np.median(onsets):.2f}" if onsets else "-"
    return (f"{label:<10} nights {len(runs):3d}  cramps {pooled.n_truth:3d}  TP {pooled.tp:3d}  "
            f"FP {pooled.fp:3d}  FN {pooled.fn:3d}  F1 {f1:>5}  false/night "
            f"{n_false / max(len(runs), 1):.2f} ({n_false * 8.0 / max(len(runs) * hours, 1e-9):.2f}"
            f" per 8 h)  median onset error {med} s")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the accuracy benchmark; print per-night and pooled scores."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nights", type=int, default=12)
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0, help="first seed (nights use seed, seed+1...)")
    p.add_argument("--mode", choices=MODES, default="emg+acc",
                   help="channels given to the detector (emg: calf EMG only; acc: shank and "
                        "foot accelerometers only); ignored with --sweep")
    p.add_argument("--family", choices=FAMILIES, default="mixed",
                   help="scenario family; ignored with --sweep")
    p.add_argument("--sweep", action="store_true",
                   help="mix every scenario family with every mode (see the module docstring)")
    p.add_argument("--only", choices=MODES, action="append", metavar="MODE",
                   help="with --sweep: run only the nights of this mode (repeatable); the "
                        "seeds, families and rates of the mix stay as they are")
    p.add_argument("--config", metavar="TOML", help="detector thresholds over the defaults")
    p.add_argument("--quiet", action="store_true", help="no per-night lines")
    args = p.parse_args(argv)
    config = load_config(args.config) if args.config else DetectorConfig()
    config = config.replace(in_bed__night_window=None)
    runs: list[NightRun] = []
    t0 = time.perf_counter()
    for i in range(args.nights):
        seed = args.seed + i
        if args.sweep:
            family, mode, fs_emg, fs_acc = sweep_draw(i)
            if args.only and mode not in args.only:
                continue
        else:
            family, mode, fs_emg, fs_acc = args.family, args.mode, 1000.0, 100.0
        run = run_night(seed=seed, family=family, mode=mode, hours=args.hours, fs_emg=fs_emg,
                        fs_acc=fs_acc, config=config)
        runs.append(run)
        s = run.scores
        if not args.quiet:
            onset = "-" if s.onset_error_s is None else f"{s.onset_error_s.mean_abs:.2f}"
            false = f"  false: {', '.join(run.false_by)}" if run.false_by else ""
            if run.missed:
                false += f"  missed: {'; '.join(run.missed)}"
            print(f"seed {seed:4d} {family:<8} {mode:<7} {fs_emg:5.0f} Hz: truth {s.n_truth} "
                  f"TP {s.tp} FP {s.fp} FN {s.fn}  onset MAE {onset} s{false}", flush=True)
    print(f"\n{len(runs)} nights of {args.hours:g} h from seed {args.seed}"
          f"{' (sweep)' if args.sweep else f', mode {args.mode}, family {args.family}'}, in "
          f"{time.perf_counter() - t0:.0f} s")
    by_family: dict[str, list[NightRun]] = defaultdict(list)
    by_mode: dict[str, list[NightRun]] = defaultdict(list)
    for r in runs:
        by_family[r.family].append(r)
        by_mode[r.mode].append(r)
    if args.sweep:
        print("per family:")
        for fam in FAMILIES:
            if by_family[fam]:
                print("  " + _line(fam, by_family[fam], args.hours))
        print("per mode:")
        for mode in MODES:
            if by_mode[mode]:
                print("  " + _line(mode, by_mode[mode], args.hours))
    print(_line("all", runs, args.hours))
    pooled = pool_scores([r.scores for r in runs]).scores
    print(f"precision {pooled.precision}, recall {pooled.recall}")
    if pooled.onset_error_s is not None and pooled.duration_error_s is not None:
        o, d = pooled.onset_error_s, pooled.duration_error_s
        print(f"onset error: mean signed {o.mean_signed:+.2f} s, mean absolute "
              f"{o.mean_abs:.2f} s, median {o.median_abs:.2f} s, max {o.max_abs:.2f} s")
        print(f"duration error: mean signed {d.mean_signed:+.2f} s, mean absolute "
              f"{d.mean_abs:.2f} s")
    false = Counter(k for r in runs for k in r.false_by)
    print("false episodes by what they overlapped: "
          + (", ".join(f"{k} {n}" for k, n in false.most_common()) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
