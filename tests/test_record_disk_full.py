"""A disk that fills up during ``cramp record``: one clean line, and the capture so far kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.capture.reader import read_capture
from detector.capture.writer import CaptureWriteError, CaptureWriter
from detector.cli.main import main

ARGS = ["record", "--simulate", "--hours", "0.05", "--speed", "300", "--seed", "3", "--tz", "UTC"]
LIMIT_BYTES = 100_000
"""The simulated disk is full once a capture holds this much (a full run writes more)."""


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    real = CaptureWriter._write

    def write(self: CaptureWriter, data: bytes) -> None:
        if self.bytes_written + len(data) > LIMIT_BYTES:
            raise CaptureWriteError(f"{self.path}: cannot write (No space left on device)")
        real(self, data)

    monkeypatch.setattr(CaptureWriter, "_write", write)


def test_disk_full_during_record_gives_one_line_and_keeps_the_capture(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _full_disk(monkeypatch)
    code = main([*ARGS, "--out", str(tmp_path), "--db", str(tmp_path / "store.sqlite3")])
    out, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cramp: error:") and "No space left on device" in lines[0]
    assert "is kept in that capture" in lines[0]
    (capture_path,) = tmp_path.glob("night-*.cramp")
    capture = read_capture(capture_path)
    packets = sum(1 for r in capture.records if getattr(r, "source", "") == "legband:data")
    assert packets > 100  # what was written before the disk filled is there and readable
    assert capture_path.stat().st_size <= LIMIT_BYTES


def test_positive_control_the_same_night_with_room_writes_more(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*ARGS, "--out", str(tmp_path), "--db", str(tmp_path / "store.sqlite3")])
    capsys.readouterr()
    assert code == 0
    (capture_path,) = tmp_path.glob("night-*.cramp")
    assert capture_path.stat().st_size > LIMIT_BYTES
