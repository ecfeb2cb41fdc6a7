"""Tests of the cross-night association and the N-of-1 stretching plan."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.causes.association import (
    MIN_NIGHTS,
    NightObservation,
    associate,
    evaluate_stretching,
    holm,
    newcombe_difference,
    stretching_plan,
    wilson_interval,
)
from detector.causes.conditions import Compare
from detector.causes.diary import DiaryEntry
from detector.causes.rules import Exposure
from detector.errors import CrampInputError

ALCOHOL = Exposure(id="alcohol", label="alcohol",
                   condition=Compare(source="diary", field="alcohol_units", op=">=", value=1))
COLD = Exposure(id="cold", label="a cold bedroom",
                condition=Compare(source="diary", field="bedroom_cold", op="==", value=True))
D0 = date(2024, 1, 1)  # a Monday


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    # Newcombe 1998, Stat Med 17:857, Table I (score method without continuity correction)
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_matches_published_values(k: int, n: int, low: float, high: float
                                                  ) -> None:
    lo, hi = wilson_interval(k, n, confidence=0.95)
    assert lo == pytest.approx(low, abs=6e-5) and hi == pytest.approx(high, abs=6e-5)


@pytest.mark.parametrize(("k1", "n1", "k2", "n2", "low", "high"), [
    # Newcombe 1998, Stat Med 17:873, method 10 (hybrid score), examples (a) and (b)
    (56, 70, 48, 80, 0.0524, 0.3339), (9, 10, 3, 10, 0.1705, 0.8090),
])
def test_newcombe_interval_matches_published_values(k1: int, n1: int, k2: int, n2: int,
                                                    low: float, high: float) -> None:
    d, lo, hi = newcombe_difference(k1, n1, k2, n2, confidence=0.95)
    assert d == pytest.approx(k1 / n1 - k2 / n2)
    assert lo == pytest.approx(low, abs=6e-5) and hi == pytest.approx(high, abs=6e-5)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.data())
def test_newcombe_interval_contains_the_difference(n1: int, n2: int, data: st.DataObject
                                                   ) -> None:
    k1 = data.draw(st.integers(0, n1))
    k2 = data.draw(st.integers(0, n2))
    d, lo, hi = newcombe_difference(k1, n1, k2, n2, confidence=0.95)
    assert -1.0 <= lo <= d + 1e-12 and d - 1e-12 <= hi <= 1.0
    _, lo99, hi99 = newcombe_difference(k1, n1, k2, n2, confidence=0.99)
    assert lo99 <= lo + 1e-12 and hi99 >= hi - 1e-12  # a higher level is wider


def test_holm_by_hand() -> None:
    # sorted 0.01, 0.02, 0.04 -> 3*0.01=0.03, 2*0.02=0.04, 1*0.04=0.04 (monotone)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def _obs(n: int, exposed: set[int], cramps: set[int], *, cold: set[int] | None = None
         ) -> list[NightObservation]:
    return [NightObservation(
        night_date=D0 + timedelta(days=i), n_episodes=1 if i in cramps else 0,
        diary=DiaryEntry(entry_date=D0 + timedelta(days=i),
                         alcohol_units=2.0 if i in exposed else 0.0,
                         bedroom_cold=None if cold is None else i in cold))
        for i in range(n)]


def test_below_the_threshold_says_how_many_more_nights() -> None:
    result = associate(_obs(12, {0, 1, 2, 3, 4, 5}, {0, 2, 4, 6, 8}), [ALCOHOL])
    (f,) = result.factors
    assert not f.compared and f.more_nights_needed == MIN_NIGHTS - 12 == 18
    assert "at least 18 more nights" in f.text
    assert result.n_compared == 0 and result.more_nights_needed == 18
    # enough nights but only 3 exposed: 2 more exposed evenings needed
    result = associate(_obs(40, {0, 1, 2}, set(range(0, 40, 3))), [ALCOHOL])
    assert result.factors[0].more_nights_needed == 2


def test_strong_association_goes_with_and_fisher_p_by_hand() -> None:
    exposed = set(range(0, 40, 4))  # 10 evenings
    cramps = exposed - {0} | {1, 2}  # 9 of 10 exposed, 2 of 30 unexposed
    result = associate(_obs(40, exposed, cramps), [ALCOHOL])
    (f,) = result.factors
    assert (f.n_exposed, f.n_exposed_cramp, f.n_unexposed, f.n_unexposed_cramp) == (10, 9, 30, 2)
    assert f.goes_with and not f.goes_against
    # Fisher two-sided p by hand: tables with the same margins no more likely than observed
    def prob(a: int) -> float:
        return math.comb(11, a) * math.comb(29, 10 - a) / math.comb(40, 10)
    observed = prob(9)
    p = sum(prob(a) for a in range(0, 11) if prob(a) <= observed * (1 + 1e-7))
    assert f.p_value == pytest.approx(p, rel=1e-6)
    assert f.p_adjusted == pytest.approx(p, rel=1e-6)  # one factor compared
    assert f.confidence == pytest.approx(0.95)
    assert "go with alcohol" in f.text and "cause" not in f.text.lower()


def test_correction_covers_the_factors_compared() -> None:
    exposed = set(range(0, 40, 4))
    cramps = exposed - {0} | {1, 2}
    cold = set(range(1, 40, 3))
    result = associate(_obs(40, exposed, cramps, cold=cold), [ALCOHOL, COLD])
    assert result.n_compared == 2
    alcohol, coldf = result.factors
    assert alcohol.confidence == pytest.approx(0.975)
    assert alcohol.p_value is not None and coldf.p_value is not None
    small, large = sorted([alcohol.p_value, coldf.p_value])
    holm_small, holm_large = min(1.0, 2 * small), min(1.0, max(2 * small, large))
    assert sorted([alcohol.p_adjusted, coldf.p_adjusted]) == pytest.approx(
        [holm_small, holm_large])
    assert alcohol.goes_with and alcohol.p_adjusted == pytest.approx(holm_small)
    assert "adjusted for 2 factors compared" in alcohol.text


def test_no_difference_is_not_reported_as_going_with() -> None:
    exposed = set(range(0, 40, 2))
    cramps = set(range(0, 40, 4)) | set(range(1, 40, 4))  # half of each group
    (f,) = associate(_obs(40, exposed, cramps), [ALCOHOL]).factors
    assert f.compared and not f.goes_with and not f.goes_against
    assert f.difference == pytest.approx(0.0) and f.low < 0 < f.high
    assert f.text.startswith("No clear difference")


def test_unrecorded_fields_do_not_count_as_no() -> None:
    obs = _obs(40, set(range(0, 40, 2)), set(range(0, 40, 3)))
    obs = [NightObservation(night_date=o.night_date, n_episodes=o.n_episodes, diary=None)
           if i < 15 else o for i, o in enumerate(obs)]
    (f,) = associate(obs, [ALCOHOL]).factors
    assert f.n_nights == 25 and f.more_nights_needed == 5


def test_duplicate_nights_are_refused() -> None:
    obs = _obs(3, set(), set())
    with pytest.raises(CrampInputError):
        associate([*obs, obs[0]], [ALCOHOL])


def test_stretching_plan_alternates_in_random_pairs() -> None:
    plan = stretching_plan(date(2024, 1, 3), weeks=8, rng=np.random.default_rng(1))
    assert plan[0].start == date(2024, 1, 8)  # next Monday
    assert [w.start - plan[0].start for w in plan] == [timedelta(weeks=i) for i in range(8)]
    assert all(w.end - w.start == timedelta(days=6) for w in plan)
    for a, b in zip(plan[::2], plan[1::2], strict=True):
        assert a.stretch != b.stretch
    orders = {tuple(w.stretch for w in stretching_plan(D0, weeks=8,
                                                       rng=np.random.default_rng(s)))
              for s in range(20)}
    assert len(orders) > 1  # the order really is drawn
    for weeks in (3, 2, 18):
        with pytest.raises(CrampInputError, match="even number"):
            stretching_plan(D0, weeks=weeks, rng=np.random.default_rng(0))


def _weeks(pattern: list[tuple[bool, list[int]]]) -> list[NightObservation]:
    out = []
    for w, (stretch, counts) in enumerate(pattern):
        for day, n in enumerate(counts):
            d = D0 + timedelta(weeks=w, days=day)
            out.append(NightObservation(night_date=d, n_episodes=n,
                                        diary=DiaryEntry(entry_date=d, stretched=stretch)))
    return out


def test_stretching_trial_evaluated_when_the_weeks_exist() -> None:
    on = [0, 0, 1, 0, 0, 1, 0]  # 2/7 cramps per night
    off = [1, 2, 1, 1, 0, 2, 1]  # 8/7
    off2 = [1, 1, 1, 1, 1, 2, 1]  # 8/7
    trial = evaluate_stretching(_weeks([(True, on), (False, off), (True, on), (False, off2)]))
    assert trial.ready and (trial.n_stretch_weeks, trial.n_plain_weeks) == (2, 2)
    assert trial.stretch_rate == pytest.approx(2 / 7) and trial.plain_rate == pytest.approx(8 / 7)
    assert trial.difference == pytest.approx(-6 / 7)
    # all weeks of a kind are equal, so the interval collapses to the difference
    assert trial.low == pytest.approx(-6 / 7) and trial.high == pytest.approx(-6 / 7)
    # 4 weeks, 2 labelled: 6 labellings, 2 as extreme as the observed one
    assert trial.p_value == pytest.approx(2 / 6)
    assert trial.text.startswith("Fewer cramps went with your stretching weeks")


def test_stretching_trial_waits_for_enough_weeks() -> None:
    trial = evaluate_stretching(_weeks([(True, [0] * 7), (False, [1] * 7), (True, [0] * 3)]))
    assert not trial.ready
    assert (trial.n_stretch_weeks, trial.n_plain_weeks) == (1, 1)  # 3-night week left out
    assert "1 more stretching and 1 more weeks without" in trial.text
