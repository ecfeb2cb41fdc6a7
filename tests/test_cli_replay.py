"""`cramp replay` end to end: EDF+ in, episodes out; bad input is one line and exit 2."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from io_helpers import Sig, set_record_onsets, write_edf
from synth import Builder

from detector.cli.main import main
from detector.store import connect

EPISODE_KEYS = {"onset_s", "offset_s", "duration_s", "onset_utc", "leg", "in_bed", "peak_emg_uv",
                "plantar_flexion_deg", "confidence", "evidence"}


def _night_edf(path: Path, *, with_acc: bool = True, emg_fs: int = 1000) -> Path:
    b = Builder(duration_s=300.0, rng=np.random.default_rng(21), fs_emg=float(emg_fs),
                with_acc=with_acc)
    b.cramp(100.0, 45.0)
    b.plm_series(180.0, n=4, interval_s=20.0, duration_s=2.0)
    rec = b.recording()
    sigs = [Sig("EMG Calf", "uV", emg_fs, rec.data["emg"], -5000.0, 5000.0)]
    if with_acc:
        for loc, role in (("Shank", "shank_acc"), ("Foot", "foot_acc")):
            sigs += [Sig(f"Acc {loc} {axis}", "mg", 100, rec.data[role][:, k] * 1000.0,
                         -8000.0, 8000.0) for k, axis in enumerate("XYZ")]
    return write_edf(path, sigs)


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_on_stdout_has_the_documented_shape(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = _night_edf(tmp_path / "night.edf")
    code, out, _ = _run(capsys, ["replay", str(path), "--no-night-window", "--leg", "right",
                                 "--json", "-"])
    assert code == 0
    doc: dict[str, Any] = json.loads(out)  # stdout carries only the JSON
    (rec,) = doc["recordings"]
    assert rec["path"] == str(path)
    assert rec["start_utc"] == "2024-03-01T22:30:05Z"
    assert rec["mode"] == "emg+acc"
    (ep,) = rec["episodes"]
    assert set(ep) >= EPISODE_KEYS
    assert abs(ep["onset_s"] - 100.0) < 1.0
    assert abs(ep["duration_s"] - 45.0) < 1.5
    assert ep["leg"] == "right"
    assert ep["onset_utc"].startswith("2024-03-01T22:31:4")
    assert 30.0 < ep["plantar_flexion_deg"] < 50.0
    assert rec["quality"]["emg"]["coverage"] == 1.0
    assert rec["parameters"]["in_bed"]["night_window"] is None
    assert rec["detector_version"]


def test_emg_only_recording_gives_null_angle(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = _night_edf(tmp_path / "emg.edf", with_acc=False)
    code, out, _ = _run(capsys, ["replay", str(path), "--no-night-window", "--json", "-"])
    assert code == 0
    rec = json.loads(out)["recordings"][0]
    assert rec["mode"] == "emg"
    assert rec["episodes"][0]["plantar_flexion_deg"] is None


def test_table_output_and_private_json_file(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = _night_edf(tmp_path / "night.edf")
    out_json = tmp_path / "result.json"
    code, out, _ = _run(capsys, ["replay", str(path), "--night-window", "22:00-06:00", "--tz",
                                 "UTC", "--json", str(out_json)])
    assert code == 0
    assert "1 cramp episode(s)" in out
    assert "22:31:4" in out  # local (UTC) clock time of the onset
    assert os.stat(out_json).st_mode & 0o777 == 0o600
    ep = json.loads(out_json.read_text())["recordings"][0]["episodes"][0]
    assert ep["in_bed"] is True


def test_night_window_marks_episodes_outside_it(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = _night_edf(tmp_path / "night.edf")
    code, out, _ = _run(capsys, ["replay", str(path), "--night-window", "08:00-12:00", "--tz",
                                 "UTC", "--json", "-"])
    assert code == 0
    assert json.loads(out)["recordings"][0]["episodes"][0]["in_bed"] is False


def _truncated(tmp: Path) -> Path:
    p = _night_edf(tmp / "trunc.edf")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) - 5000])
    return p


def _nan_csv(tmp: Path) -> Path:
    p = tmp / "nan.csv"
    rows = ["time_s,emg_uv"] + [f"{i / 1000:.3f},{'nan' if i == 1500 else 1.0}"
                                for i in range(3000)]
    p.write_text("\n".join(rows) + "\n")
    return p


@pytest.mark.parametrize(("make", "extra", "fragment"), [
    (lambda t: t / "absent.edf", [], "absent.edf: file not found"),
    (lambda t: (t / "x.edf").write_text("hello") and t / "x.edf", [], "not an EDF"),
    (_truncated, [], "truncated"),
    (lambda t: _night_edf(t / "n.edf"), ["--emg", "EMG Thigh"], "no signal labelled 'EMG Thigh'"),
    (lambda t: _night_edf(t / "slow.edf", with_acc=False, emg_fs=100), [],
     "needs at least 200 Hz"),
    (_nan_csv, [], "nan.csv: column 'emg_uv', row 1501"),
    (lambda t: _night_edf(t / "n.edf"), ["--night-window", "25:00-07:00"], "--night-window"),
    (lambda t: _night_edf(t / "n.edf"), ["--config", "/nonexistent.toml"],
     "config file not found"),
])
def test_bad_input_is_one_line_exit_2_no_traceback(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   make: Any, extra: list[str],
                                                   fragment: str) -> None:
    path = make(tmp_path)
    code, out, err = _run(capsys, ["replay", str(path), "--json", "-", *extra])
    assert code == 2
    assert out == ""
    assert fragment in err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("cramp: error: ")


def test_a_table_without_start_time_says_times_are_relative_and_asks_for_start(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "walk.csv"
    rows = ["time_s,emg_uv"] + [f"{i / 1000:.3f},{1.0 + (i % 7) * 0.1}" for i in range(60_000)]
    p.write_text("\n".join(rows) + "\n")
    db = tmp_path / "e.sqlite3"
    code, out, err = _run(capsys, ["replay", str(p), "--db", str(db)])
    assert code == 0
    assert "no start time in the file" in err and "--start" in err
    assert len([line for line in err.splitlines() if "no start time" in line]) == 1
    assert "start time not known" in out and "1970" not in out and "1969" not in out
    assert not db.exists()  # an undated night is not stored
    code, out, err = _run(capsys, ["replay", str(p), "--db", str(db), "--start",
                                   "2026-03-01T22:00:00+01:00"])
    assert code == 0 and "no start time" not in err
    assert "2026-03-01 21:00:00 UTC" in out or "2026-03-01 22:00:00" in out
    conn = connect(db)
    try:
        assert [r[0] for r in conn.execute("SELECT night_date FROM nights")] == ["2026-03-01"]
    finally:
        conn.close()
    code, _, err = _run(capsys, ["replay", str(p), "--start", "2026-03-01T22:00:00"])
    assert code == 2 and "--start: expected a time with its zone" in err


@pytest.mark.parametrize("threads", ["1", "2"])
def test_a_discontinuous_edf_plus_c_writes_nothing(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   threads: str) -> None:
    """The replay checks an EDF+C file's record timing during its pass (not at the open): the
    error is still the open's one line, exit 2, before any JSON or store is written."""
    good = _night_edf(tmp_path / "good.edf")
    out_json, db = tmp_path / "good.json", tmp_path / "good.db"
    argv = ["--json", str(out_json), "--db", str(db), "--threads", threads]
    code, _out, err = _run(capsys, ["replay", str(good), *argv])  # control: written
    assert code == 0 and out_json.exists() and db.exists(), err
    jump = tmp_path / "jump.edf"
    jump.write_bytes(good.read_bytes())
    onsets = [f"+{i}" for i in range(300)]
    onsets[200:] = [f"+{i + 5}" for i in range(200, 300)]  # in the pass's third window
    set_record_onsets(jump, onsets)
    out_json, db = tmp_path / "jump.json", tmp_path / "jump.db"
    argv = ["--json", str(out_json), "--db", str(db), "--threads", threads]
    code, out, err = _run(capsys, ["replay", str(jump), *argv])
    assert code == 2 and out == ""
    assert err == ("cramp: error: jump.edf: not continuous: data record 201 starts at +205 s, "
                   "expected +200 s for an EDF+C file (record 1 at +0 s + 200 x 1 s records); "
                   "a recording with gaps must be marked EDF+D\n")
    assert not out_json.exists() and not db.exists()
