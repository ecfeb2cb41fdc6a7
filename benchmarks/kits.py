"""A simulated cramp in each band kit: event F1 per kit over a few seeds, end to end.

    python benchmarks/kits.py [--kits polar-pair,...] [--seeds 3] [--hours 0.1]

Each run is ``cramp record --simulate --kit KIT --seed S --hours H`` done in process: the
night model of every leg, every band a bumble peripheral reached through the real
``BleakClient``, one multi-band night, its manifest replayed per leg (what is stored), and
the detected episodes of each leg scored against the truth the recorder wrote beside the
manifest (``<night>.night[-LEG].truth.tsv``: the night actually simulated, whose start, and
so whose scenario, is set from the clock) with ``detector.evaluation`` (pooled per kit).
Speeds are the CLI defaults (a Ganglion caps it). Nothing is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from detector.capture.multi_band import read_manifest
from detector.cli.record_multi import KITS, record_multi
from detector.config import DetectorConfig
from detector.evaluation import pool_scores, score_events


def _written_truth(manifest: Path, *, legs: list[str]) -> dict[str, list[tuple[float, float]]]:
    """The cramps (onset_s, duration_s) of each leg, from the truth files of the night."""
    base = manifest.name.removesuffix(".json")
    out = {}
    for leg in legs:
        name = f"{base}.truth.tsv" if len(legs) == 1 else f"{base}-{leg}.truth.tsv"
        rows = (manifest.parent / name).read_text(encoding="utf-8").splitlines()[1:]
        out[leg] = [(float(r.split("\t")[0]), float(r.split("\t")[1])) for r in rows
                    if r.split("\t")[2] == "cramp"]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Record every kit over the seeds; print per-night and pooled scores."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kits", default=",".join(KITS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--hours", type=float, default=0.1)
    p.add_argument("--speed", type=float, default=20.0)
    args = p.parse_args(argv)
    config = DetectorConfig()
    for kit in args.kits.split(","):
        scores = []
        t0 = time.perf_counter()
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            with tempfile.TemporaryDirectory() as tmp:
                ns = argparse.Namespace(simulate=True, kit=kit, band=None, hours=args.hours,
                                        speed=args.speed, seed=seed, mtu=247)
                summary, results = asyncio.run(record_multi(ns, config, Path(tmp)))
                truth = _written_truth(summary.manifest_path, legs=list(results))
                origin = read_manifest(summary.manifest_path)[0]
            # the bands stream only once connected: at --speed, seconds of connecting are
            # minutes of the simulated night that no band saw (more on a loaded machine)
            lead_s = max((b.start_utc.timestamp() - origin for b in summary.bands
                          if b.start_utc is not None), default=float("nan"))
            for leg, result in results.items():
                s = score_events(result.episodes, truth[leg])
                scores.append(s)
                lost = sum(c.lost for b in summary.bands for c in b.counts.values())
                print(f"{kit:15s} seed {seed} {leg:5s} truth {s.n_truth} detected "
                      f"{s.n_detected} tp {s.tp} (samples lost {lost}, first {lead_s:.0f} s "
                      "of the night not streamed)", file=sys.stderr)
        pooled = pool_scores(scores).scores
        f1 = "n/a" if pooled.f1 is None else f"{pooled.f1:.3f}"
        print(f"{kit:15s} nights {args.seeds} truth {pooled.n_truth} tp {pooled.tp} "
              f"fp {pooled.fp} fn {pooled.fn} F1 {f1} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
