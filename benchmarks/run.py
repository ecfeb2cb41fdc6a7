"""Benchmark: EDF replay, capture replay and start-up, each against one band-pass pass.

Usage::

    python benchmarks/run.py [--hours 8] [--seed 1] [--cramps 3] [--repeats 5] [--no-capture]
                             [--check] [--json OUT]

Builds a night with the physiological model (1 kHz EMG, shank and foot 3-axis accelerometers
at 100 Hz, ``--cramps`` cramps among its other events), writes it to a temporary EDF+ file and,
through the band's firmware model, to a temporary capture (``.cramp``, ATT MTU 247), then
measures in one run:

- the floor: one ``butter(4, [20, 450], btype="bandpass", fs=1000, output="sos")`` +
  ``sosfilt`` pass over the EMG array, in this process;
- ``cramp replay NIGHT.edf --json - --no-store`` and ``cramp replay NIGHT.cramp --json -
  --no-store`` as whole child processes (start-up, imports and file reading included), with
  each child's peak RSS; each also with ``--threads 1`` (by default a replay conditions the
  EMG and foot channels on a second thread when it may use two CPUs);
- start-up: ``python -c "import numpy"``, ``cramp --help`` and every subcommand's ``--help``.

The children run as after a normal install: without ``PYTHONDONTWRITEBYTECODE`` (which some
shells and containers set, and which would make every child compile the package's sources
anew, about a quarter of a floor), after one untimed round that leaves the bytecode cache in
place. Every figure is the median of ``--repeats`` runs (the runs of the different commands are
interleaved, so a burst of load from elsewhere hits them alike), given as wall-clock seconds and
as CPU seconds (user + system; less sensitive to other processes on a shared machine), each
also as a ratio to the floor measured the same way in the same run.

"Raw data size" is the bytes of the float64 arrays the night is made of: EMG (n,) plus the
two accelerometers (m, 3) each, i.e. ``8 * (n + 6 m)``. Targets: EDF replay / floor <= 3,
capture replay / floor <= 3, peak RSS of each replay <= raw data size, and every start-up
<= 2 x ``python -c "import numpy"``. With ``--check`` the exit status is 1 when a target is
missed; 2 means the benchmark could not run (for example ``cramp replay`` fails).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

from detector.cli.main import SUBCOMMAND_HELP
from detector.io.edf_export import write_edf
from firmware_sim.night import random_scenario, synthesize
from firmware_sim.simulate import simulate_night

FS_EMG = 1000.0
FS_ACC = 100.0
TARGET_REPLAY_RATIO = 3.0
TARGET_MEMORY_RATIO = 1.0
TARGET_STARTUP_RATIO = 2.0
MIB = 1024 * 1024


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n")[0])
    p.add_argument("--hours", type=float, default=8.0, help="length of the night (default 8)")
    p.add_argument("--seed", type=int, default=1, help="seed of the simulated night")
    p.add_argument("--cramps", type=int, default=3,
                   help="cramps placed in the night (default 3), so that the replays run the "
                        "episode path too, not only the signal processing")
    p.add_argument("--repeats", type=int, default=5, help="timed runs of each (default 5)")
    p.add_argument("--no-capture", action="store_true",
                   help="skip the capture replay (building an 8-h capture takes a minute)")
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = p.parse_args(argv)
    if not args.hours > 0 or args.repeats < 1:
        p.error("--hours must be > 0 and --repeats >= 1")
    return args


def _cramp_command() -> list[str]:
    script = Path(sys.executable).with_name("cramp")
    return [str(script)] if script.exists() else [sys.executable, "-m", "detector"]


# The child is started by a small launcher process: on Linux a child's ru_maxrss starts at the
# high-water mark of the process that forked it, and this benchmark's own process holds the
# synthesised night (hundreds of MB). The launcher is small, so its child's peak is its own.
_LAUNCHER = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
with open(sys.argv[1], "wb") as out, open(sys.argv[2], "wb") as err:
    code = subprocess.call(sys.argv[3:], stdout=out, stderr=err)
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "code": code,
                  "peak_rss_bytes": ru.ru_maxrss * 1024}))
"""


def _child_env() -> dict[str, str]:
    """The environment of the measured commands: this one, bytecode caching left on."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run_child(argv: list[str], out: Path, err: Path) -> dict[str, Any]:
    """Run ``argv``; its wall and CPU seconds, exit code and peak RSS (bytes)."""
    proc = subprocess.run([sys.executable, "-c", _LAUNCHER, str(out), str(err), *argv],
                          capture_output=True, text=True, check=True, env=_child_env())
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _count_episodes(path: Path) -> int | None:
    """Episodes in a ``cramp replay --json`` document (None if it cannot be read)."""
    try:
        doc = json.loads(path.read_text())
        return sum(len(r["episodes"]) for r in doc["recordings"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def _floor(emg_uv: np.ndarray, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of one 4th-order Butterworth band-pass over the EMG."""
    sos = signal.butter(4, [20, 450], btype="bandpass", fs=FS_EMG, output="sos")
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        signal.sosfilt(sos, emg_uv)
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the process exit status."""
    args = _parse(argv)
    cmd = _cramp_command()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="cramp-bench-") as tmp:
        tmpdir = Path(tmp)
        edf = tmpdir / "night.edf"
        rng = np.random.default_rng(args.seed)
        t0 = time.perf_counter()
        scenario = random_scenario(duration_s=args.hours * 3600.0, rng=rng, fs_emg=FS_EMG,
                                   fs_acc=FS_ACC, n_cramps=args.cramps)
        night = synthesize(scenario, rng=rng)
        cramps = night.truth[night.truth.kind == "cramp"]
        write_edf(edf, emg_uv=night.emg_uv, fs_emg=FS_EMG, shank_acc_g=night.shank_acc_g,
                  foot_acc_g=night.foot_acc_g, fs_acc=FS_ACC, start_utc=scenario.start_utc,
                  annotations=[(r.onset_s, r.duration_s, "cramp (simulated)")
                               for r in cramps.itertuples()])
        build_edf_s = time.perf_counter() - t0
        raw_bytes = night.emg_uv.nbytes + night.shank_acc_g.nbytes + night.foot_acc_g.nbytes
        floor_wall, floor_cpu = _floor(night.emg_uv, args.repeats)
        del night  # free the arrays before the children run

        capture = None
        build_capture_s = 0.0
        if not args.no_capture:
            t0 = time.perf_counter()
            files = simulate_night(tmpdir, hours=args.hours, seed=args.seed,
                                   file_format="capture", fs_emg=int(FS_EMG),
                                   fs_acc=int(FS_ACC), att_mtu=247, n_cramps=args.cramps,
                                   stem="night")
            capture = files.recording
            build_capture_s = time.perf_counter() - t0

        jobs: dict[str, list[str]] = {
            "edf_replay": [*cmd, "replay", str(edf), "--json", "-", "--no-store"],
            "edf_replay_1thread": [*cmd, "replay", str(edf), "--json", "-", "--no-store",
                                   "--threads", "1"],
            "import_numpy": [sys.executable, "-c", "import numpy"],
            "help": [*cmd, "--help"],
        }
        if capture is not None:
            jobs["capture_replay"] = [*cmd, "replay", str(capture), "--json", "-", "--no-store"]
            jobs["capture_replay_1thread"] = [*jobs["capture_replay"], "--threads", "1"]
        for name in SUBCOMMAND_HELP:
            jobs[f"help {name}"] = [*cmd, name, "--help"]
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in jobs}
        episodes: dict[str, int | None] = {}
        for i in range(-1, args.repeats):  # interleaved rounds; round -1 is not timed: it
            for name, argv_ in jobs.items():  # writes the bytecode cache and warms the files
                out, err = tmpdir / f"{name}.{i}.out", tmpdir / f"{name}.{i}.err"
                result = _run_child(argv_, out, err)
                if result["code"] != 0:
                    tail = err.read_text(errors="replace").strip()[-800:]
                    print(f"benchmark: `{' '.join(argv_)}` failed with exit code "
                          f"{result['code']}:\n{tail}", file=sys.stderr)
                    return 2
                if i < 0:
                    continue
                runs[name].append(result)
                if i == 0 and name.endswith("_replay"):
                    episodes[name] = _count_episodes(out)
        edf_bytes = edf.stat().st_size
        capture_bytes = capture.stat().st_size if capture is not None else None

    results: dict[str, Any] = {
        "hours": args.hours, "seed": args.seed, "repeats": args.repeats,
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "build_edf_s": round(build_edf_s, 2), "build_capture_s": round(build_capture_s, 2),
        "edf_bytes": edf_bytes, "capture_bytes": capture_bytes, "raw_data_bytes": raw_bytes,
        "truth_cramps": len(cramps), "episodes": episodes,
        "floor": {"wall_s": round(floor_wall, 4), "cpu_s": round(floor_cpu, 4)},
    }
    for name, rs in runs.items():
        wall, cpu = _median(rs, "wall_s"), _median(rs, "cpu_s")
        results[name] = {
            "wall_s": round(wall, 4), "cpu_s": round(cpu, 4),
            "wall_x_floor": round(wall / floor_wall, 2), "cpu_x_floor": round(cpu / floor_cpu, 2),
            "peak_rss_bytes": max(r["peak_rss_bytes"] for r in rs),
        }
    numpy_wall = results["import_numpy"]["wall_s"]
    numpy_cpu = results["import_numpy"]["cpu_s"]
    for name in ["help", *(f"help {n}" for n in SUBCOMMAND_HELP)]:
        results[name]["wall_x_numpy"] = round(results[name]["wall_s"] / numpy_wall, 2)
        results[name]["cpu_x_numpy"] = round(results[name]["cpu_s"] / numpy_cpu, 2)
    missed = _print(results, cmd)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 1 if (args.check and missed) else 0


def _print(r: dict[str, Any], cmd: list[str]) -> list[str]:
    """Print the table; return the targets missed (on the wall-clock medians)."""
    missed: list[str] = []

    def verdict(name: str, value: float, target: float) -> str:
        if value <= target:
            return "ok"
        missed.append(name)
        return "MISSED"

    raw = r["raw_data_bytes"]
    print(f"night: {r['hours']:g} h, seed {r['seed']}; 1 kHz EMG + 2 x 3-axis accel at 100 Hz; "
          f"{r['truth_cramps']} cramps in the truth table")
    print(f"  EDF+ {r['edf_bytes'] / MIB:.1f} MiB (built in {r['build_edf_s']:.1f} s)"
          + (f", capture {r['capture_bytes'] / MIB:.1f} MiB (built in "
             f"{r['build_capture_s']:.1f} s)" if r["capture_bytes"] else ", no capture"))
    print(f"  raw data size (float64 EMG + accel arrays): {raw / MIB:.1f} MiB")
    print(f"  load average before/after: {r['load_average_before']} / "
          f"{r['load_average_after']} (the machine is shared: figures are under that load)")
    print(f"medians of {r['repeats']} runs; `cramp` = {' '.join(cmd)}")
    head = f"{'':46s} {'wall s':>8s} {'x floor':>8s} {'cpu s':>8s} {'x floor':>8s} {'RSS MiB':>8s}"
    print(head)
    f = r["floor"]
    print(f"{'floor: sosfilt 4th-order band-pass over EMG':46s} {f['wall_s']:8.3f} "
          f"{1.0:8.2f} {f['cpu_s']:8.3f} {1.0:8.2f} {'':>8s}")

    def row(label: str, key: str) -> None:
        x = r[key]
        print(f"{label:46s} {x['wall_s']:8.3f} {x['wall_x_floor']:8.2f} {x['cpu_s']:8.3f} "
              f"{x['cpu_x_floor']:8.2f} {x['peak_rss_bytes'] / MIB:8.1f}")

    row("EDF replay (whole process)", "edf_replay")
    row("  the same on one thread (--threads 1)", "edf_replay_1thread")
    if "capture_replay" in r:
        row("capture replay (whole process)", "capture_replay")
        row("  the same on one thread (--threads 1)", "capture_replay_1thread")
    row('start-up: python -c "import numpy"', "import_numpy")
    row("start-up: cramp --help", "help")
    helps = [k for k in r if k.startswith("help ")]
    slowest = max(helps, key=lambda k: r[k]["wall_s"])
    row(f"start-up: slowest subcommand ({slowest.split()[1]} --help)", slowest)
    print("targets (wall-clock medians):")
    for key, label in (("edf_replay", "EDF replay"), ("capture_replay", "capture replay")):
        if key not in r:
            continue
        x = r[key]
        print(f"  {label} / floor: {x['wall_x_floor']:.2f} (<= {TARGET_REPLAY_RATIO:g}) "
              f"{verdict(label + ' time', x['wall_x_floor'], TARGET_REPLAY_RATIO)}; "
              f"peak RSS / raw data: {x['peak_rss_bytes'] / raw:.2f} "
              f"(<= {TARGET_MEMORY_RATIO:g}) "
              f"{verdict(label + ' memory', x['peak_rss_bytes'] / raw, TARGET_MEMORY_RATIO)}; "
              f"episodes {r['episodes'].get(key)}")
    worst = max(["help", *helps], key=lambda k: r[k]["wall_x_numpy"])
    print(f"  start-up / import numpy: cramp --help {r['help']['wall_x_numpy']:.2f}, worst "
          f"{worst} {r[worst]['wall_x_numpy']:.2f} (<= {TARGET_STARTUP_RATIO:g}) "
          f"{verdict('start-up', r[worst]['wall_x_numpy'], TARGET_STARTUP_RATIO)}")
    return missed


if __name__ == "__main__":
    sys.exit(main())
