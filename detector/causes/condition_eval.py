"""Where each rule condition holds: the contexts (wording values) it holds in, over a period.

A condition (:mod:`detector.causes.conditions`) holds in zero or more contexts; each context
fills the placeholders of the rule's wording (``{count}``, ``{night}``...). The engine
(:mod:`detector.causes.engine`) turns each context into a finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta, tzinfo

from detector.causes.association import exposed
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
from detector.causes.diary import MEDICINE_CLASSES, WARNING_SIGNS, DiaryEntry
from detector.causes.history import History, NightFacts
from detector.causes.wording import format_clock, format_date, format_duration


class Context(dict[str, str]):
    """Wording values of a finding; a missing one reads "not known"."""

    def __missing__(self, key: str) -> str:
        return "not known"


@dataclass(frozen=True, kw_only=True)
class Period:
    """The nights ``first`` to ``last`` of a history, and the zone for clock times."""

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


def _detector(c: Compare, p: Period) -> list[dict[str, str]]:
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


def _diary(c: Compare, p: Period) -> list[dict[str, str]]:
    hits = sum(1 for e in p.evenings if exposed(e, c))
    return [{"evenings": str(hits)}] if hits >= c.min_evenings else []


def _medicine(c: TakesMedicine, p: Period) -> list[dict[str, str]]:
    entries = [e for e in p.evenings if set(c.medicines) & set(e.medicines)]
    if not entries:
        return []
    seen = [m for m in c.medicines if any(m in e.medicines for e in entries)]
    names = ", ".join(MEDICINE_CLASSES[m] for m in seen)
    return [{"evenings": str(len(entries)), "medicines": names[:1].upper() + names[1:]}]


def _new_medicine(c: Pattern, p: Period) -> list[dict[str, str]]:
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


def evaluate_condition(cond: Condition, p: Period) -> list[dict[str, str]]:
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
