"""CLI paths at the edge: any input or output path gives a result or one line, exit 2."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from io_helpers import standard_signals, write_edf

from detector.cli.main import main

KINDS = ("missing", "regular", "symlink", "fifo", "directory", "no-folder", "stdout", "dash")


@pytest.fixture(scope="module")
def edf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_edf(tmp_path_factory.mktemp("rec") / "r.edf",
                     standard_signals(np.random.default_rng(2), seconds=2, emg_fs=250,
                                      acc_fs=50, foot=False))


def _target(tmp: Path, kind: str) -> str:
    p = tmp / "out.json"
    if kind == "regular":
        p.write_text("precious\n")
    elif kind == "symlink":
        (tmp / "real.json").write_text("precious\n")
        p.symlink_to(tmp / "real.json")
    elif kind == "fifo":
        os.mkfifo(p)
    elif kind == "directory":
        p.mkdir()
    elif kind == "no-folder":
        p = tmp / "nope" / "out.json"
    elif kind == "stdout":
        return "/dev/stdout"
    elif kind == "dash":
        return "-"
    return str(p)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), force=st.booleans(), command=st.sampled_from(["replay",
                                                                                   "eval"]))
def test_any_json_target_gives_json_or_one_line_exit_2(
        tmp_path_factory: pytest.TempPathFactory, edf: Path,
        capsys: pytest.CaptureFixture[str], kind: str, force: bool, command: str) -> None:
    tmp = tmp_path_factory.mktemp("o")
    target = _target(tmp, kind)
    labels = tmp / "r.truth.tsv"
    labels.write_text("onset\tduration\ttrial_type\n0.5\t1.0\tcramp\n")
    argv = ["replay", str(edf), "--no-store"] if command == "replay" else [
        "eval", str(edf), "--labels", str(labels)]
    code = main([*argv, "--json", target, *(["--force"] if force else [])])
    out, err = capsys.readouterr()
    allowed = kind in ("missing", "stdout", "dash") or (kind == "regular" and force)
    if allowed:
        assert code == 0, err
        text = out if kind in ("stdout", "dash") else Path(target).read_text()
        assert json.loads(text)["recordings"]
        if kind not in ("stdout", "dash"):
            assert stat.S_IMODE(Path(target).stat().st_mode) == 0o600
    else:
        assert code == 2
        assert err.count("\n") == 1 and err.startswith(f"cramp: error: {target}"), err
        if kind in ("regular", "symlink"):
            assert (tmp / ("real.json" if kind == "symlink" else "out.json")).read_text() \
                == "precious\n"
        if kind == "fifo":
            assert stat.S_ISFIFO(os.lstat(target).st_mode)


INPUT_KINDS = ("missing", "directory", "fifo", "device")


def _input(tmp: Path, kind: str, suffix: str) -> str:
    p = tmp / f"in{suffix}"
    if kind == "directory":
        p.mkdir()
    elif kind == "fifo":
        os.mkfifo(p)  # opening it would block: it must be refused before
    elif kind == "device":
        return "/dev/zero"
    return str(p)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(INPUT_KINDS),
       where=st.sampled_from(["recording", "config", "labels", "pred", "recover", "rules"]),
       suffix=st.sampled_from([".edf", ".csv", ".cramp", ".toml", ".json"]))
def test_an_input_that_is_not_a_regular_file_is_one_line_exit_2(
        tmp_path_factory: pytest.TempPathFactory, edf: Path,
        capsys: pytest.CaptureFixture[str], kind: str, where: str, suffix: str) -> None:
    tmp = tmp_path_factory.mktemp("i")
    bad = _input(tmp, kind, suffix)
    argv = {
        "recording": ["replay", bad, "--no-store"],
        "config": ["replay", str(edf), "--no-store", "--config", bad],
        "labels": ["eval", str(edf), "--labels", bad],
        "pred": ["eval", "--pred", bad],
        "recover": ["recover", bad],
        "rules": ["causes", "--db", str(tmp / "none.db"), "--rules-file", bad],
    }[where]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cramp: error: "), err
    assert Path(bad).name in err
    expected = {"missing": "not found", "directory": "is a directory",
                "fifo": "is a FIFO (named pipe)", "device": "is a device"}[kind]
    assert expected in err


def test_simulate_name_cannot_leave_the_output_folder(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    out = tmp_path / "sim"
    for name in ("../escape", "/tmp/abs", "a/b", ".hidden", ".."):
        assert main(["simulate", "--hours", "0.02", "--seed", "1", "--out", str(out),
                     "--name", name]) == 2
        assert "expected a plain file name" in capsys.readouterr().err
    assert not (tmp_path / "escape.cramp").exists()
    assert main(["simulate", "--hours", "0.02", "--seed", "1", "--out", str(out),
                 "--name", "ok-night"]) == 0  # positive control
    assert (out / "ok-night.cramp").is_file()
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


@pytest.mark.parametrize(("argv", "fragment"), [
    (["record", "--simulate", "--speed", "inf"], "argument --speed: expected a number in "
                                                 "(0, 3600], got 'inf'"),
    (["record", "--simulate", "--seed", "-1"], "argument --seed: expected an integer from 0"),
    (["record", "--simulate", "--dropouts", "100000"], "argument --dropouts: expected an "
                                                       "integer from 0 to 100"),
    (["simulate", "--hours", "1e6", "--seed", "1", "--out", "x"], "argument --hours: expected "
                                                                  "a number in [0.01, 24] h"),
    (["replay", "x.csv", "--fs", "1e9"], "argument --fs: expected a number in [1, 100000] Hz"),
    (["replay", "x.csv", "--fs", "nan"], "argument --fs: expected a number in"),
    (["replay", "x.csv", "--tz", ""], "--tz: expected an IANA time zone such as "
                                      "Europe/Berlin, got an empty value"),
    (["replay", "x.csv", "--emg-unit", " "], "--emg-unit: expected a unit"),
    (["scan", "--simulate", "--timeout", "inf"], "argument --timeout: expected a number in "
                                                 "(0, 600] s"),
])
def test_options_out_of_range_are_one_line_exit_2(capsys: pytest.CaptureFixture[str],
                                                  argv: list[str], fragment: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err


def test_record_out_naming_a_file_is_refused(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    assert main(["record", "--simulate", "--out", str(f)]) == 2
    assert capsys.readouterr().err == f"cramp: error: {f}: is a file; expected a directory\n"
    assert f.read_text() == "x"


def test_eval_pred_with_deep_json_is_one_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "deep.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["eval", "--pred", str(p)]) == 2
    assert "nested too deeply" in capsys.readouterr().err
