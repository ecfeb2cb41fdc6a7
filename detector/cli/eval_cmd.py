"""``cramp eval``: score detected cramp episodes against labelled ones.

Each recording is replayed (or its episodes are taken from a saved ``cramp replay --json``
output with ``--pred``), its labelled cramps are read, and the two event lists are matched and
scored with :mod:`detector.evaluation`. Results are printed as a table per recording plus a
pooled (micro-averaged) row, or as JSON for scripts.

Where the labels come from, per recording, in order of preference: the ``--labels`` file given
in the same position as the recording; a sibling ``<stem>.truth.tsv``, ``<stem>.events.tsv``
or ``<stem>.truth.csv``; the EDF+/BDF+ annotations of the recording itself.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detector.cli.options import add_recording_options, channel_map_from_args, config_from_args
from detector.errors import CrampInputError
from detector.evaluation import (
    DEFAULT_MIN_OVERLAP_S,
    DEFAULT_ONSET_TOLERANCE_S,
    pool_scores,
    score_events,
)
from detector.evaluation_types import ErrorStats, EventScores, Interval, PooledScores
from detector.safe_files import (
    check_input_file,
    check_output_path,
    is_stdout,
    write_output_text,
)

SIBLING_LABEL_SUFFIXES: tuple[str, ...] = (".truth.tsv", ".events.tsv", ".truth.csv")
"""Suffixes tried, after the recording's stem, to find its labels without ``--labels``."""
ANNOTATED_SUFFIXES: tuple[str, ...] = (".edf", ".bdf", ".rec")
"""Recording formats whose own EDF+/BDF+ annotations can serve as labels."""


@dataclass(frozen=True, kw_only=True)
class _Recording:
    """One recording to score: where it is, its detections and (once read) its labels."""

    path: str
    search_bases: tuple[Path, ...]
    detected: tuple[Interval, ...]


def register(subparsers: Any) -> None:
    """Add the ``eval`` subcommand to the ``cramp`` parser's subparsers."""
    p = subparsers.add_parser(
        "eval",
        help="score detected episodes against labelled cramps",
        description=(
            "Replay recordings (or read a saved 'cramp replay --json' with --pred), match the "
            "detected episodes one to one with labelled cramps, and report TP/FP/FN, "
            "precision, recall, F1 and onset/duration errors per recording and pooled."
        ),
    )
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="recordings to score (optional with --pred: default all in it)")
    p.add_argument("--labels", nargs="+", metavar="LABELS",
                   help="labels file per recording, in the same order (events TSV/CSV or "
                        "EDF+); put the FILEs before --labels")
    p.add_argument("--pred", metavar="REPLAY_JSON",
                   help="score the episodes of a saved 'cramp replay --json' output instead "
                        "of replaying")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--label-filter", default="cramp", metavar="TEXT",
                       help="keep labels whose description contains TEXT (default: cramp)")
    group.add_argument("--all-labels", action="store_true",
                       help="keep every labelled event, whatever its description")
    p.add_argument("--min-overlap-s", type=float, default=DEFAULT_MIN_OVERLAP_S, metavar="S",
                   help="overlap (s) that pairs a detection with a label "
                        f"(default {DEFAULT_MIN_OVERLAP_S:g})")
    p.add_argument("--onset-tolerance-s", type=float, default=DEFAULT_ONSET_TOLERANCE_S,
                   metavar="S", help="onset difference (s) that pairs them without overlap "
                                     f"(default {DEFAULT_ONSET_TOLERANCE_S:g})")
    p.add_argument("--json", metavar="PATH|-",
                   help="write the scores as JSON to PATH, or to stdout alone with '-'")
    p.add_argument("--force", action="store_true", help="replace an existing --json file")
    add_recording_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score every recording, print the table and/or JSON; return 0."""
    from detector.io.labels import read_labels  # pyedflib: imported when the command runs

    for option, value in (("--min-overlap-s", args.min_overlap_s),
                          ("--onset-tolerance-s", args.onset_tolerance_s)):
        if not (math.isfinite(value) and value >= 0):
            raise CrampInputError(option, f"expected seconds >= 0, got {value:g}")
    if args.json is not None and not is_stdout(args.json):
        check_output_path(args.json, force=args.force)  # before any work
    description_filter = None if args.all_labels else args.label_filter
    parameters: dict[str, Any] | None
    if args.pred is not None:
        recordings, parameters = _recordings_from_pred(Path(args.pred), list(args.files))
    elif args.files:
        recordings = [_Recording(path=f, search_bases=(_existing_file(Path(f), "recording"),),
                                 detected=()) for f in args.files]
    else:
        raise CrampInputError("FILE", "give at least one recording, or --pred REPLAY_JSON")
    if args.labels is not None and len(args.labels) != len(recordings):
        raise CrampInputError(
            "--labels",
            f"got {len(args.labels)} labels file(s) for {len(recordings)} recording(s); "
            "give one per recording, in the same order (FILEs before --labels)",
        )
    # Labels are read before any replay, so a bad labels file fails fast.
    label_paths = [_existing_file(Path(args.labels[i]), "labels file")
                   if args.labels is not None else _find_labels(rec)
                   for i, rec in enumerate(recordings)]
    truths = [read_labels(p, description_filter=description_filter) for p in label_paths]
    if args.pred is None:
        recordings, parameters = _replay_all(args)
    rows: list[tuple[_Recording, Path, EventScores]] = [
        (rec, labels_path, score_events(rec.detected, truth, min_overlap_s=args.min_overlap_s,
                                        onset_tolerance_s=args.onset_tolerance_s))
        for rec, labels_path, truth in zip(recordings, label_paths, truths, strict=True)
    ]
    pooled = pool_scores([s for _, _, s in rows])
    doc = {
        "min_overlap_s": args.min_overlap_s,
        "onset_tolerance_s": args.onset_tolerance_s,
        "label_filter": description_filter,
        "source": "replay" if args.pred is None else args.pred,
        "parameters": parameters,
        "recordings": [{"path": rec.path, "labels": str(labels), **s.to_dict()}
                       for rec, labels, s in rows],
        "pooled": pooled.to_dict(),
    }
    if args.json is not None and is_stdout(args.json):
        write_output_text(args.json, json.dumps(doc, indent=2) + "\n", force=False)
        return 0
    print(format_table([(rec.path, s) for rec, _, s in rows], pooled))
    if args.json is not None:
        write_output_text(args.json, json.dumps(doc, indent=2) + "\n", force=args.force)
        print(f"cramp eval: scores written to {args.json}", file=sys.stderr)
    return 0


def format_table(rows: list[tuple[str, EventScores]], pooled: PooledScores) -> str:
    """Render per-recording and pooled scores as a fixed-width text table.

    Parameters
    ----------
    rows : list of (str, EventScores)
        Recording name and its scores.
    pooled : PooledScores
        The micro-averaged scores, shown as the last row.

    Returns
    -------
    str
        The table, one line per recording plus header, rule and pooled row.
    """
    names = [name for name, _ in rows] + ["pooled"]
    width = max(len(n) for n in names)
    head = (f"{'recording':<{width}}  truth  det   TP   FP   FN  prec  recall    F1"
            "  onset MAE s  dur MAE s")
    lines = [head, "-" * len(head)]
    for name, s in [*rows, ("pooled", pooled.scores)]:
        lines.append(
            f"{name:<{width}}  {s.n_truth:>5d} {s.n_detected:>4d} {s.tp:>4d} {s.fp:>4d} "
            f"{s.fn:>4d} {_num(s.precision, 3):>5} {_num(s.recall, 3):>7} {_num(s.f1, 3):>5}"
            f"  {_num(_mae(s.onset_error_s), 1):>11}  {_num(_mae(s.duration_error_s), 1):>9}"
        )
    if pooled.count_error_mean_abs is not None:
        lines.append(f"count error per recording: mean {pooled.count_error_mean:+.2f}, "
                     f"mean absolute {pooled.count_error_mean_abs:.2f}")
    return "\n".join(lines)


def _mae(stats: ErrorStats | None) -> float | None:
    return None if stats is None else stats.mean_abs


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _replay_all(args: argparse.Namespace) -> tuple[list[_Recording], dict[str, Any]]:
    from detector.replay import default_threads, replay_path  # imported when the command runs

    config = config_from_args(args)
    channel_map = channel_map_from_args(args)
    out: list[_Recording] = []
    for name in args.files:
        result = replay_path(name, config=config, channel_map=channel_map, leg=args.leg,
                             progress=not (args.json is not None and is_stdout(args.json)),
                             time_unit=args.time_unit, threads=default_threads())
        out.append(_Recording(path=name, search_bases=(Path(name),),
                              detected=tuple(Interval(e.onset_s, e.duration_s)
                                             for e in result.episodes)))
    return out, config.to_dict()


def _recordings_from_pred(
    pred: Path, files: list[str],
) -> tuple[list[_Recording], dict[str, Any] | None]:
    doc = _load_json(_existing_file(pred, "--pred file"))
    where = str(pred)
    recs = doc.get("recordings") if isinstance(doc, dict) else None
    if not isinstance(recs, list):
        raise CrampInputError(where, "expected a 'cramp replay --json' object with 'recordings'")
    parsed: list[_Recording] = []
    parameters: dict[str, Any] | None = None
    for i, rec in enumerate(recs):
        if not isinstance(rec, dict) or not isinstance(rec.get("path"), str):
            raise CrampInputError(where, f"recordings[{i}] needs a 'path' string")
        episodes = rec.get("episodes")
        if not isinstance(episodes, list):
            raise CrampInputError(where, f"recordings[{i}].episodes must be a list")
        detected = tuple(_episode_interval(ep, where, f"recordings[{i}].episodes[{j}]")
                         for j, ep in enumerate(episodes))
        rec_path = Path(rec["path"])
        bases = (rec_path,) if rec_path.is_absolute() else (rec_path, pred.parent / rec_path)
        parsed.append(_Recording(path=rec["path"], search_bases=bases, detected=detected))
        if parameters is None and isinstance(rec.get("parameters"), dict):
            parameters = rec["parameters"]
    if not files:
        return parsed, parameters
    return [_pick(parsed, name, where) for name in files], parameters


def _pick(recordings: list[_Recording], name: str, where: str) -> _Recording:
    want = Path(name)
    same = [r for r in recordings
            if Path(r.path) == want or Path(r.path).resolve() == want.resolve()]
    if not same:
        same = [r for r in recordings if Path(r.path).name == want.name]
        if len(same) > 1:
            raise CrampInputError(name, f"file name matches several recordings in {where}")
    if not same:
        raise CrampInputError(name, f"not among the recordings in {where}")
    return same[0]


def _episode_interval(ep: Any, where: str, field: str) -> Interval:
    if not isinstance(ep, dict) or not _is_number(ep.get("onset_s")):
        raise CrampInputError(where, f"{field} needs a numeric 'onset_s'")
    onset_s = float(ep["onset_s"])
    if _is_number(ep.get("duration_s")):
        duration_s = float(ep["duration_s"])
    elif _is_number(ep.get("offset_s")):
        duration_s = float(ep["offset_s"]) - onset_s
    else:
        raise CrampInputError(where, f"{field} needs a numeric 'duration_s' or 'offset_s'")
    if not (math.isfinite(onset_s) and math.isfinite(duration_s) and duration_s >= 0):
        raise CrampInputError(where, f"{field} needs finite times and a duration >= 0")
    return Interval(onset_s, duration_s)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CrampInputError(str(path), f"not valid JSON ({exc.msg}, line {exc.lineno})"
                               ) from None
    except UnicodeDecodeError:
        raise CrampInputError(str(path), "not UTF-8 text; expected JSON") from None
    except RecursionError:
        raise CrampInputError(str(path), "not usable JSON (nested too deeply)") from None
    except OSError as exc:
        raise CrampInputError(str(path), f"cannot read ({exc.strerror})") from None


def _find_labels(rec: _Recording) -> Path:
    for base in rec.search_bases:
        stems = dict.fromkeys([base.stem, base.name.split(".", 1)[0]])
        for stem in filter(None, stems):
            for suffix in SIBLING_LABEL_SUFFIXES:
                candidate = base.with_name(stem + suffix)
                if candidate.is_file():
                    return candidate
    for base in rec.search_bases:
        if base.suffix.lower() in ANNOTATED_SUFFIXES and base.is_file():
            return base
    tried = ", ".join("<stem>" + s for s in SIBLING_LABEL_SUFFIXES)
    raise CrampInputError(rec.path, f"no labels found ({tried} or EDF+ annotations); "
                                    "give --labels")


def _existing_file(path: Path, what: str) -> Path:
    return check_input_file(path, what=what)
