"""The rules engine: findings for a night or a period, from episodes, diary and profile.

Findings come out in a fixed order: red flags (urgent, then see a clinician), factors by
evidence strength (established, plausible, weak, unsupported), what goes with cramp nights
across many nights, then advice. Factors are only reported for a period with cramps. The facts
come from :mod:`detector.causes.history`; where each condition holds is worked out in
:mod:`detector.causes.condition_eval`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Any

from detector.causes.association import (
    AssociationResult,
    NightObservation,
    StretchTrial,
    associate,
    evaluate_stretching,
)
from detector.causes.condition_eval import Context, Period, evaluate_condition
from detector.causes.history import History, load_history
from detector.causes.rules import STRENGTHS, Rule, RuleSet


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One line of the findings.

    Attributes
    ----------
    rule_id : str
        Rule id, or ``"association:<exposure>"`` / ``"stretching_trial_result"``.
    kind : {"red_flag", "factor", "claim", "association", "advice"}
    level : {"urgent", "see_clinician"} or None
    strength : str or None
        Evidence strength of a factor, or the verdict of a claim of the seed article.
    name, text, advice, source : str
    night_date : date or None
        Night the finding is about, when it is about one.
    """

    rule_id: str
    kind: str
    level: str | None
    strength: str | None
    name: str
    text: str
    advice: str
    source: str
    night_date: date | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {"rule_id": self.rule_id, "kind": self.kind, "level": self.level,
                "strength": self.strength, "name": self.name, "text": self.text,
                "advice": self.advice, "source": self.source,
                "night_date": None if self.night_date is None else self.night_date.isoformat()}


@dataclass(frozen=True, kw_only=True)
class CauseReport:
    """Findings of a period, with the cross-night comparison behind them.

    Attributes
    ----------
    first, last : date
        Night dates of the period.
    n_nights, n_cramp_nights, n_diary_entries : int
        Recorded sleep nights, sleep nights with cramps and diary entries in the period (two
        separate nights of one date count as two).
    n_dates : int
        Night dates with a recording in the period (<= ``n_nights``).
    findings : tuple of Finding
        Ordered: red flags, factors, claims that concern the person, associations, advice.
    association : AssociationResult
        Over every recorded night up to ``last``.
    stretching : StretchTrial
    not_a_diagnosis : str
    profile_empty : bool
    """

    first: date
    last: date
    n_nights: int
    n_cramp_nights: int
    n_diary_entries: int
    n_dates: int
    findings: tuple[Finding, ...]
    association: AssociationResult
    stretching: StretchTrial
    not_a_diagnosis: str
    profile_empty: bool

    @property
    def red_flags(self) -> tuple[Finding, ...]:
        """Red-flag findings, urgent first."""
        return tuple(f for f in self.findings if f.kind == "red_flag")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {"first_night": self.first.isoformat(), "last_night": self.last.isoformat(),
                "n_nights": self.n_nights, "n_cramp_nights": self.n_cramp_nights,
                "n_dates": self.n_dates,
                "n_diary_entries": self.n_diary_entries, "profile_empty": self.profile_empty,
                "not_a_diagnosis": self.not_a_diagnosis,
                "findings": [f.to_dict() for f in self.findings],
                "association": self.association.to_dict(),
                "stretching_trial": self.stretching.to_dict()}


# ------------------------------------------------------------------ evaluation

_KIND_ORDER = {"red_flag": 0, "factor": 1, "claim": 2, "association": 3, "advice": 4}


def _order(f: Finding, index: int) -> tuple[int, int, int]:
    sub = 0
    if f.kind == "red_flag":
        sub = 0 if f.level == "urgent" else 1
    elif f.kind == "factor" and f.strength is not None:
        sub = STRENGTHS.index(f.strength)
    return _KIND_ORDER[f.kind], sub, index


def _finding(rule: Rule, ctx: dict[str, str]) -> Finding:
    context = Context(ctx)
    return Finding(rule_id=rule.id, kind=rule.kind, level=rule.level, strength=rule.strength,
                   name=rule.name, text=rule.wording.format_map(context),
                   advice=rule.advice.format_map(context), source=rule.source,
                   night_date=date.fromisoformat(ctx["night_iso"]) if "night_iso" in ctx
                   else None)


def _association_findings(result: AssociationResult, trial: StretchTrial) -> list[Finding]:
    source = "Within-person comparison of your nights (Fisher exact test, Holm correction)"
    out: list[Finding] = []
    if result.n_compared == 0:
        out.append(Finding(
            rule_id="association:not_enough_data", kind="association", level=None,
            strength=None, name="What goes with your cramp nights", source=source, advice="",
            text=(f"Not enough data yet to tell which diary factors go with your cramp nights: "
                  f"{result.n_usable_nights} recorded nights have a diary entry. The factor "
                  f"closest to a comparison needs at least {result.more_nights_needed} more "
                  "recorded nights with it filled in (30 in all, with 5 or more nights with "
                  "cramps and without, and 5 or more evenings with and without the factor).")))
    else:
        for fr in result.factors:
            if fr.compared and (fr.goes_with or fr.goes_against):
                out.append(Finding(rule_id=f"association:{fr.exposure_id}", kind="association",
                                   level=None, strength=None, name=fr.label.capitalize(),
                                   text=fr.text, advice="", source=source))
        unclear = [fr.label for fr in result.factors
                   if fr.compared and not (fr.goes_with or fr.goes_against)]
        if unclear:
            out.append(Finding(
                rule_id="association:no_clear_difference", kind="association", level=None,
                strength=None, name="No clear difference", advice="", source=source,
                text=f"No clear difference in cramp nights with: {', '.join(unclear)}."))
        out.append(Finding(
            rule_id="association:caveat", kind="association", level=None, strength=None,
            name="How far to trust this", advice="", source=source,
            text=("A diary predicts one person's nights only weakly, and habits change after "
                  "bad nights. Treat these results as hints to test, for example with "
                  "alternating weeks.")))
    if trial.ready:
        out.append(Finding(rule_id="stretching_trial_result", kind="association", level=None,
                           strength=None, name="Stretching weeks", text=trial.text, advice="",
                           source="Your alternating weeks (permutation test over weeks)"))
    return out


def evaluate(history: History, *, first: date, last: date, rules: RuleSet,
             local: tzinfo | None = None) -> CauseReport:
    """Evaluate every rule on the nights ``first`` to ``last``.

    Parameters
    ----------
    history : History
        Nights, diary and profile; nights before ``first`` are used for weekly counts, the
        new-medicine pattern and the cross-night comparison.
    first, last : date
        Night dates of the period (inclusive).
    rules : RuleSet
    local : tzinfo or None
        Zone for clock times in the wording (``None`` = this computer's).

    Returns
    -------
    CauseReport
    """
    if first > last:
        raise ValueError("first night after last night")
    period = Period(history=history, first=first, last=last, local=local)
    nights = period.nights
    n_cramp = sum(1 for n in nights if n.n_episodes > 0)
    found: list[Finding] = []
    for rule in rules.rules:
        if rule.kind == "factor" and n_cramp == 0:
            continue
        found.extend(_finding(rule, ctx) for ctx in evaluate_condition(rule.condition, period))
    for claim in rules.claims:
        if claim.concerns is not None and evaluate_condition(claim.concerns, period):
            found.append(Finding(rule_id=f"claim:{claim.id}", kind="claim", level=None,
                                 strength=claim.verdict, name=claim.name,
                                 text=f"{claim.claim} {claim.evidence}", advice="",
                                 source=claim.source))
    obs = [NightObservation(night_date=d, n_episodes=f.n_episodes,
                            diary=history.diary.get(d))
           for d, f in sorted(history.nights.items()) if d <= last]
    association = associate(obs, rules.exposures)
    trial = evaluate_stretching(obs)
    found.extend(_association_findings(association, trial))
    ordered = [f for _, f in sorted(((_order(f, i), f) for i, f in enumerate(found)),
                                    key=lambda t: t[0])]
    return CauseReport(
        first=first, last=last, n_nights=sum(n.n_sleep_nights for n in nights),
        n_cramp_nights=sum(n.cramp_sleep_nights for n in nights), n_dates=len(nights),
        n_diary_entries=len(period.evenings), findings=tuple(ordered), association=association,
        stretching=trial, not_a_diagnosis=rules.not_a_diagnosis,
        profile_empty=history.profile.is_empty)


def evaluate_store(conn: sqlite3.Connection, dates: list[date], *, rules: RuleSet,
                   local: tzinfo | None = None, one_per_recording: bool = False
                   ) -> CauseReport:
    """Evaluate the nights of ``dates`` (their span) from the store."""
    first, last = min(dates), max(dates)
    history = load_history(conn, last=last, one_per_recording=one_per_recording)
    return evaluate(history, first=first, last=last, rules=rules, local=local)
