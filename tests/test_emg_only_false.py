"""EMG-only false episodes by class (issue 9): turning over, and weak activity of an upright calf.

Without posture the EMG alone must tell them from a cramp:

- turning over is phasic pushes on the quiet floor between them: the envelope's median sits on
  that flat floor and the bursts reach far above it (``evidence.max_burst_skew``), even when
  they reach too little above it for ``max_burst_excess``;
- a weak walk (a slow shuffle with weak push-offs) after standing is carried by the EMG-only
  hold like a weak cramp, at a level clear of the standing reference, but it starts from a calf
  already carrying the body, not from a relaxed one (``evidence.weak_max_start_ratio``; shown
  on the dev nights of the night model where it was logged).

Each negative check has a cramp on the same night beside it, found.
"""

from __future__ import annotations

import numpy as np
import pytest

from detector.config import DetectorConfig
from detector.evaluation import score_events
from detector.pipeline.emg_shape import emg_shape
from detector.pipeline.result import NightResult
from detector.replay import ArrayRecording, make_info, run_source
from detector.signals import ChannelSpec
from firmware_sim.night import NightEvent, random_scenario, synthesize
from tests.test_detection_classes import NO_WINDOW, _cramp, _detect, _night

EPS = 10
SHAPE = {"eps": EPS, "smooth_s": 0.5, "lull_ratio": 0.35}


def _on_floor(envelope_uv: np.ndarray) -> bool:
    v = DetectorConfig().evidence
    shape = emg_shape(envelope_uv, np.ones(envelope_uv.size, dtype=bool), **SHAPE)
    assert shape is not None
    return shape.bursts_on_floor(min_reach=v.burst_skew_min_reach, max_skew=v.max_burst_skew)


def test_bursts_on_a_flat_floor_are_told_from_a_waxing_contraction_and_a_steady_one() -> None:
    rng = np.random.default_rng(4)
    t = np.arange(10 * EPS) / EPS
    pushes = np.full(t.shape, 40.0)  # a flat floor with four 0.6-s pushes reaching 2.5 x it
    for c in (1.5, 4.0, 6.5, 8.8):
        pushes += 60.0 * np.sin(np.pi * np.clip((t - c) / 0.6, 0.0, 1.0)) ** 2
    noise = np.convolve(rng.standard_normal(t.size + 4), np.ones(5) / np.sqrt(5), "valid")
    waxing = 60.0 * np.exp(0.4 * noise)  # a cramp's log-normal waxing and waning
    steady = 60.0 * np.exp(0.03 * noise)  # a held contraction, steady as standing
    assert _on_floor(pushes)
    assert not _on_floor(waxing)
    assert not _on_floor(steady)


@pytest.mark.parametrize(("seed", "duration_s"), [(4, 12.0), (32, 12.0), (39, 14.0), (50, 12.0)])
def test_emg_only_rollover_bursts_on_a_flat_floor_are_not_a_cramp(seed: int,
                                                                  duration_s: float) -> None:
    roll = NightEvent(kind="rollover", onset_s=300.0, duration_s=duration_s, emg_uv=60.0,
                      acc_g=0.3, posture="left_side", seed=seed)
    assert _detect(_night([roll], rest_emg_uv_rms=2.0), "emg").episodes == ()
    # control: a cramp of the same strength and length on the same night is found
    night = _night([roll, _cramp(420.0, duration_s, emg_uv=60.0)], rest_emg_uv_rms=2.0)
    assert [abs(e.onset_s - 420.0) < 2.0 for e in _detect(night, "emg").episodes] == [True]


def _model_night_emg_only(seed: int, family: str, fs_emg: float) -> tuple[NightResult, list]:
    """A 1-h night of the night model (as ``benchmarks/accuracy.py --sweep`` draws it, 50-Hz
    accelerometers) replayed from its EMG alone: the result and the truth's cramp spans."""
    rng = np.random.default_rng(seed)
    scenario = random_scenario(duration_s=3600.0, rng=rng, fs_emg=fs_emg, fs_acc=50.0,
                               family=family)
    night = synthesize(scenario, rng=rng)
    spec = ChannelSpec(role="emg", fs=fs_emg, unit="uV",
                       rails=(-scenario.emg_rails_uv, scenario.emg_rails_uv))
    info = make_info(path=f"seed{seed}", start_utc=scenario.start_utc,
                     duration_s=scenario.duration_s, channels={"emg": spec})
    result = run_source(ArrayRecording(info=info, data={"emg": night.emg_uv}), config=NO_WINDOW)
    cramps = night.truth[night.truth.kind == "cramp"]
    return result, list(zip(cramps.onset_s, cramps.duration_s, strict=True))


@pytest.mark.parametrize(("seed", "family", "fs_emg"),
                         [(2302, "quiet", 2000.0), (2013, "daytime", 1000.0)])
def test_emg_only_weak_walk_from_standing_is_not_a_cramp(seed: int, family: str,
                                                        fs_emg: float) -> None:
    # dev nights whose weak walk (a slow shuffle, weak push-offs, after standing with a
    # strong tonus) was logged as a cramp: carried by the hold, clear of the standing
    # reference, but begun from a calf already carrying the body
    result, cramps = _model_night_emg_only(seed, family, fs_emg)
    scores = score_events(result.episodes, cramps)
    assert scores.fp == 0
    # control: the night's cramps, each begun from a relaxed calf, are all found
    assert cramps and scores.tp == len(cramps)
