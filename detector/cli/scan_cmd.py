"""``cramp scan``: list the supported bands nearby (LegBand, Polar PMD, Myo)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING

from detector.cli.argtypes import bounded_float

if TYPE_CHECKING:  # bleak is imported when a scan runs
    from detector.ble.scan import FoundBand


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``scan`` subcommand."""
    p = sub.add_parser("scan", help="list supported bands nearby",
                       description="Scan for Bluetooth LE bands this program can read: the "
                                   "LegBand, Polar PMD devices and the Myo armband.")
    p.add_argument("--json", action="store_true", help="print the bands as JSON")
    p.add_argument("--timeout", type=bounded_float(0.0, 600.0, unit="s", lo_open=True),
                   default=5.0, metavar="S", help="seconds to scan (default 5, up to 600)")
    p.add_argument("--simulate", action="store_true",
                   help="scan an in-process simulated LegBand instead of the radio")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Scan and print what was found."""
    bands = asyncio.run(_scan(args))
    if args.json:
        json.dump({"bands": [b.to_dict() for b in bands]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not bands:
        print("no supported band found (is it charged, near, and not connected elsewhere?)")
        return 0
    print(format_bands(bands))
    return 0


def format_bands(bands: list[FoundBand]) -> str:
    """A table of bands: name, address, RSSI, profile."""
    from detector.ble.scan import PROFILE_LABELS

    rows = [f"{'name':<20} {'address':<40} {'RSSI':>5}  profile"]
    for b in bands:
        rows.append(f"{b.name or '-':<20} {b.address:<40} {b.rssi_dbm:>5}  "
                    f"{PROFILE_LABELS.get(b.profile, b.profile)}")
    return "\n".join(rows)


async def _scan(args: argparse.Namespace) -> list[FoundBand]:
    from detector.ble.scan import scan_bands

    if not args.simulate:
        return await scan_bands(timeout_s=args.timeout)
    import numpy as np

    from firmware_sim.firmware import ArrayFeed, ManualClock
    from firmware_sim.stepped_band import SimulatedBand

    quiet = ArrayFeed(emg_uv=np.zeros(2), emg_fs=1000.0, shank_acc_g=np.zeros((2, 3)),
                      shank_acc_fs=50.0, foot_acc_g=np.zeros((2, 3)), foot_acc_fs=50.0)
    band = await SimulatedBand.create(quiet, clock=ManualClock(), rng=np.random.default_rng(0))
    return await scan_bands(timeout_s=min(args.timeout, 0.5), backend=band.scanner_backend)
