"""``cramp record --simulate`` and ``cramp scan --simulate``: the product's path end to end."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from detector.capture.reader import read_capture
from detector.cli.main import main
from detector.store import connect, load_night, night_dates, night_ids_on


def test_record_simulate_stores_the_night_and_writes_the_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "store.sqlite3"
    code = main(["record", "--simulate", "--hours", "0.05", "--speed", "300", "--seed", "3",
                 "--out", str(tmp_path), "--db", str(db), "--tz", "UTC"])
    out = capsys.readouterr().out
    assert code == 0
    assert "night ended: morning" in out
    report = Path(re.search(r"morning report: (\S+)", out).group(1))
    assert report.is_file() and report.read_text().lstrip().lower().startswith("<!doctype html")
    captures = list(tmp_path.glob("night-*.cramp"))
    assert len(captures) == 1
    assert stat.S_IMODE(captures[0].stat().st_mode) == 0o600
    capture = read_capture(captures[0])
    assert capture.session["simulated"]["seed"] == 3 and capture.damage.ok
    assert sum(1 for r in capture.records if getattr(r, "source", "") == "legband:data") > 100
    conn = connect(db, create=False)
    try:
        assert len(night_dates(conn)) == 1
    finally:
        conn.close()
    emg = re.search(r"emg: ([\d,]+) samples received .* (\d+) lost", out)
    assert emg is not None and int(emg.group(1).replace(",", "")) > 150_000
    assert emg.group(2) == "0"


def test_scan_simulate_json_lists_the_band(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--simulate", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [b["profile"] for b in doc["bands"]] == ["legband"]
    band = doc["bands"][0]
    assert band["name"].startswith("LegBand") and band["address"] == "D0:5B:A4:00:00:01"
    assert isinstance(band["rssi_dbm"], int)


def test_record_rejects_a_bad_mtu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "--simulate", "--mtu", "500"]) == 2
    assert "--mtu" in capsys.readouterr().err


def test_sigint_stops_the_night_cleanly(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "detector", "record", "--simulate", "--hours", "1", "--speed",
         "60", "--out", str(tmp_path), "--db", str(tmp_path / "s.sqlite3")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:  # wait until data is being captured
            files = list(tmp_path.glob("night-*.cramp"))
            if files and files[0].stat().st_size > 20_000:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the recorder never started capturing")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60.0)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "night ended: stopped" in out
    capture = read_capture(files[0])
    assert capture.damage.ok
    kinds = [r.kind for r in capture.records if hasattr(r, "kind")]
    assert kinds[-1] == "stop"
    assert "morning report:" in out


def test_sigkill_mid_stream_leaves_a_capture_that_reads_and_replays(tmp_path: Path) -> None:
    from detector.capture.recording import CaptureRecording
    from detector.config import DetectorConfig
    from detector.replay import run_source

    proc = subprocess.Popen(
        [sys.executable, "-m", "detector", "record", "--simulate", "--hours", "1", "--speed",
         "60", "--out", str(tmp_path), "--no-store"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            files = list(tmp_path.glob("night-*.cramp"))
            if files and files[0].stat().st_size > 200_000:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the recorder never started capturing")
        proc.kill()
        proc.wait(timeout=30.0)
        size_at_kill = files[0].stat().st_size
    finally:
        if proc.poll() is None:
            proc.kill()
    capture = read_capture(files[0])
    # every record written before the kill is intact (a torn last record at most)
    assert capture.damage.corrupt_records == 0
    assert capture.damage.torn_tail_bytes < 1000
    data = [r for r in capture.records if getattr(r, "source", "") == "legband:data"]
    assert len(data) > 300
    assert size_at_kill - capture.damage.torn_tail_bytes > 200_000
    with CaptureRecording(files[0]) as recording:
        result = run_source(recording, config=DetectorConfig())
    assert result.info.duration_s > 60.0
    assert result.quality["emg"]["coverage"] > 0.99


def test_recorded_night_with_a_cramp_is_stored_as_its_capture_replays(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "store.sqlite3"
    # seed 7: its night holds a clear cramp (the widened night model also makes cramps just
    # above threshold, which a live-display test must not rely on)
    code = main(["record", "--simulate", "--hours", "0.25", "--speed", "300", "--seed", "7",
                 "--dropouts", "2", "--out", str(tmp_path), "--db", str(db), "--tz", "UTC"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Cramp: pull your toes toward your shin" in out
    assert "1 cramp episode(s)" in out
    (capture,) = tmp_path.glob("night-*.cramp")
    assert main(["replay", str(capture), "--no-store", "--no-night-window", "--json", "-"]) == 0
    replayed = json.loads(capsys.readouterr().out)["recordings"][0]["episodes"]
    conn = connect(db, create=False)
    try:
        (night_date,) = night_dates(conn)
        (night_id,) = night_ids_on(conn, night_date)  # live saves and the final one: one night
        stored = load_night(conn, night_id).episodes
    finally:
        conn.close()
    assert len(stored) == len(replayed) == 1
    assert stored[0].onset_s == pytest.approx(replayed[0]["onset_s"], abs=1e-3)
    assert stored[0].duration_s == pytest.approx(replayed[0]["duration_s"], abs=1e-3)


@pytest.mark.parametrize(("band", "expect"), [
    ("polar", "a Polar on the foot alone cannot detect cramps"),
    ("myo", "the Myo sends no sample counters"),
])
def test_record_picks_the_session_for_the_band_found(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], band: str, expect: str) -> None:
    code = main(["record", "--simulate", "--simulate-band", band, "--hours", "0.05",
                 "--speed", "300", "--no-store", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "night ended: morning" in out
    assert expect in out
    (capture,) = tmp_path.glob("night-*.cramp")
    session = read_capture(capture).session
    assert session["profile"] == {"polar": "polar_pmd", "myo": "myo"}[band]
    if band == "polar":  # negotiated: the simulated sensor offers 50 Hz only, +-2/4/8 g
        assert session["polar"] == {"fs_hz": 50, "range_g": 8, "resolution_bits": 16,
                                    "role": "foot_acc", "sdk_mode": False,
                                    "clock_trust_s": 5.0}
        assert "Polar accelerometer at 50 Hz, +-8 g" in out


def test_one_band_alone_gets_the_session_the_multi_band_table_gives() -> None:
    from detector.ble.polar_negotiated import NegotiatedPolarSession
    from detector.cli.record_other import single_band_session
    from detector.profiles.polar_settings import FOOT_WISH

    cls, kwargs = single_band_session("polar_pmd")
    assert cls is NegotiatedPolarSession
    assert kwargs == {"role": "foot_acc", "wish": FOOT_WISH}
    cls, kwargs = single_band_session("movesense")
    assert cls.__name__ == "MovesenseSession"
    assert kwargs == {"role": "shank_acc", "fs": 208}
    assert single_band_session("myo")[1] == {}


def test_stop_signal_reaches_the_session_on_loops_without_signal_support(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse
    import asyncio

    from detector.cli.record_cmd import _run_session

    class _Clock:
        def now_s(self) -> float:
            return 0.0

    class _Session:
        def __init__(self) -> None:
            self.channels: dict[str, object] = {}
            self.timebase = _Clock()
            self.observer: object = None
            self.stop = asyncio.Event()

        def request_stop(self) -> None:
            self.stop.set()

        async def run(self) -> str:
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.wait_for(self.stop.wait(), timeout=30.0)
            return "stopped cleanly"

    def unsupported(*_: object) -> None:
        raise NotImplementedError

    monkeypatch.setattr(asyncio.SelectorEventLoop,
                        "add_signal_handler", unsupported)
    before = signal.getsignal(signal.SIGINT)

    async def go() -> str:
        result, _ = await _run_session(_Session(), None,  # type: ignore[arg-type]
                                       argparse.Namespace(no_store=True))
        return result

    assert asyncio.run(go()) == "stopped cleanly"
    assert signal.getsignal(signal.SIGINT) == before  # the previous handler is back
