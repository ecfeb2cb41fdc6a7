"""EMG only: once the person has been seen on their legs, the calf counts as rested again only
near the recording's lowest settled floor (``evidence.rest_floor_ratio``, issue 9).

The morning get-up: walks with standing between them, the calf's tonus shifting with the
weight (a standing bout at 10-14 uV against a 1-uV lying floor). The adaptive resting level
rises to the standing tonus, so the calf between walks used to read as "rested" and the next
standing bout as a fresh cramp. Positive controls: a weak cramp in bed on the same night, a
cramp after a bathroom trip once lying again, a cramp after walks on a night whose standing
tonus is as low as the lying rest (the floor test is then harmless).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.episode import EpisodeEvent, EpisodeStarted, EpisodeWithdrawn
from detector.pipeline.result import NightResult
from detector.pipeline.review import RestFloor
from firmware_sim.night import NightEvent
from tests.emg_only_helpers import replay_emg_only
from tests.test_detection_classes import NO_WINDOW, _cramp, _night

GETUP_S = 900.0  # out of bed from here to the end of the recording
CRAMP_S = 600.0  # the weak cramp in bed (positive control)
# the 8-h night 81007 of benchmarks/emg_false.py --seed 81000 (the case), by hand
PHYSIOLOGY = {"rest_emg_uv_rms": 1.07, "standing_tonic_uv": 8.0, "standing_sway_cv": 0.3,
              "standing_shift_depth": 0.75, "contraction_scale": 0.6,
              "emg_spectrum_hz": (51.4, 317.4)}


def _walk(onset_s: float, duration_s: float, seed: int) -> NightEvent:
    return NightEvent(kind="walk", onset_s=onset_s, duration_s=duration_s, emg_uv=120.0,
                      acc_g=0.3, freq_hz=1.5, seed=seed)


@cache
def _morning(rng_seed: int, chunk_s: float = 1.0) -> tuple[NightResult, tuple[EpisodeEvent, ...]]:
    """Up in the evening (two walks), in bed 300-900 s with a weak cramp at 600 s, then up:
    a minute's walk, standing, and walks of 10-20 s with standing between them."""
    events = [_cramp(CRAMP_S, 40.0, emg_uv=60.0), _walk(100.0, 20.0, 1), _walk(220.0, 20.0, 2),
              _walk(GETUP_S + 10.0, 60.0, 3), _walk(GETUP_S + 240.0, 20.0, 4),
              _walk(GETUP_S + 300.0, 11.0, 5), _walk(GETUP_S + 330.0, 10.0, 6)]
    scenario = _night(events, duration_s=GETUP_S + 480.0, in_bed=(300.0, GETUP_S),
                      **PHYSIOLOGY)
    return replay_emg_only(scenario, path="morning", rng_seed=rng_seed, chunk_s=chunk_s,
                           config=NO_WINDOW)


@pytest.mark.parametrize("rng_seed", [8, 10])
def test_standing_between_morning_walks_gives_no_episode(rng_seed: int) -> None:
    result, events = _morning(rng_seed)
    # positive control: the weak cramp in bed is found, once
    assert [abs(e.onset_s - CRAMP_S) < 2.0 for e in result.episodes] == [True]
    # nothing of the get-up becomes an episode, nor is announced after its first walk
    assert not [e for e in result.episodes if e.onset_s > GETUP_S - 5.0]
    assert not [e for e in events
                if isinstance(e, EpisodeStarted) and e.onset_s > GETUP_S + 60.0]


@cache
def _bathroom(rng_seed: int) -> tuple[NightResult, tuple[EpisodeEvent, ...]]:
    """In bed 120-600 s, up 600-700 s (walk, stand at the sink, walk), back in bed from
    700 s; a weak cramp at 760 s, lying."""
    events = [_walk(605.0, 25.0, 3), _walk(665.0, 25.0, 4), _cramp(760.0, 40.0, emg_uv=60.0),
              NightEvent(kind="in_bed", onset_s=700.0, duration_s=500.0, posture="supine",
                         seed=4)]
    scenario = _night(events, duration_s=1200.0, in_bed=(120.0, 600.0), **PHYSIOLOGY)
    return replay_emg_only(scenario, path="bathroom", rng_seed=rng_seed, chunk_s=1.0,
                           config=NO_WINDOW)


@pytest.mark.parametrize("rng_seed", [2, 4])
def test_cramp_after_a_bathroom_trip_once_lying_again_is_found(rng_seed: int) -> None:
    result, events = _bathroom(rng_seed)
    # the get-up was announced and withdrawn: the up-and-about state was entered
    assert [w.onset_s < 605.0 for w in events if isinstance(w, EpisodeWithdrawn)] == [True]
    assert [round(e.onset_s) for e in result.episodes] == [761]


@pytest.mark.parametrize("rng_seed", [1, 3])
def test_cramp_after_walks_is_found_where_standing_is_as_low_as_lying(rng_seed: int) -> None:
    events = [_walk(605.0, 25.0, 3), _walk(665.0, 25.0, 4), _cramp(720.0, 40.0, emg_uv=60.0)]
    physiology = {**PHYSIOLOGY, "rest_emg_uv_rms": 3.5, "standing_tonic_uv": 3.5,
                  "standing_shift_depth": 0.0}
    scenario = _night(events, duration_s=1000.0, in_bed=(120.0, 600.0), **physiology)
    result, _ = replay_emg_only(scenario, path="invisible", rng_seed=rng_seed, chunk_s=1.0,
                                config=NO_WINDOW)
    assert [abs(e.onset_s - 720.0) < 2.0 for e in result.episodes] == [True]


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunk_s=st.floats(min_value=0.05, max_value=200.0, allow_nan=False))
def test_the_morning_is_the_same_whatever_the_chunking(chunk_s: float) -> None:
    reference = _morning(8)
    assert reference[0].episodes  # the control: there is something to compare
    result, events = _morning(8, round(chunk_s, 2))
    assert events == reference[1]
    assert result.episodes == reference[0].episodes


def test_rest_floor_read_over_epochs_is_its_read_at_each() -> None:
    floor = RestFloor()
    floor.push(np.arange(0, 5), np.array([np.nan, 4.0, 5.0, 3.0, np.nan]))
    floor.push(np.arange(5, 8), np.array([3.5, 2.0, np.nan]))
    epochs = np.array([7, 0, 1, 2, 3, 6, 5, 100])
    got = floor.over(epochs)
    want = np.array([floor.at(int(k)) for k in epochs])
    assert np.array_equal(got, want, equal_nan=True)
    assert got.tolist()[1:] == pytest.approx([np.nan, 4.0, 4.0, 3.0, 2.0, 3.0, 2.0], nan_ok=True)
