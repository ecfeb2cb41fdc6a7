"""The fused mode against each single mode on the *same* nights.

    python benchmarks/fusion.py [--nights 21] [--seed 0] [--hours 1]

Night ``i`` (seed ``seed + i``, family ``FAMILIES[i % 7]``, EMG and accelerometer rates as in
``accuracy.py --sweep``) is detected three times: with EMG and both accelerometers
(``emg+acc``), EMG alone and accelerometers alone. The fused mode should find every cramp
that either single mode finds, and add no false episode that both single modes avoid. It
prints, per night, the cramps one single mode found and the fused mode missed, and the fused
false episodes (by what they overlapped), then totals per mode.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from accuracy import MODES, run_night

from detector.config import DetectorConfig
from firmware_sim.night_events import FAMILIES


def main(argv: Sequence[str] | None = None) -> int:
    """Run the same nights in every mode; print what the fused mode lost or added."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nights", type=int, default=21)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hours", type=float, default=1.0)
    args = p.parse_args(argv)
    config = DetectorConfig().replace(in_bed__night_window=None)
    totals = {m: [0, 0, 0] for m in MODES}  # cramps, TP, FP
    lost = added = 0
    t0 = time.perf_counter()
    for i in range(args.nights):
        seed, family = args.seed + i, FAMILIES[i % len(FAMILIES)]
        fs_emg = 200.0 if family == "lofi" else (500.0, 1000.0, 2000.0)[i % 3]
        fs_acc = (25.0, 50.0, 100.0)[(i // 3) % 3]
        runs = {m: run_night(seed=seed, family=family, mode=m, hours=args.hours,
                             fs_emg=fs_emg, fs_acc=fs_acc, config=config) for m in MODES}
        found = {m: {pr.truth_index for pr in r.scores.pairs} for m, r in runs.items()}
        for m, r in runs.items():
            totals[m][0] += r.scores.n_truth
            totals[m][1] += r.scores.tp
            totals[m][2] += r.scores.fp
        missed = sorted((found["emg"] | found["acc"]) - found["emg+acc"])
        fused_false = runs["emg+acc"].false_by
        lost += len(missed)
        added += max(0, len(fused_false) - min(len(runs["emg"].false_by),
                                               len(runs["acc"].false_by)))
        print(f"seed {seed:4d} {family:<8} {fs_emg:5.0f}/{fs_acc:3.0f} Hz: cramps "
              f"{runs['acc'].scores.n_truth}  found emg+acc {len(found['emg+acc'])} emg "
              f"{len(found['emg'])} acc {len(found['acc'])}"
              + (f"  fused missed #{missed}" if missed else "")
              + (f"  fused false: {', '.join(fused_false)}" if fused_false else ""), flush=True)
    print(f"\n{args.nights} nights of {args.hours:g} h from seed {args.seed} in "
          f"{time.perf_counter() - t0:.0f} s")
    for m in MODES:
        n, tp, fp = totals[m]
        print(f"  {m:<8} cramps {n:3d}  TP {tp:3d}  FP {fp:3d}")
    print(f"cramps a single mode found and the fused mode missed: {lost}; fused false "
          f"episodes beyond the fewer of the single modes': {added}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
