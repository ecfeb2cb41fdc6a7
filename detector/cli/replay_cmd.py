"""``cramp replay``: run recordings through the detector and list their episodes."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta, tzinfo
from pathlib import Path
from typing import Any

from detector.cli.options import add_recording_options, channel_map_from_args, config_from_args
from detector.config import DetectorConfig
from detector.pipeline.night_window import resolve_timezone
from detector.pipeline.result import NightResult
from detector.replay import replay_path
from detector.safe_files import (
    check_input_file,
    check_output_path,
    file_sha256,
    is_stdout,
    write_output_text,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``replay`` subcommand."""
    p = sub.add_parser("replay", help="detect cramp episodes in recording files",
                       description="Replay recordings (raw captures, EDF, EDF+, BDF, CSV) "
                                   "through the detector and print their cramp episodes.")
    p.add_argument("files", nargs="+", metavar="FILE", help="recording file(s)")
    p.add_argument("--json", metavar="PATH|-", help="write results as JSON ('-' = stdout only)")
    p.add_argument("--force", action="store_true", help="replace an existing --json file")
    store = p.add_mutually_exclusive_group()
    store.add_argument("--db", metavar="PATH", help="episode store file (default: the user data "
                       "directory's episodes.sqlite3)")
    store.add_argument("--no-store", action="store_true",
                       help="do not write the nights to the episode store")
    add_recording_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Replay each file; print a table or write JSON."""
    config = config_from_args(args)
    channel_map = channel_map_from_args(args)
    to_stdout = args.json is not None and is_stdout(args.json)
    for path in args.files:  # every input and output checked before any work starts
        check_input_file(path, what="file", where=Path(path).name)
    if args.json is not None and not to_stdout:
        check_output_path(args.json, force=args.force)
    results = [
        replay_path(path, config=config, channel_map=channel_map, leg=args.leg,
                    progress=not to_stdout, time_unit=args.time_unit)
        for path in args.files
    ]
    if not args.no_store:
        _store(results, args, config)
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
    from detector.store import default_db_path, save_night

    db = Path(args.db) if args.db else default_db_path()
    for r in results:
        save_night(r, db_path=db, recording_sha256=file_sha256(r.info.path),
                   timezone=config.in_bed.timezone)
    print(f"stored {len(results)} night(s) in {db}", file=sys.stderr)


def format_result(result: NightResult, *, tz: tzinfo) -> str:
    """A plain-text summary of one replayed recording."""
    info = result.info
    start_local = info.start_utc.astimezone(tz)
    lines = [
        f"{info.path}",
        f"  start {start_local:%Y-%m-%d %H:%M:%S %Z}, {_hms(info.duration_s)} long, "
        f"mode {result.mode}, leg {info.leg}",
    ]
    for note in info.notes:  # what the reader assumed, skipped or ignored
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
    lines.append("  quality: " + _quality_line(result.quality))
    return "\n".join(lines)


def _quality_line(q: dict[str, Any]) -> str:
    parts = []
    if "emg" in q:
        e = q["emg"]
        parts.append(f"EMG usable {e['usable_fraction'] * 100:.0f}% (flat {e['flat_s']:.0f} s, "
                     f"saturated {e['saturated_s']:.0f} s, hum {e['hum_s']:.0f} s)")
    if "accelerometer" in q:
        parts.append(f"accelerometer coverage {q['accelerometer']['coverage'] * 100:.0f}%")
    parts.append(f"{q['gaps']} gap(s), {q['gap_s']:.1f} s missing")
    return "; ".join(parts)


def _clock(start_utc: Any, offset_s: float, tz: tzinfo) -> str:
    return f"{(start_utc + timedelta(seconds=offset_s)).astimezone(tz):%H:%M:%S}"


def _hms(seconds: float) -> str:
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
