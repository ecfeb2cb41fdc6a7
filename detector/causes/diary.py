"""The evening diary: what the sleeper did and took on the evening before a night.

One entry per evening, keyed by the *night date* (the evening's local date, the same date the
store gives the night that follows). Every field is optional: ``None`` means "not recorded",
which the analysis keeps apart from "no". Entries live in the store's ``diary_entries`` table
as JSON; :func:`entry_from_fields` validates both what a user types and what the store holds.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime
from typing import Any

from detector.errors import CrampInputError
from detector.store.codec import utc_text
from detector.store.db import transaction

MEDICINE_CLASSES: dict[str, str] = {
    "thiazide": "thiazide diuretic",
    "potassium_sparing": "potassium-sparing diuretic",
    "loop_diuretic": "loop diuretic",
    "statin": "statin (cholesterol medicine)",
    "laba": "long-acting beta-agonist inhaler",
    "nifedipine": "nifedipine",
    "iron_sucrose": "intravenous iron sucrose",
    "estrogen_raloxifene": "estrogens or raloxifene",
    "naproxen": "naproxen",
    "teriparatide": "teriparatide",
    "niacin": "niacin",
    "other": "another medicine",
}
"""Medicine classes the diary records (key -> words shown)."""

WARNING_SIGNS: dict[str, str] = {
    "swollen_calf": "a swollen, red or warm calf",
    "blackout": "loss of consciousness, tongue biting or wetting the bed during an episode",
    "wound_or_toxin": "a recent wound or contact with a poison",
    "weakness_or_numbness": "muscle weakness, wasting, twitching or numbness",
    "pain_on_walking": "calf pain on walking that eases with rest",
    "widespread": "cramps in other parts of the body, not only the legs",
}
"""Warning signs the diary can record (key -> words shown)."""

EXERCISE_INTENSITIES: tuple[str, ...] = ("none", "light", "moderate", "hard")

NUMBER_LIMITS: dict[str, tuple[float, float, str]] = {
    "exercise_min": (0, 600, "minutes of exercise before bed"),
    "alcohol_units": (0, 60, "units of alcohol"),
    "caffeine_drinks": (0, 30, "caffeinated drinks"),
    "fluids_glasses": (0, 40, "glasses of fluid"),
    "sitting_h": (0, 24, "hours sitting"),
    "standing_h": (0, 24, "hours standing"),
    "heel_cm": (0, 25, "heel height in cm"),
}
_INTEGERS = frozenset({"exercise_min", "caffeine_drinks", "fluids_glasses"})
FLAG_FIELDS: tuple[str, ...] = ("vomiting_diarrhoea", "bedroom_cold", "stretched")
_LISTS: dict[str, dict[str, str]] = {
    "medicines_new": MEDICINE_CLASSES,
    "medicines_current": MEDICINE_CLASSES,
    "signs": WARNING_SIGNS,
}
MAX_NOTES_CHARS = 2000


@dataclass(frozen=True, kw_only=True)
class DiaryEntry:
    """One evening's diary entry; ``None`` = not recorded.

    Attributes
    ----------
    entry_date : date
        Local date of the evening (= the night date of the night that follows).
    exercise_intensity : {"none", "light", "moderate", "hard"} or None
        Exercise in the hours before bed.
    exercise_min : int or None
        Minutes of that exercise.
    alcohol_units : float or None
        Units of alcohol during the evening (one unit = 10 ml of pure alcohol).
    caffeine_drinks : int or None
        Caffeinated drinks after midday.
    fluids_glasses : int or None
        Glasses of fluid during the day.
    sitting_h, standing_h : float or None
        Hours spent sitting, and standing, during the day.
    vomiting_diarrhoea : bool or None
        Vomiting or diarrhoea that day.
    bedroom_cold : bool or None
        The bedroom felt cold.
    heel_cm : float or None
        Heel height of the day's shoes (cm).
    stretched : bool or None
        Calf stretching done at bedtime.
    medicines_new : tuple of str
        Medicine classes (keys of :data:`MEDICINE_CLASSES`) started on or shortly before this
        date.
    medicines_current : tuple of str
        Medicine classes being taken.
    signs : tuple of str
        Warning signs noticed (keys of :data:`WARNING_SIGNS`).
    notes : str
        Free text.
    """

    entry_date: date
    exercise_intensity: str | None = None
    exercise_min: int | None = None
    alcohol_units: float | None = None
    caffeine_drinks: int | None = None
    fluids_glasses: int | None = None
    sitting_h: float | None = None
    standing_h: float | None = None
    vomiting_diarrhoea: bool | None = None
    bedroom_cold: bool | None = None
    heel_cm: float | None = None
    stretched: bool | None = None
    medicines_new: tuple[str, ...] = ()
    medicines_current: tuple[str, ...] = ()
    signs: tuple[str, ...] = ()
    notes: str = ""

    def to_fields(self) -> dict[str, Any]:
        """Return the recorded fields as JSON-ready values (``None`` and empty left out)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "entry_date":
                continue
            value = getattr(self, f.name)
            if value is None or value == () or value == "":
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def merged_with(self, newer: DiaryEntry) -> DiaryEntry:
        """Return this entry with every field that ``newer`` records taken from ``newer``."""
        return replace(self, **{k: tuple(v) if isinstance(v, list) else v
                                for k, v in newer.to_fields().items()})

    @property
    def medicines(self) -> tuple[str, ...]:
        """Every medicine class named in the entry, new or current, without repeats."""
        return tuple(dict.fromkeys(self.medicines_new + self.medicines_current))


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(DiaryEntry) if f.name != "entry_date")


def _number(name: str, value: object, where: str) -> float | int:
    lo, hi, what = NUMBER_LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CrampInputError(where, f"expected {what} as a number, got {value!r}")
    try:
        x = float(value)
    except ValueError:
        raise CrampInputError(where, f"expected {what} as a number, got {value!r}") from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise CrampInputError(where, f"expected {what} from {lo:g} to {hi:g}, got {value!r}")
    if name in _INTEGERS:
        if x != round(x):
            raise CrampInputError(where, f"expected a whole number of {what}, got {value!r}")
        return round(x)
    return x


_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}


def parse_flag(value: object, where: str) -> bool:
    """Read yes/no (``True``/``False``, ``"yes"``/``"no"``, ``"y"``/``"n"``, 1/0).

    Raises
    ------
    CrampInputError
        If the value is none of these.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise CrampInputError(where, f"expected yes or no, got {value!r}")


def parse_choices(value: object, allowed: dict[str, str], where: str) -> tuple[str, ...]:
    """Read a list of keys (a list, or text separated by commas), each one of ``allowed``.

    Raises
    ------
    CrampInputError
        If an item is not an allowed key.
    """
    if isinstance(value, str):
        items = [v.strip().lower().replace("-", "_").replace(" ", "_")
                 for v in value.split(",")]
    elif isinstance(value, list | tuple):
        items = [v.strip().lower() if isinstance(v, str) else v for v in value]
    else:
        raise CrampInputError(where, f"expected a list of {', '.join(allowed)}, got {value!r}")
    out: list[str] = []
    for item in items:
        if item in ("", "none"):
            continue
        if not isinstance(item, str) or item not in allowed:
            raise CrampInputError(where, f"{item!r} is not one of {', '.join(allowed)}")
        if item not in out:
            out.append(item)
    return tuple(out)


def entry_from_fields(entry_date: date, values: dict[str, Any], *, where: str = "diary"
                      ) -> DiaryEntry:
    """Validate raw field values (typed by a user or read from the store) into an entry.

    Parameters
    ----------
    entry_date : date
        The evening's date.
    values : dict
        Field name -> value; ``None`` values are "not recorded".
    where : str
        Prefix of error locations (``"diary"`` gives ``"diary.alcohol_units"``).

    Returns
    -------
    DiaryEntry

    Raises
    ------
    CrampInputError
        One line naming the first bad field and what was expected.
    """
    if not isinstance(values, dict):
        raise CrampInputError(where, f"expected a table of diary fields, got {values!r}")
    clean: dict[str, Any] = {}
    for name, value in values.items():
        at = f"{where}.{name}"
        if name not in FIELD_NAMES:
            raise CrampInputError(at, f"unknown diary field; expected one of "
                                      f"{', '.join(FIELD_NAMES)}")
        if value is None:
            continue
        if name in NUMBER_LIMITS:
            clean[name] = _number(name, value, at)
        elif name in FLAG_FIELDS:
            clean[name] = parse_flag(value, at)
        elif name in _LISTS:
            clean[name] = parse_choices(value, _LISTS[name], at)
        elif name == "exercise_intensity":
            text = str(value).strip().lower()
            if text not in EXERCISE_INTENSITIES:
                raise CrampInputError(at, f"expected one of {', '.join(EXERCISE_INTENSITIES)}, "
                                          f"got {value!r}")
            clean[name] = text
        else:  # notes
            if not isinstance(value, str):
                raise CrampInputError(at, f"expected text, got {value!r}")
            if len(value) > MAX_NOTES_CHARS:
                raise CrampInputError(at, f"notes are limited to {MAX_NOTES_CHARS} characters")
            if any(ord(c) < 32 and c not in "\t\n" for c in value):
                raise CrampInputError(at, "notes may not contain control characters")
            clean[name] = value.strip()
    entry = DiaryEntry(entry_date=entry_date, **clean)
    if entry.exercise_intensity == "none" and entry.exercise_min:
        raise CrampInputError(f"{where}.exercise_min", "exercise intensity is 'none' but "
                                                        "minutes of exercise are given")
    if entry.sitting_h is not None and entry.standing_h is not None \
            and entry.sitting_h + entry.standing_h > 24:
        raise CrampInputError(f"{where}.standing_h", "hours sitting and standing add up to "
                                                     "more than 24")
    return entry


# ------------------------------------------------------------------ store access


def save_entry(conn: sqlite3.Connection, entry: DiaryEntry, *, merge: bool = True) -> DiaryEntry:
    """Store the entry of its date; merge with (or replace) an entry already there.

    Parameters
    ----------
    conn : sqlite3.Connection
        Open episode store (autocommit; this writes in one transaction).
    entry : DiaryEntry
        The evening's entry.
    merge : bool
        Keep fields of an existing entry that ``entry`` does not record.

    Returns
    -------
    DiaryEntry
        What is stored now for that date.
    """
    now = utc_text(datetime.now(UTC))
    key = entry.entry_date.isoformat()
    with transaction(conn):
        row = conn.execute("SELECT id, fields_json FROM diary_entries WHERE entry_date = ? "
                           "ORDER BY id LIMIT 1", (key,)).fetchone()
        stored = entry
        if row is not None and merge:
            stored = _row_entry(entry.entry_date, row["fields_json"]).merged_with(entry)
        text = json.dumps(stored.to_fields(), sort_keys=True, separators=(",", ":"))
        if row is None:
            conn.execute("INSERT INTO diary_entries (entry_date, fields_json, created_utc, "
                         "updated_utc) VALUES (?, ?, ?, ?)", (key, text, now, now))
        else:
            conn.execute("UPDATE diary_entries SET fields_json = ?, updated_utc = ? "
                         "WHERE id = ?", (text, now, row["id"]))
            conn.execute("DELETE FROM diary_entries WHERE entry_date = ? AND id != ?",
                         (key, row["id"]))
    return stored


def _row_entry(d: date, text: str) -> DiaryEntry:
    where = f"episode store diary entry {d.isoformat()}"
    try:
        values = json.loads(text)
    except (TypeError, ValueError):
        raise CrampInputError(where, "the stored entry is damaged (not JSON)") from None
    return entry_from_fields(d, values, where=where)


def load_entries(conn: sqlite3.Connection, first: date | None = None, last: date | None = None
                 ) -> dict[date, DiaryEntry]:
    """Diary entries from ``first`` to ``last`` (inclusive; ``None`` = open), by date.

    Several rows of one date (written by an older program) are merged, oldest first.

    Raises
    ------
    CrampInputError
        If a stored entry is damaged or invalid.
    """
    lo = (first or date.min).isoformat()
    hi = (last or date.max).isoformat()
    rows = conn.execute("SELECT entry_date, fields_json FROM diary_entries WHERE entry_date "
                        "BETWEEN ? AND ? ORDER BY entry_date, id", (lo, hi)).fetchall()
    out: dict[date, DiaryEntry] = {}
    for r in rows:
        try:
            d = date.fromisoformat(r["entry_date"])
        except (TypeError, ValueError):
            raise CrampInputError("episode store diary", f"entry date {r['entry_date']!r} is "
                                                         "not YYYY-MM-DD") from None
        e = _row_entry(d, r["fields_json"])
        out[d] = out[d].merged_with(e) if d in out else e
    return out
