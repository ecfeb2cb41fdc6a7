"""Entry point of the ``cramp`` console script.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds a parser
whose ``func`` default is ``run(args) -> int``. Errors the user can cause are
:class:`~detector.errors.CrampError`: printed as one line on stderr, exit code 2, no traceback.

Start-up is kept short: only the chosen subcommand's module is imported. The others appear in
``cramp --help`` by the name and one-line help listed in :data:`SUBCOMMAND_HELP` (a module
missing from that table is imported to register itself, so a new subcommand always works).
Subcommand modules import their heavy dependencies (scipy, pandas, bleak, ...) inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
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
    "detector.cli.batch_cmd",
    "detector.cli.tune_cmd",
    "detector.cli.bids_cmd",
)

SUBCOMMAND_HELP: dict[str, str] = {
    "replay": "detect cramp episodes in recording files",
    "eval": "score detected episodes against labelled cramps",
    "report": "make the morning report of stored nights",
    "export": "export stored episodes (CSV, JSON) or a night with signals (EDF+)",
    "simulate": "write a simulated night with its truth table",
    "recover": "check and repair a capture file after a crash",
    "diary": "record or list the evening diary",
    "profile": "show or set age, pregnancy and known conditions",
    "causes": "what may be behind the cramps, and when to see a clinician",
    "scan": "list supported bands nearby",
    "record": "record a night from a band, detecting cramps live",
    "batch": "replay many recordings in parallel (Dask), resumable",
    "tune": "search detector parameters on labelled nights (Dask)",
    "bids": "export a cohort as BIDS-EMG (or check a BIDS-EMG dataset)",
}
"""One-line help of each subcommand, shown by ``cramp --help`` without importing its module
(must equal the ``help`` its ``register`` gives; a test checks)."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (with a pointer to ``--help``)."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE (see PROG --help)`` on stderr and exit with code 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def command_name(module: str) -> str:
    """The subcommand a module provides: ``detector.cli.replay_cmd`` -> ``replay``."""
    return module.rsplit(".", 1)[-1].removesuffix("_cmd")


def _chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option)."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the argument parser.

    Parameters
    ----------
    argv : sequence of str, optional
        The command line about to be parsed. When given, only the subcommand it names is
        imported and fully registered; the others are listed by name and help. When omitted,
        every subcommand is registered in full.
    """
    parser = OneLineParser(
        prog="cramp",
        description="Night-cramp detector: find calf cramps in leg-band recordings.",
    )
    parser.add_argument("--version", action="version", version=f"cramp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = None if argv is None else _chosen_command(argv)
    for name in SUBCOMMAND_MODULES:
        command = command_name(name)
        help_text = SUBCOMMAND_HELP.get(command)
        if argv is not None and command != chosen and help_text is not None:
            if importlib.util.find_spec(name) is not None:  # listed, imported only when chosen
                sub.add_parser(command, help=help_text, add_help=False)
            continue
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
    args_in = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_in)
    try:
        args = parser.parse_args(args_in)
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
