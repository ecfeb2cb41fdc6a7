"""Tests of the episode store: schema, migrations, idempotent replays, permissions."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from store_helpers import EpisodeSpec, make_night

from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.pipeline.result import NightTrace
from detector.signals import Gap
from detector.store import (
    CURRENT_VERSION,
    connect,
    day_totals,
    default_db_path,
    last_night_dates,
    load_night,
    load_nights_on,
    night_dates,
    night_runs,
    save_night,
    schema_version,
)
from detector.store.codec import decode_trace, encode_trace
from detector.store.nights import night_date_for, poor_signal_periods, resolve_zone

SHA_A = "a" * 64
SHA_B = "b" * 64
EXPECTED_TABLES = {"profile", "devices", "recordings", "nights", "night_runs", "episodes",
                   "gaps", "quality_periods", "diary_entries", "night_traces",
                   "set_aside"}


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def _count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_new_store_has_every_table_wal_and_is_private(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "episodes.sqlite3"
    result = make_night(rng=np.random.default_rng(1))
    save_night(result, db_path=db, recording_sha256=SHA_A, timezone="UTC")
    assert EXPECTED_TABLES <= _tables(db)
    conn = connect(db)
    try:
        assert schema_version(conn) == CURRENT_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        for suffix in ("", "-wal", "-shm"):  # companions exist while a connection is open
            mode = stat.S_IMODE(os.stat(f"{db}{suffix}").st_mode)
            assert mode == 0o600, (suffix, oct(mode))
    finally:
        conn.close()


def test_existing_loose_permissions_are_tightened(tmp_path: Path) -> None:
    db = tmp_path / "episodes.sqlite3"
    connect(db).close()
    db.chmod(0o644)
    connect(db).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    result = make_night(rng=np.random.default_rng(2))
    night_id = save_night(result, db_path=db, recording_sha256=SHA_A, timezone="Europe/Berlin")
    conn = connect(db)
    try:
        night = load_night(conn, night_id)
    finally:
        conn.close()
    assert night.episodes == result.episodes
    assert night.gaps == result.gaps
    assert night.in_bed_periods == result.in_bed_periods
    assert night.start_utc == result.info.start_utc
    assert night.duration_s == result.info.duration_s
    assert night.leg == "left"
    assert night.mode == "emg+acc"
    assert night.recording_path == "/data/night.edf"
    assert night.recording_sha256 == SHA_A
    assert night.timezone == "Europe/Berlin"
    assert night.parameters == json.loads(json.dumps(result.parameters))
    assert night.parameters["emg"]["mains_hz"] == [50.0, 60.0]
    assert night.quality == result.quality
    assert night.channels["emg"]["fs"] == 1000.0
    assert night.trace is not None
    for name in ("emg_envelope_uv", "plantar_flexion_deg", "valid", "lying"):
        np.testing.assert_allclose(getattr(night.trace, name), getattr(result.trace, name),
                                   rtol=1e-6, equal_nan=True)
    # 120 s of flat EMG at 10800 s is a poor-signal period; the 60 s gap at 7200 s is not.
    assert [(q.start_s, q.end_s) for q in night.quality_periods] == [(10800.0, 10920.0)]
    # usable fraction: (14400 - 60 - 120) / 14400
    assert night.coverage_fraction == pytest.approx((14400 - 180) / 14400)


def test_replaying_same_recording_twice_does_not_duplicate(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    result = make_night(rng=np.random.default_rng(3))
    first = save_night(result, db_path=db, recording_sha256=SHA_A, timezone="UTC")
    second = save_night(result, db_path=db, recording_sha256=SHA_A.upper(), timezone="UTC")
    assert first == second
    assert _count(db, "recordings") == 1
    assert _count(db, "nights") == 1
    assert _count(db, "night_runs") == 1
    assert _count(db, "episodes") == len(result.episodes) == 2
    assert _count(db, "gaps") == len(result.gaps)
    assert _count(db, "night_traces") == 1


def test_retuning_replaces_episodes_and_keeps_parameter_history(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    base = DetectorConfig()
    tuned = base.replace(episode__min_duration_s=60.0)
    r1 = make_night(rng=np.random.default_rng(4), parameters=base.to_dict())
    # The retuned run finds only the long episode (95 s); the 40 s one is below 60 s.
    r2 = make_night(rng=np.random.default_rng(4), parameters=tuned.to_dict(),
                    episodes=(EpisodeSpec(5400.0, 95.0),))
    n1 = save_night(r1, db_path=db, recording_sha256=SHA_A, timezone="UTC")
    n2 = save_night(r2, db_path=db, recording_sha256=SHA_A, timezone="UTC")
    assert n1 == n2
    conn = connect(db)
    try:
        night = load_night(conn, n1)
        runs = night_runs(conn, n1)
    finally:
        conn.close()
    assert [e.duration_s for e in night.episodes] == [95.0]
    assert night.parameters["episode"]["min_duration_s"] == 60.0
    assert len(runs) == 2
    assert [r.parameters["episode"]["min_duration_s"] for r in runs] == [10.0, 60.0]
    assert [r.n_episodes for r in runs] == [2, 1]
    # Going back to the first parameters reuses its history row.
    save_night(r1, db_path=db, recording_sha256=SHA_A, timezone="UTC")
    assert _count(db, "night_runs") == 2
    assert _count(db, "episodes") == 2


def test_without_hash_path_and_start_identify_the_recording(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    a = make_night(rng=np.random.default_rng(5))
    b = make_night(rng=np.random.default_rng(5),
                   start_utc=datetime(2024, 3, 4, 21, 0, tzinfo=UTC))
    ia = save_night(a, db_path=db, timezone="UTC")
    assert save_night(a, db_path=db, timezone="UTC") == ia
    ib = save_night(b, db_path=db, timezone="UTC")
    assert ib != ia
    assert _count(db, "nights") == 2


def test_night_date_is_the_evening_date() -> None:
    berlin = resolve_zone("Europe/Berlin", where="tz")
    # 23:30 local on 3 March -> 3 March
    assert night_date_for(datetime(2024, 3, 3, 22, 30, tzinfo=UTC), berlin) == date(2024, 3, 3)
    # 01:30 local on 4 March (after midnight) -> still the evening of 3 March
    assert night_date_for(datetime(2024, 3, 4, 0, 30, tzinfo=UTC), berlin) == date(2024, 3, 3)
    # 11:30 local on 4 March (a nap after noon) -> 3 March; 12:30 -> 4 March
    assert night_date_for(datetime(2024, 3, 4, 10, 30, tzinfo=UTC), berlin) == date(2024, 3, 3)
    assert night_date_for(datetime(2024, 3, 4, 11, 30, tzinfo=UTC), berlin) == date(2024, 3, 4)
    # The same instant is a different evening in New York.
    ny = resolve_zone("America/New_York", where="tz")
    assert night_date_for(datetime(2024, 3, 4, 16, 30, tzinfo=UTC), ny) == date(2024, 3, 3)
    assert night_date_for(datetime(2024, 3, 4, 16, 30, tzinfo=UTC), berlin) == date(2024, 3, 4)


def test_night_date_uses_in_bed_start_and_machine_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # UTC+9, no DST
    time.tzset()
    try:
        # Recording starts 11:00 UTC on 3 March (20:00 Tokyo), in bed at +6 h = 02:00 Tokyo on
        # 4 March: the night belongs to the evening of 3 March.
        r = make_night(rng=np.random.default_rng(6),
                       start_utc=datetime(2024, 3, 3, 11, 0, tzinfo=UTC),
                       in_bed=((6 * 3600.0, 4 * 3600.0 + 7200.0),), duration_s=8 * 3600,
                       episodes=(), gaps=(), poor_signal=())
        nid = save_night(r, db_path=tmp_path / "e.sqlite3")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    conn = connect(tmp_path / "e.sqlite3")
    try:
        night = load_night(conn, nid)
    finally:
        conn.close()
    assert night.night_date == date(2024, 3, 3)
    assert night.timezone is None


def test_queries_by_date_and_day_totals(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    rng = np.random.default_rng(7)
    for day, sha, eps in ((1, SHA_A, (EpisodeSpec(5400.0, 30.0),)),
                          (2, SHA_B, ()),
                          (4, "c" * 64, (EpisodeSpec(5400.0, 20.0), EpisodeSpec(6000.0, 50.0,
                                                                               leg="left")))):
        save_night(make_night(rng=rng, start_utc=datetime(2024, 3, day, 21, 0, tzinfo=UTC),
                              episodes=eps), db_path=db, recording_sha256=sha, timezone="UTC")
    # A right-leg band on the night of 4 March
    save_night(make_night(rng=rng, start_utc=datetime(2024, 3, 4, 21, 5, tzinfo=UTC),
                          leg="right", path="/data/right.edf",
                          episodes=(EpisodeSpec(7000.0, 15.0, leg="right"),)),
               db_path=db, recording_sha256="d" * 64, timezone="UTC")
    conn = connect(db)
    try:
        assert night_dates(conn) == [date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 4)]
        assert last_night_dates(conn, 2) == [date(2024, 3, 2), date(2024, 3, 4)]
        on4 = load_nights_on(conn, date(2024, 3, 4), with_trace=False)
        assert [n.leg for n in on4] == ["left", "right"]
        assert all(n.trace is None for n in on4)
        totals = day_totals(conn, date(2024, 3, 1), date(2024, 3, 31))
        with pytest.raises(CrampInputError, match="--last"):
            last_night_dates(conn, 0)
    finally:
        conn.close()
    assert [(t.night_date.day, t.n_nights, t.n_episodes, t.total_cramp_s, t.legs)
            for t in totals] == [(1, 1, 1, 30.0, ("left",)), (2, 1, 0, 0.0, ()),
                                 (4, 2, 3, 85.0, ("left", "right"))]


def _insert_v1_night(db: Path) -> None:
    conn = connect(db, schema_target=1)
    try:
        assert schema_version(conn) == 1
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO recordings (id, path, sha256, start_utc, start_unix_s, end_utc, "
            "duration_s, leg, channels_json, created_utc) VALUES (1, '/old.edf', ?, "
            "'2024-01-05T21:00:00Z', ?, '2024-01-06T05:00:00Z', 28800.0, 'right', '{}', "
            "'2024-01-06T06:00:00Z')", (SHA_B, datetime(2024, 1, 5, 21, tzinfo=UTC).timestamp()))
        conn.execute(
            "INSERT INTO nights (id, recording_id, night_date, mode, in_bed_json, "
            "quality_json, detector_version, parameters_json, updated_utc) VALUES "
            "(1, 1, '2024-01-05', 'emg', '[[600.0, 27000.0]]', '{}', '0.0.9', '{\"x\": 1}', "
            "'2024-01-06T06:00:00Z')")
        conn.execute(
            "INSERT INTO episodes (night_id, seq, onset_s, offset_s, duration_s, onset_utc, "
            "onset_unix_s, offset_utc, leg, in_bed, peak_emg_uv, mean_emg_uv, "
            "plantar_flexion_deg, confidence, evidence_json, quality_notes_json) VALUES "
            "(1, 0, 3600.0, 3700.0, 100.0, '2024-01-05T22:00:00Z', 0, '2024-01-05T22:01:40Z', "
            "'right', 1, 50.0, 40.0, NULL, 0.7, '[\"sustained_emg\"]', '[]')")
        conn.execute("INSERT INTO diary_entries (entry_date, fields_json, created_utc, "
                     "updated_utc) VALUES ('2024-01-05', '{\"alcohol\": true}', 'x', 'x')")
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_migration_from_version_1_keeps_data(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    _insert_v1_night(db)
    assert "night_traces" not in _tables(db)
    conn = connect(db)  # migrates to the current version
    try:
        assert schema_version(conn) == CURRENT_VERSION
        night = load_night(conn, 1)
        diary = conn.execute("SELECT entry_date, fields_json FROM diary_entries").fetchall()
    finally:
        conn.close()
    assert EXPECTED_TABLES <= _tables(db)
    assert night.night_date == date(2024, 1, 5)
    assert night.leg == "right"
    assert night.trace is None
    assert night.timezone is None
    assert night.parameters == {"x": 1}
    assert [(e.onset_s, e.duration_s, e.peak_emg_uv, e.evidence) for e in night.episodes] == [
        (3600.0, 100.0, 50.0, ("sustained_emg",))]
    assert night.episodes[0].onset_utc == datetime(2024, 1, 5, 22, 0, tzinfo=UTC)
    assert [tuple(r) for r in diary] == [("2024-01-05", '{"alcohol": true}')]
    # The migrated store accepts new nights.
    save_night(make_night(rng=np.random.default_rng(8)), db_path=db, recording_sha256=SHA_A,
               timezone="UTC")
    assert _count(db, "nights") == 2


def test_store_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {CURRENT_VERSION + 1}")
    conn.close()
    with pytest.raises(CrampInputError, match="newer"):
        connect(db)


def test_not_a_database_is_a_one_line_error(tmp_path: Path) -> None:
    db = tmp_path / "junk.sqlite3"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CrampInputError) as info:
        connect(db)
    assert "junk.sqlite3" in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_store_without_create(tmp_path: Path) -> None:
    with pytest.raises(CrampInputError, match="no episode store"):
        connect(tmp_path / "none.sqlite3", create=False)
    assert not (tmp_path / "none.sqlite3").exists()


def test_failed_save_leaves_nothing_behind(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    good = make_night(rng=np.random.default_rng(9))
    tr = good.trace
    broken_trace = NightTrace(emg_envelope_uv=tr.emg_envelope_uv[:-5],
                              emg_baseline_uv=tr.emg_baseline_uv, lying=tr.lying,
                              movement_g=tr.movement_g,
                              plantar_flexion_deg=tr.plantar_flexion_deg, tremor_g=tr.tremor_g,
                              valid=tr.valid)
    bad = make_night(rng=np.random.default_rng(9))
    object.__setattr__(bad, "trace", broken_trace)
    with pytest.raises(ValueError, match="emg_envelope_uv"):
        save_night(bad, db_path=db, recording_sha256=SHA_A, timezone="UTC")
    assert _count(db, "recordings") == 0
    assert _count(db, "nights") == 0


def test_bad_inputs_to_save_night(tmp_path: Path) -> None:
    r = make_night(rng=np.random.default_rng(10))
    with pytest.raises(CrampInputError, match="timezone"):
        save_night(r, db_path=tmp_path / "e.sqlite3", timezone="Mars/Olympus")
    with pytest.raises(CrampInputError, match="recording_sha256"):
        save_night(r, db_path=tmp_path / "e.sqlite3", recording_sha256="xyz")


def test_default_db_path_is_in_user_data_dir(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    p = default_db_path()
    assert p.name == "episodes.sqlite3"
    assert p.parent.name == "night-cramp-detector"
    if sys.platform.startswith("linux"):
        assert p.parent.parent == tmp_path / "xdg"


def test_poor_signal_periods_skip_gaps() -> None:
    n = 100
    valid = np.ones(n)
    valid[10:20] = 0.0   # gap
    valid[30:35] = 0.2   # poor
    valid[50] = np.nan   # unknown counts as unusable
    valid[98:] = 0.0     # poor, to the end
    trace = NightTrace(**{name: np.zeros(n) for name in (
        "emg_envelope_uv", "emg_baseline_uv", "lying", "movement_g", "plantar_flexion_deg",
        "tremor_g")}, valid=valid)
    periods = poor_signal_periods(trace, (Gap(role="emg", start_s=10.0, end_s=20.0,
                                              samples_missing=10000),))
    assert [(p.start_s, p.end_s) for p in periods] == [(30.0, 35.0), (50.0, 51.0),
                                                       (98.0, 100.0)]


_floats = st.floats(allow_nan=True, allow_infinity=False, width=32)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 50).flatmap(lambda n: hnp.arrays(np.float32, (7, n), elements=_floats)))
def test_trace_codec_round_trip(columns: np.ndarray) -> None:
    # (drawn as one array: the same values as seven lists of floats, many times faster)
    names = ("emg_envelope_uv", "emg_baseline_uv", "lying", "movement_g",
             "plantar_flexion_deg", "tremor_g", "valid")
    trace = NightTrace(**{k: columns[i].astype(np.float64) for i, k in enumerate(names)})
    back = decode_trace(*encode_trace(trace), where="t")
    for i, k in enumerate(names):
        np.testing.assert_array_equal(getattr(back, k), columns[i])


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), n=st.integers(-3, 40))
def test_trace_decoder_rejects_damage_with_input_error(data: bytes, n: int) -> None:
    fields = ("emg_envelope_uv,emg_baseline_uv,lying,movement_g,plantar_flexion_deg,"
              "tremor_g,valid")
    try:
        trace = decode_trace(n, fields, "zlib+float32le", data, where="night 1")
    except CrampInputError as exc:
        assert str(exc).startswith("night 1: ")
    else:
        assert trace.n_seconds == n


def test_trace_decoder_rejects_unknown_layout() -> None:
    n, fields, enc, blob = encode_trace(make_night(rng=np.random.default_rng(11),
                                                   duration_s=10, in_bed=(), episodes=(),
                                                   gaps=(), poor_signal=()).trace)
    with pytest.raises(CrampInputError, match="encoding"):
        decode_trace(n, fields, "lz4", blob, where="x")
    with pytest.raises(CrampInputError, match="fields"):
        decode_trace(n, "a,b", enc, blob, where="x")
    with pytest.raises(CrampInputError, match="bytes"):
        decode_trace(n + 1, fields, enc, blob, where="x")
