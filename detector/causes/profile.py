"""The sleeper's profile: age, pregnancy and known conditions.

One profile per store (the ``profile`` table's first row). ``None`` = not given; the rules
never guess a missing value.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from detector.causes.diary import parse_choices, parse_flag
from detector.errors import CrampInputError
from detector.store.codec import utc_text
from detector.store.db import transaction
from detector.text_fields import is_ascii_digits

CONDITIONS: dict[str, str] = {
    "diabetes": "diabetes",
    "parkinsons": "Parkinson's disease",
    "addisons": "Addison's disease",
    "cirrhosis": "cirrhosis of the liver",
    "kidney_failure": "kidney failure or dialysis",
    "pad": "peripheral arterial disease",
    "varicose_veins": "varicose veins",
    "thyroid": "thyroid disease",
    "neuropathy": "nerve damage (neuropathy)",
    "flat_feet": "flat feet",
    "lumbar_stenosis": "narrowing of the spinal canal in the lower back (lumbar stenosis)",
    "motor_neuron_disease": "motor neuron disease",
    "low_calcium": "low blood calcium found by a blood test",
    "heart_failure": "heart failure",
}
"""Known conditions the profile records (key -> words shown)."""

FLUID_RESTRICTED: frozenset[str] = frozenset({"kidney_failure", "cirrhosis", "heart_failure"})
"""Conditions where a clinician may have limited how much to drink."""


@dataclass(frozen=True, kw_only=True)
class Profile:
    """Who the nights belong to.

    Attributes
    ----------
    age_years : int or None
        Age in whole years.
    pregnant : bool or None
    conditions : tuple of str
        Keys of :data:`CONDITIONS`.
    """

    age_years: int | None = None
    pregnant: bool | None = None
    conditions: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Whether nothing is recorded."""
        return self.age_years is None and self.pregnant is None and not self.conditions

    @property
    def fluid_restricted(self) -> bool:
        """Whether a condition is known where drinking limits may apply."""
        return bool(FLUID_RESTRICTED.intersection(self.conditions))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {"age_years": self.age_years, "pregnant": self.pregnant,
                "conditions": list(self.conditions)}


def profile_from_fields(values: dict[str, Any], *, where: str = "profile") -> Profile:
    """Validate raw values (``age_years``, ``pregnant``, ``conditions``) into a profile.

    Raises
    ------
    CrampInputError
        One line naming the bad field and what was expected.
    """
    clean: dict[str, Any] = {}
    for name, value in values.items():
        at = f"{where}.{name}"
        if value is None:
            continue
        if name == "age_years":
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise CrampInputError(at, f"expected an age in whole years, got {value!r}")
            text = str(value).strip()
            if not is_ascii_digits(text) or not 0 <= int(text) <= 130:
                raise CrampInputError(at, f"expected an age in whole years from 0 to 130, "
                                          f"got {value!r}")
            clean[name] = int(text)
        elif name == "pregnant":
            clean[name] = parse_flag(value, at)
        elif name == "conditions":
            clean[name] = parse_choices(value, CONDITIONS, at)
        else:
            raise CrampInputError(at, "unknown profile field; expected age_years, pregnant "
                                      "or conditions")
    profile = Profile(**clean)
    if profile.pregnant and profile.age_years is not None and not 10 <= profile.age_years <= 60:
        raise CrampInputError(f"{where}.pregnant",
                              f"pregnancy at age {profile.age_years} is not plausible; "
                              "check the age")
    return profile


def load_profile(conn: sqlite3.Connection) -> Profile:
    """The stored profile (empty when none is stored).

    Raises
    ------
    CrampInputError
        If the stored row is damaged.
    """
    row = conn.execute("SELECT age_years, pregnant, conditions_json FROM profile "
                       "ORDER BY id LIMIT 1").fetchone()
    if row is None:
        return Profile()
    where = "episode store profile"
    try:
        conditions = json.loads(row["conditions_json"])
    except (TypeError, ValueError):
        raise CrampInputError(where, "stored conditions are damaged (not JSON)") from None
    return profile_from_fields({"age_years": row["age_years"], "pregnant": row["pregnant"],
                                "conditions": conditions}, where=where)


def save_profile(conn: sqlite3.Connection, changes: Profile, *, clear_conditions: bool = False
                 ) -> Profile:
    """Update the stored profile with the values ``changes`` records; return the result.

    Parameters
    ----------
    conn : sqlite3.Connection
        Open episode store.
    changes : Profile
        Values to set; ``None`` and empty fields keep what is stored.
    clear_conditions : bool
        Replace the stored conditions by ``changes.conditions`` even when that is empty.
    """
    with transaction(conn):
        current = load_profile(conn)
        merged = replace(
            current,
            age_years=changes.age_years if changes.age_years is not None else current.age_years,
            pregnant=changes.pregnant if changes.pregnant is not None else current.pregnant,
            conditions=(changes.conditions if changes.conditions or clear_conditions
                        else current.conditions),
        )
        new = profile_from_fields(merged.to_dict())  # checks the combination
        values = (new.age_years, None if new.pregnant is None else int(new.pregnant),
                  json.dumps(list(new.conditions)), utc_text(datetime.now(UTC)))
        row = conn.execute("SELECT id FROM profile ORDER BY id LIMIT 1").fetchone()
        if row is None:
            conn.execute("INSERT INTO profile (age_years, pregnant, conditions_json, "
                         "updated_utc) VALUES (?, ?, ?, ?)", values)
        else:
            conn.execute("UPDATE profile SET age_years = ?, pregnant = ?, conditions_json = ?, "
                         "updated_utc = ? WHERE id = ?", (*values, row["id"]))
    return new
