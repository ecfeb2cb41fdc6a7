"""Tests of ``cramp eval`` through the real CLI entry: saved replays (``--pred``) and replay."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from io_helpers import Sig, write_edf
from synth import Builder

from detector.cli.main import main


def _episode(onset_s: float, offset_s: float) -> dict[str, Any]:
    return {"onset_s": onset_s, "offset_s": offset_s, "duration_s": offset_s - onset_s,
            "leg": "left", "confidence": 0.8}


def _write_pred(path: Path, recordings: dict[str, list[dict[str, Any]]]) -> Path:
    doc = {"recordings": [{"path": p, "episodes": eps, "parameters": {"epoch_s": 0.1}}
                          for p, eps in recordings.items()]}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _write_labels(path: Path, rows: list[tuple[float, float, str]]) -> Path:
    lines = ["onset\tduration\tdescription"]
    lines += [f"{on}\t{dur}\t{desc}" for on, dur, desc in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def night(tmp_path: Path) -> tuple[Path, Path]:
    """A replay of two nights and the first night's labels."""
    pred = _write_pred(tmp_path / "replay.json", {
        # Detections: one 3 s late and 5 s longer, one 200 s from any label (FP).
        "night1.edf": [_episode(103.0, 138.0), _episode(2000.0, 2020.0)],
        # Nothing detected on the second night.
        "night2.edf": [],
    })
    labels = _write_labels(tmp_path / "n1_labels.tsv", [
        (100.0, 30.0, "cramp"),
        (1500.0, 12.0, "cramp left calf"),  # missed (FN)
        (2001.0, 4.0, "leg movement"),      # filtered out by default
    ])
    return pred, labels


def _run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    code = main(argv)
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)  # only JSON on stdout


def test_pred_scores_against_labels(
    tmp_path: Path, night: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pred, labels = night
    empty = _write_labels(tmp_path / "n2_labels.tsv", [(50.0, 20.0, "cramp")])
    doc = _run_json(capsys, ["eval", "--pred", str(pred), "--labels", str(labels), str(empty),
                             "--json", "-"])
    r1, r2 = doc["recordings"]
    assert r1["path"] == "night1.edf" and r1["labels"] == str(labels)
    assert (r1["n_truth"], r1["n_detected"], r1["tp"], r1["fp"], r1["fn"]) == (2, 2, 1, 1, 1)
    assert r1["precision"] == 0.5 and r1["recall"] == 0.5 and r1["f1"] == 0.5
    assert r1["onset_error_s"]["mean_signed"] == pytest.approx(3.0)
    assert r1["offset_error_s"]["mean_signed"] == pytest.approx(8.0)
    assert r1["duration_error_s"]["mean_abs"] == pytest.approx(5.0)
    assert r1["duration_error_rel"]["mean_signed"] == pytest.approx(5.0 / 30.0)
    assert r1["unmatched_truth"] == [{"onset_s": 1500.0, "duration_s": 12.0, "offset_s": 1512.0}]
    assert (r2["tp"], r2["fn"], r2["precision"], r2["recall"]) == (0, 1, None, 0.0)
    pooled = doc["pooled"]
    assert (pooled["tp"], pooled["fp"], pooled["fn"]) == (1, 1, 2)
    assert pooled["precision"] == 0.5
    assert pooled["recall"] == pytest.approx(1 / 3)
    assert pooled["f1"] == pytest.approx(1 / (1 + 1.5))
    assert pooled["count_error_mean_abs"] == pytest.approx(0.5)  # |2-2| and |0-1|
    assert doc["parameters"] == {"epoch_s": 0.1}


def test_all_labels_and_tolerances_change_the_score(
    night: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pred, labels = night
    base = ["eval", "night1.edf", "--pred", str(pred), "--labels", str(labels), "--json", "-"]
    doc = _run_json(capsys, [*base, "--all-labels"])
    r = doc["recordings"][0]
    # The 'leg movement' label now pairs with the detection at 2000 s (onsets 1 s apart).
    assert (r["n_truth"], r["tp"], r["fp"], r["fn"]) == (3, 2, 0, 1)
    assert doc["label_filter"] is None
    doc = _run_json(capsys, [*base, "--all-labels", "--onset-tolerance-s", "0.5",
                             "--min-overlap-s", "5"])
    r = doc["recordings"][0]
    # 4 s overlap < 5 s and onsets 1 s apart > 0.5 s: the pair is no longer admissible.
    assert (r["tp"], r["fp"], r["fn"]) == (1, 1, 2)


def test_sibling_labels_and_table_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = tmp_path / "nights"
    sub.mkdir()
    pred = _write_pred(sub / "replay.json", {"night1.edf": [_episode(10.0, 40.0)]})
    _write_labels(sub / "night1.truth.tsv", [(12.0, 30.0, "cramp"), (600.0, 15.0, "cramp")])
    code = main(["eval", "--pred", str(pred)])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    row = next(line for line in lines if line.startswith("night1.edf"))
    pooled = next(line for line in lines if line.startswith("pooled"))
    # truth det TP FP FN prec recall F1 onset-MAE dur-MAE
    assert row.split()[1:] == ["2", "1", "1", "0", "1", "1.000", "0.500", "0.667", "2.0", "0.0"]
    assert pooled.split()[1:] == row.split()[1:]


def test_json_file_is_private(
    tmp_path: Path, night: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pred, labels = night
    dest = tmp_path / "scores.json"
    code = main(["eval", "night1.edf", "--pred", str(pred), "--labels", str(labels),
                 "--json", str(dest)])
    out = capsys.readouterr().out
    assert code == 0 and "pooled" in out
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert json.loads(dest.read_text(encoding="utf-8"))["pooled"]["tp"] == 1


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("missing_labels", "not found"),
        ("count_mismatch", "--labels"),
        ("no_onset_column", "onset"),
        ("bad_json", "not valid JSON"),
        ("no_recordings", "recordings"),
        ("episode_without_onset", "onset_s"),
        ("unknown_file", "not among"),
        ("no_labels_anywhere", "no labels"),
        ("negative_tolerance", "--min-overlap-s"),
    ],
)
def test_bad_input_is_a_one_line_error(
    tmp_path: Path, night: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
    case: str, fragment: str,
) -> None:
    pred, labels = night
    argv = ["eval", "night1.edf", "--pred", str(pred), "--labels", str(labels)]
    if case == "missing_labels":
        argv[-1] = str(tmp_path / "nope.tsv")
    elif case == "count_mismatch":
        argv += [str(labels)]
    elif case == "no_onset_column":
        (tmp_path / "bad.tsv").write_text("start\tduration\n1\t2\n", encoding="utf-8")
        argv[-1] = str(tmp_path / "bad.tsv")
    elif case == "bad_json":
        pred.write_text("{not json", encoding="utf-8")
    elif case == "no_recordings":
        pred.write_text('{"episodes": []}', encoding="utf-8")
    elif case == "episode_without_onset":
        pred.write_text('{"recordings": [{"path": "night1.edf", "episodes": [{"x": 1}]}]}',
                        encoding="utf-8")
    elif case == "unknown_file":
        argv[1] = "night9.edf"
    elif case == "no_labels_anywhere":
        argv = ["eval", "--pred", str(pred)]
    elif case == "negative_tolerance":
        argv += ["--min-overlap-s", "-1"]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err
    assert err.startswith("cramp: error:") and err.count("\n") == 1


def test_replay_scores_edf_plus_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end: replay a synthetic EDF+ night and score it against its own annotations."""
    b = Builder(duration_s=420.0, rng=np.random.default_rng(11))
    b.cramp(120.0, 60.0)
    rec = b.recording()
    sigs = [Sig("EMG Calf", "uV", 1000, rec.data["emg"], -5000.0, 5000.0)]
    for loc, role in (("Shank", "shank_acc"), ("Foot", "foot_acc")):
        sigs += [Sig(f"Acc {loc} {axis}", "g", 100, rec.data[role][:, k], -4.0, 4.0)
                 for k, axis in enumerate("XYZ")]
    path = write_edf(tmp_path / "night.edf", sigs, annotations=(
        (120.0, 60.0, "cramp"), (300.0, 3.0, "leg movement"),
    ))
    doc = _run_json(capsys, ["eval", str(path), "--no-night-window", "--json", "-"])
    r = doc["recordings"][0]
    assert r["labels"] == str(path)
    assert (r["n_truth"], r["tp"], r["fp"], r["fn"]) == (1, 1, 0, 0)
    assert abs(r["onset_error_s"]["mean_signed"]) < 1.0
    assert abs(r["duration_error_s"]["mean_signed"]) < 3.0
    assert doc["parameters"]["in_bed"]["night_window"] is None
    # With every annotation kept, the leg movement is a missed event, not a match.
    doc = _run_json(capsys, ["eval", str(path), "--no-night-window", "--all-labels",
                             "--json", "-"])
    r = doc["recordings"][0]
    assert (r["n_truth"], r["tp"], r["fp"], r["fn"]) == (2, 1, 0, 1)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["eval"], "FILE: give at least one recording"),
        (["eval", "{tmp}/absent.edf"], "absent.edf: recording not found"),
        (["eval", "{tmp}/night.edf", "--labels", "{tmp}/a.tsv", "{tmp}/b.tsv"], "--labels"),
        (["eval", "{tmp}/night.csv"], "night.csv: no labels found"),
        # Without a labels table an EDF is read for its own annotations.
        (["eval", "{tmp}/night.edf"], "night.edf: not an EDF"),
    ],
)
def test_replay_mode_input_errors_come_before_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    # Not a real EDF: reaching the replay would fail with a different message.
    (tmp_path / "night.edf").write_bytes(b"not an edf")
    (tmp_path / "night.csv").write_bytes(b"not a table")
    code = main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err and err.count("\n") == 1
