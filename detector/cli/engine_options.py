"""Options shared by the subcommands that run on the Dask engine (batch, tune, simulate)."""

from __future__ import annotations

import argparse

from detector.errors import CrampInputError


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--scheduler``, ``--workers`` and ``--memory-per-worker`` to ``parser``."""
    g = parser.add_argument_group("where it runs (Dask distributed)")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="an existing Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, else a "
                        "local cluster on this machine)")
    g.add_argument("--workers", type=int, metavar="N",
                   help="worker processes of the local cluster (default: one per CPU)")
    g.add_argument("--memory-per-worker", metavar="SIZE",
                   help="memory limit of each local worker, e.g. 2GiB (default: the machine's "
                        "memory shared out)")


def engine_options_from_args(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The :class:`~detector.cohort.engine.EngineOptions` the options ask for."""
    from detector.cohort.engine import EngineOptions

    if args.workers is not None and args.workers < 1:
        raise CrampInputError("--workers", f"expected at least 1, got {args.workers}")
    if args.memory_per_worker is not None:
        from dask.utils import parse_bytes

        try:
            if parse_bytes(args.memory_per_worker) <= 0:
                raise ValueError(args.memory_per_worker)
        except ValueError:
            raise CrampInputError("--memory-per-worker", "expected a size like 2GiB or 500MB, "
                                  f"got {args.memory_per_worker!r}") from None
    return EngineOptions(scheduler=args.scheduler, workers=args.workers,
                         memory_per_worker=args.memory_per_worker)
