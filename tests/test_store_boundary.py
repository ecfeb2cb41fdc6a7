"""The store at the edge: damaged contents, foreign or read-only files, never modified by reads."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import make_night

from detector.cli.main import main
from detector.errors import CrampInputError
from detector.store import connect, save_night
from detector.store.guard import damaged_store_errors

STORE_FUZZ = settings(max_examples=40, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def good_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("store") / "good.sqlite3"
    night = make_night(rng=np.random.default_rng(3), duration_s=3600,
                       in_bed=((600.0, 3300.0),), gaps=(), poor_signal=())
    save_night(night, db_path=db, recording_sha256="c" * 64, timezone="UTC")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db


def _columns(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return [(t, r[1]) for t in sorted(tables)
                for r in conn.execute(f"PRAGMA table_info({t})") if r[1] != "id"]
    finally:
        conn.close()


def _digest(p: Path) -> tuple[str, int]:
    return hashlib.sha256(p.read_bytes()).hexdigest(), stat.S_IMODE(p.stat().st_mode)


CELL = st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
                 st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
                 st.binary(max_size=30), st.sampled_from(["{", "[1, 2]", "2024-99-99",
                                                          "not a date", "nan", "{}", "null"]))
READ_COMMANDS = (["report", "--text"], ["export", "--format", "json", "--out", "-"],
                 ["causes"])


@STORE_FUZZ
@given(data=st.data())
def test_any_damaged_cell_gives_a_report_or_one_clear_line_and_is_never_written(
        tmp_path_factory: pytest.TempPathFactory, good_store: Path,
        capsys: pytest.CaptureFixture[str], data: st.DataObject) -> None:
    db = tmp_path_factory.mktemp("d") / "s.sqlite3"
    shutil.copy(good_store, db)
    table, column = data.draw(st.sampled_from(_columns(good_store)), label="cell")
    value = data.draw(CELL, label="value")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute(f"UPDATE {table} SET {column} = ?", (value,))
        conn.commit()
    except sqlite3.IntegrityError:  # NOT NULL / CHECK constraints: not storable anyway
        return
    finally:
        conn.close()
    before = _digest(db)
    argv = data.draw(st.sampled_from(READ_COMMANDS), label="command")
    code = main([*argv, "--db", str(db)])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("cramp: error: "), err
    assert "Traceback" not in err
    assert _digest(db) == before  # read-only commands never modify the store


def test_a_damaged_cell_is_one_line_and_the_undamaged_store_reports(
        tmp_path: Path, good_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.sqlite3"
    shutil.copy(good_store, db)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE recordings SET start_utc = 'not a time'")
    conn.commit()
    conn.close()
    assert main(["report", "--text", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err == "cramp: error: episode store night 1: expected an ISO 8601 UTC time, got " \
                  "'not a time'\n"
    shutil.copy(good_store, db)  # positive control: the undamaged store reports
    assert main(["report", "--text", "--db", str(db)]) == 0
    assert "cramp" in capsys.readouterr().out.lower()


def test_undecodable_contents_are_named_as_store_damage(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    with pytest.raises(CrampInputError) as exc, damaged_store_errors(db):
        bytes([0xFF]).decode("utf-8")
    assert str(exc.value).startswith(f"{db}: the episode store holds damaged or unexpected "
                                     "values (UnicodeDecodeError: ")
    with pytest.raises(CrampInputError, match=r"^--last: kept"), damaged_store_errors(db):
        raise CrampInputError("--last", "kept")  # our own errors pass through unchanged


@pytest.mark.parametrize("argv", [["report", "--text"], ["causes"], ["replay", "x.edf"],
                                  ["export", "--format", "csv", "--out", "-"]])
def test_a_foreign_sqlite_database_is_refused_and_left_alone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    foreign = tmp_path / "contacts.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    foreign.chmod(0o644)
    before = _digest(foreign)
    if argv[0] == "replay":  # a writing command refuses it too
        night = make_night(rng=np.random.default_rng(1), duration_s=600, in_bed=(),
                           episodes=(), gaps=(), poor_signal=())
        with pytest.raises(CrampInputError, match="SQLite database of another program"):
            save_night(night, db_path=foreign, recording_sha256="d" * 64)
    else:
        assert main([*argv, "--db", str(foreign)]) == 2
        assert "is a SQLite database of another program" in capsys.readouterr().err
    assert _digest(foreign) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.db"]


def test_a_read_only_store_in_a_read_only_folder_can_be_read(
        tmp_path: Path, good_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "s.sqlite3"
    shutil.copy(good_store, db)
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        conn = connect(db, read_only=True)
        try:
            assert conn.execute("SELECT count(*) FROM nights").fetchone()[0] == 1
            with pytest.raises(sqlite3.DatabaseError):  # and nothing can write through it
                conn.execute("DELETE FROM nights")
        finally:
            conn.close()
        assert main(["report", "--text", "--db", str(db)]) == 0
        assert "night" in capsys.readouterr().out.lower()
        assert sorted(p.name for p in folder.iterdir()) == ["s.sqlite3"]
    finally:
        folder.chmod(0o755)


def test_reading_a_missing_store_creates_nothing(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "none" / "s.sqlite3"
    assert main(["report", "--db", str(db)]) == 2
    assert main(["diary", "--db", str(db), "list"]) == 0  # nothing stored: an empty diary
    assert "no diary entries" in capsys.readouterr().out
    assert not db.parent.exists()


def test_an_empty_or_random_file_is_not_a_store(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    for name, data in (("empty.db", b""), ("noise.db", os.urandom(4096))):
        p = tmp_path / name
        p.write_bytes(data)
        assert main(["report", "--text", "--db", str(p)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(p) in err
        assert p.read_bytes() == data
