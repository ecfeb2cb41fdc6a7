"""The condition language of the cause rules: what a rule tests, validated and compared.

A condition reads the profile, an evening's diary, a detector measure of the night or the
whole history (:class:`Compare`, :class:`HasCondition`, :class:`TakesMedicine`,
:class:`HasSign`, :class:`Pattern`), combines others (:class:`AllOf`, :class:`AnyOf`) or
holds always (:class:`Always`) or never (:class:`Reference`). :func:`parse_condition` turns a
rules-file table into one (``docs/causes.md`` lists the forms); the engine
(:mod:`detector.causes.engine`) evaluates them, with :func:`compare` for the operators. The
rules that carry them are :mod:`detector.causes.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detector.causes.diary import (
    EXERCISE_INTENSITIES,
    FLAG_FIELDS,
    MEDICINE_CLASSES,
    NUMBER_LIMITS,
    WARNING_SIGNS,
)
from detector.causes.profile import CONDITIONS
from detector.errors import CrampInputError

OPS: tuple[str, ...] = (">", ">=", "<", "<=", "==", "in")

DETECTOR_MEASURES: dict[str, bool] = {
    "longest_cramp_s": True,       # per night: the longest cramp (s)
    "cramp_nights_in_week": False,  # most nights with cramps in any 7 days ending in the period
    "max_cramps_per_night": False,  # most cramps in one night of the period
    "both_legs_nights": False,      # nights of the period with cramps in both legs
    "cramp_nights": False,          # nights of the period with cramps
}
"""Detector measures a condition may test (name -> evaluated per night)."""

PATTERNS: tuple[str, ...] = ("cramps_after_new_medicine",)


@dataclass(frozen=True, kw_only=True)
class Compare:
    """``source`` field ``op`` value: on the profile, an evening's diary or a detector measure.

    ``min_evenings`` (diary only): evenings of the period that must match.
    """

    source: str
    field: str
    op: str
    value: Any
    min_evenings: int = 1


@dataclass(frozen=True, kw_only=True)
class HasCondition:
    """The profile lists this known condition."""

    condition: str


@dataclass(frozen=True, kw_only=True)
class TakesMedicine:
    """A diary entry of the period lists one of these medicine classes (new or current)."""

    medicines: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class HasSign:
    """A diary entry of the period records this warning sign."""

    sign: str


@dataclass(frozen=True, kw_only=True)
class Pattern:
    """A named pattern over the whole history (e.g. cramps that began after a new medicine)."""

    name: str
    within_days: int


@dataclass(frozen=True, kw_only=True)
class AllOf:
    """Every part holds."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True, kw_only=True)
class AnyOf:
    """At least one part holds."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True, kw_only=True)
class Always:
    """Always holds."""


@dataclass(frozen=True, kw_only=True)
class Reference:
    """A claim no recorded field can show: listed, never fired."""


Condition = (Compare | HasCondition | TakesMedicine | HasSign | Pattern | AllOf | AnyOf
             | Always | Reference)



def check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    """Refuse a table with a key outside ``allowed`` (one-line error naming it)."""
    extra = sorted(set(table) - allowed)
    if extra:
        raise CrampInputError(where, f"unknown key {extra[0]!r}; expected "
                                     f"{', '.join(sorted(allowed))}")



def parse_condition(raw: object, where: str) -> Condition:
    """Validate one condition table (see ``docs/causes.md``).

    Raises
    ------
    CrampInputError
        If the table is not one of the known forms or names an unknown field.
    """
    if not isinstance(raw, dict) or not raw:
        raise CrampInputError(where, f"expected a condition table, got {raw!r}")
    if "all" in raw or "any" in raw:
        key = "all" if "all" in raw else "any"
        check_keys(raw, {key}, where)
        parts = raw[key]
        if not isinstance(parts, list) or not parts:
            raise CrampInputError(f"{where}.{key}", "expected a list of conditions")
        conds = tuple(parse_condition(p, f"{where}.{key}[{i}]") for i, p in enumerate(parts))
        return AllOf(parts=conds) if key == "all" else AnyOf(parts=conds)
    if raw == {"always": True}:
        return Always()
    if raw == {"reference": True}:
        return Reference()
    if "condition" in raw:
        check_keys(raw, {"condition"}, where)
        if not isinstance(raw["condition"], str) or raw["condition"] not in CONDITIONS:
            raise CrampInputError(where, f"unknown condition {raw['condition']!r}; expected "
                                         f"one of {', '.join(CONDITIONS)}")
        return HasCondition(condition=raw["condition"])
    if "medicine" in raw:
        check_keys(raw, {"medicine"}, where)
        meds = raw["medicine"]
        meds = (meds,) if isinstance(meds, str) else meds
        if not isinstance(meds, list | tuple) or not meds or any(
                not isinstance(m, str) or m not in MEDICINE_CLASSES for m in meds):
            raise CrampInputError(where, f"expected medicine classes from "
                                         f"{', '.join(MEDICINE_CLASSES)}, got {raw['medicine']!r}")
        return TakesMedicine(medicines=tuple(meds))
    if "sign" in raw:
        check_keys(raw, {"sign"}, where)
        if not isinstance(raw["sign"], str) or raw["sign"] not in WARNING_SIGNS:
            raise CrampInputError(where, f"unknown sign {raw['sign']!r}; expected one of "
                                         f"{', '.join(WARNING_SIGNS)}")
        return HasSign(sign=raw["sign"])
    if "pattern" in raw:
        check_keys(raw, {"pattern", "within_days"}, where)
        days = raw.get("within_days", 90)
        if raw["pattern"] not in PATTERNS:
            raise CrampInputError(where, f"unknown pattern {raw['pattern']!r}; expected one "
                                         f"of {', '.join(PATTERNS)}")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
            raise CrampInputError(f"{where}.within_days", f"expected 1..365 days, got {days!r}")
        return Pattern(name=raw["pattern"], within_days=days)
    for source in ("profile", "diary", "detector"):
        if source in raw:
            return _compare(raw, source, where)
    raise CrampInputError(where, f"unknown condition form {sorted(raw)}; expected profile, "
                                 "diary, detector, condition, medicine, sign, pattern, all, "
                                 "any, always or reference")


def _compare(raw: dict[str, Any], source: str, where: str) -> Compare:
    allowed = {source, "op", "value"} | ({"min_evenings"} if source == "diary" else set())
    check_keys(raw, allowed, where)
    field, op, value = raw[source], raw.get("op"), raw.get("value")
    if op not in OPS:
        raise CrampInputError(f"{where}.op", f"expected one of {' '.join(OPS)}, got {op!r}")
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if source == "profile":
        kinds = {"age_years": "number", "pregnant": "flag"}
    elif source == "diary":
        kinds = {**dict.fromkeys(NUMBER_LIMITS, "number"), **dict.fromkeys(FLAG_FIELDS, "flag"),
                 "exercise_intensity": "choice"}
    else:
        kinds = dict.fromkeys(DETECTOR_MEASURES, "number")
    if not isinstance(field, str) or field not in kinds:
        raise CrampInputError(f"{where}.{source}", f"unknown field {field!r}; expected one of "
                                                   f"{', '.join(kinds)}")
    kind = kinds[field]
    ok = ((kind == "number" and op != "in" and number)
          or (kind == "flag" and op == "==" and isinstance(value, bool))
          or (kind == "choice" and op == "in" and isinstance(value, list) and value
              and all(v in EXERCISE_INTENSITIES for v in value)))
    if not ok:
        expected = {"number": "a comparison with a number", "flag": "== true or == false",
                    "choice": f"in a list of {', '.join(EXERCISE_INTENSITIES)}"}[kind]
        raise CrampInputError(f"{where}", f"{field} needs {expected}; got {op} {value!r}")
    min_evenings = raw.get("min_evenings", 1)
    if not isinstance(min_evenings, int) or isinstance(min_evenings, bool) or min_evenings < 1:
        raise CrampInputError(f"{where}.min_evenings", f"expected a whole number >= 1, got "
                                                       f"{min_evenings!r}")
    return Compare(source=source, field=field, op=op,
                   value=tuple(value) if isinstance(value, list) else value,
                   min_evenings=min_evenings)


def compare(left: object, op: str, right: object) -> bool:
    """Apply a rule operator (``in`` tests membership of a tuple)."""
    if op == "in":
        return isinstance(right, tuple) and left in right
    if op == "==":
        return left == right
    if not isinstance(left, int | float) or not isinstance(right, int | float):
        return False
    return {">": left > right, ">=": left >= right, "<": left < right,
            "<=": left <= right}[op]
