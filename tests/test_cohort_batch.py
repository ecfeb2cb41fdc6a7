"""``cramp batch`` on Dask: resumable per-night results, collated tables, failures, clusters."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cohort_helpers import copy_cohort, shared_cohort, shared_scheduler

from detector.cli.main import main
from detector.cohort.tables import read_table


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    return shared_cohort(tmp_path_factory, request)


@pytest.fixture(scope="module")
def scheduler(request: pytest.FixtureRequest) -> str:
    return shared_scheduler(request)


def _results(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "nights").glob("*.json"))}


def _summary(capsys: pytest.CaptureFixture[str]) -> str:
    return [line for line in capsys.readouterr().out.splitlines()
            if line.startswith("batch:")][-1]


def _wait_for(condition, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_batch_then_rerun_does_no_work_and_tables_equal_results(
        cohort: Path, scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "broken.edf"
    bad.write_bytes(b"0       not an EDF header at all")
    out = tmp_path / "out"
    # On the shared LocalCluster of 2 workers (the killed batch below starts its own).
    opts = ["--out", str(out), "--scheduler", scheduler, "--no-progress", "--tz", "UTC"]
    base = ["batch", str(cohort), *opts]
    assert main(["batch", str(cohort), str(bad), *opts]) == 1  # one file failed: the status says so
    captured = capsys.readouterr()
    assert "10 replayed, 0 already done, 1 failed" in captured.out
    assert f"failed: {bad}: " in captured.err and len(captured.err.splitlines()) == 1
    failures = (out / "failures.csv").read_text().splitlines()
    assert failures[0] == '"path","error"' and len(failures) == 2
    assert str(bad) in failures[1] and "EDF" in failures[1]

    results = _results(out)
    assert len(results) == 10
    nights = read_table(out / "nights.parquet")
    episodes = read_table(out / "episodes.parquet")
    assert len(nights) == 10 and str(bad) not in {r["path"] for r in nights}
    # The collated tables are exactly the per-night results, every row versioned and hashed.
    n_episodes = 0
    for row in nights:
        doc = json.loads((out / row["result_file"]).read_text())
        rec = doc["recording"]
        assert row["sha256"] == doc["sha256"] and row["parameter_hash"] == doc["parameter_hash"]
        assert row["detector_version"] == rec["detector_version"]
        assert row["n_episodes"] == len(rec["episodes"])
        mine = [e for e in episodes if e["path"] == row["path"]]
        assert [(e["onset_s"], e["duration_s"], e["confidence"], e["evidence"].split(";"))
                for e in mine] == [(e["onset_s"], e["duration_s"], e["confidence"],
                                    e["evidence"]) for e in rec["episodes"]]
        assert all(e["parameter_hash"] == row["parameter_hash"] for e in mine)
        n_episodes += len(rec["episodes"])
    assert n_episodes == len(episodes) > 0
    assert len({r["parameter_hash"] for r in nights}) == 1
    csv_rows = (out / "nights.csv").read_text().splitlines()
    assert len(csv_rows) == 11 and csv_rows[0].startswith('"path","sha256","parameter_hash"')

    # Rerun: nothing to do, so no client is even started and no result file is rewritten.
    def no_cluster(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the rerun started a Dask client")

    monkeypatch.setattr("detector.cohort.engine.Engine._start", no_cluster)
    stamps = {p: p.stat().st_mtime_ns for p in (out / "nights").iterdir()}
    assert main(base) == 0
    assert "0 replayed, 10 already done, 0 failed" in _summary(capsys)
    assert {p: p.stat().st_mtime_ns for p in (out / "nights").iterdir()} == stamps
    assert _results(out) == results
    assert read_table(out / "nights.parquet") == nights
    assert read_table(out / "episodes.parquet") == episodes
    assert (out / "failures.csv").read_text() == '"path","error"\n'

    # Positive control: a changed parameter set is new work (under the real engine again).
    monkeypatch.undo()
    conf = tmp_path / "longer.toml"
    conf.write_text("[episode]\nmin_duration_s = 30.0\n")
    three = sorted(cohort.glob("*.cramp"))[:3]
    assert main(["batch", *map(str, three), "--out", str(out), "--scheduler", scheduler,
                 "--no-progress", "--tz", "UTC", "--config", str(conf)]) == 0
    assert "3 replayed, 0 already done" in _summary(capsys)
    changed = read_table(out / "nights.parquet")
    assert len(changed) == 3 and changed[0]["parameter_hash"] != nights[0]["parameter_hash"]
    assert len(_results(out)) == 13


def test_batch_killed_halfway_resumes(cohort: Path, scheduler: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "detector", "batch", str(cohort), "--out", str(out),
           "--workers", "2", "--no-progress", "--tz", "UTC"]  # its own LocalCluster
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        _wait_for(lambda: (out / "nights").is_dir() and any((out / "nights").glob("*.json")),
                  90, "the first result")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the batch, its cluster and its worker
        proc.wait()
    done_before = len(_results(out))
    assert 1 <= done_before < 10
    # Every result file there is whole (written to a temporary file, then renamed).
    assert all(json.loads(body)["recording"]["episodes"] is not None
               for body in _results(out).values())
    assert main(["batch", str(cohort), "--out", str(out), "--scheduler", scheduler,
                 "--no-progress", "--tz", "UTC"]) == 0
    assert (f"{10 - done_before} replayed, {done_before} already done, 0 failed"
            in _summary(capsys))
    assert len(read_table(out / "nights.parquet")) == 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_batch_on_a_scheduler_and_worker_started_by_hand(
        cohort: Path, scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).with_name("dask"))
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard", "--dashboard-address", "127.0.0.1:0", "--no-show"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        procs.append(subprocess.Popen([dask, "worker", address, "--host", "127.0.0.1",
                                       "--nthreads", "1", "--nworkers", "1",
                                       "--no-dashboard"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        files = sorted(cohort.glob("*.cramp"))[:4]
        local = copy_cohort(cohort, tmp_path / "in", nights=4)
        out = tmp_path / "remote"
        assert main(["batch", *map(str, files), "--out", str(out), "--scheduler", address,
                     "--no-progress", "--tz", "UTC"]) == 0
        assert "4 replayed, 0 already done, 0 failed" in _summary(capsys)
        assert (out / "failures.csv").read_text() == '"path","error"\n'
        # The same nights (copied elsewhere) on a local cluster of two workers give the same
        # results.
        assert main(["batch", *map(str, local), "--out", str(tmp_path / "local"),
                     "--scheduler", scheduler, "--no-progress", "--tz", "UTC"]) == 0
        remote_results = _results(out)
        assert len(remote_results) == 4
        assert _results(tmp_path / "local").keys() == remote_results.keys()
        for name, body in _results(tmp_path / "local").items():
            assert json.loads(body)["recording"] | {"path": ""} == \
                json.loads(remote_results[name])["recording"] | {"path": ""}
        # The DASK_SCHEDULER_ADDRESS convention reaches the same scheduler.
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
        assert main(["batch", str(files[0]), "--out", str(tmp_path / "env"),
                     "--no-progress", "--tz", "UTC"]) == 0
        assert "1 replayed" in _summary(capsys)
    finally:
        # The worker first, and wait for it: a worker closing while its scheduler is also
        # going waits out a comm timeout (seconds) trying to say goodbye.
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_batch_bad_input_is_one_line_exit_2(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", str(tmp_path / "missing.edf"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "missing.edf: no such file or folder" in err and len(err.splitlines()) == 1
    (tmp_path / "x.edf").write_bytes(b"x")
    assert main(["batch", str(tmp_path / "x.edf"), "--out", str(tmp_path / "o"),
                 "--scheduler", "127.0.0.1:1"]) == 2
    assert "--scheduler: expected an address like tcp://HOST:PORT" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "x.edf"), "--out", str(tmp_path / "o"),
                 "--workers", "0"]) == 2
    assert "--workers: expected at least 1" in capsys.readouterr().err


def test_inputs_from_folders_patterns_and_list_files(tmp_path: Path) -> None:
    from detector.cohort.inputs import expand_inputs
    from detector.errors import CrampInputError

    (tmp_path / "a" / "deep").mkdir(parents=True)
    names = ["a/n1.cramp", "a/n1.truth.tsv", "a/deep/n2.edf", "a/deep/n2_events.tsv",
             "a/.hidden.edf", "a/notes.json", "b.csv.gz", "c.bdf"]
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    got = expand_inputs([str(tmp_path / "a")])
    assert got == [str(tmp_path / "a/deep/n2.edf"), str(tmp_path / "a/n1.cramp")]
    assert expand_inputs([str(tmp_path / "*.bdf"), str(tmp_path / "a/n1.cramp")]) == [
        str(tmp_path / "a/n1.cramp"), str(tmp_path / "c.bdf")]
    lst = tmp_path / "list.txt"
    lst.write_text("# the study\nb.csv.gz\n\nc.bdf  # a comment\nc.bdf\n")
    assert expand_inputs([], list_files=[str(lst)]) == [str(tmp_path / "b.csv.gz"),
                                                        str(tmp_path / "c.bdf")]
    with pytest.raises(CrampInputError, match="the pattern matches no recording"):
        expand_inputs([str(tmp_path / "*.rec")])
    with pytest.raises(CrampInputError, match="no recordings given"):
        expand_inputs([])
