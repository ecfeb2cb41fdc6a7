"""``cramp bids``: export a simulated cohort as a BIDS-EMG dataset, or check one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from detector.cli.engine_options import add_engine_options, engine_options_from_args
from detector.errors import CrampInputError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``bids`` subcommand."""
    p = sub.add_parser(
        "bids", help="export a cohort as BIDS-EMG (or check a BIDS-EMG dataset)",
        description="Write a 'cramp simulate --nights' cohort as a BIDS-EMG dataset (EDF+ "
                    "signals, *_emg.json, *_channels.tsv, *_events.tsv with onset, duration, "
                    "trial_type, participants.tsv, dataset_description.json), one task per "
                    "night on Dask, then check it by reading every file back. With --check, "
                    "only check an existing dataset. Exit 1 if a night failed or the check "
                    "found a problem.")
    p.add_argument("cohort", type=Path, nargs="?", metavar="COHORT_DIR",
                   help="folder written by 'cramp simulate --nights'")
    p.add_argument("--out", type=Path, metavar="DIR", help="new folder for the dataset")
    p.add_argument("--check", type=Path, metavar="DIR", help="only check this BIDS dataset")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_engine_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export and/or check; print the problems found."""
    from detector.cohort.bids import export_bids
    from detector.cohort.bids_check import check_bids
    from detector.cohort.engine import Engine

    if args.check is not None:
        if args.cohort is not None or args.out is not None:
            raise CrampInputError("--check", "give either --check DIR or COHORT_DIR --out DIR")
        if not args.check.is_dir():
            raise CrampInputError(str(args.check), "no such folder")
        return _report(check_bids(args.check), args.check)
    if args.cohort is None or args.out is None:
        raise CrampInputError("COHORT_DIR", "give the cohort folder and --out DIR")
    with Engine(engine_options_from_args(args)) as engine:
        summary = export_bids(args.cohort, args.out, engine=engine,
                              progress=not args.no_progress)
    for rec, error in summary.failures:
        print(f"failed: {rec}: {error}", file=sys.stderr)
    print(f"bids: {summary.exported} night(s) exported to {summary.root}")
    status = _report(check_bids(summary.root), summary.root)
    return 1 if summary.failures else status


def _report(problems: list[str], root: Path) -> int:
    for line in problems:
        print(f"BIDS problem: {line}", file=sys.stderr)
    n = len(list(root.glob("sub-*/ses-*/emg/*_emg.*"))) // 2
    print(f"BIDS check: {'OK' if not problems else f'{len(problems)} problem(s)'} "
          f"({n} recording(s) read back)")
    return 1 if problems else 0
