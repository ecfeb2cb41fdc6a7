"""EMG-only discrimination from the signal itself: turning over and standing up (issue 9).

Without accelerometers the posture is unknown, so the calf EMG must show the difference:
turning over is phasic bursts on a low floor (the log envelope reaches far above its median
and little below it); standing up carries the calf's own standing tonic level, held steadily.
Each negative check has a cramp of the same strength beside it.
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
NO_WINDOW_EMG = DetectorConfig().replace(in_bed__night_window=None)


def test_burst_excess_is_large_for_bursts_on_a_floor_and_small_for_a_waxing_contraction() -> None:
    rng = np.random.default_rng(4)
    t = np.arange(10 * EPS) / EPS
    floor_and_bursts = np.full(t.shape, 20.0)
    for c in (2.0, 5.5, 8.5):  # three 1-s pushes at 4x the floor
        floor_and_bursts += 60.0 * np.exp(-0.5 * ((t - c) / 0.25) ** 2)
    sigma = 0.4  # a cramp's log-normal waxing and waning, cv about 0.4
    waxing = 60.0 * np.exp(sigma * np.convolve(rng.standard_normal(t.size + 4),
                                               np.ones(5) / np.sqrt(5), "valid"))
    valid = np.ones(t.size, dtype=bool)
    limit = DetectorConfig().evidence.max_burst_excess
    bursts = emg_shape(floor_and_bursts, valid, **SHAPE)
    cramp = emg_shape(waxing, valid, **SHAPE)
    assert bursts is not None and cramp is not None
    assert bursts.burst_excess > limit
    assert abs(cramp.burst_excess) < limit


@pytest.mark.parametrize("seed", [21, 22, 23, 24, 25, 26])
def test_emg_only_rollover_with_bursts_over_a_steady_floor_is_not_a_cramp(seed: int) -> None:
    roll = NightEvent(kind="rollover", onset_s=300.0, duration_s=16.0, emg_uv=115.0,
                      acc_g=0.3, posture="left_side", seed=seed)
    assert _detect(_night([roll], rest_emg_uv_rms=1.0), "emg").episodes == ()
    # control: a cramp of the same strength and length in the same night is found
    found = _detect(_night([roll, _cramp(420.0, 16.0, emg_uv=115.0)], rest_emg_uv_rms=1.0),
                    "emg")
    assert [abs(e.onset_s - 420.0) < 2.0 for e in found.episodes] == [True]


def _up_in_the_morning(with_cramp: bool) -> list[NightEvent]:
    """Standing and walking before bed (0-200 s), in bed, up at 700 s: standing, then a walk."""
    events = [NightEvent(kind="stand", onset_s=0.0, duration_s=140.0),
              NightEvent(kind="walk", onset_s=150.0, duration_s=30.0, emg_uv=150.0,
                         acc_g=0.3, freq_hz=1.8, seed=9),
              NightEvent(kind="walk", onset_s=718.0, duration_s=40.0, emg_uv=150.0,
                         acc_g=0.3, freq_hz=1.8, seed=10)]
    return [*events, _cramp(400.0, 30.0, emg_uv=60.0)] if with_cramp else events


@pytest.mark.parametrize("tonic_uv", [12.0, 25.0])
def test_emg_only_getting_up_in_the_morning_is_not_a_cramp(tonic_uv: float) -> None:
    kw = {"duration_s": 900.0, "in_bed": (200.0, 700.0), "standing_tonic_uv": tonic_uv}
    assert _detect(_night(_up_in_the_morning(False), **kw), "emg").episodes == ()
    # control: a cramp in bed, only a few times stronger than standing, is found
    found = _detect(_night(_up_in_the_morning(True), **kw), "emg")
    assert [abs(e.onset_s - 400.0) < 2.0 for e in found.episodes] == [True]


def test_fast_modulation_is_small_for_slow_sway_and_large_for_a_waxing_contraction() -> None:
    rng = np.random.default_rng(6)
    t = np.arange(10 * EPS) / EPS
    sway = 25.0 * np.exp(0.4 * np.sin(2 * np.pi * 0.2 * t))  # standing: cv about 0.4, 0.2 Hz
    # a cramp: log-normal waxing and waning with a corner near 2 Hz (0.25-s correlation)
    noise = np.convolve(rng.standard_normal(t.size + 2), np.ones(3) / np.sqrt(3), "valid")
    waxing = 60.0 * np.exp(0.4 * noise)
    valid = np.ones(t.size, dtype=bool)
    limit = DetectorConfig().evidence.standing_max_fast_modulation
    standing = emg_shape(sway, valid, **SHAPE)
    cramp = emg_shape(waxing, valid, **SHAPE)
    assert standing is not None and cramp is not None
    assert standing.fast_modulation < limit < cramp.fast_modulation


def test_emg_only_standing_reference_does_not_depend_on_chunking() -> None:
    from datetime import UTC, datetime

    from detector.pipeline.chain import NightPipeline
    from detector.signals import ChannelSpec, SignalBlock
    from firmware_sim.night import synthesize

    scenario = _night(_up_in_the_morning(True), duration_s=900.0, in_bed=(200.0, 700.0),
                      standing_tonic_uv=25.0)
    emg = synthesize(scenario, rng=np.random.default_rng(1)).emg_uv
    spec = {"emg": ChannelSpec(role="emg", fs=scenario.fs_emg, unit="uV")}

    def onsets(chunk: int) -> list[float]:
        pipe = NightPipeline(spec, config=NO_WINDOW_EMG, start_utc=datetime(2024, 1, 15, 22,
                                                                                tzinfo=UTC),
                             leg="left")
        for a in range(0, emg.shape[0], chunk):
            pipe.push("emg", SignalBlock(data=emg[a:a + chunk], fs=scenario.fs_emg,
                                         start_sample=a))
        pipe.flush(end_s=scenario.duration_s)
        return [e.onset_s for e in pipe.detector.episodes]

    whole = onsets(emg.shape[0])
    assert len(whole) == 1 and abs(whole[0] - 400.0) < 2.0  # the cramp, not the standing
    assert onsets(997) == whole
    assert onsets(12_345) == whole


def _up_at_midnight(*, cramp: bool) -> list[NightEvent]:
    """Standing before bed (0-140 s), in bed 200-600 s and 720-900 s, standing out of bed
    between (weight shifts, little sway: steady within seconds); with ``cramp``, a lying cramp
    at 400 s weaker than the standing tonus (35 uV against 40 uV) and steady within seconds."""
    events = [NightEvent(kind="stand", onset_s=0.0, duration_s=140.0),
              NightEvent(kind="in_bed", onset_s=200.0, duration_s=400.0, posture="supine",
                         seed=3),
              NightEvent(kind="in_bed", onset_s=720.0, duration_s=180.0, posture="supine",
                         seed=4)]
    return [*events, _cramp(400.0, 40.0, emg_uv=35.0, seed=22)] if cramp else events


STEADY_STANDING = {"duration_s": 900.0, "in_bed": None, "standing_tonic_uv": 40.0,
                   "standing_shift_depth": 0.3, "standing_sway_cv": 0.1}


@pytest.mark.parametrize("seed", [3, 5, 7])
def test_emg_only_lying_cramp_weaker_than_the_standing_tonus_is_found(seed: int) -> None:
    # the cramp's judged window is steady and under 1.5 x the standing reference, as the
    # standing bout's is: the cramp's level holds from block to block, so it is kept
    found = _detect(_night(_up_at_midnight(cramp=True), **STEADY_STANDING), "emg", seed=seed)
    assert [abs(e.onset_s - 400.0) < 2.0 for e in found.episodes] == [True]


@pytest.mark.parametrize("seed", [3, 5, 7])
def test_emg_only_steady_standing_at_that_level_is_still_not_a_cramp(seed: int) -> None:
    # control for the cramp above (same night without it): the standing bout, steady at the
    # standing level, wanders with the weight shifts from block to block
    result = _detect(_night(_up_at_midnight(cramp=False), **STEADY_STANDING), "emg", seed=seed)
    assert result.episodes == ()
    # and it is the standing evidence that set it aside, not some other rule
    assert [w.reason.startswith("at the standing level") for w in result.set_aside] == [True]


def test_steady_standing_keeps_a_held_level_and_withdraws_weight_shifts() -> None:
    from detector.pipeline.review import RunReview

    review = RunReview(config=DetectorConfig(), eps=EPS)
    rng = np.random.default_rng(8)
    n = 60 * EPS
    waxing = 30.0 * np.exp(0.12 * rng.standard_normal(n))  # one drive, fast waxing only
    weight = np.where(np.arange(n) // (8 * EPS) % 2 == 0, 0.7, 1.3)  # a shift every 8 s
    assert review.steady_standing(waxing, fast_modulation=0.12) is None
    assert review.steady_standing(waxing * weight, fast_modulation=0.12) is not None
    # too short to show two blocks after its rise: no held level seen
    assert review.steady_standing(waxing[:12 * EPS], fast_modulation=0.12) is not None
