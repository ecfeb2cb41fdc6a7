"""Offline replay: the streaming pipeline fed from a recording, as fast as it will go."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from detector.config import DetectorConfig
from detector.episode import EpisodeEvent
from detector.pipeline.result import NightResult
from detector.signals import ChannelSpec, Gap, RecordingInfo, RecordingSource, SignalBlock

if TYPE_CHECKING:
    from detector.io.channels import ChannelMap

DEFAULT_CHUNK_S = 900.0
"""Seconds of signal read and pushed at a time in replay. Results do not depend on it; the
per-chunk work of the pipeline does: its fixed cost per chunk (numpy calls of the evidence
fusion and the baselines, about 1 ms) is paid 32 times in an 8-h night instead of 96 with
5-minute chunks (about 10 % of a replay's CPU time). Fifteen minutes of 1 kHz EMG is 7.2 MB
(float64) per work array; beyond about 30 minutes the arrays outgrow the caches and the
passes over them get slower again."""


@dataclass
class ArrayRecording:
    """A recording held in memory, streamed like a file (tests, simulations).

    Attributes
    ----------
    info : RecordingInfo
        Channels (with their ``fs``), start time, duration.
    data : dict of str to ndarray
        Samples per role in canonical units: EMG (n,) uV, accelerometers (n, 3) g.
    gaps : list of Gap
        Gaps to cut out of the data when streaming (samples inside are not delivered).
    """

    info: RecordingInfo
    data: Mapping[str, np.ndarray]
    gaps: list[Gap] = field(default_factory=list)

    def blocks(self, chunk_s: float) -> Iterator[tuple[str, SignalBlock]]:
        """Yield ``(role, block)`` pairs, ``chunk_s`` seconds at a time, gaps left out."""
        t = 0.0
        while t < self.info.duration_s:
            t1 = t + chunk_s
            for role, spec in self.info.channels.items():
                x = self.data[role]
                a, b = round(t * spec.fs), min(round(t1 * spec.fs), x.shape[0])
                for s, e in self._present(role, a, b, spec.fs):
                    if e > s:
                        yield role, SignalBlock(data=x[s:e], fs=spec.fs, start_sample=s)
            t = t1

    def _present(self, role: str, a: int, b: int, fs: float) -> list[tuple[int, int]]:
        pieces = [(a, b)]
        for g in self.gaps:
            if g.role != role:
                continue
            gs, ge = round(g.start_s * fs), round(g.end_s * fs)
            pieces = [p for s, e in pieces for p in ((s, min(e, gs)), (max(s, ge), e))
                      if p[1] > p[0]]
        return pieces

    def close(self) -> None:
        """Nothing to release."""


def run_source(source: RecordingSource, *, config: DetectorConfig, leg: str | None = None,
               chunk_s: float = DEFAULT_CHUNK_S, progress: bool = False,
               on_event: Callable[[EpisodeEvent], None] | None = None,
               threads: int = 1) -> NightResult:
    """Stream a recording through :class:`NightPipeline` and return its result.

    A source with a ``clock`` (a capture: the band's sample grid and the morning's clock fit,
    see :mod:`detector.night.timeline`) has its episode times placed by that clock.

    Parameters
    ----------
    source : RecordingSource
        Any reader (EDF, CSV, capture, in-memory).
    config : DetectorConfig
        Thresholds.
    leg : str, optional
        Overrides the leg the recording names.
    chunk_s : float
        Seconds per pushed chunk; the result does not depend on it.
    progress : bool
        Show a progress bar on stderr when it is a terminal.
    on_event : callable, optional
        Called with every live episode event as it happens.
    threads : int
        1: everything on the calling thread; 2: the channels of :func:`background_roles` are
        conditioned on a worker thread beside it (a single replay on an otherwise idle
        machine of two or more cores; a cohort running a night per core gains nothing). The
        result is the same.
    """
    if threads not in (1, 2):
        raise ValueError(f"threads must be 1 or 2, got {threads}")
    from detector.night.recorder import NightRecorder

    info = source.info
    rec = NightRecorder(info.channels, config=config, start_utc=info.start_utc,
                        leg=leg or info.leg, batch_s=0.0, clock=getattr(source, "clock", None),
                        background=background_roles(info.channels) if threads == 2 else (),
                        on_episode=None if on_event is None
                        else lambda ev, **_: on_event(ev))
    bar = _progress_bar(info, enabled=progress)
    done_s = 0.0
    for role, block in source.blocks(chunk_s):
        rec.push(role, block)
        if bar is not None:
            end_s = block.end_sample / block.fs
            if end_s > done_s:
                bar.update(end_s - done_s)
                done_s = end_s
    rec.finish(end_s=info.duration_s)
    if bar is not None:
        bar.close()
    return rec.result(info)


SPARE_CPUS = 0.5
"""A second replay thread is started only when the CPUs this process may use exceed the
1-minute load average by at least this (on two CPUs: a load under 1.5): with every CPU
already busy, two threads get little more CPU than one and lose time waiting for each other
(measured on the 2-core machine under a load of 2-3: 2.4 s against 1.8 s for an 8-hour EDF)."""


def default_threads() -> int:
    """Threads for one replay (the result is the same either way): 2 when this process may
    run on two or more CPUs and some of them are idle (:data:`SPARE_CPUS`), else 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this system
        load = 0.0
    return 2 if cpus >= 2 and cpus - load >= SPARE_CPUS else 1


def background_roles(channels: Mapping[str, ChannelSpec]) -> tuple[str, ...]:
    """The roles a replay conditions on the worker thread: the EMG (the costliest channel,
    about half the work) and, beside it, the foot accelerometer, so that the two threads carry
    about equal shares (the calling thread reads the file, filters the shank and fuses)."""
    return tuple(r for r in ("emg", "foot_acc") if r in channels)


def replay_path(path: str, *, config: DetectorConfig, channel_map: ChannelMap,
                leg: str | None = None, progress: bool = False,
                time_unit: str | None = None, threads: int = 1) -> NightResult:
    """Open a recording file and replay it (see :func:`run_source`); with ``threads=2`` a
    capture is also scanned on two threads.

    The checks an opener may leave to the first pass over the blocks (an EDF+ file's record
    timing, see :func:`~detector.io.open.open_recording`) are left to the replay's pass: a
    file that fails one raises the same error before this returns, so no result of it exists.
    """
    from detector.io.open import open_recording

    source = open_recording(path, channel_map=channel_map, min_emg_fs_hz=config.emg.min_fs_hz,
                            time_unit=time_unit, threads=threads, defer_checks=True)
    try:
        return run_source(source, config=config, leg=leg, progress=progress, threads=threads)
    finally:
        source.close()


def _progress_bar(info: RecordingInfo, *, enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled or not sys.stderr.isatty() or info.duration_s < 600:
        return None
    from tqdm import tqdm

    return tqdm(total=round(info.duration_s), unit="s", desc=info.path.split("/")[-1],
                file=sys.stderr, leave=False)


def make_info(*, path: str, start_utc: datetime, duration_s: float,
              channels: Mapping[str, ChannelSpec], leg: str = "unknown") -> RecordingInfo:
    """Convenience constructor of :class:`RecordingInfo` for in-memory recordings."""
    return RecordingInfo(path=path, start_utc=start_utc, duration_s=duration_s,
                         channels=dict(channels), leg=leg, file_format="memory")
