"""Nights as sleep periods, and the personal / replays / demo stores.

A night is one sleep period of one person: two legs, a reconnect or two bands are one night,
counted together; unrelated recordings (samples, two demo runs of one evening) are not summed
into one night, so they raise no red flag that no single night shows.
"""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from store_helpers import EpisodeSpec, make_night

from detector.causes.engine import evaluate_store
from detector.causes.rules import default_rules
from detector.cli.main import main
from detector.errors import CrampInputError
from detector.store import connect, load_nights_on, save_night
from detector.store.sleep import group_sleep_nights

START = datetime(2024, 3, 3, 21, 0, tzinfo=UTC)
TWO = (EpisodeSpec(5400.0, 60.0), EpisodeSpec(7800.0, 45.0))


def _store(db: Path, *nights: tuple[datetime, str, str, tuple[EpisodeSpec, ...], int]) -> None:
    rng = np.random.default_rng(3)
    for i, (start, leg, path, eps, duration) in enumerate(nights, start=1):
        save_night(make_night(rng=rng, start_utc=start, leg=leg, path=path, episodes=eps,
                              duration_s=duration, in_bed=((600.0, duration - 600.0),)),
                   db_path=db, recording_sha256=f"{i:064x}", timezone="UTC")


def _flags(db: Path, *, one_per_recording: bool = False) -> list[str]:
    conn = connect(db)
    try:
        report = evaluate_store(conn, [START.date()], rules=default_rules(),
                                one_per_recording=one_per_recording)
    finally:
        conn.close()
    return [f.rule_id for f in report.red_flags]


def _nights(db: Path, *, one_per_recording: bool = False) -> list[int]:
    conn = connect(db)
    try:
        recs = load_nights_on(conn, START.date(), with_trace=False)
    finally:
        conn.close()
    return [len(n.recordings) for n in group_sleep_nights(recs,
                                                          one_per_recording=one_per_recording)]


def test_two_legs_and_a_reconnect_are_one_night(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    left = EpisodeSpec(5400.0, 60.0, leg="left")
    right = EpisodeSpec(5500.0, 50.0, leg="right")
    _store(db, (START, "left", "/d/left.cramp", (left,), 3 * 3600),
           (START + timedelta(seconds=30), "right", "/d/right.cramp", (right,), 3 * 3600),
           # the left band reconnected 2 min after its first file ended: a new file
           (START + timedelta(hours=3, minutes=2), "left", "/d/left2.cramp",
            (EpisodeSpec(1200.0, 40.0), EpisodeSpec(2400.0, 40.0)), 2 * 3600))
    assert _nights(db) == [3]
    # counted together: 4 cramps, both legs, in one night
    assert set(_flags(db)) == {"very_frequent", "both_legs"}


def test_unrelated_recordings_of_one_date_are_not_summed(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    # two demo runs of one evening: same band, same leg, overlapping in time
    _store(db, (START, "left", "/d/a.cramp", TWO, 3600),
           (START + timedelta(minutes=2), "left", "/d/b.cramp", TWO, 3600))
    assert _nights(db) == [1, 1]
    assert _flags(db) == []
    # positive control: the same four cramps in one recording are a red flag
    db2 = tmp_path / "one.sqlite3"
    four = (*TWO, EpisodeSpec(9000.0, 30.0), EpisodeSpec(9600.0, 30.0))
    _store(db2, (START, "left", "/d/a.cramp", four, 4 * 3600))
    assert _flags(db2) == ["very_frequent"]


def test_replays_store_keeps_each_recording_its_own_night(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    # sample files: different legs within an hour of each other
    _store(db, (START, "left", "/s/a.edf", TWO, 900),
           (START + timedelta(minutes=20), "right", "/s/b.edf",
            (EpisodeSpec(300.0, 40.0, leg="right"), EpisodeSpec(500.0, 30.0, leg="right")), 900))
    assert _nights(db) == [2]  # as one person's night: one night, both legs
    assert "both_legs" in _flags(db)
    assert _nights(db, one_per_recording=True) == [1, 1]
    assert _flags(db, one_per_recording=True) == []


def test_nights_far_apart_on_one_date_are_separate(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    _store(db, (START, "left", "/d/a.cramp", TWO, 3600),
           (START + timedelta(hours=8), "left", "/d/b.cramp", TWO, 3600))
    assert _nights(db) == [1, 1]


def _counts(db: Path, *, one_per_recording: bool = False) -> tuple[int, int, int]:
    conn = connect(db)
    try:
        r = evaluate_store(conn, [START.date()], rules=default_rules(),
                           one_per_recording=one_per_recording)
    finally:
        conn.close()
    return r.n_nights, r.n_cramp_nights, r.n_dates


def test_the_period_counts_sleep_nights_not_dates(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    # two separate nights on one date, one with cramps, one without
    _store(db, (START, "left", "/d/a.cramp", TWO, 3600),
           (START + timedelta(hours=8), "left", "/d/b.cramp", (), 3600))
    assert _counts(db) == (2, 1, 1)
    # control: two legs of one sleep period are one night, whatever the number of files
    db2 = tmp_path / "legs.sqlite3"
    _store(db2, (START, "left", "/d/l.cramp", TWO, 3600),
           (START + timedelta(seconds=30), "right", "/d/r.cramp",
            (EpisodeSpec(900.0, 40.0, leg="right"),), 3600))
    assert _counts(db2) == (1, 1, 1)
    # the replays store: each file its own night
    assert _counts(db2, one_per_recording=True) == (2, 2, 1)


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data" / "night-cramp-detector"


def test_replay_goes_to_the_replays_store_not_the_personal_one(data_home: Path) -> None:
    capture = Path(__file__).parent.parent / "recordings" / "sample_capture.cramp"
    code, _, err = _cli(["replay", str(capture), "--json", "-"])
    assert code == 0 and "replays store" in err
    assert (data_home / "replays.sqlite3").is_file()
    assert not (data_home / "episodes.sqlite3").exists()
    code, _, err = _cli(["report"])  # the personal store: nothing there, says where to look
    assert code == 2 and "no nights in the personal store yet" in err
    assert "--store replays" in err and "\n" not in err.strip()
    code, out, _ = _cli(["report", "--store", "replays", "--text"])
    assert code == 0 and "1 cramp" in out and "When to see a clinician: none" in out
    assert "Replayed recordings (the replays store" in out  # not the sleeper's nights
    # asked for explicitly, the personal store takes it
    code, _, _ = _cli(["replay", str(capture), "--store", "personal", "--json", "-"])
    assert code == 0 and (data_home / "episodes.sqlite3").is_file()
    code, out, _ = _cli(["report", "--text"])
    assert code == 0 and "1 cramp" in out and "store" not in out.split("\n\n")[0]
    code, _, err = _cli(["replay", str(capture), "--no-store", "--store", "demo"])
    assert code == 2 and "--no-store" in err
    with pytest.raises(CrampInputError, match="--store"):
        from detector.store.db import store_path
        store_path("elsewhere")


@pytest.mark.parametrize(("now", "start"), [
    # 15:00 in Berlin: outside the night window, so 22:30 this evening
    (datetime(2026, 3, 10, 14, 0, tzinfo=UTC), datetime(2026, 3, 10, 21, 30, tzinfo=UTC)),
    # 23:00 in Berlin: inside the window, the night starts now
    (datetime(2026, 3, 10, 22, 0, tzinfo=UTC), datetime(2026, 3, 10, 22, 0, tzinfo=UTC)),
    # 09:30 in Berlin: an hour would run past 10:00, so last evening's night
    (datetime(2026, 3, 11, 8, 30, tzinfo=UTC), datetime(2026, 3, 10, 21, 30, tzinfo=UTC)),
])
def test_a_simulated_night_is_dated_by_the_night_it_is_recorded_on(
        now: datetime, start: datetime) -> None:
    from detector.cli.record_cmd import simulated_start_utc
    from detector.config import DetectorConfig
    from detector.store import night_date_for, resolve_zone

    config = DetectorConfig().replace(in_bed__timezone="Europe/Berlin")
    got = simulated_start_utc(now, config, duration_s=3600.0)
    assert got == start
    assert night_date_for(got, resolve_zone("Europe/Berlin", where="tz")).isoformat() == \
        "2026-03-10"
