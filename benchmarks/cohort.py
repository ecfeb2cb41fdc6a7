"""Benchmark: a cohort of simulated nights through ``cramp batch`` on 1 and 2 Dask workers.

Usage::

    python benchmarks/cohort.py [--nights 100] [--hours 1] [--seed 1] [--json OUT]

In one run, on one machine:

1. simulates ``--nights`` nights of ``--hours`` each (``cramp simulate --nights``, captures,
   on a 2-worker local cluster; its rate is printed but not part of the ratios);
2. **baseline**: replays every night in this process, one after another, through the same
   adapter the batch uses (``detector.cohort.night_task.replay_night``), once before and once
   after the batches (the rate is that of the mean time: the machine's speed drifts);
3. ``run_batch`` on a ``LocalCluster`` of 1 worker, then of 2 workers, each into a fresh
   output folder (nothing to resume), timed from the first submission to the collated tables;
   the cluster start is timed apart (it is paid once per command, not per night);
4. peak resident memory of each worker process (``ru_maxrss``, read on the workers) and of
   this process after the baseline loop.

It prints nights per minute for each, the ratios batch(1) / loop (the engine's overhead)
and batch(2) / batch(1), and the scaling efficiency batch(2) / (2 x batch(1)); and it checks
that the three runs found the same episodes in every night (results do not depend on the
number of workers). On a shared machine every figure is noisy: the ratios, measured in the
same run, are what to compare.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detector.cohort.batch import run_batch
from detector.cohort.engine import Engine, EngineOptions
from detector.cohort.night_task import ReplayOptions, peak_rss_mib, replay_night
from detector.cohort.simulate import CohortSpec, simulate_cohort
from detector.config import DetectorConfig


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/cohort.py", description=__doc__.split("\n")[0])
    p.add_argument("--nights", type=int, default=100, help="nights in the cohort (default 100)")
    p.add_argument("--hours", type=float, default=1.0, help="length of each night (default 1)")
    p.add_argument("--seed", type=int, default=1, help="seed of the cohort")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = p.parse_args(argv)
    if args.nights < 2 or not args.hours > 0:
        p.error("--nights must be >= 2 and --hours > 0")
    return args


def _episodes(rec: dict[str, Any]) -> list[tuple[float, float]]:
    return [(e["onset_s"], e["duration_s"]) for e in rec["episodes"]]


def _loop(paths: list[str], config: DetectorConfig
          ) -> tuple[dict[str, list[tuple[float, float]]], float]:
    t0 = time.perf_counter()
    found = {p: _episodes(replay_night(p, config=config, options=ReplayOptions()))
             for p in paths}
    return found, time.perf_counter() - t0


def _batch(paths: list[str], out: Path, workers: int, config: DetectorConfig
           ) -> dict[str, Any]:
    t0 = time.perf_counter()
    with Engine(EngineOptions(workers=workers)) as engine:
        engine.client.run(__import__, "detector.replay")  # start and warm the workers
        started_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        summary = run_batch(paths, out_dir=out, config=config, options=ReplayOptions(),
                            engine=engine, progress=False)
        elapsed = time.perf_counter() - t1
        peaks = sorted(engine.client.run(peak_rss_mib).values())
    if summary.failures:
        raise SystemExit(f"batch failed: {summary.failures[0]}")
    from detector.cohort.tables import read_table

    nights = read_table(out / "nights.parquet")
    found = {}
    for row in nights:
        doc = json.loads((out / row["result_file"]).read_text())
        found[row["path"]] = _episodes(doc["recording"])
    return {"workers": workers, "cluster_start_s": started_s, "elapsed_s": elapsed,
            "nights_per_min": len(paths) / elapsed * 60, "worker_peak_rss_mib": peaks,
            "episodes": found}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the figures; 1 if the runs disagree on any night."""
    args = _parse(argv)
    config = DetectorConfig().replace(in_bed__timezone="UTC")
    with tempfile.TemporaryDirectory(prefix="cramp-cohort-bench-") as tmp:
        root = Path(tmp)
        spec = CohortSpec(nights=args.nights, hours=args.hours, seed=args.seed,
                          participants=max(1, args.nights // 7))
        t0 = time.perf_counter()
        with Engine(EngineOptions(workers=2)) as engine:
            sim = simulate_cohort(root / "cohort", spec, engine=engine, progress=False)
        sim_s = time.perf_counter() - t0
        if sim.failures:
            raise SystemExit(f"simulation failed: {sim.failures[0]}")
        paths = sorted(str(p) for p in (root / "cohort").glob("*.cramp"))

        loop, loop_before_s = _loop(paths, config)
        one = _batch(paths, root / "out1", 1, config)
        two = _batch(paths, root / "out2", 2, config)
        loop_again, loop_after_s = _loop(paths, config)  # the machine's speed drifts
        loop_s = (loop_before_s + loop_after_s) / 2
        loop_rate = len(paths) / loop_s * 60
        loop_peak = peak_rss_mib()

    same = loop == loop_again == one["episodes"] == two["episodes"]
    eff = two["nights_per_min"] / (2 * one["nights_per_min"])
    print(f"cohort: {len(paths)} simulated nights of {args.hours:g} h "
          f"(simulated on 2 workers in {sim_s:.1f} s, {len(paths) / sim_s * 60:.1f} nights/min)")
    print(f"single-process replay loop : {loop_rate:8.1f} nights/min (mean of "
          f"{loop_before_s:.1f} s before and {loop_after_s:.1f} s after the batches), "
          f"peak RSS of this process {loop_peak:.0f} MiB")
    for r in (one, two):
        print(f"batch, {r['workers']} worker(s)          : {r['nights_per_min']:8.1f} "
              f"nights/min ({r['elapsed_s']:.1f} s; cluster start {r['cluster_start_s']:.1f} s)"
              f", peak RSS per worker {', '.join(f'{m:.0f}' for m in r['worker_peak_rss_mib'])}"
              " MiB")
    print(f"batch(1) / loop            : {one['nights_per_min'] / loop_rate:8.2f}")
    print(f"batch(2) / batch(1)        : {two['nights_per_min'] / one['nights_per_min']:8.2f}")
    print(f"scaling efficiency (2 vs 1): {eff:8.2f}")
    print(f"same episodes in every night, loop vs 1 vs 2 workers: {'yes' if same else 'NO'}")
    if args.json:
        doc = {"nights": len(paths), "hours": args.hours, "loop_nights_per_min": loop_rate,
               "loop_s": [loop_before_s, loop_after_s],
               "loop_peak_rss_mib": loop_peak, "simulate_s": sim_s,
               "batch": [{k: v for k, v in r.items() if k != "episodes"} for r in (one, two)],
               "scaling_efficiency": eff, "identical_results": same}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
