"""Entry point of the ``cramp`` console script.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds a parser
whose ``func`` default is ``run(args) -> int``. Errors the user can cause are
:class:`~detector.errors.CrampError`: printed as one line on stderr, exit code 2, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from detector import __version__
from detector.errors import CrampError

SUBCOMMAND_MODULES: tuple[str, ...] = (
    "detector.cli.replay_cmd",
    "detector.cli.eval_cmd",
    "detector.cli.report_cmd",
    "detector.cli.export_cmd",
    "detector.cli.simulate_cmd",
    "detector.cli.recover_cmd",
    "detector.cli.diary_cmd",
    "detector.cli.profile_cmd",
    "detector.cli.causes_cmd",
    "detector.cli.scan_cmd",
    "detector.cli.record_cmd",
)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (with a pointer to ``--help``)."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE (see PROG --help)`` on stderr and exit with code 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available subcommand."""
    parser = OneLineParser(
        prog="cramp",
        description="Night-cramp detector: find calf cramps in leg-band recordings.",
    )
    parser.add_argument("--version", action="version", version=f"cramp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # subcommand not built in this checkout
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cramp`` command; return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version (0) or a usage error (2, one line printed)
        return stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 2
    try:
        return int(args.func(args))
    except CrampError as exc:
        print(f"cramp: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cramp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # the machine refused (disk full, permission, read-only)
        where = exc.filename if exc.filename is not None else "cramp"
        print(f"cramp: error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
