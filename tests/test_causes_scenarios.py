"""Scenario tests: stored histories of nights plus diary entries -> the findings expected.

Each scenario builds a store in a temporary folder with ``save_night`` and the diary/profile
store functions, evaluates it as ``cramp causes`` would, and returns the report.
``SCENARIOS`` is reused by the safety tests, which scan every finding generated here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from store_helpers import EpisodeSpec, make_night

from detector.causes.diary import entry_from_fields, save_entry
from detector.causes.engine import CauseReport, evaluate_store
from detector.causes.profile import Profile, save_profile
from detector.causes.rules import default_rules
from detector.causes.safety import instructions
from detector.store import connect, save_night

FIRST = date(2024, 3, 4)  # a Monday


def _night(db: Path, d: date, episodes: tuple[EpisodeSpec, ...], seed: int) -> None:
    start = datetime(d.year, d.month, d.day, 21, 0, tzinfo=UTC)
    result = make_night(rng=np.random.default_rng(seed), start_utc=start, duration_s=3600,
                        in_bed=((300.0, 3300.0),), episodes=episodes, gaps=(),
                        poor_signal=(), path=f"/data/{d.isoformat()}.edf")
    save_night(result, db_path=db, recording_sha256=f"{seed:064x}", timezone="UTC")


def _history(db: Path, cramps: dict[int, tuple[EpisodeSpec, ...]], n_nights: int) -> None:
    for i in range(n_nights):
        _night(db, FIRST + timedelta(days=i), cramps.get(i, ()), seed=1000 + i)


def _diary(db: Path, entries: dict[int, dict[str, object]]) -> None:
    conn = connect(db)
    try:
        for i, values in entries.items():
            save_entry(conn, entry_from_fields(FIRST + timedelta(days=i), values))
    finally:
        conn.close()


def _profile(db: Path, profile: Profile) -> None:
    conn = connect(db)
    try:
        save_profile(conn, profile)
    finally:
        conn.close()


def _evaluate(db: Path, first: date, last: date) -> CauseReport:
    conn = connect(db, create=False)
    try:
        return evaluate_store(conn, [first, last], rules=default_rules(), local=UTC)
    finally:
        conn.close()


CRAMP = (EpisodeSpec(1200.0, 60.0),)


def long_cramp(db: Path) -> CauseReport:
    """Three nights; on the second, an 11-minute cramp."""
    _history(db, {1: (EpisodeSpec(1200.0, 660.0),)}, 3)
    return _evaluate(db, FIRST, FIRST + timedelta(days=2))


def four_nights_a_week(db: Path) -> CauseReport:
    """Two weeks with cramps on Monday, Tuesday, Thursday and Saturday."""
    _history(db, {i: CRAMP for i in (0, 1, 3, 5, 7, 8, 10, 12)}, 14)
    return _evaluate(db, FIRST, FIRST + timedelta(days=13))


def thiazide_then_cramps(db: Path) -> CauseReport:
    """No cramps for 10 nights; a thiazide started on day 10; cramps every other night after."""
    _history(db, {i: CRAMP for i in range(11, 24, 2)}, 24)
    _diary(db, {10: {"medicines_new": "thiazide"},
                **{i: {"medicines_current": "thiazide"} for i in range(11, 24)}})
    return _evaluate(db, FIRST + timedelta(days=10), FIRST + timedelta(days=23))


def cramps_before_thiazide(db: Path) -> CauseReport:
    """Control: cramps every other night all along; the thiazide starts half way."""
    _history(db, {i: CRAMP for i in range(0, 24, 2)}, 24)
    _diary(db, {10: {"medicines_new": "thiazide"}})
    return _evaluate(db, FIRST + timedelta(days=10), FIRST + timedelta(days=23))


def pregnancy(db: Path) -> CauseReport:
    """A pregnant 31-year-old with cramps on 2 of 7 nights."""
    _history(db, {2: CRAMP, 5: CRAMP}, 7)
    _profile(db, Profile(age_years=31, pregnant=True))
    return _evaluate(db, FIRST, FIRST + timedelta(days=6))


ALCOHOL_EVENINGS = frozenset(range(0, 40, 3))  # 14 evenings with alcohol
EXTRA_CRAMPS = frozenset({4, 20})  # two cramp nights without alcohol the evening before
MISSED = frozenset({9})  # an alcohol evening without a cramp after it


def alcohol_over_40_nights(db: Path) -> CauseReport:
    """40 nights: cramps follow alcohol evenings (with a few exceptions either way)."""
    cramp_nights = (ALCOHOL_EVENINGS - MISSED) | EXTRA_CRAMPS
    _history(db, {i: CRAMP for i in cramp_nights}, 40)
    _diary(db, {i: {"alcohol_units": 3 if i in ALCOHOL_EVENINGS else 0, "stretched": "no"}
                for i in range(40)})
    return _evaluate(db, FIRST + timedelta(days=26), FIRST + timedelta(days=39))


def ten_nights(db: Path) -> CauseReport:
    """Ten nights with a diary: too few to compare."""
    _history(db, {i: CRAMP for i in (1, 4, 7)}, 10)
    _diary(db, {i: {"alcohol_units": i % 2 * 2, "caffeine_drinks": 1} for i in range(10)})
    return _evaluate(db, FIRST, FIRST + timedelta(days=9))


def kidney_failure_low_fluids(db: Path) -> CauseReport:
    """Dialysis and cirrhosis with few glasses of fluid recorded and frequent cramps."""
    _history(db, {i: CRAMP for i in (0, 2, 4, 5)}, 7)
    _profile(db, Profile(age_years=70, conditions=("kidney_failure", "cirrhosis")))
    _diary(db, {i: {"fluids_glasses": 3, "vomiting_diarrhoea": "yes" if i == 1 else "no"}
                for i in range(7)})
    return _evaluate(db, FIRST, FIRST + timedelta(days=6))


def everything(db: Path) -> CauseReport:
    """Every diary field, medicine class, sign and condition at once."""
    _history(db, {i: (EpisodeSpec(600.0, 700.0), EpisodeSpec(1500.0, 40.0, leg="right"),
                      EpisodeSpec(2000.0, 30.0), EpisodeSpec(2500.0, 30.0))
                  for i in range(7)}, 7)
    _profile(db, Profile(age_years=15, conditions=tuple(
        ("diabetes", "parkinsons", "addisons", "cirrhosis", "kidney_failure", "pad",
         "varicose_veins", "thyroid", "neuropathy", "flat_feet", "lumbar_stenosis",
         "motor_neuron_disease", "low_calcium", "heart_failure"))))
    every = {"exercise_intensity": "hard", "exercise_min": 50, "alcohol_units": 4,
             "caffeine_drinks": 3, "fluids_glasses": 2, "sitting_h": 9, "standing_h": 7,
             "vomiting_diarrhoea": "yes", "bedroom_cold": "yes", "heel_cm": 8,
             "stretched": "no", "medicines_new": "other",
             "medicines_current": "thiazide,potassium_sparing,loop_diuretic,statin,laba,"
                                  "nifedipine,iron_sucrose,estrogen_raloxifene,naproxen,"
                                  "teriparatide,niacin",
             "signs": "swollen_calf,blackout,wound_or_toxin,weakness_or_numbness,"
                      "pain_on_walking,widespread", "notes": "all at once"}
    _diary(db, dict.fromkeys(range(7), every))
    return _evaluate(db, FIRST, FIRST + timedelta(days=6))


SCENARIOS: dict[str, Callable[[Path], CauseReport]] = {
    f.__name__: f for f in (long_cramp, four_nights_a_week, thiazide_then_cramps,
                            cramps_before_thiazide, pregnancy, alcohol_over_40_nights,
                            ten_nights, kidney_failure_low_fluids, everything)
}


def _ids(report: CauseReport) -> list[str]:
    return [f.rule_id for f in report.findings]


def _one(report: CauseReport, rule_id: str) -> str:
    texts = [f.text + " " + f.advice for f in report.findings if f.rule_id == rule_id]
    assert len(texts) == 1, (rule_id, _ids(report))
    return texts[0]


def test_eleven_minute_cramp_is_urgent(tmp_path: Path) -> None:
    report = long_cramp(tmp_path / "e.sqlite3")
    first = report.findings[0]
    assert (first.rule_id, first.kind, first.level) == ("long_cramp", "red_flag", "urgent")
    assert "11 min" in first.text and "Tuesday 5 March 2024" in first.text
    assert first.night_date == FIRST + timedelta(days=1)
    assert "21:20" in first.text  # 21:00 UTC start + 1200 s
    ids = _ids(report)
    assert "frequent" not in ids and "both_legs" not in ids


def test_four_nights_a_week_means_see_a_clinician(tmp_path: Path) -> None:
    report = four_nights_a_week(tmp_path / "e.sqlite3")
    flags = report.red_flags
    assert [f.rule_id for f in flags] == ["frequent"]
    assert flags[0].level == "see_clinician"
    assert "Cramps on 4 of the 7 nights" in flags[0].text
    assert not any(f.level == "urgent" for f in report.findings)
    assert report.n_cramp_nights == 8 and report.n_nights == 14


def test_thiazide_started_before_cramps_began(tmp_path: Path) -> None:
    report = thiazide_then_cramps(tmp_path / "e.sqlite3")
    text = _one(report, "new_medicine")
    assert "thiazide diuretic" in text and "Thursday 14 March 2024" in text
    assert "not as often in the 10 recorded nights before it" in text
    assert "Review your medicines with your prescriber" in text
    factor = next(f for f in report.findings if f.rule_id == "thiazide")
    assert (factor.kind, factor.strength) == ("factor", "established")
    assert "14 evening(s)" in factor.text  # day 10 (new) + days 11..23 (current)
    ids = _ids(report)
    assert ids.index("new_medicine") < ids.index("thiazide")


def test_new_medicine_on_the_first_recorded_night_claims_no_comparison(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    _history(db, {0: CRAMP, 2: CRAMP, 4: CRAMP}, 7)
    _diary(db, {0: {"medicines_new": "thiazide"}})
    text = _one(_evaluate(db, FIRST, FIRST + timedelta(days=6)), "new_medicine")
    assert "no night from before it was recorded to compare with" in text
    assert "not as often" not in text


def test_cramps_that_came_before_the_medicine_do_not_blame_it(tmp_path: Path) -> None:
    report = cramps_before_thiazide(tmp_path / "e.sqlite3")
    assert "new_medicine" not in _ids(report)


def test_pregnancy_factor_without_supplement_advice(tmp_path: Path) -> None:
    report = pregnancy(tmp_path / "e.sqlite3")
    factor = next(f for f in report.findings if f.rule_id == "pregnancy")
    assert (factor.kind, factor.strength) == ("factor", "established")
    assert "midwife" in factor.advice
    assert "older_age" not in _ids(report)
    everything_said = " ".join(f.text + " " + f.advice for f in report.findings)
    assert instructions(everything_said) == []  # nothing to take, whatever is mentioned
    # what the evidence shows about quinine concerns a pregnant person, and is said
    quinine = next(f for f in report.findings if f.rule_id == "claim:quinine")
    assert quinine.strength == "risky" and "unborn baby" in quinine.text


def test_alcohol_evenings_go_with_cramp_nights(tmp_path: Path) -> None:
    report = alcohol_over_40_nights(tmp_path / "e.sqlite3")
    alcohol = next(f for f in report.association.factors if f.exposure_id == "alcohol")
    # counts by construction: 14 alcohol evenings, 13 followed by cramps; 26 without, 2 cramps
    assert (alcohol.n_nights, alcohol.n_exposed, alcohol.n_exposed_cramp) == (40, 14, 13)
    assert (alcohol.n_unexposed, alcohol.n_unexposed_cramp) == (26, 2)
    assert alcohol.difference == pytest.approx(13 / 14 - 2 / 26)
    assert alcohol.low is not None and alcohol.high is not None
    assert 0.0 < alcohol.low < alcohol.difference < alcohol.high <= 1.0
    assert alcohol.goes_with
    # only alcohol and stretching were recorded; stretching was never done (no contrast)
    assert report.association.n_compared == 1
    text = _one(report, "association:alcohol")
    assert "go with alcohol" in text and "interval" in text
    assert f"{100 * alcohol.low:+.0f} to {100 * alcohol.high:+.0f}" in text
    assert "cause" not in text.lower()
    ids = _ids(report)
    assert ids.index("alcohol") < ids.index("association:alcohol") < ids.index(
        "bedtime_stretching")


def test_ten_nights_is_not_enough_data(tmp_path: Path) -> None:
    report = ten_nights(tmp_path / "e.sqlite3")
    text = _one(report, "association:not_enough_data")
    assert "Not enough data yet" in text
    assert "10 recorded nights have a diary entry" in text
    assert "at least 20 more recorded nights" in text
    assert report.association.n_compared == 0
    assert not report.stretching.ready
    caffeine = next(f for f in report.findings if f.rule_id == "caffeine")
    assert caffeine.strength == "unsupported" and "evidence does not support" in caffeine.text


def test_kidney_failure_gets_no_drinking_advice(tmp_path: Path) -> None:
    report = kidney_failure_low_fluids(tmp_path / "e.sqlite3")
    ids = _ids(report)
    assert {"kidney_failure", "cirrhosis", "low_fluids", "older_age", "frequent"} <= set(ids)
    low = next(f for f in report.findings if f.rule_id == "low_fluids")
    assert low.strength == "unsupported"
    kidney = next(f for f in report.findings if f.rule_id == "kidney_failure")
    assert "ask them before changing what or how much you drink" in kidney.advice


def test_every_rule_kind_in_order(tmp_path: Path) -> None:
    report = everything(tmp_path / "e.sqlite3")
    kinds = [f.kind for f in report.findings]
    order = ["red_flag", "factor", "claim", "association", "advice"]
    assert kinds == sorted(kinds, key=order.index)
    levels = [f.level for f in report.red_flags]
    assert levels == sorted(levels, key=["urgent", "see_clinician"].index)
    strengths = [f.strength for f in report.findings if f.kind == "factor"]
    assert strengths == sorted(strengths, key=["established", "plausible", "weak",
                                               "unsupported"].index)
    ids = set(_ids(report))
    assert {"long_cramp", "swollen_calf", "blackout", "wound_or_toxin", "frequent",
            "very_frequent", "both_legs", "child", "weakness_or_numbness", "pain_on_walking",
            "widespread"} <= ids
    assert {"niacin", "statin", "rare_drug_link", "flat_feet", "high_heels"} <= ids
    # the seven 11-minute-plus nights each give their own urgent flag
    assert sum(1 for f in report.findings if f.rule_id == "long_cramp") == 7
