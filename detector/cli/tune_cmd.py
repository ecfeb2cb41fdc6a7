"""``cramp tune``: search detector parameters on labelled nights, on Dask, held-out scored."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from detector.cli.engine_options import add_engine_options, engine_options_from_args
from detector.cli.options import add_recording_options, channel_map_from_args, config_from_args
from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.evaluation import DEFAULT_MIN_OVERLAP_S, DEFAULT_ONSET_TOLERANCE_S


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``tune`` subcommand."""
    p = sub.add_parser(
        "tune", help="search detector parameters on labelled nights (Dask)",
        description="Replay labelled nights under every parameter set of a search TOML "
                    "(grid or seeded random; see docs/cohorts.md), one task per (set x "
                    "night); score each set against the labels (F1, precision, recall, onset "
                    "and duration error, false episodes per night); rank by F1 on the tuning "
                    "nights and score the best set on held-out nights (--holdout) or by "
                    "cross-validation over nights (--folds). Writes OUT/tune.csv|parquet and "
                    "OUT/best.toml (ready for --config). Labels: <stem>.truth.tsv, "
                    "<stem>.events.tsv, <stem>.truth.csv beside each recording, or its EDF+ "
                    "annotations. Nothing goes to the episode store.")
    p.add_argument("files", nargs="+", metavar="PATH",
                   help="labelled recordings, folders or glob patterns")
    p.add_argument("--search", required=True, metavar="TOML", help="the search space")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    split = p.add_mutually_exclusive_group()
    split.add_argument("--holdout", type=float, default=0.3, metavar="SHARE",
                       help="share of nights held out from tuning (default 0.3; 0 = none)")
    split.add_argument("--folds", type=int, metavar="K",
                       help="cross-validate over nights in K folds instead")
    p.add_argument("--top", type=int, default=10, metavar="N", help="rows printed (default 10)")
    p.add_argument("--label-filter", default="cramp", metavar="TEXT",
                   help="labels whose description contains TEXT are cramps (default: cramp)")
    p.add_argument("--min-overlap-s", type=float, default=DEFAULT_MIN_OVERLAP_S, metavar="S",
                   help=f"overlap pairing a detection with a label (default "
                        f"{DEFAULT_MIN_OVERLAP_S:g})")
    p.add_argument("--onset-tolerance-s", type=float, default=DEFAULT_ONSET_TOLERANCE_S,
                   metavar="S", help=f"onset difference pairing them without overlap (default "
                                     f"{DEFAULT_ONSET_TOLERANCE_S:g})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_engine_options(p)
    add_recording_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Search, print the table and the verdict on held-out nights; 1 if a night failed."""
    from detector.cohort.batch import pin_timezone
    from detector.cohort.engine import Engine
    from detector.cohort.inputs import expand_inputs
    from detector.cohort.night_task import ReplayOptions
    from detector.cohort.search import config_toml, load_search, parameter_sets
    from detector.cohort.tables import write_table
    from detector.cohort.tune import TUNE_COLUMNS, run_tune, table_rows
    from detector.safe_files import write_private_text

    _check_args(args)
    space = load_search(args.search)
    base = pin_timezone(config_from_args(args))
    sets, skipped = parameter_sets(space, base)
    for line in skipped:
        print(f"skipped set: {line}", file=sys.stderr)
    options = ReplayOptions(channel_map=channel_map_from_args(args), leg=args.leg,
                            time_unit=args.time_unit)
    out_dir = args.out.absolute()
    paths = [p for p in expand_inputs(args.files) if not Path(p).is_relative_to(out_dir)]
    nights = _labelled_nights(paths, args.label_filter)
    with Engine(engine_options_from_args(args)) as engine:
        res = run_tune(nights, sets, out_dir=args.out, options=options, engine=engine,
                       holdout=0.0 if args.folds else args.holdout, folds=args.folds or 0,
                       seed=space.seed, min_overlap_s=args.min_overlap_s,
                       onset_tolerance_s=args.onset_tolerance_s,
                       progress=not args.no_progress)
    rows = table_rows(res)
    written = write_table(rows, TUNE_COLUMNS, stem=args.out / "tune")
    defaults = DetectorConfig().replace(in_bed__timezone=base.in_bed.timezone,
                                        in_bed__night_window=base.in_bed.night_window)
    verdict = _verdict(res, defaults_set=next(
        (i for i, (_, cfg) in enumerate(res.sets) if cfg == defaults), None))
    header = (f"cramp tune: best of {len(sets)} parameter sets ({space.method} search, "
              f"{args.search}) on {res.n_tuning_nights} tuning nights.\n{verdict}")
    best_toml = args.out / "best.toml"
    # best.toml belongs to this search's output folder: a rerun there refreshes it
    write_private_text(best_toml, config_toml(res.sets[res.best][1], reference=base,
                                              header=header), force=True)
    for path, error in res.failures:
        print(f"failed: {path}: {error}", file=sys.stderr)
    print(_format(rows[: max(args.top, 1)], heldout=res.heldout is not None))
    print(f"tune: {len(sets)} set(s) x {res.n_tuning_nights + res.n_heldout_nights} night(s): "
          f"{res.replayed} replayed, {res.reused} reused in {res.elapsed_s:.1f} s")
    print(verdict)
    print(f"wrote {', '.join(str(p) for p in [*written, best_toml])}")
    return 1 if res.failures else 0


def _check_args(args: argparse.Namespace) -> None:
    if args.folds is not None and args.folds < 2:
        raise CrampInputError("--folds", f"expected at least 2, got {args.folds}")
    if not (math.isfinite(args.holdout) and 0 <= args.holdout < 1):
        raise CrampInputError("--holdout", f"expected a share in [0, 1), got {args.holdout:g}")
    for option, value in (("--min-overlap-s", args.min_overlap_s),
                          ("--onset-tolerance-s", args.onset_tolerance_s)):
        if not (math.isfinite(value) and value >= 0):
            raise CrampInputError(option, f"expected seconds >= 0, got {value:g}")


def _labelled_nights(paths: list[str], label_filter: str) -> list[Any]:
    from detector.cli.eval_cmd import ANNOTATED_SUFFIXES, SIBLING_LABEL_SUFFIXES
    from detector.cohort.tune import LabelledNight
    from detector.evaluation_types import Interval
    from detector.io.labels import read_labels

    nights = []
    for path in paths:
        p = Path(path)
        stem = p.name.split(".", 1)[0]
        found = next((p.with_name(stem + s) for s in SIBLING_LABEL_SUFFIXES
                      if p.with_name(stem + s).is_file()), None)
        if found is None and p.suffix.lower() in ANNOTATED_SUFFIXES:
            found = p
        if found is None:
            raise CrampInputError(path, "no labels found (<stem>.truth.tsv, .events.tsv, "
                                        ".truth.csv or EDF+ annotations)")
        truth = read_labels(found, description_filter=label_filter)
        nights.append(LabelledNight(path=path, truth=tuple(Interval(e.onset_s, e.duration_s)
                                                           for e in truth)))
    return nights


def _verdict(res: Any, *, defaults_set: int | None) -> str:
    """What the search found, on untuned nights, against the starting set (and the defaults).

    ``defaults_set`` is the index of the set equal to the detector defaults (the night window
    and time zone given on the command line aside), when the search holds one.
    """
    line = _verdict_start(res)
    d = defaults_set
    if d is None or d == 0 or res.folds or res.heldout is None:
        return line

    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    h = res.heldout
    cmp = "at least as good as" if _ge(h[res.best].f1, h[d].f1) else "WORSE than"
    return (line + f"\nheld-out nights: best set F1 {f(h[res.best].f1)} is {cmp} the detector "
            f"defaults' (set #{d}) F1 {f(h[d].f1)}")


def _verdict_start(res: Any) -> str:
    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    best, start = res.best, 0
    t = res.tuning
    line = (f"tuning nights: best set #{best} F1 {f(t[best].f1)} vs starting set F1 "
            f"{f(t[start].f1)} (this figure is tuned; do not quote it)")
    if res.folds:
        b, s = res.cv_best, res.cv_start
        cmp = "at least as good as" if _ge(b.f1, s.f1) else "WORSE than"
        return (line + f"\ncross-validated over {res.folds} folds of nights: tuned F1 "
                f"{f(b.f1)} (P {f(b.precision)}, R {f(b.recall)}, {b.false_per_night:.2f} false "
                f"per night) is {cmp} the starting set's F1 {f(s.f1)}")
    if res.heldout is None:
        return line + "\nno nights held out: no untuned figure (use --holdout or --folds)"
    h = res.heldout
    cmp = "at least as good as" if _ge(h[best].f1, h[start].f1) else "WORSE than"
    return (line + f"\nheld-out nights ({res.n_heldout_nights}): best set F1 {f(h[best].f1)} "
            f"(P {f(h[best].precision)}, R {f(h[best].recall)}, "
            f"{h[best].false_per_night:.2f} false per night) is {cmp} the starting set's F1 "
            f"{f(h[start].f1)} (P {f(h[start].precision)}, R {f(h[start].recall)}, "
            f"{h[start].false_per_night:.2f} false per night)")


def _ge(a: float | None, b: float | None) -> bool:
    return (a if a is not None else -1.0) >= (b if b is not None else -1.0) - 1e-12


def _format(rows: list[dict[str, Any]], *, heldout: bool) -> str:
    def n(x: float | None, d: int) -> str:
        return "-" if x is None else f"{x:.{d}f}"

    head = " rank  set     F1   prec  recall  onset s  dur s  false/night"
    head += "  held-out F1" if heldout else ""
    lines = [head + "  parameters", "-" * (len(head) + 12)]
    for r in rows:
        line = (f"{r['rank']:>5} {r['set']:>4} {n(r['f1'], 3):>6} {n(r['precision'], 3):>6} "
                f"{n(r['recall'], 3):>7} {n(r['onset_mae_s'], 1):>8} "
                f"{n(r['duration_mae_s'], 1):>6} {r['false_per_night']:>12.2f}")
        if heldout:
            line += f" {n(r['heldout_f1'], 3):>12}"
        lines.append(line + "  " + r["parameters"])
    return "\n".join(lines)
