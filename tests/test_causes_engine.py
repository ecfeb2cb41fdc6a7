"""Tests of the engine (order, conditions, gating), the diary/profile models and the store."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.causes.diary import (
    FIELD_NAMES,
    DiaryEntry,
    entry_from_fields,
    load_entries,
    save_entry,
)
from detector.causes.engine import CauseReport, evaluate
from detector.causes.history import History, NightFacts
from detector.causes.profile import Profile, load_profile, profile_from_fields, save_profile
from detector.causes.rules import default_rules, parse_rules
from detector.errors import CrampInputError
from detector.store import connect, schema_version
from detector.store.schema import CURRENT_VERSION

D0 = date(2024, 5, 6)


def _facts(i: int, n: int = 0, legs: tuple[str, ...] = ("left",), longest_s: float = 30.0
           ) -> NightFacts:
    d = D0 + timedelta(days=i)
    return NightFacts(night_date=d, n_episodes=n, legs=frozenset(legs if n else ()),
                      longest_cramp_s=longest_s if n else 0.0,
                      longest_onset_utc=datetime(d.year, d.month, d.day, 23, 5, tzinfo=UTC)
                      if n else None)


def _run(nights: list[NightFacts], diary: dict[int, dict[str, object]] | None = None,
         profile: Profile | None = None, first: int = 0, last: int | None = None
         ) -> CauseReport:
    hist = History(nights={f.night_date: f for f in nights},
                   diary={D0 + timedelta(days=i): entry_from_fields(D0 + timedelta(days=i), v)
                          for i, v in (diary or {}).items()},
                   profile=profile or Profile())
    last = len(nights) - 1 if last is None else last
    return evaluate(hist, first=D0 + timedelta(days=first), last=D0 + timedelta(days=last),
                    rules=default_rules(), local=UTC)


def test_no_cramps_no_factors_but_signs_still_flag() -> None:
    report = _run([_facts(i) for i in range(5)], diary={2: {"alcohol_units": 4, "signs":
                                                            "swollen_calf"}},
                  profile=Profile(age_years=70))
    ids = [f.rule_id for f in report.findings]
    assert ids[0] == "swollen_calf" and report.findings[0].level == "urgent"
    assert not any(f.kind == "factor" for f in report.findings)
    assert "bedtime_stretching" not in ids and "talk_first" in ids


def test_order_urgent_then_clinician_then_strength_then_advice() -> None:
    nights = [_facts(i, n=1, legs=("left", "right") if i == 3 else ("left",),
                     longest_s=700.0 if i == 1 else 40.0) for i in range(7)]
    report = _run(nights, diary={i: {"alcohol_units": 2, "caffeine_drinks": 2,
                                     "medicines_current": "statin,thiazide"} for i in range(7)},
                  profile=Profile(age_years=66))
    ids = [f.rule_id for f in report.findings]
    expected_prefix = ["long_cramp", "frequent", "both_legs", "older_age", "thiazide",
                       "alcohol", "statin", "caffeine"]
    assert ids[:len(expected_prefix)] == expected_prefix
    assert ids[-4:] == ["bedtime_stretching", "during_a_cramp", "stretching_trial",
                        "talk_first"]
    long = report.findings[0]
    assert "11 min 40 s" in long.text and "23:05" in long.text
    assert long.night_date == D0 + timedelta(days=1)
    both = next(f for f in report.findings if f.rule_id == "both_legs")
    assert "on 1 night(s)" in both.text and "Thursday 9 May 2024" in both.text


def test_single_night_uses_its_own_evening_only() -> None:
    nights = [_facts(i, n=1) for i in range(3)]
    report = _run(nights, diary={0: {"alcohol_units": 5}, 2: {"sitting_h": 7}}, first=2)
    ids = {f.rule_id for f in report.findings}
    assert "long_sitting" in ids and "alcohol" not in ids
    assert report.n_nights == 1 and report.n_diary_entries == 1
    # the weekly count still looks back over the stored nights before the period
    assert "frequent" in ids


def test_weekly_window_is_seven_days_not_seven_records() -> None:
    nights = [_facts(0, n=1), _facts(1, n=1), _facts(8, n=1), _facts(9, n=0)]
    report = _run(nights, first=0, last=9)
    assert "frequent" not in {f.rule_id for f in report.findings}


def test_very_frequent_and_min_evenings() -> None:
    nights = [_facts(0, n=4), _facts(1, n=1)]
    report = _run(nights, diary={0: {"sitting_h": 9}, 1: {"sitting_h": 9}})
    ids = {f.rule_id for f in report.findings}
    assert "very_frequent" in ids
    assert "sedentary" not in ids  # needs 3 evenings
    assert "long_sitting" in ids


def test_rules_are_data_a_changed_threshold_changes_the_finding() -> None:
    from detector.causes.rules import default_rules_text
    text = default_rules_text().replace('op = ">", value = 600', 'op = ">", value = 20')
    rules = parse_rules(text, origin="t.toml")
    f = _facts(0, n=1, longest_s=30.0)
    hist = History(nights={f.night_date: f}, diary={}, profile=Profile())
    report = evaluate(hist, first=D0, last=D0, rules=rules, local=UTC)
    assert report.findings[0].rule_id == "long_cramp"
    report = evaluate(hist, first=D0, last=D0, rules=default_rules(), local=UTC)
    assert report.findings[0].rule_id != "long_cramp"


# ------------------------------------------------------------------ diary and profile


@pytest.mark.parametrize(("values", "where", "expected"), [
    ({"alcohol_units": "lots"}, "diary.alcohol_units", "as a number"),
    ({"alcohol_units": -1}, "diary.alcohol_units", "from 0 to 60"),
    ({"fluids_glasses": 2.5}, "diary.fluids_glasses", "whole number"),
    ({"stretched": "maybe"}, "diary.stretched", "yes or no"),
    ({"medicines_new": "aspirin"}, "diary.medicines_new", "'aspirin' is not one of"),
    ({"exercise_intensity": "extreme"}, "diary.exercise_intensity", "expected one of"),
    ({"beer": 1}, "diary.beer", "unknown diary field"),
    ({"exercise_intensity": "none", "exercise_min": 30}, "diary.exercise_min", "'none'"),
    ({"sitting_h": 20, "standing_h": 10}, "diary.standing_h", "more than 24"),
    ({"notes": "a\x00b"}, "diary.notes", "control characters"),
    ({"alcohol_units": float("nan")}, "diary.alcohol_units", "from 0 to 60"),
])
def test_diary_validation_errors(values: dict[str, object], where: str, expected: str) -> None:
    with pytest.raises(CrampInputError) as info:
        entry_from_fields(D0, values)
    assert info.value.where == where and expected in info.value.problem
    assert "\n" not in str(info.value)


def test_diary_values_are_normalised() -> None:
    e = entry_from_fields(D0, {"alcohol_units": "2.5", "stretched": "Y",
                               "medicines_current": "Statin, loop-diuretic,statin",
                               "exercise_intensity": "HARD", "fluids_glasses": "6"})
    assert e == DiaryEntry(entry_date=D0, alcohol_units=2.5, stretched=True,
                           medicines_current=("statin", "loop_diuretic"),
                           exercise_intensity="hard", fluids_glasses=6)


_field_values = st.dictionaries(
    st.sampled_from([*FIELD_NAMES, "x"]),
    st.none() | st.booleans() | st.integers(-10, 100) | st.floats(allow_nan=True)
    | st.text(max_size=20) | st.lists(st.text(max_size=8), max_size=3), max_size=6)


@settings(max_examples=200, deadline=None)
@given(_field_values)
def test_diary_parser_fuzz(values: dict[str, object]) -> None:
    try:
        e = entry_from_fields(D0, values)
    except CrampInputError as exc:
        assert "\n" not in str(exc)
        return
    assert entry_from_fields(D0, e.to_fields()) == e  # what is stored reads back the same


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["age_years", "pregnant", "conditions", "x"]),
                       st.none() | st.booleans() | st.integers(-5, 200) | st.text(max_size=12)
                       | st.lists(st.text(max_size=10), max_size=3), max_size=3))
def test_profile_parser_fuzz(values: dict[str, object]) -> None:
    try:
        p = profile_from_fields(values)
    except CrampInputError as exc:
        assert "\n" not in str(exc)
        return
    assert profile_from_fields(p.to_dict()) == p


def test_diary_store_merges_and_replaces(tmp_path: Path) -> None:
    conn = connect(tmp_path / "e.sqlite3")
    try:
        save_entry(conn, entry_from_fields(D0, {"alcohol_units": 2, "notes": "party"}))
        merged = save_entry(conn, entry_from_fields(D0, {"stretched": True}))
        assert (merged.alcohol_units, merged.stretched, merged.notes) == (2.0, True, "party")
        save_entry(conn, entry_from_fields(D0 + timedelta(days=1), {"caffeine_drinks": 1}))
        replaced = save_entry(conn, entry_from_fields(D0, {"heel_cm": 6}), merge=False)
        assert replaced == DiaryEntry(entry_date=D0, heel_cm=6.0)
        got = load_entries(conn, D0, D0 + timedelta(days=1))
        assert got[D0] == replaced and got[D0 + timedelta(days=1)].caffeine_drinks == 1
        assert conn.execute("SELECT COUNT(*) FROM diary_entries").fetchone()[0] == 2
        assert load_entries(conn, D0 + timedelta(days=2)) == {}
    finally:
        conn.close()


def test_damaged_diary_row_is_a_one_line_error(tmp_path: Path) -> None:
    conn = connect(tmp_path / "e.sqlite3")
    try:
        conn.execute("INSERT INTO diary_entries (entry_date, fields_json, created_utc, "
                     "updated_utc) VALUES ('2024-05-06', '{\"alcohol_units\": \"x\"}', 'x', "
                     "'x')")
        with pytest.raises(CrampInputError, match="diary entry 2024-05-06"):
            load_entries(conn)
    finally:
        conn.close()


def test_profile_store(tmp_path: Path) -> None:
    conn = connect(tmp_path / "e.sqlite3")
    try:
        assert load_profile(conn) == Profile()
        save_profile(conn, profile_from_fields({"age_years": "34", "pregnant": "yes"}))
        p = save_profile(conn, profile_from_fields({"conditions": "diabetes,thyroid"}))
        assert p == Profile(age_years=34, pregnant=True, conditions=("diabetes", "thyroid"))
        assert load_profile(conn) == p
        cleared = save_profile(conn, Profile(), clear_conditions=True)
        assert cleared.conditions == () and cleared.age_years == 34
        with pytest.raises(CrampInputError, match="pregnancy at age 80"):
            save_profile(conn, Profile(age_years=80))
        assert load_profile(conn).age_years == 34  # the refused change was rolled back
    finally:
        conn.close()


def test_migration_to_version_3_adds_age_and_keeps_data(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    conn = connect(db, schema_target=2)
    try:
        assert schema_version(conn) == 2
        conn.execute("INSERT INTO profile (age_band, pregnant, conditions_json, updated_utc) "
                     "VALUES ('60-69', 0, '[\"pad\"]', 'x')")
        conn.execute("INSERT INTO diary_entries (entry_date, fields_json, created_utc, "
                     "updated_utc) VALUES ('2024-05-06', '{\"alcohol_units\": 3}', 'x', 'x')")
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("SELECT age_years FROM profile")
    finally:
        conn.close()
    conn = connect(db)
    try:
        assert schema_version(conn) == CURRENT_VERSION  # 3 and any later
        row = conn.execute("SELECT age_band, age_years FROM profile").fetchone()
        assert tuple(row) == ("60-69", None)
        assert load_profile(conn) == Profile(pregnant=False, conditions=("pad",))
        assert load_entries(conn)[D0].alcohol_units == 3.0
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE profile SET age_years = 200")
    finally:
        conn.close()
