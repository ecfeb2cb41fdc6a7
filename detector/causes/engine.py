"""The rules engine: findings for a night or a period, from episodes, diary and profile.

Findings come out in a fixed order: red flags (urgent, then see a clinician), factors by
evidence strength (established, plausible, weak, unsupported), what goes with cramp nights
across many nights, then advice. Factors are only reported for a period with cramps.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from detector.causes.association import (
    AssociationResult,
    NightObservation,
    StretchTrial,
    associate,
    evaluate_stretching,
    exposed,
)
from detector.causes.conditions import (
    DETECTOR_MEASURES,
    AllOf,
    Always,
    AnyOf,
    Compare,
    Condition,
    HasCondition,
    HasSign,
    Pattern,
    Reference,
    TakesMedicine,
    compare,
)
from detector.causes.diary import MEDICINE_CLASSES, WARNING_SIGNS, DiaryEntry, load_entries
from detector.causes.profile import Profile, load_profile
from detector.causes.rules import STRENGTHS, Rule, RuleSet
from detector.causes.wording import format_clock, format_date, format_duration
from detector.store.night_queries import load_nights_on, night_dates
from detector.store.nights import StoredNight


@dataclass(frozen=True, kw_only=True)
class NightFacts:
    """What the detector saw on one night date (all recordings of that date together).

    Attributes
    ----------
    night_date : date
    n_episodes : int
    legs : frozenset of str
        Legs with a cramp.
    longest_cramp_s : float
        0 without cramps.
    longest_onset_utc : datetime or None
        Start of the longest cramp.
    n_sleep_nights, n_cramp_sleep_nights : int
        Separate sleep nights on this date (two unrelated demo runs of one evening, or files in
        the replays store, are two) and how many of them had a cramp. The other measures are
        of the worst of them; these two are what the period's night counts add up.
    """

    night_date: date
    n_episodes: int
    legs: frozenset[str]
    longest_cramp_s: float
    longest_onset_utc: datetime | None
    n_sleep_nights: int = 1
    n_cramp_sleep_nights: int | None = None

    @property
    def cramp_sleep_nights(self) -> int:
        """Sleep nights of this date with a cramp (1 or 0 when not counted separately)."""
        if self.n_cramp_sleep_nights is not None:
            return self.n_cramp_sleep_nights
        return 1 if self.n_episodes > 0 else 0


def facts_from_nights(nights: Iterable[StoredNight], *, one_per_recording: bool = False
                      ) -> dict[date, NightFacts]:
    """Combine stored recordings into one :class:`NightFacts` per night date.

    Recordings are first merged into sleep nights (:mod:`detector.store.sleep`): counts and
    legs are per sleep night. A date with several separate nights (two demo runs of one
    evening) gets the facts of its worst night, so nothing is summed across nights.
    """
    from detector.store.sleep import group_sleep_nights

    out: dict[date, NightFacts] = {}
    for night in group_sleep_nights(list(nights), one_per_recording=one_per_recording):
        eps = [e for _, e in night.episodes]
        longest = max(eps, key=lambda e: e.duration_s, default=None)
        facts = NightFacts(
            night_date=night.night_date, n_episodes=len(eps),
            legs=frozenset(e.leg for e in eps),
            longest_cramp_s=longest.duration_s if longest else 0.0,
            longest_onset_utc=longest.onset_utc if longest else None)
        prev = out.get(night.night_date)
        out[night.night_date] = facts if prev is None else _worse(prev, facts)
    return out


def _worse(a: NightFacts, b: NightFacts) -> NightFacts:
    """Per measure, the worse of two separate nights of one date."""
    longest = a if a.longest_cramp_s >= b.longest_cramp_s else b
    legs = a.legs if len(a.legs) >= len(b.legs) else b.legs
    return NightFacts(night_date=a.night_date, n_episodes=max(a.n_episodes, b.n_episodes),
                      legs=legs, longest_cramp_s=longest.longest_cramp_s,
                      longest_onset_utc=longest.longest_onset_utc,
                      n_sleep_nights=a.n_sleep_nights + b.n_sleep_nights,
                      n_cramp_sleep_nights=a.cramp_sleep_nights + b.cramp_sleep_nights)


@dataclass(frozen=True, kw_only=True)
class History:
    """Everything the rules look at: recorded nights, diary entries and the profile."""

    nights: Mapping[date, NightFacts]
    diary: Mapping[date, DiaryEntry]
    profile: Profile


def load_history(conn: sqlite3.Connection, *, last: date, one_per_recording: bool = False
                 ) -> History:
    """Read every night, diary entry and the profile up to the night date ``last``.

    ``one_per_recording``: every recording is its own night (the replays store).
    """
    nights = [n for d in night_dates(conn) if d <= last
              for n in load_nights_on(conn, d, with_trace=False)]
    return History(nights=facts_from_nights(nights, one_per_recording=one_per_recording),
                   diary=load_entries(conn, None, last),
                   profile=load_profile(conn))


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


# ------------------------------------------------------------------ conditions


class _Context(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "not known"


@dataclass(frozen=True, kw_only=True)
class _Period:
    history: History
    first: date
    last: date
    local: tzinfo | None

    @property
    def nights(self) -> list[NightFacts]:
        return [f for d, f in sorted(self.history.nights.items()) if self.first <= d <= self.last]

    @property
    def evenings(self) -> list[DiaryEntry]:
        return [e for d, e in sorted(self.history.diary.items()) if self.first <= d <= self.last]


def _detector(c: Compare, p: _Period) -> list[dict[str, str]]:
    nights = p.nights
    if c.field == "longest_cramp_s":
        return [{"duration": format_duration(n.longest_cramp_s),
                 "night": format_date(n.night_date),
                 "clock": format_clock(n.longest_onset_utc, p.local)
                 if n.longest_onset_utc else "not known", "count": "1",
                 "night_iso": n.night_date.isoformat()}
                for n in nights if n.n_episodes and compare(n.longest_cramp_s, c.op, c.value)]
    if c.field == "cramp_nights_in_week":
        best: tuple[int, date] | None = None
        for n in nights:
            count = sum(1 for d, f in p.history.nights.items()
                        if n.night_date - timedelta(days=6) <= d <= n.night_date
                        and f.n_episodes > 0)
            if best is None or count >= best[0]:
                best = (count, n.night_date)
        value, at = best if best else (0, p.last)
    elif c.field == "max_cramps_per_night":
        top = max(nights, key=lambda n: (n.n_episodes, n.night_date), default=None)
        value, at = (top.n_episodes, top.night_date) if top else (0, p.last)
    elif c.field == "both_legs_nights":
        both = [n.night_date for n in nights if {"left", "right"} <= n.legs]
        value, at = len(both), (both[-1] if both else p.last)
    else:  # cramp_nights
        value, at = sum(1 for n in nights if n.n_episodes > 0), p.last
    if not compare(value, c.op, c.value):
        return []
    return [{"count": str(value), "night": format_date(at), "night_iso": at.isoformat()}]


def _diary(c: Compare, p: _Period) -> list[dict[str, str]]:
    hits = sum(1 for e in p.evenings if exposed(e, c))
    return [{"evenings": str(hits)}] if hits >= c.min_evenings else []


def _medicine(c: TakesMedicine, p: _Period) -> list[dict[str, str]]:
    entries = [e for e in p.evenings if set(c.medicines) & set(e.medicines)]
    if not entries:
        return []
    seen = [m for m in c.medicines if any(m in e.medicines for e in entries)]
    names = ", ".join(MEDICINE_CLASSES[m] for m in seen)
    return [{"evenings": str(len(entries)), "medicines": names[:1].upper() + names[1:]}]


def _new_medicine(c: Pattern, p: _Period) -> list[dict[str, str]]:
    nights = p.history.nights
    out: list[dict[str, str]] = []
    for d0, entry in sorted(p.history.diary.items()):
        if not entry.medicines_new or d0 > p.last:
            continue
        end = d0 + timedelta(days=c.within_days)
        if end < p.first:
            continue
        after = [f for d, f in nights.items() if d0 <= d <= min(end, p.last)]
        before = [f for d, f in nights.items() if d0 - timedelta(days=c.within_days) <= d < d0]
        rate_after = sum(f.n_episodes > 0 for f in after) / len(after) if after else 0.0
        rate_before = sum(f.n_episodes > 0 for f in before) / len(before) if before else 0.0
        if rate_after > 0 and rate_before < 0.5 * rate_after:
            names = ", ".join(MEDICINE_CLASSES[m] for m in entry.medicines_new)
            compared = (f", and not as often in the {len(before)} recorded night"
                        f"{'s' if len(before) != 1 else ''} before it" if before
                        else "; no night from before it was recorded to compare with")
            out.append({"medicines": names, "night": format_date(d0),
                        "night_iso": d0.isoformat(), "compared": compared})
    return out[-1:]


def evaluate_condition(cond: Condition, p: _Period) -> list[dict[str, str]]:
    """Contexts in which ``cond`` holds (empty = it does not hold)."""
    profile = p.history.profile
    if isinstance(cond, Always):
        return [{}]
    if isinstance(cond, Reference):
        return []
    if isinstance(cond, AllOf):
        acc: list[dict[str, str]] = [{}]
        for part in cond.parts:
            got = evaluate_condition(part, p)
            if not got:
                return []
            acc = [{**a, **b} for a in acc for b in got]
        return acc
    if isinstance(cond, AnyOf):
        for part in cond.parts:
            got = evaluate_condition(part, p)
            if got:
                return got
        return []
    if isinstance(cond, HasCondition):
        return [{}] if cond.condition in profile.conditions else []
    if isinstance(cond, TakesMedicine):
        return _medicine(cond, p)
    if isinstance(cond, HasSign):
        hits = [e for e in p.evenings if cond.sign in e.signs]
        return [{"evenings": str(len(hits)), "signs": WARNING_SIGNS[cond.sign]}] if hits else []
    if isinstance(cond, Pattern):
        return _new_medicine(cond, p)
    if cond.source == "profile":
        value = getattr(profile, cond.field)
        return [{}] if value is not None and compare(value, cond.op, cond.value) else []
    if cond.source == "diary":
        return _diary(cond, p)
    if cond.field not in DETECTOR_MEASURES:
        return []
    return _detector(cond, p)


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
    context = _Context(ctx)
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
    period = _Period(history=history, first=first, last=last, local=local)
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
