"""Benchmark: the parts of a capture replay (scan, open, blocks), each against the floor.

Usage::

    python benchmarks/capture_parts.py [--hours 2] [--seed 1] [--repeats 3] [--capture FILE]

Builds a capture through the band's firmware model (``.cramp``, ATT MTU 247; or uses
``--capture``), then times, in this process, as CPU seconds (user + system, less sensitive to
other processes on a shared machine than wall time) and medians of ``--repeats``:

- the floor: one ``butter(4, [20, 450], btype="bandpass", fs=1000, output="sos")`` +
  ``sosfilt`` pass over as many EMG samples as the capture holds;
- ``read_capture`` (the one-pass scan: sync markers, CRC32, record table), also with
  ``threads=2`` (as ``cramp replay`` scans with two threads), as the CPU seconds of the
  calling thread alone: the scan's wall time when the helper thread has a core of its own;
- ``CaptureRecording`` (run layout, bulk header decode, clock fit);
- one pass over ``blocks(300)`` (bulk decode of the samples and the assembler).

The pipeline is not included: ``benchmarks/run.py`` measures the whole ``cramp replay``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy import signal

from detector.capture.reader import read_capture
from detector.capture.recording import CaptureRecording


def _cpu(fn: Callable[[], object], repeats: int, *,
         clock: Callable[[], float] = time.process_time) -> float:
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the process exit status."""
    p = argparse.ArgumentParser(prog="benchmarks/capture_parts.py",
                                description=__doc__.split("\n")[0])
    p.add_argument("--hours", type=float, default=2.0, help="length of the night (default 2)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--capture", type=Path, help="use this capture instead of building one")
    args = p.parse_args(argv)
    if not args.hours > 0 or args.repeats < 1:
        p.error("--hours must be > 0 and --repeats >= 1")
    with tempfile.TemporaryDirectory(prefix="cramp-parts-") as tmp:
        path = args.capture
        if path is None:
            from firmware_sim.simulate import simulate_night

            path = simulate_night(Path(tmp), hours=args.hours, seed=args.seed,
                                  file_format="capture", att_mtu=247, stem="night").recording
        cap = read_capture(path)
        rec = CaptureRecording(path, capture=cap)

        def blocks() -> int:
            return sum(b.n_samples for role, b in rec.blocks(300.0) if role == "emg")

        n_emg = blocks()
        emg = np.random.default_rng(0).standard_normal(n_emg)
        sos = signal.butter(4, [20, 450], btype="bandpass", fs=1000, output="sos")
        floor = _cpu(lambda: signal.sosfilt(sos, emg), args.repeats)
        parts = {
            "scan (read_capture)": _cpu(lambda: read_capture(path), args.repeats),
            "scan, 2 threads: calling thread": _cpu(lambda: read_capture(path, threads=2),
                                                    args.repeats, clock=time.thread_time),
            "open (CaptureRecording)": _cpu(lambda: CaptureRecording(path, capture=cap),
                                            args.repeats),
            "blocks(300) pass": _cpu(blocks, args.repeats),
        }
    size_mib = cap.size_bytes / 2**20
    print(f"capture: {size_mib:.1f} MiB, {cap.n_packets} packets, {n_emg} EMG samples; "
          f"CPU-second medians of {args.repeats}")
    print(f"{'floor: sosfilt band-pass over the EMG':40s} {floor:8.3f} {1.0:8.2f}")
    for name, cpu in parts.items():
        print(f"{name:40s} {cpu:8.3f} {cpu / floor:8.2f}")
    total = sum(v for k, v in parts.items() if "2 threads" not in k)
    print(f"{'capture-specific total':40s} {total:8.3f} {total / floor:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
