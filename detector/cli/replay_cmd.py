"""``cramp replay``: run recordings through the detector and list their episodes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detector.cli.options import add_recording_options, channel_map_from_args, config_from_args
from detector.cli.store_options import add_store_choice, db_path_from_args
from detector.errors import CrampInputError
from detector.safe_files import (
    check_input_file,
    check_output_path,
    file_sha256,
    is_stdout,
    write_output_text,
)

if TYPE_CHECKING:  # the pipeline (numpy, scipy) is imported when a replay runs, not at start-up
    from detector.config import DetectorConfig
    from detector.pipeline.result import NightResult


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``replay`` subcommand."""
    p = sub.add_parser("replay", help="detect cramp episodes in recording files",
                       description="Replay recordings (raw captures, EDF, EDF+, BDF, CSV) "
                                   "through the detector and print their cramp episodes.")
    p.add_argument("files", nargs="+", metavar="FILE", help="recording file(s)")
    p.add_argument("--json", metavar="PATH|-", help="write results as JSON ('-' = stdout only)")
    p.add_argument("--force", action="store_true", help="replace an existing --json file")
    store = p.add_argument_group(
        "where the nights go", "Replays go to the replays store, kept apart from your own "
        "nights; --store personal (or --db) when the files are nights of yours.")
    add_store_choice(store, default="replays", verb="write")
    store.add_argument("--no-store", action="store_true",
                       help="do not write the nights to any episode store")
    p.add_argument("--threads", type=int, choices=(1, 2), default=None,
                   help="2: condition the EMG and foot channels on a second thread beside the "
                        "rest; 1: one thread. Default: 2 when this process may use two or more "
                        "CPUs and one of them is idle (by the load average). The result is the "
                        "same either way")
    add_recording_options(p)
    p.set_defaults(func=run)


BLAS_THREADS_ENV = "OPENBLAS_NUM_THREADS"
"""How many threads numpy's OpenBLAS starts when numpy is imported (read once, at that import)."""


def one_blas_thread() -> None:
    """Have numpy's OpenBLAS start no thread of its own, unless the user chose a number.

    By default OpenBLAS starts a thread per CPU when numpy is imported: about 0.04 s of CPU on
    two CPUs, a fifth of a floor (see ``benchmarks/run.py``), taken from a replay's own second
    thread. A replay's linear algebra is small (the mains fit's pseudo-inverse of a 100 x 10
    basis, dot products of a few thousand values): OpenBLAS runs it on one thread either way.
    Does nothing once numpy is loaded.
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault(BLAS_THREADS_ENV, "1")


def run(args: argparse.Namespace) -> int:
    """Replay each file; print a table or write JSON."""
    one_blas_thread()  # before numpy is imported (by the pipeline, next)
    from detector.pipeline.night_window import resolve_timezone
    from detector.replay import default_threads, replay_path

    if args.no_store and (args.db is not None or args.store is not None):
        raise CrampInputError("--no-store", "cannot be combined with --db or --store")
    config = config_from_args(args)
    channel_map = channel_map_from_args(args)
    to_stdout = args.json is not None and is_stdout(args.json)
    for path in args.files:  # every input and output checked before any work starts
        check_input_file(path, what="file", where=Path(path).name)
    if args.json is not None and not to_stdout:
        check_output_path(args.json, force=args.force)
    results = [
        replay_path(path, config=config, channel_map=channel_map, leg=args.leg,
                    progress=not to_stdout, time_unit=args.time_unit,
                    threads=args.threads or default_threads())
        for path in args.files
    ]
    undated = [r for r in results if is_undated(r.info.start_utc)]
    for r in undated:
        print(f"cramp: {r.info.path}: no start time in the file, so times are counted from "
              f"the start of the recording and it is not stored; give --start ISO-TIME to "
              f"date it", file=sys.stderr)
    if not args.no_store:
        dated = [r for r in results if r not in undated]
        if dated:
            _store(dated, args, config)
    if args.json:
        doc = {"recordings": [r.to_dict() for r in results]}
        text = json.dumps(doc, indent=2, allow_nan=False) + "\n"
        write_output_text(args.json, text, force=args.force)
        if to_stdout:
            return 0
        print(f"wrote {args.json}", file=sys.stderr)
    tz = resolve_timezone(config.in_bed.timezone)
    for r in results:
        print(format_result(r, tz=tz))
    return 0


def _store(results: list[NightResult], args: argparse.Namespace,
           config: DetectorConfig) -> None:
    """Save each night to the episode store (same recording again = same night, re-tuned)."""
    from detector.store import save_night

    db = db_path_from_args(args)
    for r in results:
        save_night(r, db_path=db, recording_sha256=file_sha256(r.info.path),
                   timezone=config.in_bed.timezone)
    n = len(results)
    kind = args.store or ("replays" if args.db is None else None)
    what = f"the {kind} store ({db})" if kind else str(db)
    see = f"; `cramp report --store {kind}` shows them" if kind and kind != "personal" else ""
    print(f"stored {n} recording{'s' if n != 1 else ''} in {what}{see}", file=sys.stderr)


UNDATED_BEFORE = datetime(1980, 1, 1, tzinfo=UTC)
"""A recording said to start before this has no real start time (a table without dates)."""


def is_undated(start_utc: datetime) -> bool:
    """Whether a recording start is the placeholder of a file without a start time."""
    return start_utc < UNDATED_BEFORE


def format_result(result: NightResult, *, tz: tzinfo) -> str:
    """A plain-text summary of one replayed recording (relative times when undated)."""
    info = result.info
    start_local = info.start_utc.astimezone(tz)
    when = ("start time not known (times from the start of the recording)"
            if is_undated(info.start_utc) else f"start {start_local:%Y-%m-%d %H:%M:%S %Z}")
    lines = [
        f"{info.path}",
        f"  {when}, {_hms(info.duration_s)} long, mode {result.mode}, leg {info.leg}",
    ]
    for note in info.notes:  # what the reader assumed, skipped or ignored
        if not (is_undated(info.start_utc) and "no start date" in note):  # said above
            lines.append(f"  reader note: {note}")
    if result.in_bed_periods:
        spans = ", ".join(f"{_clock(info.start_utc, a, tz)}-{_clock(info.start_utc, b, tz)}"
                          for a, b in result.in_bed_periods)
        lines.append(f"  in bed: {spans}")
    else:
        lines.append("  in bed: no in-bed period found")
    if not result.episodes:
        lines.append("  no cramp episodes")
    else:
        lines.append(f"  {len(result.episodes)} cramp episode(s):")
        lines.append("    #  onset     duration  in bed  peak EMG  foot angle  confidence"
                     "  evidence")
        for i, e in enumerate(result.episodes, 1):
            peak = "-" if e.peak_emg_uv is None else f"{e.peak_emg_uv:.0f} uV"
            angle = "-" if e.plantar_flexion_deg is None else f"{e.plantar_flexion_deg:.0f} deg"
            lines.append(
                f"   {i:2d}  {_clock(info.start_utc, e.onset_s, tz)}  {_hms(e.duration_s):>8}"
                f"  {'yes' if e.in_bed else 'no':>6}  {peak:>8}  {angle:>10}"
                f"  {e.confidence:10.2f}  {', '.join(e.evidence)}")
            for note in e.quality_notes:
                lines.append(f"        note: {note}")
    for w in result.set_aside:  # announced live, then shown by a later look not to be cramps
        lines.append(f"  set aside (not a cramp): {_clock(info.start_utc, w.onset_s, tz)}, "
                     f"after {_hms(w.withdrawn_s - w.onset_s)}: {w.reason}")
    lines.append("  quality: " + _quality_line(result.quality, result))
    return "\n".join(lines)


def _quality_line(q: dict[str, Any], result: NightResult) -> str:
    parts = []
    if "emg" in q:
        e = q["emg"]
        parts.append(f"EMG usable {e['usable_fraction'] * 100:.0f}% (flat {e['flat_s']:.0f} s, "
                     f"saturated {e['saturated_s']:.0f} s, hum {e['hum_s']:.0f} s)")
    if "accelerometer" in q:
        parts.append(f"accelerometer coverage {q['accelerometer']['coverage'] * 100:.0f}%")
    from detector.causes.wording import format_duration
    from detector.intervals import merge_intervals

    gaps = merge_intervals([(g.start_s, g.end_s) for g in result.gaps])
    missing = sum(b - a for a, b in gaps)
    parts.append("no data gaps" if not gaps else
                 f"{len(gaps)} data gap{'s' if len(gaps) != 1 else ''}, "
                 f"{format_duration(missing)} missing")
    return "; ".join(parts)


def _clock(start_utc: Any, offset_s: float, tz: tzinfo) -> str:
    if is_undated(start_utc):
        return f"+{_hms(offset_s):>7}"
    return f"{(start_utc + timedelta(seconds=offset_s)).astimezone(tz):%H:%M:%S}"


def _hms(seconds: float) -> str:
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
