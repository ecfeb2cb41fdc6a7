"""Committed sample recordings and `cramp simulate`: integrity, truth recovered, determinism."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import pytest

from detector.cli.main import main
from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.evaluation import pool_scores, score_events
from detector.io.channels import ChannelMap
from detector.io.labels import read_labels
from detector.replay import replay_path
from firmware_sim.simulate import simulate_night

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
MANIFEST = json.loads((RECORDINGS / "MANIFEST.json").read_text())
EDFS = sorted(e["file"] for e in MANIFEST["files"] if e["file"].endswith((".edf", ".cramp")))


def test_manifest_matches_the_files() -> None:
    listed = {e["file"] for e in MANIFEST["files"]}
    on_disk = {p.name for p in RECORDINGS.iterdir() if p.name != "MANIFEST.json"}
    assert listed == on_disk
    for entry in MANIFEST["files"]:
        data = (RECORDINGS / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
        assert len(data) == entry["bytes"]
        assert entry["shows"] and entry["made_with"].startswith("cramp simulate")


@cache
def _score(edf: Path):  # type: ignore[no-untyped-def]
    """Replay a recording and score it against its truth table (each file replayed once)."""
    cfg = DetectorConfig().replace(in_bed__night_window=None)
    result = replay_path(str(edf), config=cfg, channel_map=ChannelMap())
    truth = read_labels(edf.with_name(f"{edf.stem}.truth.tsv"), description_filter="cramp")
    return score_events(result.episodes, truth)


@pytest.mark.parametrize("name", EDFS)
def test_each_recording_replays_with_its_truth_recovered(name: str) -> None:
    scores = _score(RECORDINGS / name)
    assert scores.n_truth >= 1
    assert scores.f1 is not None and scores.f1 >= 0.95
    assert scores.onset_error_s.mean_abs is not None
    assert scores.onset_error_s.mean_abs < 1.5


def test_recordings_pooled_onset_error_under_1_s() -> None:
    pooled = pool_scores([_score(RECORDINGS / n) for n in EDFS])
    assert pooled.scores.f1 is not None and pooled.scores.f1 >= 0.95
    assert pooled.scores.onset_error_s.mean_abs < 1.0


@pytest.mark.parametrize("file_format", ["capture", "edf"])
def test_a_simulated_half_hour_is_recovered(tmp_path: Path, file_format: str) -> None:
    """The whole path (night model, firmware packets, file, replay) on a fresh simulation;
    half an hour with three cramps exercises it as fully as a longer night, at half the cost."""
    files = simulate_night(tmp_path, hours=0.5, seed=101, n_cramps=3, file_format=file_format)
    scores = _score(files.recording)
    assert scores.n_truth == 3
    assert scores.f1 is not None and scores.f1 >= 0.95
    assert scores.onset_error_s.mean_abs < 1.0


def test_simulate_is_deterministic_and_never_overwrites(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    argv = ["simulate", "--hours", "0.05", "--seed", "7", "--cramps", "1", "--name", "n",
            "--format", "edf"]
    assert main([*argv, "--out", str(a)]) == 0
    assert main([*argv, "--out", str(b)]) == 0
    for suffix in (".edf", ".truth.tsv"):
        assert (a / f"n{suffix}").read_bytes() == (b / f"n{suffix}").read_bytes()
        assert (a / f"n{suffix}").stat().st_mode & 0o777 == 0o600
    assert "1 cramp(s)" in capsys.readouterr().out
    assert main([*argv, "--out", str(a)]) == 2
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(CrampInputError, match="does not exist"):
        simulate_night(tmp_path / "missing", hours=0.05, seed=7)


def test_the_sample_capture_is_what_its_manifest_recipe_makes(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    """The committed files must be reproducible: a change to the night model or the firmware
    that is not followed by regenerating ``recordings/`` (and MANIFEST.json) fails here. The
    smallest file stands for all of them (one recipe, one simulator)."""
    entry = next(e for e in MANIFEST["files"] if e["file"] == "sample_capture.cramp")
    argv = entry["made_with"].split()[1:]
    at = argv.index("--out")
    argv[at + 1] = str(tmp_path)
    assert main(argv) == 0
    capsys.readouterr()
    made = (tmp_path / entry["file"]).read_bytes()
    assert hashlib.sha256(made).hexdigest() == entry["sha256"]
    assert made == (RECORDINGS / entry["file"]).read_bytes()


def test_a_simulated_capture_does_not_depend_on_how_fast_the_machine_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A capture writer repeats its source definitions after each fsync, which it paces by a
    clock; a simulated night must pace it by its own time, or a loaded machine (a slow wall
    clock per packet) writes other bytes for the same seed."""
    import itertools

    from detector.capture import writer as capture_writer

    normal = tmp_path / "normal"
    normal.mkdir()
    simulate_night(normal, hours=0.02, seed=4, stem="n")

    class RacingClock(capture_writer.CaptureWriter):  # 5 s of wall clock pass per call
        def __init__(self, path: Path, *, session: dict[str, object], **kw: object) -> None:
            kw.setdefault("clock", itertools.count(0.0, 5.0).__next__)
            super().__init__(path, session=session, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(capture_writer, "CaptureWriter", RacingClock)
    session = {"profile": "legband", "host_start_utc": "2024-01-01T00:00:00+00:00"}
    loaded = tmp_path / "loaded"
    loaded.mkdir()
    simulate_night(loaded, hours=0.02, seed=4, stem="n")
    assert (loaded / "n.cramp").read_bytes() == (normal / "n.cramp").read_bytes()
    # the control: the racing clock does change a writer left on it
    with RacingClock(tmp_path / "raced.cramp", session=session) as w, \
            capture_writer.CaptureWriter(tmp_path / "paced.cramp", session=session,
                                         background_sync=False, clock=lambda: 0.0) as p:
        for k in range(3):
            w.packet(source="legband:data", payload=b"x", received_s=float(k))
            p.packet(source="legband:data", payload=b"x", received_s=float(k))
    assert (tmp_path / "raced.cramp").stat().st_size > (tmp_path / "paced.cramp").stat().st_size
