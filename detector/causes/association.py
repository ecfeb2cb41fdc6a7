"""Which diary factors go with cramp nights, across many nights of one person.

Unit = night: outcome "any cramp that night", exposure = that evening's diary (the night date
is the evening's date). Only nights with a recording *and* the factor recorded in the diary
count. A factor is compared only with enough data (:data:`MIN_NIGHTS` nights, and at least
:data:`MIN_GROUP` exposed, unexposed, cramp and cramp-free nights): the risk difference (cramp
nights among exposed minus unexposed evenings) with a Newcombe hybrid-score interval at a
Bonferroni-adjusted level, and Fisher's exact test with Holm's correction across the factors
compared. Results are worded "goes with", never as a cause: one person's diary predicts their
nights poorly, and people change habits after bad nights.

The N-of-1 stretching plan alternates weeks with and without bedtime stretching (the order of
each pair drawn at random); :func:`evaluate_stretching` compares the weeks the diary shows.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from detector.causes.conditions import Compare, compare
from detector.causes.diary import DiaryEntry
from detector.causes.rules import Exposure
from detector.errors import CrampInputError

MIN_NIGHTS = 30
"""Nights with a recording and the factor recorded, before a factor is compared."""
MIN_GROUP = 5
"""Fewest exposed, unexposed, cramp and cramp-free nights for a comparison."""
ALPHA = 0.05
"""Family-wise error rate across the factors compared."""


@dataclass(frozen=True, kw_only=True)
class NightObservation:
    """One recorded night and the diary of its evening.

    Attributes
    ----------
    night_date : date
    n_episodes : int
        Cramps recorded that night.
    diary : DiaryEntry or None
        The evening's diary entry, if any.
    """

    night_date: date
    n_episodes: int
    diary: DiaryEntry | None


def exposed(entry: DiaryEntry | None, condition: Compare) -> bool | None:
    """Whether an evening meets a diary condition; ``None`` when the field was not recorded."""
    if entry is None:
        return None
    value = getattr(entry, condition.field)
    if value is None:
        return None
    return compare(value, condition.op, condition.value)


# ------------------------------------------------------------------ statistics


def wilson_interval(k: int, n: int, *, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` (``(0, 1)`` when ``n`` is 0)."""
    if n == 0:
        return 0.0, 1.0
    from scipy import stats  # on use: scipy.stats costs half a second to import

    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(k1: int, n1: int, k2: int, n2: int, *, confidence: float
                        ) -> tuple[float, float, float]:
    """Difference of two proportions ``k1/n1 - k2/n2`` with Newcombe's hybrid score interval.

    Returns
    -------
    difference, low, high : float
        In proportion units (-1..1).
    """
    if n1 == 0 or n2 == 0:
        raise ValueError("both groups need at least one night")
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, confidence=confidence)
    l2, u2 = wilson_interval(k2, n2, confidence=confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, max(-1.0, low), min(1.0, high)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


# ------------------------------------------------------------------ per factor


@dataclass(frozen=True, kw_only=True)
class FactorResult:
    """The comparison of one diary factor, or why it was not made.

    Attributes
    ----------
    exposure_id, label : str
    n_nights : int
        Nights with a recording and the factor recorded.
    n_exposed, n_exposed_cramp, n_unexposed, n_unexposed_cramp : int
    more_nights_needed : int
        0 when compared; else the fewest extra nights before a comparison is possible.
    difference, low, high : float or None
        Risk difference (exposed minus unexposed, proportion units) and its interval.
    confidence : float or None
        Level of the interval (adjusted for the number of factors compared).
    p_value, p_adjusted : float or None
        Fisher's exact test, and after Holm's correction.
    goes_with : bool
        Cramp nights are more common after exposed evenings beyond chance (after correction).
    goes_against : bool
        Cramp nights are less common after exposed evenings beyond chance.
    text : str
        Plain-words result.
    """

    exposure_id: str
    label: str
    n_nights: int
    n_exposed: int
    n_exposed_cramp: int
    n_unexposed: int
    n_unexposed_cramp: int
    more_nights_needed: int
    difference: float | None = None
    low: float | None = None
    high: float | None = None
    confidence: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    goes_with: bool = False
    goes_against: bool = False
    text: str = ""

    @property
    def compared(self) -> bool:
        """Whether there were enough nights to compare."""
        return self.more_nights_needed == 0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready values."""
        return {k: getattr(self, k) for k in (
            "exposure_id", "label", "n_nights", "n_exposed", "n_exposed_cramp", "n_unexposed",
            "n_unexposed_cramp", "more_nights_needed", "difference", "low", "high",
            "confidence", "p_value", "p_adjusted", "goes_with", "goes_against", "text")}


@dataclass(frozen=True, kw_only=True)
class AssociationResult:
    """All factors, compared or not.

    Attributes
    ----------
    factors : tuple of FactorResult
        In the rules file's exposure order.
    n_compared : int
        Factors with enough data (the count the correction is for).
    n_usable_nights : int
        Recorded nights with any diary entry.
    more_nights_needed : int
        Fewest extra nights before the first factor can be compared (0 if one is).
    """

    factors: tuple[FactorResult, ...]
    n_compared: int
    n_usable_nights: int
    more_nights_needed: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready values."""
        return {"n_compared": self.n_compared, "n_usable_nights": self.n_usable_nights,
                "more_nights_needed": self.more_nights_needed, "min_nights": MIN_NIGHTS,
                "min_group": MIN_GROUP, "alpha": ALPHA,
                "factors": [f.to_dict() for f in self.factors]}


def _needed(n: int, groups: Sequence[int]) -> int:
    return max(0, MIN_NIGHTS - n, *(MIN_GROUP - g for g in groups))


def _pct(x: float) -> str:
    return f"{100.0 * x:.0f}%"


def associate(observations: Sequence[NightObservation], exposures: Sequence[Exposure]
              ) -> AssociationResult:
    """Compare cramp nights after evenings with and without each diary factor.

    Parameters
    ----------
    observations : sequence of NightObservation
        Recorded nights (any order; one per night date).
    exposures : sequence of Exposure
        Diary factors to test (from the rules file).

    Returns
    -------
    AssociationResult
    """
    dates = [o.night_date for o in observations]
    if len(set(dates)) != len(dates):
        raise CrampInputError("association", "one observation per night date expected")
    tables = []
    for ex in exposures:
        rows = [(x, o.n_episodes > 0) for o in observations
                if (x := exposed(o.diary, ex.condition)) is not None]
        e1 = sum(1 for x, _ in rows if x)
        c1 = sum(1 for x, c in rows if x and c)
        e0 = len(rows) - e1
        c0 = sum(1 for x, c in rows if not x and c)
        cramp = c1 + c0
        need = _needed(len(rows), (e1, e0, cramp, len(rows) - cramp))
        tables.append((ex, len(rows), e1, c1, e0, c0, need))
    compared = [t for t in tables if t[6] == 0]
    m = len(compared)
    from scipy import stats  # on use (see wilson_interval)

    p_values = [float(stats.fisher_exact([[t[3], t[2] - t[3]], [t[5], t[4] - t[5]]])[1])
                for t in compared]
    adjusted = dict(zip([t[0].id for t in compared], holm(p_values), strict=True))
    raw = dict(zip([t[0].id for t in compared], p_values, strict=True))
    level = 1.0 - ALPHA / max(m, 1)
    results = []
    for ex, n, e1, c1, e0, c0, need in tables:
        base = {"exposure_id": ex.id, "label": ex.label, "n_nights": n, "n_exposed": e1,
                "n_exposed_cramp": c1, "n_unexposed": e0, "n_unexposed_cramp": c0,
                "more_nights_needed": need}
        if need:
            results.append(FactorResult(**base, text=(
                f"{ex.label.capitalize()}: not enough data yet ({n} nights with it recorded, "
                f"{e1} with and {e0} without, {c1 + c0} with cramps); at least {need} more "
                f"nights are needed.")))
            continue
        d, lo, hi = newcombe_difference(c1, e1, c0, e0, confidence=level)
        p_adj = adjusted[ex.id]
        goes_with = p_adj < ALPHA and d > 0
        goes_against = p_adj < ALPHA and d < 0
        numbers = (f"after {e1} evenings with {ex.label}, cramps on {c1} nights "
                   f"({_pct(c1 / e1)}); after {e0} evenings without, on {c0} ({_pct(c0 / e0)}). "
                   f"Difference {100 * d:+.0f} percentage points, "
                   f"{_pct(level)} interval {100 * lo:+.0f} to {100 * hi:+.0f} (adjusted for "
                   f"{m} factor{'s' if m != 1 else ''} compared)")
        if goes_with:
            verdict = f"Cramp nights go with {ex.label} in your records"
        elif goes_against:
            verdict = f"Fewer cramp nights go with {ex.label} in your records"
        else:
            verdict = f"No clear difference with {ex.label}"
        note = ""
        if ex.id == "stretched":
            note = (" People often stretch more after bad nights, which can hide a benefit; "
                    "the alternating-weeks plan gives a clearer answer.")
        results.append(FactorResult(
            **base, difference=d, low=lo, high=hi, confidence=level, p_value=raw[ex.id],
            p_adjusted=p_adj, goes_with=goes_with, goes_against=goes_against,
            text=f"{verdict}: {numbers}. Going together does not show that one leads to the "
                 f"other.{note}"))
    usable = sum(1 for o in observations if o.diary is not None)
    overall = 0 if m else min((t[6] for t in tables), default=_needed(usable, (0, 0, 0, 0)))
    return AssociationResult(factors=tuple(results), n_compared=m, n_usable_nights=usable,
                             more_nights_needed=overall)


# ------------------------------------------------------------------ N-of-1 stretching


@dataclass(frozen=True, kw_only=True)
class PlanWeek:
    """One week of the stretching plan (``start`` to ``end`` inclusive)."""

    start: date
    end: date
    stretch: bool


def stretching_plan(start: date, *, weeks: int, rng: np.random.Generator) -> list[PlanWeek]:
    """Alternating weeks with and without bedtime stretching, each pair in random order.

    Parameters
    ----------
    start : date
        First evening of the plan (moved forward to a Monday so weeks match the evaluation).
    weeks : int
        Even number of weeks, 4 to 16.
    rng : numpy.random.Generator
        Draws the order within each pair of weeks.

    Raises
    ------
    CrampInputError
        If ``weeks`` is odd or out of range.
    """
    if weeks % 2 or not 4 <= weeks <= 16:
        raise CrampInputError("--weeks", f"expected an even number of weeks from 4 to 16, "
                                         f"got {weeks}")
    monday = start + timedelta(days=(7 - start.weekday()) % 7)
    plan: list[PlanWeek] = []
    for pair in range(weeks // 2):
        first_stretch = bool(rng.integers(0, 2))
        for j, stretch in enumerate((first_stretch, not first_stretch)):
            s = monday + timedelta(weeks=2 * pair + j)
            plan.append(PlanWeek(start=s, end=s + timedelta(days=6), stretch=stretch))
    return plan


MIN_WEEK_NIGHTS = 4
"""Recorded nights with the stretching field filled that make a week count."""
MIN_WEEKS_EACH = 2
"""Weeks of each kind before the stretching trial is evaluated."""
MAX_TRIAL_WEEKS = 16


@dataclass(frozen=True, kw_only=True)
class StretchTrial:
    """Stretching weeks compared with weeks without, from the diary.

    Attributes
    ----------
    ready : bool
        Enough weeks of each kind.
    n_stretch_weeks, n_plain_weeks : int
    stretch_rate, plain_rate : float or None
        Mean cramps per recorded night in stretching / plain weeks.
    difference, low, high : float or None
        ``stretch_rate - plain_rate`` and its 95% Welch interval (cramps per night).
    p_value : float or None
        Exact two-sided permutation test over the week labels.
    text : str
    """

    ready: bool
    n_stretch_weeks: int
    n_plain_weeks: int
    stretch_rate: float | None = None
    plain_rate: float | None = None
    difference: float | None = None
    low: float | None = None
    high: float | None = None
    p_value: float | None = None
    text: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready values."""
        return {k: getattr(self, k) for k in (
            "ready", "n_stretch_weeks", "n_plain_weeks", "stretch_rate", "plain_rate",
            "difference", "low", "high", "p_value", "text")}


def _week_rates(observations: Sequence[NightObservation]) -> tuple[list[float], list[float]]:
    weeks: dict[date, list[tuple[bool, int]]] = {}
    for o in observations:
        if o.diary is None or o.diary.stretched is None:
            continue
        monday = o.night_date - timedelta(days=o.night_date.weekday())
        weeks.setdefault(monday, []).append((o.diary.stretched, o.n_episodes))
    on: list[float] = []
    off: list[float] = []
    for monday in sorted(weeks)[-MAX_TRIAL_WEEKS:]:
        nights = weeks[monday]
        if len(nights) < MIN_WEEK_NIGHTS:
            continue
        share = sum(s for s, _ in nights) / len(nights)
        rate = sum(n for _, n in nights) / len(nights)
        if share >= 0.8:
            on.append(rate)
        elif share <= 0.2:
            off.append(rate)
    return on, off


def _welch(a: list[float], b: list[float]) -> tuple[float, float]:
    va, vb = np.var(a, ddof=1), np.var(b, ddof=1)
    se2 = va / len(a) + vb / len(b)
    d = float(np.mean(a) - np.mean(b))
    if se2 <= 0.0:
        return d, d
    from scipy import stats  # on use (see wilson_interval)

    df = se2 ** 2 / ((va / len(a)) ** 2 / (len(a) - 1) + (vb / len(b)) ** 2 / (len(b) - 1))
    half = float(stats.t.ppf(0.975, df)) * math.sqrt(se2)
    return d - half, d + half


def _permutation_p(a: list[float], b: list[float]) -> float:
    pooled = a + b
    observed = abs(np.mean(a) - np.mean(b))
    total = hits = 0
    for idx in itertools.combinations(range(len(pooled)), len(a)):
        chosen = set(idx)
        x = [pooled[i] for i in idx]
        y = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        total += 1
        hits += abs(np.mean(x) - np.mean(y)) >= observed - 1e-12
    return hits / total


def evaluate_stretching(observations: Sequence[NightObservation]) -> StretchTrial:
    """Compare cramps per night in stretching weeks with weeks without (Monday-Sunday).

    A week counts with at least :data:`MIN_WEEK_NIGHTS` recorded nights whose diary says
    whether stretching was done: as a stretching week when 80% or more of them say yes, as a
    plain week when 20% or fewer do (mixed weeks are left out).
    """
    on, off = _week_rates(observations)
    if len(on) < MIN_WEEKS_EACH or len(off) < MIN_WEEKS_EACH:
        need_on = max(0, MIN_WEEKS_EACH - len(on))
        need_off = max(0, MIN_WEEKS_EACH - len(off))
        return StretchTrial(
            ready=False, n_stretch_weeks=len(on), n_plain_weeks=len(off),
            text=(f"Stretching trial: not enough data yet ({len(on)} stretching week(s) and "
                  f"{len(off)} week(s) without); {need_on} more stretching and {need_off} more "
                  f"weeks without are needed, each with {MIN_WEEK_NIGHTS} or more recorded "
                  "nights and the diary filled in."))
    d = float(np.mean(on) - np.mean(off))
    lo, hi = _welch(on, off)
    p = _permutation_p(on, off)
    if hi < 0:
        verdict = "Fewer cramps went with your stretching weeks"
    elif lo > 0:
        verdict = "More cramps went with your stretching weeks"
    else:
        verdict = "No clear difference between stretching weeks and weeks without"
    return StretchTrial(
        ready=True, n_stretch_weeks=len(on), n_plain_weeks=len(off),
        stretch_rate=float(np.mean(on)), plain_rate=float(np.mean(off)), difference=d,
        low=lo, high=hi, p_value=p,
        text=(f"{verdict}: {np.mean(on):.2f} cramps per night in {len(on)} stretching weeks, "
              f"{np.mean(off):.2f} in {len(off)} weeks without (difference {d:+.2f}, 95% "
              f"interval {lo:+.2f} to {hi:+.2f}; permutation p = {p:.2f})."))
