"""The result must not depend on how the stream is chunked (one code path, live or replay)."""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synth import Builder

from detector.config import DetectorConfig
from detector.pipeline.chain import NightPipeline
from detector.pipeline.result import NightResult
from detector.signals import SignalBlock

CONFIG = DetectorConfig().replace(in_bed__night_window=None)


@cache
def _recording():  # type: ignore[no-untyped-def]
    b = Builder(duration_s=240.0, rng=np.random.default_rng(3), fs_emg=512.0, fs_acc=50.0)
    b.cramp(40.0, 25.0)
    b.plm_series(100.0, n=4, interval_s=12.0, duration_s=2.0)
    b.cramp(170.0, 14.0)
    b.gap("emg", 150.0, 151.37)
    b.gap("foot_acc", 200.0, 203.0)
    return b.recording()


def _feed(cuts: dict[str, list[int]], order_seed: int,
          background: tuple[str, ...] = ()) -> NightResult:
    rec = _recording()
    info = rec.info
    pipe = NightPipeline(info.channels, config=CONFIG, start_utc=info.start_utc, leg="left",
                         background=background)
    pieces: dict[str, list[SignalBlock]] = {}
    for role, spec in info.channels.items():
        blocks: list[SignalBlock] = []
        for _, blk in ((r, b) for r, b in rec.blocks(info.duration_s + 1) if r == role):
            bounds = sorted({0, blk.n_samples, *(c % max(blk.n_samples, 1) for c in cuts[role])})
            for a, b in itertools.pairwise(bounds):
                blocks.append(SignalBlock(data=blk.data[a:b], fs=spec.fs,
                                          start_sample=blk.start_sample + a))
        pieces[role] = blocks
    rng = np.random.default_rng(order_seed)
    queues = {r: list(reversed(v)) for r, v in pieces.items()}
    while any(queues.values()):
        role = rng.choice([r for r, q in queues.items() if q])
        pipe.push(str(role), queues[str(role)].pop())
    pipe.flush(end_s=info.duration_s)
    return pipe.result(info)


@cache
def _reference() -> NightResult:
    return _feed({"emg": [], "shank_acc": [], "foot_acc": []}, 0)


cut_lists = st.lists(st.integers(min_value=1, max_value=10_000_000), max_size=60)


# blocks of 60 s or more of these roles go to the worker thread (BACKGROUND_MIN_S); the
# recording is 240 s, so the random cuts mix worker and calling-thread blocks of one role
backgrounds = st.sampled_from([(), ("emg",), ("emg", "foot_acc"),
                               ("emg", "shank_acc", "foot_acc")])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(emg=cut_lists, shank=cut_lists, foot=cut_lists, order=st.integers(0, 2**32 - 1),
       background=backgrounds)
def test_random_chunking_gives_identical_episodes(emg: list[int], shank: list[int],
                                                  foot: list[int], order: int,
                                                  background: tuple[str, ...]) -> None:
    ref = _reference()
    got = _feed({"emg": emg, "shank_acc": shank, "foot_acc": foot}, order, background)
    assert len(ref.episodes) == 2
    assert got.episodes == ref.episodes
    assert got.quality == ref.quality
    assert got.gaps == ref.gaps
    np.testing.assert_array_equal(got.trace.emg_envelope_uv, ref.trace.emg_envelope_uv)
    np.testing.assert_array_equal(got.trace.plantar_flexion_deg, ref.trace.plantar_flexion_deg)
