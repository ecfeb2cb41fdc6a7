"""Benchmark: where the CPU time of one replay goes, stage by stage, in floors.

Usage::

    python benchmarks/stages.py FILE [--repeats 3]

Replays ``FILE`` (EDF, capture, any file ``cramp replay`` reads) in this process
``--repeats`` times, timing each stage with CPU seconds (``time.process_time``) by wrapping
the pipeline's entry points:

- ``open``: ``open_recording`` as ``cramp replay`` calls it (a capture's scan, run layout,
  header decode and clock fit; an EDF's header checks);
- ``read``: producing the blocks (EDF: int -> float and, as in a replay, the EDF+ record
  timing check; capture: sample decode and assembly);
- ``emg filters`` / ``acc filters``: the section-loop calls (``StreamingSos.push``, copy in
  included) of the EMG and accelerometer processors;
- ``emg epochs`` / ``acc epochs``: the rest of those processors (per-epoch sums, flags);
- ``fusion + episodes``: the aligned evidence, baselines and episode rules
  (``NightPipeline._drain``);
- ``other``: the rest of ``run_source`` (recorder, queues, flush, result).

Each is printed as the median CPU seconds and as a ratio to the floor: one
``butter(4, [20, 450], btype="bandpass", fs=1000, output="sos")`` + ``sosfilt`` pass over as
many samples as the recording's EMG has, measured here the same way. Interpreter start-up and
imports are not in it (``benchmarks/run.py`` times the whole process). The wrappers add a few
microseconds per call (a few hundred calls per 8-hour night).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

STAGES = ("open", "read", "emg filters", "emg epochs", "acc filters", "acc epochs",
          "fusion + episodes", "other")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/stages.py", description=__doc__.split("\n")[0])
    p.add_argument("file", help="recording to replay")
    p.add_argument("--repeats", type=int, default=3, help="replays (default 3)")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    return args


class _Clock:
    """CPU seconds per stage; a stage's time excludes the stages timed inside it."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self._stack: list[str] = []

    def wrap(self, fn: Callable[..., Any], stage: str | Callable[[], str]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            name = stage() if callable(stage) else stage
            return self.run(name, fn, *args, **kwargs)
        return timed

    def run(self, stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        now = time.process_time()
        if self._stack:  # pause the enclosing stage
            self.spent[self._stack[-1]] += now
        self._stack.append(stage)
        self.spent[stage] -= now
        try:
            return fn(*args, **kwargs)
        finally:
            end = time.process_time()
            self.spent[self._stack.pop()] += end
            if self._stack:
                self.spent[self._stack[-1]] -= end

    def current(self) -> str:
        return self._stack[-1] if self._stack else "other"


def _replay_once(path: str) -> tuple[dict[str, float], int]:
    """One replay with every stage timed; (CPU s per stage, EMG samples)."""
    from detector.config import DetectorConfig
    from detector.io.channels import ChannelMap
    from detector.io.open import open_recording
    from detector.pipeline import chain, emg, filters, motion
    from detector.replay import run_source

    clock = _Clock()
    config = DetectorConfig()
    saved = [(emg.EmgProcessor, "push"), (motion.AccProcessor, "push"),
             (filters.StreamingSos, "push"), (chain.NightPipeline, "_drain")]
    originals = [getattr(cls, name) for cls, name in saved]
    emg.EmgProcessor.push = clock.wrap(originals[0], "emg epochs")  # type: ignore[method-assign]
    motion.AccProcessor.push = clock.wrap(originals[1], "acc epochs")  # type: ignore[method-assign]
    filters.StreamingSos.push = clock.wrap(  # type: ignore[method-assign]
        originals[2], lambda: clock.current().split()[0] + " filters")
    chain.NightPipeline._drain = clock.wrap(  # type: ignore[method-assign]
        originals[3], "fusion + episodes")
    try:
        source = clock.run("open", open_recording, path, channel_map=ChannelMap(),
                           min_emg_fs_hz=config.emg.min_fs_hz, defer_checks=True)
        n_emg = 0
        blocks = source.blocks

        def timed_blocks(chunk_s: float) -> Iterator[Any]:
            nonlocal n_emg
            it = blocks(chunk_s)
            while True:
                try:
                    role, block = clock.run("read", next, it)
                except StopIteration:
                    return
                if role == "emg":
                    n_emg += block.data.shape[0]
                yield role, block

        source.blocks = timed_blocks
        try:
            clock.run("other", run_source, source, config=config)
        finally:
            source.close()
    finally:
        for (cls, name), fn in zip(saved, originals, strict=True):
            setattr(cls, name, fn)
    return dict(clock.spent), n_emg


def _floor_s(n: int) -> float:
    """CPU seconds of one 4th-order 20-450 Hz band-pass over ``n`` samples (median of 3)."""
    from scipy import signal

    sos = signal.butter(4, [20, 450], btype="bandpass", fs=1000.0, output="sos")
    x = np.random.default_rng(0).standard_normal(n)
    runs = []
    for _ in range(3):
        c0 = time.process_time()
        signal.sosfilt(sos, x)
        runs.append(time.process_time() - c0)
    return statistics.median(runs)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    args = _parse(argv)
    runs: list[dict[str, float]] = []
    n_emg = 0
    for _ in range(args.repeats):
        spent, n_emg = _replay_once(args.file)
        runs.append(spent)
    floor = _floor_s(n_emg) if n_emg else float("nan")
    print(f"{args.file}: {n_emg} EMG samples; floor (one band-pass pass over them) "
          f"{floor:.3f} s CPU; medians of {args.repeats} replays")
    print(f"{'stage':20s} {'cpu s':>8s} {'x floor':>8s}")
    total = 0.0
    for stage in STAGES:
        s = statistics.median(r.get(stage, 0.0) for r in runs)
        total += s
        print(f"{stage:20s} {s:8.3f} {s / floor:8.2f}")
    print(f"{'total (no start-up)':20s} {total:8.3f} {total / floor:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
