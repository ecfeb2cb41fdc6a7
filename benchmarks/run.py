"""Benchmark: replaying a simulated night vs. one band-pass pass over its EMG.

Usage::

    python benchmarks/run.py [--hours 8] [--seed 1] [--repeats 3] [--check] [--json OUT]

Builds a night with the physiological model (1 kHz EMG, shank and foot 3-axis accelerometers
at 100 Hz), writes it to a temporary EDF+ file, then times

(a) the floor: one ``butter(4, [20, 450], btype="bandpass", fs=1000, output="sos")`` +
    ``sosfilt`` pass over the EMG array, in this process (best of ``--repeats``);
(b) ``cramp replay FILE --no-night-window --json OUT`` as a whole child process, start-up
    and file reading included (best of ``--repeats``), with the child's peak RSS from
    ``os.wait4``.

"Raw data size" is the bytes of the float64 arrays the night is made of: EMG (n,) plus the
two accelerometers (m, 3) each, i.e. ``8 * (n + 6 m)``. Targets: replay / floor <= 3 and
peak RSS / raw data size <= 3. With ``--check`` the exit status is 1 when a target is missed.
Exit status 2 means the benchmark could not run (for example ``cramp replay`` is missing).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

from detector.io.edf_export import write_edf
from firmware_sim.night import random_scenario, synthesize

FS_EMG = 1000.0
FS_ACC = 100.0
TARGET_TIME_RATIO = 3.0
TARGET_MEMORY_RATIO = 3.0


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n")[0])
    p.add_argument("--hours", type=float, default=8.0, help="length of the night (default 8)")
    p.add_argument("--seed", type=int, default=1, help="seed of the simulated night")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each (default 3)")
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = p.parse_args(argv)
    if not args.hours > 0 or args.repeats < 1:
        p.error("--hours must be > 0 and --repeats >= 1")
    return args


def _cramp_command() -> list[str]:
    script = Path(sys.executable).with_name("cramp")
    return [str(script)] if script.exists() else [sys.executable, "-m", "detector"]


def _replay_available(cmd: list[str]) -> str | None:
    """Return why ``cramp replay --no-night-window`` cannot run, or None if it can."""
    try:
        probe = subprocess.run([*cmd, "replay", "--help"], capture_output=True, text=True,
                               timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot start {' '.join(cmd)}: {exc}"
    if probe.returncode != 0:
        return f"`cramp replay` is not available yet: {probe.stderr.strip()[-300:]}"
    if "--no-night-window" not in probe.stdout:
        return "`cramp replay` has no --no-night-window option yet"
    return None


# The child is started by a small launcher process: on Linux a child's ru_maxrss starts at the
# high-water mark of the process that forked it, and this benchmark's own process holds the
# synthesised night (hundreds of MB). The launcher is small, so its child's peak is its own.
_LAUNCHER = """
import os, resource, subprocess, sys, time
t0 = time.perf_counter()
code = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=open(sys.argv[1], "wb"))
elapsed = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(elapsed, code, peak)
"""


def _run_child(argv: list[str], log: Path) -> tuple[float, int, int]:
    """Run ``argv``; return wall seconds, exit code and the child's peak RSS in bytes."""
    out = subprocess.run([sys.executable, "-c", _LAUNCHER, str(log), *argv],
                         capture_output=True, text=True, check=True)
    elapsed, code, peak = out.stdout.split()
    return float(elapsed), int(code), int(peak)


def _count_episodes(doc: Any) -> int | None:
    """Number of items in the first ``episodes`` list found in the replay's JSON."""
    if isinstance(doc, dict):
        if isinstance(doc.get("episodes"), list):
            return len(doc["episodes"])
        items = list(doc.values())
    elif isinstance(doc, list):
        items = doc
    else:
        return None
    counts = [c for c in (_count_episodes(v) for v in items) if c is not None]
    return sum(counts) if counts else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the process exit status."""
    args = _parse(argv)
    cmd = _cramp_command()
    problem = _replay_available(cmd)
    if problem is not None:
        print(f"benchmark: {problem}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="cramp-bench-") as tmp:
        tmpdir = Path(tmp)
        edf = tmpdir / "night.edf"
        rng = np.random.default_rng(args.seed)
        t0 = time.perf_counter()
        scenario = random_scenario(duration_s=args.hours * 3600.0, rng=rng, fs_emg=FS_EMG,
                                   fs_acc=FS_ACC)
        night = synthesize(scenario, rng=rng)
        synth_s = time.perf_counter() - t0
        cramps = night.truth[night.truth.kind == "cramp"]
        t0 = time.perf_counter()
        write_edf(edf, emg_uv=night.emg_uv, fs_emg=FS_EMG, shank_acc_g=night.shank_acc_g,
                  foot_acc_g=night.foot_acc_g, fs_acc=FS_ACC, start_utc=scenario.start_utc,
                  annotations=[(r.onset_s, r.duration_s, "cramp (simulated)")
                               for r in cramps.itertuples()])
        write_s = time.perf_counter() - t0
        raw_bytes = night.emg_uv.nbytes + night.shank_acc_g.nbytes + night.foot_acc_g.nbytes

        sos = signal.butter(4, [20, 450], btype="bandpass", fs=FS_EMG, output="sos")
        floor_times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            signal.sosfilt(sos, night.emg_uv)
            floor_times.append(time.perf_counter() - t0)
        floor_s = min(floor_times)
        del night  # free the arrays before the child runs

        replay_times, peaks = [], []
        episodes = None
        for i in range(args.repeats):
            out = tmpdir / f"replay{i}.json"
            log = tmpdir / f"replay{i}.log"
            elapsed, code, peak = _run_child(
                [*cmd, "replay", str(edf), "--no-night-window", "--no-store",
                 "--json", str(out)], log)
            if code != 0:
                tail = log.read_text(errors="replace").strip()[-800:]
                print(f"benchmark: `cramp replay` failed with exit code {code}:\n{tail}",
                      file=sys.stderr)
                return 2
            replay_times.append(elapsed)
            peaks.append(peak)
            if i == 0 and out.exists():
                episodes = _count_episodes(json.loads(out.read_text()))
        edf_bytes = edf.stat().st_size
        startup_times = [_run_child([*cmd, "replay", "--help"], tmpdir / "help.log")[0]
                         for _ in range(args.repeats)]

    replay_s = min(replay_times)
    startup_s = min(startup_times)
    peak_rss = max(peaks)
    results = {
        "hours": args.hours, "seed": args.seed, "repeats": args.repeats,
        "synthesis_s": round(synth_s, 3), "edf_write_s": round(write_s, 3),
        "edf_bytes": edf_bytes, "floor_s": round(floor_s, 4), "replay_s": round(replay_s, 4),
        "time_ratio": round(replay_s / floor_s, 2), "replay_peak_rss_bytes": peak_rss,
        "raw_data_bytes": raw_bytes, "memory_ratio": round(peak_rss / raw_bytes, 2),
        "truth_cramps": len(cramps), "replay_episodes": episodes,
        "startup_s": round(startup_s, 4),
        "work_ratio": round((replay_s - startup_s) / floor_s, 2),
    }
    _print(results, cmd)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    missed = (results["time_ratio"] > TARGET_TIME_RATIO
              or results["memory_ratio"] > TARGET_MEMORY_RATIO)
    return 1 if (args.check and missed) else 0


def _print(r: dict[str, Any], cmd: list[str]) -> None:
    mib = 1024 * 1024

    def verdict(value: float, target: float) -> str:
        return "ok" if value <= target else "MISSED"

    print(f"night: {r['hours']:g} h, seed {r['seed']}; 1 kHz EMG + 2 x 3-axis accel at 100 Hz")
    print(f"  synthesis {r['synthesis_s']:.2f} s, EDF+ write {r['edf_write_s']:.2f} s "
          f"({r['edf_bytes'] / mib:.1f} MiB)")
    print(f"  cramps in truth: {r['truth_cramps']}, episodes replayed: {r['replay_episodes']}")
    print(f"floor (sosfilt band-pass over EMG, best of {r['repeats']}): {r['floor_s']:.3f} s")
    print(f"replay (`{' '.join(cmd)} replay FILE --no-night-window --json OUT`, "
          f"whole process, best of {r['repeats']}): {r['replay_s']:.3f} s")
    print(f"ratio replay/floor: {r['time_ratio']:.2f} (target <= {TARGET_TIME_RATIO:g}) "
          f"{verdict(r['time_ratio'], TARGET_TIME_RATIO)}")
    print(f"  of which interpreter start-up and imports (`cramp replay --help`): "
          f"{r['startup_s']:.3f} s; replay work alone / floor: {r['work_ratio']:.2f}")
    print(f"replay peak RSS: {r['replay_peak_rss_bytes'] / mib:.1f} MiB")
    print(f"raw data size (float64 EMG + accel arrays): {r['raw_data_bytes'] / mib:.1f} MiB")
    print(f"ratio peak/raw: {r['memory_ratio']:.2f} (target <= {TARGET_MEMORY_RATIO:g}) "
          f"{verdict(r['memory_ratio'], TARGET_MEMORY_RATIO)}")


if __name__ == "__main__":
    sys.exit(main())
