"""``cramp report``: the morning report as one HTML file, or a plain-text summary."""

from __future__ import annotations

import argparse
import sys
import webbrowser
from datetime import UTC, datetime
from pathlib import Path

from detector.cli.store_options import (
    add_store_choice,
    connect_for_reading,
    db_path_from_args,
    one_night_per_recording,
    store_kind,
)
from detector.errors import CrampInputError
from detector.safe_files import check_output_path
from detector.store.guard import damaged_store_errors


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``report`` subcommand."""
    p = sub.add_parser(
        "report", help="make the morning report of stored nights",
        description="Write one self-contained HTML report (no network needed to view it) of "
                    "the latest night, a chosen night or the last N nights; or print a plain "
                    "summary with --text.")
    add_store_options(p)
    p.add_argument("--out", metavar="FILE.html",
                   help="report file (default: cramp-report-YYYY-MM-DD.html here; -2, -3... "
                        "added rather than replacing an earlier report)")
    p.add_argument("--force", action="store_true", help="replace an existing report file")
    p.add_argument("--open", action="store_true", help="open the report in the web browser")
    p.add_argument("--text", action="store_true",
                   help="print a plain summary instead (also writes HTML if --out is given)")
    p.add_argument("--tz", metavar="ZONE",
                   help="IANA time zone for the times shown (default: the zone the nights "
                        "were stored with, else this computer's)")
    p.set_defaults(func=run)


def add_store_options(p: argparse.ArgumentParser) -> None:
    """Add ``--db`` / ``--store`` and the ``--night`` / ``--last`` choice."""
    add_store_choice(p, default="personal")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--night", metavar="YYYY-MM-DD",
                       help="the night that began on this evening")
    which.add_argument("--last", metavar="N", type=int, help="the N most recent nights")


MAX_LAST_NIGHTS = 100_000
"""Largest ``--last`` (nights; about 270 years, beyond any store)."""


def check_store_options(args: argparse.Namespace) -> None:
    """Check ``--last`` before the store is opened (``--last 0`` is the store's own error)."""
    if args.last is not None and args.last > MAX_LAST_NIGHTS:
        raise CrampInputError("--last", f"expected a number of nights from 1 to "
                                        f"{MAX_LAST_NIGHTS}, got {args.last}")


def run(args: argparse.Namespace) -> int:
    """Build the report; return 0."""
    from detector.export import write_new_report, write_text_file  # loaded when it runs
    from detector.report import collect_report, render_html, render_text
    from detector.store import resolve_zone, select_night_dates
    from detector.store.night_queries import stored_zone

    check_store_options(args)
    if args.out:
        check_output_path(args.out, force=args.force)  # before any work
    conn = connect_for_reading(args)
    one = one_night_per_recording(args)
    kind = store_kind(args)
    try:
        with damaged_store_errors(db_path_from_args(args)):
            dates = select_night_dates(conn, night=args.night, last=args.last)
            zone_name = args.tz if args.tz is not None else stored_zone(conn, dates)
            local = resolve_zone(zone_name, where="--tz")
            now = datetime.now(UTC)
            if args.text:
                data = collect_report(conn, dates, local=local, generated_utc=now, with_trace=False,
                                      one_per_recording=one, store_kind=kind)
                sys.stdout.write(render_text(data))
            html = None
            if not args.text or args.out or args.open:
                html = render_html(collect_report(conn, dates, local=local, generated_utc=now,
                                                  one_per_recording=one, store_kind=kind))
    finally:
        conn.close()
    if html is None:
        return 0
    if args.out:
        out = write_text_file(Path(args.out), html, force=args.force)
    else:  # never replaces an earlier report: -2, -3... when the name is taken
        span = (f"{min(dates)}" if len(dates) == 1 else f"{min(dates)}_to_{max(dates)}")
        stem = f"cramp-report-{span}"
        if args.force:
            out = write_text_file(Path.cwd() / f"{stem}.html", html, force=True)
        else:
            out = write_new_report(Path.cwd(), stem, html)
    print(f"wrote {out}", file=sys.stderr if args.text else sys.stdout)
    if args.open:
        webbrowser.open(out.resolve().as_uri())
    return 0
