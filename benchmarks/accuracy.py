"""Detection accuracy on random model nights: event F1, onset and duration errors.

    python benchmarks/accuracy.py [--nights 12] [--hours 1] [--seed 0]

Each night is drawn by ``firmware_sim.night.random_scenario`` (cramps of 10 s to 15 min, leg
movement series, rollovers, getting up, artefacts...), synthesised, and fed to the detector as
in-memory arrays (the same streaming pipeline as replay). Cramps in the truth table are scored
against the detected episodes with ``detector.evaluation`` (one-to-one overlap matching).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

from detector.config import DetectorConfig, load_config
from detector.evaluation import pool_scores, score_events
from detector.replay import ArrayRecording, make_info, run_source
from detector.signals import ChannelSpec
from firmware_sim.night import random_scenario, synthesize

FS_EMG, FS_ACC = 1000.0, 100.0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the accuracy benchmark; print per-night and pooled scores."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nights", type=int, default=12)
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0, help="first seed (nights use seed, seed+1...)")
    p.add_argument("--mode", choices=("emg+acc", "emg", "acc"), default="emg+acc",
                   help="channels given to the detector (emg: calf EMG only; acc: shank and "
                        "foot accelerometers only)")
    p.add_argument("--config", metavar="TOML", help="detector thresholds over the defaults")
    args = p.parse_args(argv)
    roles = {"emg+acc": ("emg", "shank_acc", "foot_acc"), "emg": ("emg",),
             "acc": ("shank_acc", "foot_acc")}[args.mode]
    config = load_config(args.config) if args.config else DetectorConfig()
    config = config.replace(in_bed__night_window=None)
    channels = {"emg": ChannelSpec(role="emg", fs=FS_EMG, unit="uV", rails=(-5000.0, 5000.0)),
                "shank_acc": ChannelSpec(role="shank_acc", fs=FS_ACC, unit="g"),
                "foot_acc": ChannelSpec(role="foot_acc", fs=FS_ACC, unit="g")}
    scores = []
    t0 = time.perf_counter()
    for seed in range(args.seed, args.seed + args.nights):
        rng = np.random.default_rng(seed)
        scenario = random_scenario(duration_s=args.hours * 3600.0, rng=rng, fs_emg=FS_EMG,
                                   fs_acc=FS_ACC)
        night = synthesize(scenario, rng=rng)
        info = make_info(path=f"seed{seed}", start_utc=scenario.start_utc,
                         duration_s=scenario.duration_s,
                         channels={r: channels[r] for r in roles})
        data = {"emg": night.emg_uv, "shank_acc": night.shank_acc_g,
                "foot_acc": night.foot_acc_g}
        rec = ArrayRecording(info=info, data={r: data[r] for r in roles})
        result = run_source(rec, config=config)
        truth = night.truth[night.truth.kind == "cramp"]
        s = score_events(result.episodes, list(zip(truth.onset_s, truth.duration_s,
                                                   strict=True)))
        scores.append(s)
        onset = "-" if s.onset_error_s is None else f"{s.onset_error_s.mean_abs:.2f}"
        print(f"seed {seed:3d}: truth {s.n_truth} detected {s.n_detected} TP {s.tp} FP {s.fp} "
              f"FN {s.fn}  onset MAE {onset} s")
    pooled = pool_scores(scores).scores
    print(f"\n{args.nights} nights of {args.hours:g} h, mode {args.mode}, in "
          f"{time.perf_counter() - t0:.0f} s")
    print(f"pooled: truth {pooled.n_truth}, TP {pooled.tp}, FP {pooled.fp}, FN {pooled.fn}; "
          f"precision {pooled.precision:.3f}, recall {pooled.recall:.3f}, F1 {pooled.f1:.3f}")
    if pooled.onset_error_s is not None and pooled.duration_error_s is not None:
        o, d = pooled.onset_error_s, pooled.duration_error_s
        print(f"onset error: mean signed {o.mean_signed:+.2f} s, mean absolute "
              f"{o.mean_abs:.2f} s, max {o.max_abs:.2f} s")
        print(f"duration error: mean signed {d.mean_signed:+.2f} s, mean absolute "
              f"{d.mean_abs:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
