"""Start-up: each ``cramp`` command imports only what it needs.

Every check runs the command in a fresh interpreter and lists the heavy packages found in
``sys.modules`` afterwards; a positive control proves the harness sees an import when one
happens. Timing is measured in ``benchmarks/run.py``, not here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from store_helpers import make_night

from detector.cli import main as cli_main
from detector.store import save_night

HEAVY = ("scipy", "scipy.signal", "scipy.stats", "pandas", "bleak", "bumble", "firmware_sim",
         "pyedflib", "tqdm")
"""Packages no help screen may load."""

NEVER_IN_LIGHT_COMMANDS = ("scipy.signal", "bleak", "bumble", "firmware_sim")
"""Packages the store-reading commands (report, diary, profile, causes...) must not load."""

_HARNESS = """
import contextlib, io, json, os, sys
watched, commands = json.loads(sys.argv[1]), json.loads(sys.argv[2])
from detector.cli.main import main
results = []
for argv in commands:  # each command in a fresh child forked from this bare interpreter
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        out = io.StringIO()
        code = None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code
        report = {"imported": [m for m in watched if m in sys.modules], "code": code,
                  "out": out.getvalue()}
        with os.fdopen(write_end, "w") as fh:
            json.dump(report, fh)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as fh:
        results.append(json.load(fh))
    os.waitpid(pid, 0)
print(json.dumps(results))
"""


def _run_commands(commands: list[list[str]], watched: tuple[str, ...] = HEAVY,
                  cwd: Path | None = None) -> list[dict[str, object]]:
    """Run each ``cramp ARGV`` in a fresh process; say which watched modules it imported.

    One interpreter imports only ``detector.cli.main``, then forks a child per command, so
    every command starts from the same bare state.
    """
    proc = subprocess.run([sys.executable, "-c", _HARNESS, json.dumps(watched),
                           json.dumps(commands)],
                          capture_output=True, text=True, timeout=300, check=True, cwd=cwd)
    results: list[dict[str, object]] = json.loads(proc.stdout)
    assert len(results) == len(commands)
    return results


def test_harness_sees_an_import() -> None:
    """Positive control: a command that loads bleak is reported as loading it."""
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, detector.ble.scan; "
         "print([m for m in ('bleak', 'scipy.signal') if m in sys.modules])"],
        capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "['bleak']"


def test_harness_sees_an_import_in_a_command() -> None:
    """Positive control of the forked harness: loading the pipeline loads scipy."""
    (result,) = _run_commands([["replay", "--help"]], watched=("detector.replay",))
    assert result["imported"] == []
    (result,) = _run_commands([["eval", "--pred", "/nonexistent.json"]],
                              watched=("detector.evaluation",))
    assert result["imported"] == ["detector.evaluation"]
    assert result["code"] == 2


def test_no_help_screen_imports_anything_heavy() -> None:
    commands = [["--help"]] + [[name, "--help"] for name in sorted(cli_main.SUBCOMMAND_HELP)]
    commands.append(["diary", "add", "--help"])
    results = _run_commands(commands)
    top = results[0]
    assert top["code"] == 0
    assert top["imported"] == []
    for name in cli_main.SUBCOMMAND_HELP:  # every subcommand is still listed
        assert name in str(top["out"])
    for argv, result in zip(commands[1:], results[1:], strict=True):
        assert result["code"] == 0, argv
        assert f"usage: cramp {' '.join(argv[:-1])}" in str(result["out"]), argv
        assert result["imported"] == [], argv


def test_help_table_matches_each_subcommand() -> None:
    """The one-line help shown without importing a module is the one it registers."""
    for module_name in cli_main.SUBCOMMAND_MODULES:
        name = cli_main.command_name(module_name)
        sub = argparse.ArgumentParser().add_subparsers()
        __import__(module_name, fromlist=["register"]).register(sub)
        helps = {a.dest: a.help for a in sub._choices_actions}
        assert helps == {name: cli_main.SUBCOMMAND_HELP[name]}


@pytest.mark.parametrize("command", ["replay", "diary", "report"])
def test_lazy_parser_gives_the_same_subcommand(command: str) -> None:
    """Registering only the chosen subcommand changes nothing about how it parses."""
    def choice(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return action.choices[command]  # type: ignore[no-any-return]

    full = choice(cli_main.build_parser()).format_help()
    lazy = choice(cli_main.build_parser([command, "--help"])).format_help()
    assert lazy == full


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["replya", "x.edf"]) == 2
    assert "invalid choice: 'replya'" in capsys.readouterr().err


def test_store_commands_do_not_load_signal_processing_or_bluetooth(tmp_path: Path) -> None:
    db = tmp_path / "episodes.sqlite3"
    night = make_night(rng=np.random.default_rng(4), duration_s=3600,
                       in_bed=((600.0, 3300.0),), episodes=(), gaps=(), poor_signal=(),
                       start_utc=datetime(2024, 3, 3, 21, 0, tzinfo=UTC))
    save_night(night, db_path=db, recording_sha256="ab" * 32, timezone="UTC")
    html = tmp_path / "report.html"
    commands = [
        ["report", "--db", str(db), "--out", str(html)],
        ["diary", "list", "--db", str(db)],
        ["profile", "--db", str(db)],
        ["causes", "--db", str(db), "--list-rules"],
        ["export", "--db", str(db), "--format", "csv", "--out", str(tmp_path / "ep.csv")],
    ]
    results = _run_commands(commands, NEVER_IN_LIGHT_COMMANDS, cwd=tmp_path)
    for argv, result in zip(commands, results, strict=True):
        assert result["code"] == 0, (argv, result["out"])
        assert result["imported"] == [], argv
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_replaying_an_edf_loads_no_scipy_signal_pandas_or_bluetooth(tmp_path: Path) -> None:
    """The replay hot path runs the compiled filter loop without the scipy.signal package,
    takes its medians and percentiles without numpy.ma, and its table without the morning
    report's modules."""
    edf = Path(__file__).resolve().parents[1] / "recordings" / "sample_night.edf"
    out = tmp_path / "r.json"
    (result,) = _run_commands([["replay", str(edf), "--json", str(out), "--no-store"]],
                              ("scipy.signal", "scipy.stats", "pandas", "bleak", "bumble",
                               "firmware_sim", "tqdm", "numpy.ma", "numpy.polynomial",
                               "detector.report", "detector.causes.engine",
                               "detector.pipeline.sos_kernel"))
    assert result["code"] == 0, result["out"]
    assert result["imported"] == ["detector.pipeline.sos_kernel"]  # it did filter
    assert json.loads(out.read_text())["recordings"][0]["episodes"]


_THREADS_AFTER_REPLAY = """
import json, os, sys
if sys.argv[3] == "numpy first":
    import numpy  # OpenBLAS starts its threads here, before the replay could say otherwise
from detector.cli.main import main
code = main(["replay", sys.argv[1], "--json", sys.argv[2], "--no-store", "--threads", "1"])
print(json.dumps({"code": code, "threads": len(os.listdir("/proc/self/task")),
                  "blas": os.environ.get("OPENBLAS_NUM_THREADS")}))
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir() or len(os.sched_getaffinity(0)) < 2,
                    reason="counts the process's threads in /proc; needs two CPUs")
def test_a_replay_starts_no_blas_threads(tmp_path: Path) -> None:
    """numpy's OpenBLAS would start a thread per CPU at import; a replay has it start none
    (its linear algebra is small), and keeps a number the user chose. Positive control:
    with numpy imported before the replay starts, the extra thread is there and seen."""
    edf = Path(__file__).resolve().parents[1] / "recordings" / "sample_night.edf"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}

    def replay(order: str, **extra: str) -> dict[str, object]:
        out = tmp_path / f"{order.replace(' ', '_')}{len(extra)}.json"
        proc = subprocess.run([sys.executable, "-c", _THREADS_AFTER_REPLAY, str(edf), str(out),
                               order], capture_output=True, text=True, timeout=300,
                              check=True, env={**env, **extra})
        result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result["code"] == 0
        return result

    assert replay("replay first") == {"code": 0, "threads": 1, "blas": "1"}
    control = replay("numpy first")
    assert control["blas"] is None and int(str(control["threads"])) > 1
    chosen = replay("replay first", OPENBLAS_NUM_THREADS="2")
    assert chosen["blas"] == "2" and chosen["threads"] == 2


def test_a_replay_to_stdout_without_a_store_loads_no_database_or_temporary_files(
        tmp_path: Path) -> None:
    """``cramp replay FILE --json - --no-store`` writes no file and no store: the database
    module and :mod:`tempfile` (with :mod:`random`) stay unloaded, a few ms of start-up.
    Positive control: writing the JSON to a file loads :mod:`tempfile` (atomic write) and
    storing the night loads :mod:`sqlite3`."""
    edf = Path(__file__).resolve().parents[1] / "recordings" / "sample_night.edf"
    watched = ("sqlite3", "tempfile", "random")
    out = tmp_path / "r.json"
    db = tmp_path / "replays.sqlite3"
    stdout, to_file, stored = _run_commands(
        [["replay", str(edf), "--json", "-", "--no-store"],
         ["replay", str(edf), "--json", str(out), "--no-store"],
         ["replay", str(edf), "--db", str(db)]], watched, cwd=tmp_path)
    assert stdout["code"] == 0, stdout["out"]
    assert json.loads(str(stdout["out"]))["recordings"][0]["episodes"]
    assert stdout["imported"] == []
    assert to_file["code"] == 0 and "tempfile" in to_file["imported"]  # type: ignore[operator]
    assert stored["code"] == 0 and "sqlite3" in stored["imported"]  # type: ignore[operator]
