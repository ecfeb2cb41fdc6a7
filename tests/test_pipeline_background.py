"""The pipeline's worker thread: long blocks of the chosen roles are conditioned on it, short
ones (live) at once; errors on it reach the caller; the result is the single-thread one."""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from synth import Builder

from detector.config import DetectorConfig
from detector.pipeline import chain
from detector.pipeline.chain import NightPipeline
from detector.pipeline.emg import EmgProcessor
from detector.pipeline.result import NightResult
from detector.replay import run_source
from detector.signals import SignalBlock

CONFIG = DetectorConfig().replace(in_bed__night_window=None)


@cache
def _recording():  # type: ignore[no-untyped-def]
    b = Builder(duration_s=300.0, rng=np.random.default_rng(11), fs_emg=512.0, fs_acc=50.0)
    b.cramp(60.0, 30.0)
    b.cramp(200.0, 15.0)
    return b.recording()


def _threads_seen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    push = EmgProcessor.push

    def spy(self: EmgProcessor, block: SignalBlock):  # type: ignore[no-untyped-def]
        seen.append((threading.current_thread().name, block.n_samples))
        return push(self, block)

    monkeypatch.setattr(EmgProcessor, "push", spy)
    return seen


def _same(a: NightResult, b: NightResult) -> None:
    assert a.episodes == b.episodes
    assert a.quality == b.quality
    np.testing.assert_array_equal(a.trace.emg_envelope_uv, b.trace.emg_envelope_uv)


def test_long_blocks_run_on_the_worker_short_ones_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _threads_seen(monkeypatch)
    rec = _recording()
    one = run_source(rec, config=CONFIG, chunk_s=100.0, threads=1)
    on_main = list(seen)
    seen.clear()
    two = run_source(rec, config=CONFIG, chunk_s=100.0, threads=2)
    assert len(one.episodes) == 2
    _same(one, two)
    main = threading.current_thread().name
    assert {name for name, _ in on_main} == {main}
    assert {name for name, _ in seen} == {"cramp-pipeline_0"}  # 100-s blocks >= 60 s
    seen.clear()
    short = run_source(rec, config=CONFIG, chunk_s=10.0, threads=2)  # live-sized blocks
    assert {name for name, _ in seen} == {main}
    _same(one, short)


def test_an_error_on_the_worker_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = _recording()
    info = rec.info
    pipe = NightPipeline(info.channels, config=CONFIG, start_utc=info.start_utc,
                         background=("emg",))

    def broken(self: EmgProcessor, block: SignalBlock):  # type: ignore[no-untyped-def]
        raise RuntimeError("filter failed")

    monkeypatch.setattr(EmgProcessor, "push", broken)
    fs = info.channels["emg"].fs
    n = round(chain.BACKGROUND_MIN_S * fs)
    pipe.push("emg", SignalBlock(data=np.zeros(n), fs=fs, start_sample=0))  # queued
    with pytest.raises(RuntimeError, match="filter failed"):
        pipe.flush(end_s=info.duration_s)


def test_background_roles_must_be_channels() -> None:
    info = _recording().info
    with pytest.raises(ValueError, match="not channels"):
        NightPipeline(info.channels, config=CONFIG, start_utc=info.start_utc,
                      background=("ecg",))
    with pytest.raises(ValueError, match="threads must be 1 or 2"):
        run_source(_recording(), config=CONFIG, threads=3)


@pytest.mark.parametrize("name", ["sample_capture.cramp", "sample_night.edf"])
def test_readers_hand_over_blocks_the_worker_may_keep(name: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader must not reuse a block's array once handed over: the worker may still be
    filtering it. Replaying the sample files in 60-s blocks on two threads gives the
    one-thread result, and the worker did take blocks (positive control)."""
    from detector.io.channels import ChannelMap
    from detector.io.open import open_recording

    path = str(Path(__file__).resolve().parents[1] / "recordings" / name)
    results = []
    seen = _threads_seen(monkeypatch)
    for threads in (1, 2):
        with open_recording(path, channel_map=ChannelMap(),
                            min_emg_fs_hz=CONFIG.emg.min_fs_hz) as source:
            results.append(run_source(source, config=DetectorConfig(), chunk_s=60.0,
                                      threads=threads))
    assert results[0].episodes
    _same(results[0], results[1])
    assert "cramp-pipeline_0" in {name for name, _ in seen}


@pytest.mark.parametrize(("cpus", "load", "want"), [(2, 0.2, 2), (2, 1.4, 2), (2, 1.6, 1),
                                                    (1, 0.0, 1), (8, 7.0, 2), (8, 7.8, 1)])
def test_default_threads_wants_a_spare_cpu(cpus: int, load: float, want: int,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from detector import replay

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert replay.default_threads() == want


def test_an_accelerometer_is_filtered_on_the_worker_and_summed_by_the_caller(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A background accelerometer's filters run on the worker, its epoch sums on the calling
    thread (which the EMG leaves the lighter one); the result is the one-thread result, and
    with one thread both halves run on the caller (positive control of the spy)."""
    from detector.pipeline.motion import AccProcessor

    seen: list[tuple[str, str]] = []
    for half in ("condition", "epochs"):
        original = getattr(AccProcessor, half)

        def spy(self: AccProcessor, arg, _half=half, _original=original):  # type: ignore[no-untyped-def]
            seen.append((_half, threading.current_thread().name))
            return _original(self, arg)

        monkeypatch.setattr(AccProcessor, half, spy)
    rec = _recording()
    one = run_source(rec, config=CONFIG, chunk_s=100.0, threads=1)
    main = threading.current_thread().name
    assert set(seen) == {("condition", main), ("epochs", main)}
    seen.clear()
    two = run_source(rec, config=CONFIG, chunk_s=100.0, threads=2)
    _same(one, two)
    np.testing.assert_array_equal(one.trace.movement_g, two.trace.movement_g)
    assert set(seen) == {("condition", "cramp-pipeline_0"), ("condition", main),
                         ("epochs", main)}  # the shank's filters stay on the caller
