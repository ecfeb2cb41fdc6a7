"""EMG-only false episodes by class (issue 9): turning over, and weak activity of an upright calf.

Without posture the EMG alone must tell them from a cramp:

- turning over is phasic pushes on the quiet floor between them: the envelope's median sits on
  that flat floor and the bursts reach far above it (``evidence.max_burst_skew``), even when
  they reach too little above it for ``max_burst_excess``;
- a weak walk (a slow shuffle with weak push-offs) after standing is carried by the EMG-only
  hold like a weak cramp, at a level clear of the standing reference, but it starts from a calf
  already carrying the body, not from a relaxed one (``evidence.weak_max_start_ratio``).

Each negative check has a cramp on the same night beside it, found.
"""

from __future__ import annotations

import numpy as np
import pytest

from detector.config import DetectorConfig
from detector.pipeline.emg_shape import emg_shape
from firmware_sim.night import NightEvent
from tests.test_detection_classes import _cramp, _detect, _night

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


UP_THEN_BED = {"duration_s": 900.0, "in_bed": (200.0, 900.0), "rest_emg_uv_rms": 2.0,
               "standing_tonic_uv": 19.0, "standing_sway_cv": 0.39,
               "standing_shift_depth": 0.75, "contraction_scale": 0.67}
"""Standing before bed with a strong tonus that shifts with the weight, then in bed."""


def _shuffle_before_bed(seed: int, emg_uv: float) -> list[NightEvent]:
    """Standing for 190 s with a slow shuffle (1 step/s, weak push-offs) from 80 s to 165 s."""
    return [NightEvent(kind="stand", onset_s=0.0, duration_s=190.0),
            NightEvent(kind="walk", onset_s=80.0, duration_s=85.0, emg_uv=emg_uv, acc_g=0.07,
                       freq_hz=1.0 + 0.01 * seed, seed=seed)]


@pytest.mark.parametrize(("seed", "emg_uv"), [(3, 14.0), (3, 20.0), (1, 20.0)])
def test_emg_only_weak_walk_from_standing_is_not_a_cramp(seed: int, emg_uv: float) -> None:
    walk = _shuffle_before_bed(seed, emg_uv)
    assert _detect(_night(walk, **UP_THEN_BED), "emg").episodes == ()
    # control: a cramp in bed on the same night, from a relaxed calf, is found
    found = _detect(_night([*walk, _cramp(500.0, 40.0, emg_uv=30.0, seed=7)], **UP_THEN_BED),
                    "emg")
    assert [abs(e.onset_s - 500.0) < 2.0 for e in found.episodes] == [True]
