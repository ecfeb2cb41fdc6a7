"""An alert announced live and then set aside by a later look (walking, the morning get-up)
is not a cramp, but the morning log accounts for it: the result, its JSON, the store and both
reports list it with its reason, beside the night's real cramp, which stays a cramp.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detector.cli.main import main
from detector.cli.replay_cmd import format_result
from detector.episode import EpisodeWithdrawn
from detector.export import edf_annotations, event_rows, events_json
from detector.night.timeline import map_result
from detector.pipeline.result import NightResult
from detector.store import connect, load_night, save_night, schema_version
from detector.store.schema import CURRENT_VERSION
from tests import test_getup_emg, test_withdrawal


def _withdrawn(events: tuple[object, ...]) -> list[EpisodeWithdrawn]:
    return [e for e in events if isinstance(e, EpisodeWithdrawn)]


@pytest.mark.parametrize("night", ["walk", "getup"])
def test_result_keeps_every_withdrawal_of_the_live_stream(night: str) -> None:
    result, events = (test_withdrawal._run(30) if night == "walk" else test_getup_emg._run())
    live = _withdrawn(events)
    assert len(live) == 1
    assert result.set_aside == tuple(live)
    # positive control: the night's cramp is an episode, and not set aside
    assert len(result.episodes) == 1
    assert abs(result.episodes[0].onset_s - live[0].onset_s) > 60.0
    rows = result.to_dict()["set_aside"]
    assert rows == [{"onset_s": round(live[0].onset_s, 3),
                     "withdrawn_s": round(live[0].withdrawn_s, 3), "reason": live[0].reason}]


def test_a_clock_moves_set_aside_runs_like_episodes() -> None:
    result, _ = test_withdrawal._run(30)
    start = result.info.start_utc

    def late(night_s: float) -> datetime:  # a host clock 2.5 s behind the samples
        return start + timedelta(seconds=night_s + 2.5)

    moved = map_result(result, late)
    assert [w.onset_s - 2.5 for w in moved.set_aside] == pytest.approx(
        [w.onset_s for w in result.set_aside])
    assert [w.withdrawn_s - 2.5 for w in moved.set_aside] == pytest.approx(
        [w.withdrawn_s for w in result.set_aside])
    assert moved.episodes[0].onset_s - 2.5 == pytest.approx(result.episodes[0].onset_s)


def _stored(tmp_path: Path, result: NightResult) -> Path:
    db = tmp_path / "episodes.sqlite3"
    save_night(result, db_path=db, timezone="UTC")
    return db


def test_store_round_trip_and_a_second_save_replaces_not_duplicates(tmp_path: Path) -> None:
    result, _ = test_withdrawal._run(30)
    db = _stored(tmp_path, result)
    save_night(result, db_path=db, timezone="UTC")  # the same recording again
    conn = connect(db)
    try:
        night = load_night(conn, 1)
    finally:
        conn.close()
    assert night.set_aside == result.set_aside  # REAL columns keep the float exactly
    assert len(night.set_aside) == 1
    assert len(night.episodes) == 1


def test_both_reports_account_for_the_alert_beside_the_cramp(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result, _ = test_withdrawal._run(30)
    w = result.set_aside[0]
    db = _stored(tmp_path, result)
    assert main(["report", "--db", str(db), "--text", "--tz", "UTC"]) == 0
    text = capsys.readouterr().out
    at = (result.info.start_utc + timedelta(seconds=w.onset_s)).astimezone(UTC)
    assert f"An alert at {at:%H:%M}" in text
    assert w.reason in text
    assert "Number of cramps:" in text and "Cramp 1: began" in text  # the cramp is still one
    assert "Cramp 2" not in text
    html = tmp_path / "r.html"
    assert main(["report", "--db", str(db), "--out", str(html), "--tz", "UTC"]) == 0
    page = html.read_text(encoding="utf-8")
    assert page.count('class="meta set-aside"') == 1
    assert "not counted as a cramp" in page


def test_replay_table_lists_the_set_aside_run() -> None:
    result, _ = test_getup_emg._run()
    table = format_result(result, tz=UTC)
    lines = [ln for ln in table.splitlines() if "set aside (not a cramp)" in ln]
    assert len(lines) == 1 and "end of the recording" in lines[0]
    assert "1 cramp episode(s)" in table


def test_exports_carry_the_set_aside_run_and_it_is_not_an_event(tmp_path: Path) -> None:
    result, _ = test_getup_emg._run()
    db = _stored(tmp_path, result)
    conn = connect(db)
    try:
        night = load_night(conn, 1)
    finally:
        conn.close()
    doc = json.loads(events_json([night]))
    assert [r["reason"] for r in doc["nights"][0]["set_aside"]] == [result.set_aside[0].reason]
    assert len(event_rows([night])) == 1  # the cramp, and only it, is an event
    notes = [n for n in edf_annotations(night) if n[2].startswith("Alert set aside")]
    assert [round(n[0], 3) for n in notes] == [round(result.set_aside[0].onset_s, 3)]
    assert sum(n[2].startswith("Cramp") for n in edf_annotations(night)) == 1



def test_a_version_3_store_gains_the_set_aside_table_and_keeps_its_data(
        tmp_path: Path) -> None:
    db = tmp_path / "v3.sqlite3"
    conn = connect(db, schema_target=3)
    try:
        conn.execute("INSERT INTO diary_entries (entry_date, fields_json, created_utc, "
                     "updated_utc) VALUES ('2024-05-06', '{\"alcohol_units\": 3}', 'x', 'x')")
        assert "set_aside" not in _tables(conn)
    finally:
        conn.close()
    result, _ = test_withdrawal._run(30)
    save_night(result, db_path=db, timezone="UTC")  # opens, so migrates to the current version
    conn = connect(db)
    try:
        assert schema_version(conn) == CURRENT_VERSION
        assert "set_aside" in _tables(conn)
        assert [tuple(r) for r in conn.execute("SELECT entry_date FROM diary_entries")] == [
            ("2024-05-06",)]
        assert load_night(conn, 1).set_aside == result.set_aside
    finally:
        conn.close()


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
