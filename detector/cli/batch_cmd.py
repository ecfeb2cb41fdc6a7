"""``cramp batch``: replay a cohort of recordings on Dask distributed, resumably."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from detector.cli.engine_options import add_engine_options, engine_options_from_args
from detector.cli.options import add_recording_options, channel_map_from_args, config_from_args


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``batch`` subcommand."""
    p = sub.add_parser(
        "batch", help="replay many recordings in parallel (Dask), resumable",
        description="Replay recordings (files, folders, glob patterns, list files) as one "
                    "task per night on Dask distributed. Each night's result is kept under "
                    "OUT/nights/, keyed by the recording's content hash and the parameter "
                    "set, so a rerun skips what is done and a changed parameter set reruns. "
                    "Collates OUT/nights.parquet|csv and OUT/episodes.parquet|csv; failures "
                    "go to OUT/failures.csv. Exit 0 if every night succeeded, 1 if any "
                    "failed. Nothing goes to the episode store.")
    p.add_argument("files", nargs="*", metavar="PATH",
                   help="recordings, folders (searched recursively) or glob patterns")
    p.add_argument("--list", action="append", default=[], metavar="FILE", dest="list_files",
                   help="text file naming one recording per line (repeatable)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="output directory (results, tables)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_engine_options(p)
    add_recording_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the batch; print failures and a summary line; 1 if any night failed."""
    from detector.cohort.batch import pin_timezone, run_batch
    from detector.cohort.engine import Engine
    from detector.cohort.inputs import expand_inputs
    from detector.cohort.night_task import ReplayOptions

    config = pin_timezone(config_from_args(args))
    options = ReplayOptions(channel_map=channel_map_from_args(args), leg=args.leg,
                            time_unit=args.time_unit)
    engine_options = engine_options_from_args(args)
    paths = expand_inputs(args.files, list_files=args.list_files)
    with Engine(engine_options) as engine:
        summary = run_batch(paths, out_dir=args.out, config=config, options=options,
                            engine=engine, progress=not args.no_progress)
    for path, error in summary.failures:
        print(f"failed: {path}: {error}", file=sys.stderr)
    print(summary.line())
    print(f"tables: {', '.join(str(p) for p in summary.tables)}")
    return 1 if summary.failures else 0
