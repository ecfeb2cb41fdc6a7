"""Fault-injection soak benchmark: a long simulated night through the real BleakClient.

Faults at every BLE call (errors, foreign cancellations, hangs, links dropped under a call),
malformed notifications, radio outages and host stalls of seconds to minutes; then an exact
account of every sample (see :mod:`firmware_sim.soak`). Prints the injected-fault counts, what
was survived, what was lost (and the longest stretch the host went without data), and the
wall time as a ratio of the night's length.

Usage::

    .venv/bin/python benchmarks/soak.py --hours 8 --seed 1
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path

from firmware_sim.soak import check_soak, soak_night


def main(argv: list[str] | None = None) -> int:
    """Run one soak night and print its account; exit 1 if any check fails."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=8.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fault-p", type=float, default=0.05, help="fault probability per BLE call")
    p.add_argument("--malformed-p", type=float, default=0.002)
    p.add_argument("--outages-per-hour", type=float, default=12.0)
    p.add_argument("--stalls-per-hour", type=float, default=6.0)
    p.add_argument("--longest-stall-s", type=float, default=180.0)
    p.add_argument("--step-s", type=float, default=1.0)
    args = p.parse_args(argv)
    logging.getLogger("bumble").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        night = asyncio.run(soak_night(
            Path(tmp), duration_s=args.hours * 3600.0, seed=args.seed,
            call_fault_p=args.fault_p, malformed_p=args.malformed_p,
            outages_per_hour=args.outages_per_hour, stalls_per_hour=args.stalls_per_hour,
            longest_stall_s=args.longest_stall_s, step_s=args.step_s))
        s = night.summary
        print(f"night: {args.hours:g} h, seed {args.seed}: ended by {s.reason}; "
              f"{s.connections} connections, {s.dropouts} dropouts")
        print(f"wall time {night.wall_s:.0f} s = {night.wall_s / (args.hours * 3600):.4f} x "
              "the night")
        print(f"injected: {sum(night.faults.values())} faults")
        for key, n in night.faults.items():
            print(f"  {key:<32} {n}")
        print(f"host stalls: {len(night.stalls)} ({sum(night.stalls):.0f} s, longest "
              f"{max(night.stalls, default=0):.0f} s); radio outages: {len(night.outages)} "
              f"(longest {max((d for _, d in night.outages), default=0):.0f} s)")
        print(f"survived and logged: {night.survived}; corrupt packets refused: "
              f"{s.corrupt_packets}")
        try:
            account = check_soak(night)
        except AssertionError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        print(f"longest stretch without data at the host: {account.longest_silence_s:.0f} s")
        for role in account.taken:
            print(f"  {role:<10} taken {account.taken[role]:>10,}  delivered "
                  f"{account.delivered[role]:>10,}  lost in gaps {account.lost[role]:>8,}  "
                  f"({len(account.gaps[role])} gaps, exact); not delivered by the morning "
                  f"{account.taken[role] - account.delivered[role] - account.lost[role]:,}")
        print("capture replays to the same samples and gaps: yes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
