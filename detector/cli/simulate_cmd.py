"""``cramp simulate``: a simulated night recorded through the band's packet path."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from detector.cli.argtypes import SEED, bounded_float, bounded_int, file_stem
from detector.cli.engine_options import add_engine_options, engine_options_from_args
from detector.errors import CrampInputError
from detector.safe_files import ensure_private_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``simulate`` subcommand."""
    p = sub.add_parser("simulate", help="write a simulated night with its truth table",
                       description="Simulate a night of a leg band: the physiology of a night, "
                                   "sampled and packed by the band's firmware model, written as "
                                   "a crash-safe capture of the band's notifications (what "
                                   "`cramp record` writes) or as EDF+, with a truth table "
                                   "beside it. With --nights N, a labelled cohort of N nights "
                                   "(one seed and scenario each) simulated in parallel on Dask "
                                   "and listed in DIR/cohort.json.")
    p.add_argument("--hours", type=bounded_float(0.01, 24.0, unit="h"),
                   required=True, help="length of the night (h, up to 24)")
    p.add_argument("--seed", type=SEED, required=True, help="seed: same seed, same night "
                   "(with --nights: same seed, same cohort)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    p.add_argument("--name", metavar="STEM", type=file_stem,
                   help="file name stem (default sim-seedS); a plain name, no folders")
    p.add_argument("--cramps", type=bounded_int(0, 100), metavar="N",
                   help="exact number of cramps (0-100)")
    p.add_argument("--fs-emg", type=int, choices=(500, 1000, 2000), default=1000,
                   help="EMG rate (Hz)")
    p.add_argument("--fs-acc", type=int, choices=(25, 50, 100), default=100,
                   help="accelerometer rate (Hz)")
    p.add_argument("--mtu", type=int, choices=(23, 247), default=247, help="ATT MTU")
    p.add_argument("--format", choices=("capture", "edf"), default="capture",
                   help="capture (.cramp, raw notifications) or edf (decoded, EDF+)")
    c = p.add_argument_group("cohorts")
    c.add_argument("--nights", type=int, metavar="N",
                   help="simulate a cohort of N nights in parallel (resumable)")
    c.add_argument("--participants", type=int, metavar="P",
                   help="simulated sleepers the nights are dealt to (default: one per night)")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_engine_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Simulate and write; print what was written."""
    if args.nights is not None:
        return _run_cohort(args)
    if args.participants is not None:
        raise CrampInputError("--participants", "only with --nights")
    from firmware_sim.simulate import simulate_night

    t0 = time.perf_counter()
    ensure_private_dir(args.out, tighten=False)
    files = simulate_night(args.out, hours=args.hours, seed=args.seed, file_format=args.format,
                           fs_emg=args.fs_emg, fs_acc=args.fs_acc, att_mtu=args.mtu,
                           n_cramps=args.cramps, stem=args.name)
    print(f"wrote {files.recording} ({files.packets} notifications decoded, {files.n_cramps} "
          f"cramp(s) in the truth table) in {time.perf_counter() - t0:.1f} s")
    print(f"truth table: {files.truth}")
    return 0


def _run_cohort(args: argparse.Namespace) -> int:
    from detector.cohort.engine import Engine
    from detector.cohort.simulate import CohortSpec, simulate_cohort

    if args.name is not None:
        raise CrampInputError("--name", "not with --nights (cohort nights are named "
                                        "sub-P_ses-S_night)")
    if not args.hours > 0:
        raise CrampInputError("--hours", f"expected a positive number of hours, got "
                                         f"{args.hours}")
    spec = CohortSpec(nights=args.nights, hours=args.hours, seed=args.seed,
                      participants=args.participants or args.nights,
                      file_format=args.format, fs_emg=args.fs_emg, fs_acc=args.fs_acc,
                      att_mtu=args.mtu, n_cramps=args.cramps)
    with Engine(engine_options_from_args(args)) as engine:
        summary = simulate_cohort(args.out, spec, engine=engine,
                                  progress=not args.no_progress)
    for stem, error in summary.failures:
        print(f"failed: {stem}: {error}", file=sys.stderr)
    print(f"cohort: {summary.simulated} night(s) simulated, {summary.already_there} already "
          f"there, {len(summary.failures)} failed in {summary.elapsed_s:.1f} s; "
          f"manifest {summary.manifest}")
    return 1 if summary.failures else 0
