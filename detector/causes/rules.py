"""Cause rules as data: the model, the TOML loader and its validation.

The shipped ``rules.toml`` (package data) rates every factor of the seed article. A user may
load another file (``cramp causes --rules-file``); it is checked the same way, including a
guard (:mod:`detector.causes.safety`) that refuses wording which instructs taking a substance,
piercing the skin, stopping a medicine or drinking more; advice only from a vetted list; and
claims of the seed article each with a verdict and a source.
"""

from __future__ import annotations

import functools
import re
import string
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from detector.causes.diary import (
    EXERCISE_INTENSITIES,
    FLAG_FIELDS,
    MEDICINE_CLASSES,
    NUMBER_LIMITS,
    WARNING_SIGNS,
)
from detector.causes.profile import CONDITIONS
from detector.causes.safety import VETTED_ADVICE, instructions
from detector.errors import CrampInputError

KINDS: tuple[str, ...] = ("red_flag", "factor", "advice")
LEVELS: tuple[str, ...] = ("urgent", "see_clinician")
STRENGTHS: tuple[str, ...] = ("established", "plausible", "weak", "unsupported")
OPS: tuple[str, ...] = (">", ">=", "<", "<=", "==", "in")
PLACEHOLDERS: frozenset[str] = frozenset(
    {"duration", "night", "clock", "count", "evenings", "medicines", "signs", "compared"})

DETECTOR_MEASURES: dict[str, bool] = {
    "longest_cramp_s": True,       # per night: the longest cramp (s)
    "cramp_nights_in_week": False,  # most nights with cramps in any 7 days ending in the period
    "max_cramps_per_night": False,  # most cramps in one night of the period
    "both_legs_nights": False,      # nights of the period with cramps in both legs
    "cramp_nights": False,          # nights of the period with cramps
}
"""Detector measures a condition may test (name -> evaluated per night)."""

PATTERNS: tuple[str, ...] = ("cramps_after_new_medicine",)

VERDICTS: tuple[str, ...] = ("helps_some", "unproven", "no_benefit", "risky", "not_for_cramps")
"""What the evidence shows about a claim of the seed article."""


def unsafe_phrases(text: str) -> list[str]:
    """What ``text`` would instruct that the rules must never instruct (empty = safe).

    See :mod:`detector.causes.safety`: taking a substance, piercing the skin, stopping a
    medicine, drinking more.
    """
    return instructions(text)


# ------------------------------------------------------------------ conditions


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


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One rule of the rules file.

    Attributes
    ----------
    id : str
    kind : {"red_flag", "factor", "advice"}
    level : {"urgent", "see_clinician"} or None
        Red flags only.
    strength : {"established", "plausible", "weak", "unsupported"} or None
        Factors only.
    name : str
        Short name of the factor or sign.
    condition : Condition
    source : str
        Where the rating comes from.
    wording : str
        Text shown, with ``{placeholders}``.
    advice : str
        What to do (may be empty).
    """

    id: str
    kind: str
    level: str | None
    strength: str | None
    name: str
    condition: Condition
    source: str
    wording: str
    advice: str


@dataclass(frozen=True, kw_only=True)
class Exposure:
    """A diary factor tested in the cross-night association."""

    id: str
    label: str
    condition: Compare


@dataclass(frozen=True, kw_only=True)
class Claim:
    """A claim of the seed article and what the evidence shows about it.

    Attributes
    ----------
    id, name : str
    claim : str
        What the article says (reported, not endorsed).
    verdict : str
        One of :data:`VERDICTS`.
    evidence : str
        What the evidence shows, in plain words.
    source : str
        Where that comes from.
    concerns : Condition or None
        When it holds for a person's diary or profile, the claim is shown in their report.
    """

    id: str
    name: str
    claim: str
    verdict: str
    evidence: str
    source: str
    concerns: Condition | None


@dataclass(frozen=True, kw_only=True)
class RuleSet:
    """A validated rules file."""

    version: int
    not_a_diagnosis: str
    rules: tuple[Rule, ...]
    exposures: tuple[Exposure, ...]
    origin: str
    claims: tuple[Claim, ...] = ()

    def rule(self, rule_id: str) -> Rule:
        """The rule with id ``rule_id`` (``KeyError`` if none)."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


# ------------------------------------------------------------------ loading


def default_rules_text() -> str:
    """Text of the shipped ``rules.toml`` (read as package data)."""
    return resources.files("detector.causes").joinpath("rules.toml").read_text(encoding="utf-8")


@functools.cache
def default_rules() -> RuleSet:
    """The shipped rules, loaded once."""
    return load_rules(None)


def load_rules(path: Path | None = None) -> RuleSet:
    """Load and validate a rules file; the shipped one when ``path`` is ``None``.

    Raises
    ------
    CrampInputError
        One line naming the file, the rule and what is wrong.
    """
    if path is None:
        return parse_rules(default_rules_text(), origin="detector/causes/rules.toml")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CrampInputError(str(p), "rules file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CrampInputError(str(p), f"cannot read the rules file ({exc})") from None
    return parse_rules(text, origin=str(p))


def parse_rules(text: str, *, origin: str) -> RuleSet:
    """Parse and validate rules TOML text.

    Raises
    ------
    CrampInputError
        If the text is not TOML or a rule is not valid.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CrampInputError(origin, f"not valid TOML ({exc})") from None
    _keys(data, {"meta", "rule", "exposure", "claim"}, origin)
    meta = data.get("meta")
    if not isinstance(meta, dict):
        raise CrampInputError(origin, "expected a [meta] table with version and not_a_diagnosis")
    _keys(meta, {"version", "not_a_diagnosis"}, f"{origin} [meta]")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version != 1:
        raise CrampInputError(f"{origin} [meta].version", f"expected 1, got {version!r}")
    nad = _text(meta, "not_a_diagnosis", f"{origin} [meta]", required=True)
    if "not a diagnosis" not in nad.lower():
        raise CrampInputError(f"{origin} [meta].not_a_diagnosis",
                              "must say that this is not a diagnosis")
    raw_rules = data.get("rule")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise CrampInputError(origin, "expected one or more [[rule]] tables")
    rules = tuple(_rule(r, i, origin) for i, r in enumerate(raw_rules))
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise CrampInputError(f"{origin} rule {r.id}", "rule id is used twice")
        seen.add(r.id)
    raw_exp = data.get("exposure", [])
    if not isinstance(raw_exp, list):
        raise CrampInputError(origin, "expected [[exposure]] tables")
    exposures = tuple(_exposure(e, i, origin) for i, e in enumerate(raw_exp))
    if len({e.id for e in exposures}) != len(exposures):
        raise CrampInputError(origin, "an exposure id is used twice")
    raw_claims = data.get("claim", [])
    if not isinstance(raw_claims, list):
        raise CrampInputError(origin, "expected [[claim]] tables")
    claims = tuple(_claim(c, i, origin) for i, c in enumerate(raw_claims))
    if len({c.id for c in claims}) != len(claims):
        raise CrampInputError(origin, "a claim id is used twice")
    return RuleSet(version=version, not_a_diagnosis=nad, rules=rules, exposures=exposures,
                   origin=origin, claims=claims)


def _claim(raw: object, index: int, origin: str) -> Claim:
    where = f"{origin} claim #{index + 1}"
    if not isinstance(raw, dict):
        raise CrampInputError(where, "expected a table")
    cid = raw.get("id")
    if not isinstance(cid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", cid):
        raise CrampInputError(f"{where}.id", f"expected a lower-case identifier, got {cid!r}")
    where = f"{origin} claim {cid}"
    _keys(raw, {"id", "name", "claim", "verdict", "evidence", "source", "concerns"}, where)
    verdict = raw.get("verdict")
    if verdict not in VERDICTS:
        raise CrampInputError(f"{where}.verdict", f"a claim needs a verdict, one of "
                                                  f"{', '.join(VERDICTS)}; got {verdict!r}")
    concerns = (parse_condition(raw["concerns"], f"{where}.concerns") if "concerns" in raw
                else None)
    claim = Claim(id=cid, name=_text(raw, "name", where, required=True),
                  claim=_text(raw, "claim", where, required=True), verdict=verdict,
                  evidence=_text(raw, "evidence", where, required=True),
                  source=_text(raw, "source", where, required=True), concerns=concerns)
    for key in ("name", "claim", "evidence", "source"):
        bad = instructions(getattr(claim, key))
        if bad:
            raise CrampInputError(f"{where}.{key}", f"a claim states evidence; it may not "
                                                    f"instruct {bad[0]}")
    return claim


def _keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise CrampInputError(where, f"unknown key {extra[0]!r}; expected "
                                     f"{', '.join(sorted(allowed))}")


def _text(table: dict[str, Any], key: str, where: str, *, required: bool) -> str:
    value = table.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise CrampInputError(f"{where}.{key}", f"expected text, got {value!r}")
    return " ".join(value.split())


def _rule(raw: object, index: int, origin: str) -> Rule:
    where = f"{origin} rule #{index + 1}"
    if not isinstance(raw, dict):
        raise CrampInputError(where, "expected a table")
    rid = raw.get("id")
    if not isinstance(rid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", rid):
        raise CrampInputError(f"{where}.id", f"expected a lower-case identifier, got {rid!r}")
    where = f"{origin} rule {rid}"
    _keys(raw, {"id", "kind", "level", "strength", "name", "condition", "source", "wording",
                "advice"}, where)
    kind = raw.get("kind")
    if kind not in KINDS:
        raise CrampInputError(f"{where}.kind", f"expected one of {', '.join(KINDS)}, "
                                               f"got {kind!r}")
    level = raw.get("level")
    strength = raw.get("strength")
    if kind == "red_flag":
        if level not in LEVELS:
            raise CrampInputError(f"{where}.level", f"a red flag needs a level, one of "
                                                    f"{', '.join(LEVELS)}; got {level!r}")
    elif level is not None:
        raise CrampInputError(f"{where}.level", "only red flags have a level")
    if kind == "factor":
        if strength not in STRENGTHS:
            raise CrampInputError(f"{where}.strength", f"a factor needs a strength, one of "
                                                       f"{', '.join(STRENGTHS)}; got "
                                                       f"{strength!r}")
    elif strength is not None:
        raise CrampInputError(f"{where}.strength", "only factors have an evidence strength")
    if "condition" not in raw:
        raise CrampInputError(f"{where}.condition", "missing; use { always = true } or "
                                                    "{ reference = true } if none applies")
    condition = parse_condition(raw["condition"], f"{where}.condition")
    rule = Rule(id=rid, kind=kind, level=level, strength=strength,
                name=_text(raw, "name", where, required=True), condition=condition,
                source=_text(raw, "source", where, required=True),
                wording=_text(raw, "wording", where, required=True),
                advice=_text(raw, "advice", where, required=False))
    if kind == "advice" and rid not in VETTED_ADVICE:
        raise CrampInputError(f"{where}.id", f"advice comes only from the vetted list "
                                             f"({', '.join(sorted(VETTED_ADVICE))})")
    for key in ("name", "wording", "advice", "source"):
        text = getattr(rule, key)
        bad = instructions(text)
        if bad:
            raise CrampInputError(f"{where}.{key}", f"wording may not instruct {bad[0]}")
        _check_placeholders(text, f"{where}.{key}")
    if strength == "unsupported" and "evidence does not support" not in rule.wording:
        raise CrampInputError(f"{where}.wording", "an unsupported factor's wording must say "
                                                  "that the evidence does not support it")
    return rule


def _check_placeholders(text: str, where: str) -> None:
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise CrampInputError(where, f"bad {{placeholder}} ({exc})") from None
    for _, name, spec, conv in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conv:
            raise CrampInputError(where, f"unknown placeholder {{{name}}}; expected one of "
                                         f"{', '.join(sorted(PLACEHOLDERS))}")


def _exposure(raw: object, index: int, origin: str) -> Exposure:
    where = f"{origin} exposure #{index + 1}"
    if not isinstance(raw, dict):
        raise CrampInputError(where, "expected a table")
    _keys(raw, {"id", "label", "condition"}, where)
    eid = raw.get("id")
    if not isinstance(eid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", eid):
        raise CrampInputError(f"{where}.id", f"expected a lower-case identifier, got {eid!r}")
    cond = parse_condition(raw.get("condition"), f"{where}.condition")
    if not isinstance(cond, Compare) or cond.source != "diary":
        raise CrampInputError(f"{where}.condition", "an exposure is one diary field test")
    label = _text(raw, "label", where, required=True)
    if instructions(label):
        raise CrampInputError(f"{where}.label", "label may not instruct anything")
    return Exposure(id=eid, label=label, condition=cond)


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
        _keys(raw, {key}, where)
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
        _keys(raw, {"condition"}, where)
        if not isinstance(raw["condition"], str) or raw["condition"] not in CONDITIONS:
            raise CrampInputError(where, f"unknown condition {raw['condition']!r}; expected "
                                         f"one of {', '.join(CONDITIONS)}")
        return HasCondition(condition=raw["condition"])
    if "medicine" in raw:
        _keys(raw, {"medicine"}, where)
        meds = raw["medicine"]
        meds = (meds,) if isinstance(meds, str) else meds
        if not isinstance(meds, list | tuple) or not meds or any(
                not isinstance(m, str) or m not in MEDICINE_CLASSES for m in meds):
            raise CrampInputError(where, f"expected medicine classes from "
                                         f"{', '.join(MEDICINE_CLASSES)}, got {raw['medicine']!r}")
        return TakesMedicine(medicines=tuple(meds))
    if "sign" in raw:
        _keys(raw, {"sign"}, where)
        if not isinstance(raw["sign"], str) or raw["sign"] not in WARNING_SIGNS:
            raise CrampInputError(where, f"unknown sign {raw['sign']!r}; expected one of "
                                         f"{', '.join(WARNING_SIGNS)}")
        return HasSign(sign=raw["sign"])
    if "pattern" in raw:
        _keys(raw, {"pattern", "within_days"}, where)
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
    _keys(raw, allowed, where)
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
