"""BIDS-EMG export of a cohort, checked by reading every file back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from cohort_helpers import COHORT_SPEC, cohort_argv, copy_cohort, shared_cohort, shared_scheduler

from detector.cli.main import main
from detector.cohort.bids_check import check_bids
from detector.cohort.simulate import plan_cohort
from detector.io.channels import ChannelMap
from detector.io.labels import read_labels
from detector.io.open import open_recording


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    return shared_cohort(tmp_path_factory, request)


@pytest.fixture(scope="module")
def scheduler(request: pytest.FixtureRequest) -> str:
    return shared_scheduler(request)


def _tsv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text().splitlines(), delimiter="\t"))


def test_bids_export_reads_back_and_the_check_catches_damage(
        cohort: Path, scheduler: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    small = tmp_path / "cohort"
    copy_cohort(cohort, small, nights=3)
    doc = json.loads((cohort / "cohort.json").read_text())
    doc["nights"] = [n for n in doc["nights"] if (small / n["recording"]).exists()]
    (small / "cohort.json").write_text(json.dumps(doc))
    root = tmp_path / "bids"
    assert main(["bids", str(small), "--out", str(root), "--scheduler", scheduler,
                 "--no-progress"]) == 0
    assert "BIDS check: OK (3 recording(s) read back)" in capsys.readouterr().out

    desc = json.loads((root / "dataset_description.json").read_text())
    assert desc["BIDSVersion"].startswith("1.") and desc["DatasetType"] == "raw"
    subjects = {f"sub-{n['participant']}" for n in doc["nights"]}
    assert {r["participant_id"] for r in _tsv(root / "participants.tsv")} == subjects
    for night in doc["nights"]:
        base = f"sub-{night['participant']}_ses-{night['session']}_task-sleep"
        emg_dir = root / f"sub-{night['participant']}" / f"ses-{night['session']}" / "emg"
        events = _tsv(emg_dir / f"{base}_events.tsv")
        truth = read_labels(small / night["truth"], description_filter=None)
        assert [(float(e["onset"]), float(e["duration"]), e["trial_type"]) for e in events] \
            == [(round(t.onset_s, 3), round(t.duration_s, 3), t.description) for t in truth]
        sidecar = json.loads((emg_dir / f"{base}_emg.json").read_text())
        assert sidecar["TaskName"] == "sleep" and sidecar["SamplingFrequency"] == 1000.0
        # The EDF+ holds the capture's samples: EMG equal within the 16-bit step.
        src = open_recording(small / night["recording"], channel_map=ChannelMap(),
                             min_emg_fs_hz=200.0)
        emg = np.concatenate([b.data for role, b in src.blocks(60.0) if role == "emg"])
        src.close()
        with pyedflib.EdfReader(str(emg_dir / f"{base}_emg.edf")) as reader:
            assert reader.getLabel(0).startswith("EMG Calf")
            back = reader.readSignal(0)
            step = (reader.getPhysicalMaximum(0) - reader.getPhysicalMinimum(0)) / 65535
        assert emg.shape[0] <= back.shape[0] < emg.shape[0] + 1000  # last record padded
        assert np.max(np.abs(back[: emg.shape[0]] - emg)) <= step
        assert (emg_dir.parent / f"sub-{night['participant']}_ses-{night['session']}"
                "_scans.tsv").is_file()
    assert check_bids(root) == []

    # Damage: a wrong unit, a missing sidecar field, an onset past the end.
    chan = next(root.glob("sub-*/ses-*/emg/*_channels.tsv"))
    chan.write_text(chan.read_text().replace("\tuV\t", "\tmV\t"))
    side = next(root.glob("sub-*/ses-*/emg/*_emg.json"))
    meta = json.loads(side.read_text())
    del meta["EMGReference"]
    side.write_text(json.dumps(meta))
    ev = next(root.glob("sub-*/ses-*/emg/*_events.tsv"))
    ev.write_text(ev.read_text() + "99999.000\t1.000\tcramp\tleft\n")
    problems = check_bids(root)
    assert any(chan.name in p and "does not match" in p for p in problems)
    assert any(side.name in p and "EMGReference" in p for p in problems)
    assert any(ev.name in p and "bad onset" in p for p in problems)
    assert main(["bids", "--check", str(root)]) == 1
    assert "3 problem(s)" in capsys.readouterr().out
    # A second export into the same folder is refused: nothing is overwritten.
    assert main(["bids", str(small), "--out", str(root), "--scheduler", scheduler]) == 2
    assert "exists and is not empty" in capsys.readouterr().err


def test_simulated_cohort_is_seeded_per_night_and_resumes(
        cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from firmware_sim.simulate import simulate_night

    doc = json.loads((cohort / "cohort.json").read_text())
    nights = doc["nights"]
    assert len(nights) == 10 and len({n["seed"] for n in nights}) == 10
    assert sorted({n["participant"] for n in nights}) == ["001", "002", "003", "004", "005"]
    assert {n["session"] for n in nights} == {"01", "02"}
    assert sum(n["n_cramps"] for n in nights) > 0
    assert len({(cohort / n["truth"]).read_text() for n in nights}) == 10  # varied scenarios
    # Each night is its seed's night, whichever worker made it.
    plan = plan_cohort(COHORT_SPEC)[3]
    alone = simulate_night(tmp_path, hours=COHORT_SPEC.hours, seed=plan.seed, stem="x")
    assert alone.truth.read_text() == (cohort / f"{plan.stem}.truth.tsv").read_text()
    # A rerun has nothing to do; other parameters in the same folder are refused.
    assert main(cohort_argv()) == 0
    assert "0 night(s) simulated, 10 already there" in capsys.readouterr().out
    other = cohort_argv()
    other[other.index("--seed") + 1] = "7"
    assert main(other) == 2
    assert "holds a cohort made with other parameters" in capsys.readouterr().err
