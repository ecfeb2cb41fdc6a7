"""``cramp diary``: record the evening diary (prompts on a terminal, flags for scripts)."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from detector.causes.diary import (
    EXERCISE_INTENSITIES,
    FIELD_NAMES,
    MEDICINE_CLASSES,
    WARNING_SIGNS,
    DiaryEntry,
    entry_from_fields,
    load_entries,
    save_entry,
)
from detector.cli.store_options import STORE_KINDS, add_store_choice, db_path_from_args
from detector.errors import CrampInputError
from detector.store import connect, night_date_for, parse_night_date

# (field, option, metavar, question)
_OPTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("exercise_intensity", "--exercise", "|".join(EXERCISE_INTENSITIES),
     "Exercise before bed (none, light, moderate, hard)"),
    ("exercise_min", "--exercise-min", "MIN", "Minutes of that exercise"),
    ("alcohol_units", "--alcohol", "UNITS", "Units of alcohol this evening"),
    ("caffeine_drinks", "--caffeine", "N", "Caffeinated drinks after midday"),
    ("fluids_glasses", "--fluids", "GLASSES", "Glasses of fluid today"),
    ("sitting_h", "--sitting", "HOURS", "Hours sitting today"),
    ("standing_h", "--standing", "HOURS", "Hours standing today"),
    ("vomiting_diarrhoea", "--vomiting", "yes|no", "Vomiting or diarrhoea today (yes/no)"),
    ("bedroom_cold", "--cold", "yes|no", "Is the bedroom cold (yes/no)"),
    ("heel_cm", "--heel", "CM", "Heel height of today's shoes in cm"),
    ("stretched", "--stretched", "yes|no", "Calf stretching at bedtime (yes/no)"),
    ("medicines_new", "--new-medicine", "LIST",
     f"Medicines started recently ({', '.join(MEDICINE_CLASSES)}; comma-separated)"),
    ("medicines_current", "--medicine", "LIST", "Medicines you take (same classes)"),
    ("signs", "--sign", "LIST",
     f"Warning signs noticed ({', '.join(WARNING_SIGNS)}; comma-separated)"),
    ("notes", "--notes", "TEXT", "Notes"),
)
assert {o[0] for o in _OPTIONS} == set(FIELD_NAMES)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``diary`` subcommand with ``add`` and ``list``."""
    p = sub.add_parser("diary", help="record or list the evening diary",
                       description="Keep an evening diary next to the recorded nights. The "
                                   "date is the evening's date, the same as the night after.")
    add_store_choice(p, default="personal")
    dsub = p.add_subparsers(dest="diary_command", metavar="ACTION", required=True)
    add = dsub.add_parser("add", help="add or update the entry of an evening",
                          description="Record an evening. With no field options on a "
                                      "terminal, each field is asked for (Enter skips it).")
    _sub_store_options(add)
    add.add_argument("--date", metavar="YYYY-MM-DD",
                     help="the evening (default: the evening before the last stored night "
                          "when that night ended in the last day and has no entry yet; else "
                          "this evening, or last evening before noon)")
    for field, option, metavar, question in _OPTIONS:
        add.add_argument(option, dest=field, metavar=metavar, help=question)
    add.add_argument("--replace", action="store_true",
                     help="replace the whole entry instead of updating the fields given")
    add.add_argument("--interactive", action="store_true",
                     help="ask for each field even when not on a terminal")
    add.set_defaults(func=run_add)
    lst = dsub.add_parser("list", help="show diary entries")
    _sub_store_options(lst)
    lst.add_argument("--last", metavar="N", type=int, default=14,
                     help="the N latest evenings with an entry or a stored night (default 14)")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(func=run_list)


def _sub_store_options(p: argparse.ArgumentParser) -> None:
    """``--db`` / ``--store`` after the action too (``cramp diary add --db X``)."""
    p.add_argument("--db", metavar="PATH", type=Path, default=argparse.SUPPRESS,
                   help="episode store file")
    p.add_argument("--store", choices=STORE_KINDS, default=argparse.SUPPRESS,
                   help="which store in the user data folder (default personal)")


def this_evening() -> date:
    """The evening date now, by the store's night-date rule (local time minus 12 h)."""
    return night_date_for(datetime.now(UTC), None)


def _ask(field: str, question: str, d: date) -> Any:
    """Ask until the answer is valid or empty; ``None`` = skipped."""
    while True:
        try:
            answer = input(f"{question}: ").strip()
        except EOFError:
            raise CrampInputError("diary", "input ended before the entry was complete; "
                                           "nothing was saved") from None
        if not answer:
            return None
        try:
            entry_from_fields(d, {field: answer})
        except CrampInputError as exc:
            print(f"  {exc.problem}; try again or press Enter to skip", file=sys.stderr)
            continue
        return answer


RECENT_NIGHT_S = 24 * 3600.0
"""A stored night that ended this recently (s) is the one a diary entry without --date means."""


def default_evening(conn: sqlite3.Connection, now_utc: datetime) -> tuple[date, str]:
    """The evening a diary entry without ``--date`` is for, and why.

    The evening before the last stored night when that night ended within
    :data:`RECENT_NIGHT_S` and has no diary entry yet (the morning after a recorded night);
    otherwise this evening (last evening before noon).
    """
    from detector.store import load_nights_on, night_dates

    tonight = night_date_for(now_utc, None)
    stored = [d for d in night_dates(conn) if d <= tonight]
    if stored:
        last = stored[-1]
        ended = max(n.end_utc for n in load_nights_on(conn, last, with_trace=False))
        recent = 0 <= (now_utc - ended).total_seconds() <= RECENT_NIGHT_S or last == tonight
        if recent and last not in load_entries(conn, last, last):
            return last, "the evening before the last recorded night"
    return tonight, "this evening"


def _option_error(exc: CrampInputError) -> CrampInputError:
    """The same error, naming the command-line option instead of the diary field."""
    field = exc.where.rsplit(".", 1)[-1]
    option = next((o for f, o, *_ in _OPTIONS if f == field), None)
    return exc if option is None else CrampInputError(option, exc.problem)


def run_add(args: argparse.Namespace) -> int:
    """Validate and store one evening's entry; print what is stored; return 0."""
    conn = connect(db_path_from_args(args))
    try:
        if args.date:
            d, why = parse_night_date(args.date, where="--date"), ""
        else:
            d, why = default_evening(conn, datetime.now(UTC))
    finally:
        conn.close()
    if d > this_evening() + timedelta(days=1):
        raise CrampInputError("--date", f"{d.isoformat()} is in the future")
    values = {f: getattr(args, f) for f, *_ in _OPTIONS if getattr(args, f) is not None}
    if args.interactive or (not values and sys.stdin.isatty()):
        print(f"Diary for the evening of {d.isoformat()}{f' ({why})' if why else ''}; "
              "--date picks another (press Enter to skip a question)")
        for field, _, _, question in _OPTIONS:
            if field not in values:
                answer = _ask(field, question, d)
                if answer is not None:
                    values[field] = answer
    if not values:
        raise CrampInputError("diary add", "nothing to record; give field options (see "
                                           "--help) or run it on a terminal to be asked")
    try:
        entry = entry_from_fields(d, values, where="diary")
    except CrampInputError as exc:
        raise _option_error(exc) from None
    conn = connect(db_path_from_args(args))
    try:
        stored = save_entry(conn, entry, merge=not args.replace)
    finally:
        conn.close()
    print(f"saved the diary for the evening of {d.isoformat()}"
          f"{f' ({why})' if why else ''}: {json.dumps(stored.to_fields(), sort_keys=True)}")
    return 0


def describe(entry: DiaryEntry) -> str:
    """One line of plain words for an entry."""
    parts = []
    if entry.exercise_intensity is not None:
        mins = f" {entry.exercise_min} min" if entry.exercise_min is not None else ""
        parts.append(f"exercise {entry.exercise_intensity}{mins}")
    for field, label, unit in (("alcohol_units", "alcohol", " units"),
                               ("caffeine_drinks", "caffeine", " drinks"),
                               ("fluids_glasses", "fluids", " glasses"),
                               ("sitting_h", "sitting", " h"), ("standing_h", "standing", " h"),
                               ("heel_cm", "heels", " cm")):
        value = getattr(entry, field)
        if value is not None:
            parts.append(f"{label} {value:g}{unit}")
    for field, label in (("vomiting_diarrhoea", "vomiting/diarrhoea"),
                         ("bedroom_cold", "cold bedroom"), ("stretched", "stretched")):
        value = getattr(entry, field)
        if value is not None:
            parts.append(f"{label} {'yes' if value else 'no'}")
    if entry.medicines_new:
        parts.append("new: " + ", ".join(MEDICINE_CLASSES[m] for m in entry.medicines_new))
    if entry.medicines_current:
        parts.append("taking: " + ", ".join(MEDICINE_CLASSES[m]
                                            for m in entry.medicines_current))
    if entry.signs:
        parts.append("signs: " + ", ".join(WARNING_SIGNS[s] for s in entry.signs))
    if entry.notes:
        parts.append(f"notes: {entry.notes}")
    return "; ".join(parts) or "(empty)"


def run_list(args: argparse.Namespace) -> int:
    """Print the N latest evenings that have a diary entry or a stored night; return 0.

    Evenings with neither are skipped, so no entry of a stored night is hidden behind empty
    days; a stored night without an entry is listed as such.
    """
    from detector.store import night_dates

    if args.last < 1:
        raise CrampInputError("--last", f"expected a number of evenings >= 1, got {args.last}")
    conn = connect(db_path_from_args(args))
    try:
        entries = load_entries(conn, None, None)
        nights = set(night_dates(conn))
    finally:
        conn.close()
    dates = sorted(set(entries) | nights)[-args.last:]
    if args.json:
        print(json.dumps([{"date": d.isoformat(), "night_stored": d in nights,
                           **(entries[d].to_fields() if d in entries else {})}
                          for d in dates], indent=2))
        return 0
    if not dates:
        print("no diary entries and no stored nights yet")
        return 0
    for d in dates:
        night = "night stored" if d in nights else "no night stored"
        what = describe(entries[d]) if d in entries else "no diary entry"
        print(f"{d.isoformat()}  [{night}]  {what}")
    return 0
