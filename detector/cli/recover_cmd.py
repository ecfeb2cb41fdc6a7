"""``cramp recover``: check a capture after a crash and repair it."""

from __future__ import annotations

import argparse
import json
import sys

from detector.safe_files import check_input_file


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``recover`` subcommand."""
    p = sub.add_parser(
        "recover", help="check and repair a capture file after a crash",
        description="Check a capture file record by record. If anything is damaged, rewrite "
                    "it with every intact record (the original is kept as FILE.bak) and "
                    "print what was kept and what was lost.")
    p.add_argument("path", metavar="PATH", help="capture file")
    p.add_argument("--check", action="store_true",
                   help="only check; exit with status 1 if the capture is damaged")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check (and unless ``--check``, repair) one capture; print the report."""
    from detector.capture.recover import format_report, recover_capture  # numpy: on use

    check_input_file(args.path, what="capture file")
    report = recover_capture(args.path, repair=not args.check)
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
    else:
        print(format_report(report))
    return 1 if args.check and not report.damage.ok else 0
