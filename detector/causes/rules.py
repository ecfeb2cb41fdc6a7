"""Cause rules as data: the model, the TOML loader and its validation.

What a rule tests (its condition) is the language of :mod:`detector.causes.conditions`.

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

from detector.causes.conditions import Compare, Condition, check_keys, parse_condition
from detector.causes.safety import VETTED_ADVICE, instructions
from detector.errors import CrampInputError

KINDS: tuple[str, ...] = ("red_flag", "factor", "advice")
LEVELS: tuple[str, ...] = ("urgent", "see_clinician")
STRENGTHS: tuple[str, ...] = ("established", "plausible", "weak", "unsupported")
PLACEHOLDERS: frozenset[str] = frozenset(
    {"duration", "night", "clock", "count", "evenings", "medicines", "signs", "compared"})


VERDICTS: tuple[str, ...] = ("helps_some", "unproven", "no_benefit", "risky", "not_for_cramps")
"""What the evidence shows about a claim of the seed article."""


def unsafe_phrases(text: str) -> list[str]:
    """What ``text`` would instruct that the rules must never instruct (empty = safe).

    See :mod:`detector.causes.safety`: taking a substance, piercing the skin, stopping a
    medicine, drinking more.
    """
    return instructions(text)



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
    check_keys(data, {"meta", "rule", "exposure", "claim"}, origin)
    meta = data.get("meta")
    if not isinstance(meta, dict):
        raise CrampInputError(origin, "expected a [meta] table with version and not_a_diagnosis")
    check_keys(meta, {"version", "not_a_diagnosis"}, f"{origin} [meta]")
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
    check_keys(raw, {"id", "name", "claim", "verdict", "evidence", "source", "concerns"}, where)
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
    check_keys(raw, {"id", "kind", "level", "strength", "name", "condition", "source", "wording",
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
    check_keys(raw, {"id", "label", "condition"}, where)
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
