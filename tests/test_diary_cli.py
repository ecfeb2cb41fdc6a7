"""Tests of ``cramp diary``, ``cramp profile``, ``cramp causes`` and the report's findings."""

from __future__ import annotations

import argparse
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from store_helpers import EpisodeSpec, make_night

from detector.causes.diary import load_entries
from detector.causes.profile import load_profile
from detector.cli import causes_cmd, diary_cmd, profile_cmd, report_cmd
from detector.errors import CrampInputError
from detector.store import connect, save_night

D = "2024-03-03"


def cramp(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cramp")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (diary_cmd, profile_cmd, causes_cmd, report_cmd):
        module.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _nights(db: Path, n: int, cramp_days: set[int], long_day: int | None = None) -> None:
    start = datetime(2024, 3, 3, 21, 0, tzinfo=UTC)
    for i in range(n):
        eps = ()
        if i in cramp_days:
            eps = (EpisodeSpec(1200.0, 700.0 if i == long_day else 50.0),)
        save_night(make_night(rng=np.random.default_rng(i), start_utc=start - timedelta(days=i),
                              duration_s=3600, in_bed=((300.0, 3300.0),), episodes=eps,
                              gaps=(), poor_signal=(), path=f"/d/{i}.edf"),
                   db_path=db, recording_sha256=f"{i + 1:064x}", timezone="UTC")


def test_diary_add_with_flags_then_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    db = tmp_path / "e.sqlite3"
    assert cramp(["diary", "--db", str(db), "add", "--date", D, "--alcohol", "3",
                  "--stretched", "no", "--medicine", "statin,thiazide",
                  "--exercise", "hard", "--exercise-min", "40"]) == 0
    assert cramp(["diary", "add", "--db", str(db), "--date", D, "--cold", "yes"]) == 0
    conn = connect(db)
    try:
        e = load_entries(conn)[date(2024, 3, 3)]
    finally:
        conn.close()
    assert (e.alcohol_units, e.stretched, e.bedroom_cold, e.exercise_min) == (3.0, False, True,
                                                                             40)
    assert e.medicines_current == ("statin", "thiazide")
    capsys.readouterr()
    assert cramp(["diary", "list", "--db", str(db), "--last", "100000"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2024-03-03  [no night stored]  exercise hard 40 min; alcohol 3 units")
    assert "taking: statin (cholesterol medicine), thiazide diuretic" in out
    assert cramp(["diary", "list", "--db", str(db), "--last", "100000", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"date": D, "night_stored": False, "alcohol_units": 3.0, "bedroom_cold": True,
                     "exercise_intensity": "hard", "exercise_min": 40,
                     "medicines_current": ["statin", "thiazide"], "stretched": False}]


def test_diary_add_interactive_reasks_bad_answers(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "e.sqlite3"
    answers = ["moderate", "30", "two", "2", "", "8", "", "", "no", "yes", "", "yes",
               "laba", "", "", "slept badly"]
    monkeypatch.setattr("sys.stdin", _Terminal("\n".join(answers) + "\n"))
    assert cramp(["diary", "add", "--db", str(db), "--date", D]) == 0
    captured = capsys.readouterr()
    assert "as a number" in captured.err and "try again" in captured.err
    assert "Units of alcohol this evening: " in captured.out
    conn = connect(db)
    try:
        e = load_entries(conn)[date(2024, 3, 3)]
    finally:
        conn.close()
    assert (e.exercise_intensity, e.exercise_min, e.alcohol_units, e.fluids_glasses) == (
        "moderate", 30, 2.0, 8)
    assert (e.caffeine_drinks, e.vomiting_diarrhoea, e.bedroom_cold, e.stretched) == (
        None, False, True, True)
    assert e.medicines_new == ("laba",) and e.notes == "slept badly"


def test_diary_interactive_input_ending_early_saves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "e.sqlite3"
    monkeypatch.setattr("sys.stdin", io.StringIO("hard\n"))
    with pytest.raises(CrampInputError, match="nothing was saved"):
        cramp(["diary", "add", "--db", str(db), "--date", D, "--interactive"])
    conn = connect(db)
    try:
        assert load_entries(conn) == {}
    finally:
        conn.close()


@pytest.mark.parametrize(("argv", "match"), [
    (["--date", "2024-02-30", "--alcohol", "1"], "--date: '2024-02-30' is not a calendar date"),
    (["--date", "2999-01-01", "--alcohol", "1"], "is in the future"),
    (["--date", D, "--alcohol", "-2"], "--alcohol: expected units of alcohol"),
    (["--date", D, "--exercise", "extreme"], "--exercise: expected one of"),
    (["--date", D, "--new-medicine", "quinine"], "--new-medicine: 'quinine' is not one of"),
    (["--date", D], "nothing to record"),
])
def test_diary_add_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str],
                          match: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CrampInputError) as info:
        cramp(["diary", "add", "--db", str(tmp_path / "e.sqlite3"), *argv])
    assert match in str(info.value) and "\n" not in str(info.value)


def test_profile_set_show_and_interactive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "e.sqlite3"
    assert cramp(["profile", "--db", str(db), "--age", "72", "--conditions",
                  "pad,kidney_failure"]) == 0
    out = capsys.readouterr().out
    assert "Age: 72 years" in out
    assert "Known conditions: peripheral arterial disease, kidney failure or dialysis" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("seventy\n73\nno\n\n"))
    assert cramp(["profile", "--db", str(db), "--interactive", "--json"]) == 0
    captured = capsys.readouterr()
    assert "whole years" in captured.err
    assert json.loads(captured.out[captured.out.index("{"):]) == {
        "age_years": 73, "pregnant": False, "conditions": ["pad", "kidney_failure"]}
    assert cramp(["profile", "--db", str(db), "--conditions", "none"]) == 0
    conn = connect(db)
    try:
        assert load_profile(conn).conditions == ()
    finally:
        conn.close()
    with pytest.raises(CrampInputError, match=r"^--age: "):
        cramp(["profile", "--db", str(db), "--age", "-3"])


def test_causes_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "e.sqlite3"
    _nights(db, 8, {0, 1, 3, 5}, long_day=1)
    cramp(["diary", "add", "--db", str(db), "--date", "2024-03-02", "--alcohol", "4"])
    cramp(["profile", "--db", str(db), "--age", "67"])
    capsys.readouterr()
    assert cramp(["causes", "--db", str(db), "--last", "7"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Nights 2024-02-26 to 2024-03-03: 7 recorded, 4 with cramps, "
                          "1 diary entry.")
    assert out.index("[URGENT]") < out.index("[see a clinician]") < out.index(
        "[Older age; well established]") < out.index("[Alcohol; plausible]") < out.index(
        "[advice]")
    assert "11 min 40 s" in out and "Not enough data yet" in out
    assert "This is not a diagnosis" in out
    assert cramp(["causes", "--db", str(db), "--night", "2024-03-02", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["first_night"] == data["last_night"] == "2024-03-02"
    assert data["findings"][0]["rule_id"] == "long_cramp"
    assert data["findings"][0]["level"] == "urgent"
    assert "not a diagnosis" in data["not_a_diagnosis"].lower()
    assert data["association"]["min_nights"] == 30
    with pytest.raises(CrampInputError, match="no night dated 2024-01-01"):
        cramp(["causes", "--db", str(db), "--night", "2024-01-01"])
    with pytest.raises(CrampInputError, match="--last"):
        cramp(["causes", "--db", str(db), "--last", "0"])


def test_causes_list_rules_and_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cramp(["causes", "--list-rules"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^low_fluids \[not supported by evidence\] Not drinking enough", out,
                     re.M)
    assert "This is not a diagnosis" in out
    assert cramp(["causes", "--plan-stretching", "--start", "2024-03-06", "--weeks", "4",
                  "--seed", "3", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [w["start"] for w in plan] == ["2024-03-11", "2024-03-18", "2024-03-25",
                                          "2024-04-01"]
    assert plan[0]["stretch"] != plan[1]["stretch"] and plan[2]["stretch"] != plan[3]["stretch"]
    with pytest.raises(CrampInputError, match="even number"):
        cramp(["causes", "--plan-stretching", "--weeks", "5"])


def test_report_shows_findings_with_red_flags_first(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "e.sqlite3"
    _nights(db, 4, {0, 1, 2}, long_day=0)
    cramp(["diary", "add", "--db", str(db), "--date", D, "--medicine", "laba",
           "--sign", "pain_on_walking"])
    cramp(["profile", "--db", str(db), "--pregnant", "yes", "--age", "30"])
    out = tmp_path / "r.html"
    assert cramp(["report", "--db", str(db), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    flags = re.findall(r'<li class="(\w+)" data-flag="(\w+)"', html)
    assert flags == [("urgent", "long_cramp"), ("advice", "frequent"),
                     ("advice", "pain_on_walking")]
    findings = re.findall(r'data-finding="([\w:]+)"', html)
    assert findings.index("pregnancy") < findings.index("laba") < findings.index(
        "bedtime_stretching")
    # first screen: the night in a line, red flags, the night; factors after the nights
    assert html.index('id="last-night"') < html.index('data-flag="long_cramp"') \
        < html.index('class="night"') < html.index('data-finding="pregnancy"')
    assert "No diary-based analysis" not in html
    assert "not a diagnosis" in html.lower()
    capsys.readouterr()
    assert cramp(["report", "--db", str(db), "--text"]) == 0
    text = capsys.readouterr().out
    assert "[Pregnancy; well established]" in text
    assert "[Long-acting beta-agonist inhalers; well established]" in text
    assert "This is not a diagnosis" in text


def test_diary_defaults_to_the_last_night_and_lists_stored_nights(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The morning after a recorded night, an entry without --date is for the evening before
    it; `diary list` shows entries of stored nights however old, and nights without one."""
    from datetime import UTC, datetime, timedelta

    import numpy as np
    from store_helpers import make_night

    from detector.cli.diary_cmd import default_evening
    from detector.store import connect, save_night

    db = tmp_path / "e.sqlite3"
    now = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # 10:00 in Berlin, the morning after
    night = make_night(rng=np.random.default_rng(1), start_utc=now - timedelta(hours=12))
    save_night(night, db_path=db, recording_sha256="a" * 64, timezone="UTC")
    old = make_night(rng=np.random.default_rng(2), start_utc=now - timedelta(days=400))
    save_night(old, db_path=db, recording_sha256="b" * 64, timezone="UTC")
    conn = connect(db)
    try:
        assert default_evening(conn, now) == (date(2024, 3, 3), "the evening before the last "
                                                                "recorded night")
        # two days later the same night is no longer what a new entry means
        later = default_evening(conn, now + timedelta(days=2))
        assert later[0] != date(2024, 3, 3) and later[1] == "this evening"
    finally:
        conn.close()
    cramp(["diary", "add", "--db", str(db), "--date", "2023-01-28", "--alcohol", "2"])
    capsys.readouterr()
    assert cramp(["diary", "list", "--db", str(db), "--last", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["2023-01-28  [night stored]  alcohol 2 units",
                   "2024-03-03  [night stored]  no diary entry"]


@pytest.mark.parametrize(("argv", "match"), [
    (["--age", "300"], "--age: expected an age in whole years"),
    (["--conditions", "foo"], "--conditions: 'foo' is not one of"),
    (["--pregnant", "maybe"], "--pregnant: expected yes or no"),
])
def test_profile_errors_name_the_option(tmp_path: Path, argv: list[str], match: str) -> None:
    with pytest.raises(CrampInputError) as info:
        cramp(["profile", "--db", str(tmp_path / "e.sqlite3"), *argv])
    assert str(info.value).startswith(match) and "profile." not in str(info.value)
