"""Replaying a synthetic night's calf EMG alone (EMG-only mode), with every live event."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from detector.config import DetectorConfig
from detector.episode import EpisodeEvent, EpisodeWithdrawn
from detector.pipeline.result import NightResult
from detector.replay import ArrayRecording, make_info, run_source
from detector.signals import ChannelSpec
from firmware_sim.night import NightScenario, synthesize


def replay_emg_only(scenario: NightScenario, *, path: str, rng_seed: int, chunk_s: float,
                    config: DetectorConfig) -> tuple[NightResult, tuple[EpisodeEvent, ...]]:
    """Synthesize ``scenario`` (``numpy.random.default_rng(rng_seed)``) and replay its EMG
    alone in ``chunk_s``-second chunks; return the result and the live events in order."""
    night = synthesize(scenario, rng=np.random.default_rng(rng_seed))
    spec = ChannelSpec(role="emg", fs=scenario.fs_emg, unit="uV",
                       rails=(-scenario.emg_rails_uv, scenario.emg_rails_uv))
    info = make_info(path=path, start_utc=scenario.start_utc, duration_s=scenario.duration_s,
                     channels={"emg": spec}, leg=scenario.leg)
    out: list[EpisodeEvent] = []
    result = run_source(ArrayRecording(info=info, data={"emg": night.emg_uv}), config=config,
                        chunk_s=chunk_s, on_event=out.append)
    return result, tuple(out)


Run = Callable[[float], tuple[NightResult, tuple[EpisodeEvent, ...]]]


def assert_withdrawal_whatever_the_chunking(run: Run,
                                            chunks_s: tuple[float, ...] = (0.37, 61.0)) -> None:
    """``run(chunk_s)`` withdraws something in 1-s chunks (the control), and gives the same
    live events and episodes in every chunk length of ``chunks_s``."""
    reference = run(1.0)
    assert any(isinstance(e, EpisodeWithdrawn) for e in reference[1])
    for chunk_s in chunks_s:
        result, events = run(chunk_s)
        assert events == reference[1]
        assert result.episodes == reference[0].episodes
