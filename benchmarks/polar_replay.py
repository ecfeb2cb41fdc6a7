"""Benchmark: a Polar PMD capture's replay, bulk decoding against packet by packet (issue 11).

Usage::

    python benchmarks/polar_replay.py [--hours 0.5] [--seed 3] [--repeats 5]

Records a simulated night of the Polar pair kit (``cramp record --simulate --kit polar-pair
--hours H --seed S --no-store``, into a temporary directory; a Polar on the foot alone is not
a night the replay accepts), then runs, interleaved ``--repeats`` times, ``cramp replay
SHANK_CAPTURE --json - --no-store`` (416 Hz raw int16 frames) as a whole child process in two
ways: as shipped (bulk decoding) and with the bulk decoder taken away (every frame through
``PolarAccAssembler.push``, as before). Prints the median CPU (user + system of the child) and
wall seconds of each, their ratio, and whether the two JSON documents are identical.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from movesense_replay import _run  # the same child-process timer

_PER_PACKET = """
import sys
import detector.capture.other_sources as o
o.PolarAccAssembler.decode_rows = None  # the replay then takes every record one by one
from detector.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Build the capture, time both replays, print the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=0.5, help="night length (h, at most 2)")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:  # created 0700
        d = Path(tmp)
        subprocess.run([sys.executable, "-m", "detector", "record", "--simulate", "--kit",
                        "polar-pair", "--hours", str(args.hours), "--speed", "2000", "--seed",
                        str(args.seed), "--no-store", "--out", str(d)],
                       check=True, capture_output=True)
        capture = next(d.glob("*shank*.cramp"))
        tail = ["replay", str(capture), "--json", "-", "--no-store"]
        ways = {"bulk": [sys.executable, "-m", "detector", *tail],
                "per_packet": [sys.executable, "-c", _PER_PACKET, *tail]}
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in ways}
        for _ in range(args.repeats):
            for name, cmd in ways.items():
                runs[name].append(_run(cmd, d / f"{name}.json"))
        same = (d / "bulk.json").read_bytes() == (d / "per_packet.json").read_bytes()
        size = capture.stat().st_size
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("cpu_s", "wall_s")}
           for k, v in runs.items()}
    print(f"Polar shank capture, {args.hours:g} h, seed {args.seed}, {size / 2**20:.1f} MiB; "
          f"medians of {args.repeats}")
    for name, m in med.items():
        print(f"  {name:<11} cpu {m['cpu_s']:.3f} s  wall {m['wall_s']:.3f} s")
    print(f"  per_packet / bulk: cpu {med['per_packet']['cpu_s'] / med['bulk']['cpu_s']:.2f}x"
          f", wall {med['per_packet']['wall_s'] / med['bulk']['wall_s']:.2f}x; "
          f"JSON identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
