"""``cramp export``: stored episodes as an events table (CSV, JSON) or EDF+ with signals."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from detector.cli.report_cmd import add_store_options
from detector.cli.store_options import connect_for_reading
from detector.errors import CrampInputError
from detector.export import events_csv, events_json, export_edf, write_text_file
from detector.store import load_nights_on, select_night_dates


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``export`` subcommand."""
    p = sub.add_parser(
        "export", help="export stored episodes (CSV, JSON) or a night with signals (EDF+)",
        description="Export episodes as an events table (onset and duration in seconds "
                    "first) in CSV or JSON, every stored night by default; or one night's "
                    "raw signals with the episodes as annotations in EDF+ (the latest night "
                    "by default; the raw recording must still be where it was analysed).")
    add_store_options(p)
    p.add_argument("--format", required=True, choices=("csv", "json", "edf"),
                   help="output format")
    p.add_argument("--out", required=True, metavar="PATH|-", type=Path,
                   help="file to write ('-' = standard output)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the export; return 0."""
    conn = connect_for_reading(args)
    try:
        dates = select_night_dates(conn, night=args.night, last=args.last,
                                   default_last=1 if args.format == "edf" else None)
        nights = [n for d in dates for n in load_nights_on(conn, d, with_trace=False)]
    finally:
        conn.close()
    out: Path = args.out
    to_stdout = str(out) == "-"
    if to_stdout and args.format != "edf":
        text = events_csv(nights) if args.format == "csv" else events_json(nights)
        sys.stdout.write(text)
        return 0
    if to_stdout:
        if len(nights) != 1:
            raise CrampInputError("--out", f"'-' writes one EDF+ file; {len(nights)} recordings "
                                           "are selected (choose one with --night, or give a "
                                           "file name)")
        export_edf(nights[0], out, force=False)
        return 0
    if args.format == "csv":
        written = [write_text_file(out, events_csv(nights), force=args.force)]
    elif args.format == "json":
        written = [write_text_file(out, events_json(nights), force=args.force)]
    else:
        if out.suffix.lower() != ".edf":
            raise CrampInputError(str(out), "an EDF+ export needs a file name ending in .edf")
        if len(nights) == 1:
            targets = [out]
        else:  # one EDF+ file per recording
            targets = [out.with_name(f"{out.stem}-{n.night_date}-{n.leg}-{n.night_id}.edf")
                       for n in nights]
        clash = [t for t in targets if t.exists()]
        if clash and not args.force:
            raise CrampInputError(str(clash[0]), "already exists; choose another name or "
                                                 "pass --force")
        written = [export_edf(n, t, force=args.force)
                   for n, t in zip(nights, targets, strict=True)]
    for path in written:
        print(f"wrote {path}")
    return 0
