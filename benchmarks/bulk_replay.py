"""Benchmark: a band capture's replay, bulk decoding against packet by packet (issue 11).

Usage::

    python benchmarks/bulk_replay.py --band movesense|polar|ganglion [--hours 0.5]
                                     [--seed 3] [--repeats 5]

Records a simulated night of the band (``cramp record --simulate ... --no-store`` into a
temporary directory: ``--simulate-band movesense`` or ``ganglion``; for Polar the polar-pair
kit's shank capture, since a Polar on the foot alone is not a night the replay accepts), then
runs, interleaved ``--repeats`` times, ``cramp replay CAPTURE --json - --no-store`` as a whole
child process in two ways: as shipped (bulk decoding) and with the band assembler's
``decode_rows`` taken away (every notification through the one-packet path). Each child is
timed by :func:`run._run_child` (CPU = user + system of the child, wall, peak RSS). Prints the
medians of each, their ratio, and whether the two JSON documents are identical (exit 1 if
not).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from run import _run_child  # the benchmarks' one child-process timer

BANDS = {
    # band: (record options, capture glob, module and class of its assembler)
    "movesense": (["--simulate-band", "movesense"], "*.cramp",
                  ("detector.capture.movesense_source", "MovesenseAssembler")),
    "polar": (["--kit", "polar-pair"], "*shank*.cramp",
              ("detector.capture.polar_source", "PolarAccAssembler")),
    "ganglion": (["--simulate-band", "ganglion"], "*.cramp",
                 ("detector.capture.ganglion_source", "GanglionAssembler")),
}

_PER_PACKET = """
import importlib, sys
cls = getattr(importlib.import_module({module!r}), {name!r})
cls.decode_rows = None  # the replay then takes every record one by one
from detector.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Build the capture, time both replays, print the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--band", choices=sorted(BANDS), required=True)
    p.add_argument("--hours", type=float, default=0.5, help="night length (h, at most 2)")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    record, pattern, (module, name) = BANDS[args.band]
    with tempfile.TemporaryDirectory() as tmp:  # created 0700
        d = Path(tmp)
        subprocess.run([sys.executable, "-m", "detector", "record", "--simulate", *record,
                        "--hours", str(args.hours), "--speed", "2000", "--seed", str(args.seed),
                        "--no-store", "--out", str(d)], check=True, capture_output=True)
        capture = next(d.glob(pattern))
        tail = ["replay", str(capture), "--json", "-", "--no-store"]
        ways = {"bulk": [sys.executable, "-m", "detector", *tail],
                "per_packet": [sys.executable, "-c",
                               _PER_PACKET.format(module=module, name=name), *tail]}
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in ways}
        for _ in range(args.repeats):
            for way, cmd in ways.items():
                r = _run_child(cmd, d / f"{way}.json", d / f"{way}.err")
                if r["code"] != 0:
                    raise SystemExit(f"{way} replay exited with {r['code']}: "
                                     f"{(d / f'{way}.err').read_text()[-400:]}")
                runs[way].append(r)
        same = (d / "bulk.json").read_bytes() == (d / "per_packet.json").read_bytes()
        size = capture.stat().st_size
    med = {k: {m: statistics.median(r[m] for r in v)
               for m in ("cpu_s", "wall_s", "peak_rss_bytes")} for k, v in runs.items()}
    print(f"{args.band} capture, {args.hours:g} h, seed {args.seed}, {size / 2**20:.1f} MiB; "
          f"medians of {args.repeats}")
    for way, m in med.items():
        print(f"  {way:<11} cpu {m['cpu_s']:.3f} s  wall {m['wall_s']:.3f} s  "
              f"peak RSS {m['peak_rss_bytes'] / 2**20:.0f} MiB")
    print(f"  per_packet / bulk: cpu {med['per_packet']['cpu_s'] / med['bulk']['cpu_s']:.2f}x"
          f", wall {med['per_packet']['wall_s'] / med['bulk']['wall_s']:.2f}x; "
          f"JSON identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
