"""A recorder killed with SIGKILL mid-stream leaves a capture that reads back and replays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from detector.capture.format import EventRecord, PacketRecord
from detector.capture.reader import read_capture
from detector.capture.recording import CaptureRecording
from detector.capture.recover import recover_capture
from detector.config import DetectorConfig
from detector.replay import run_source

HERE = Path(__file__).resolve().parent
EPOCH_S = 1.7e9  # host time of the simulated run's start (see capture_sim)
GROWN_BYTES = 300_000
TIMEOUT_S = 60.0


def test_sigkill_mid_stream_loses_at_most_the_last_second(tmp_path: Path) -> None:
    path = tmp_path / "killed.capture"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH",
                                                                                   "")]))
    proc = subprocess.Popen([sys.executable, str(HERE / "capture_sim.py"), str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    acknowledged = 0.0  # simulated seconds whose status event the writer had returned from
    deadline = time.monotonic() + TIMEOUT_S
    try:
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline()  # a line per half simulated second
            assert line, f"writer ended early: {proc.stderr.read() if proc.stderr else ''}"
            acknowledged = float(line)
            if path.exists() and path.stat().st_size > GROWN_BYTES:
                break
            assert time.monotonic() < deadline, "capture did not grow in time"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=TIMEOUT_S)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert proc.returncode == -signal.SIGKILL

    cap = read_capture(path)
    assert cap.damage.corrupt_bytes == 0  # at worst a torn last record
    records = list(cap.records)
    status = [r.fields["sim_s"] for r in records
              if isinstance(r, EventRecord) and r.kind == "status"]
    assert status and status[-1] >= acknowledged  # every acknowledged record survived
    last_packet_s = max(r.received_s for r in records if isinstance(r, PacketRecord)) - EPOCH_S
    assert last_packet_s >= acknowledged - 1.0

    rec = CaptureRecording(path)
    assert rec.info.duration_s >= acknowledged - 1.0
    result = run_source(rec, config=DetectorConfig().replace(in_bed__night_window=None))
    assert result.info.file_format == "capture"
    assert result.quality["emg"]["coverage"] > 0.99
    report = recover_capture(path)
    assert report.packets == cap.n_packets
    assert read_capture(path).damage.ok
