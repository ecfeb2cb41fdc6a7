"""EMG-only weak cramps: the double-threshold hold (issues 9 and 12).

A weak cramp's envelope waxes and wanes about the activity threshold, so judged epoch by epoch
it fails its duty (missed) or breaks up at a dip (logged in part). The hold keeps a run going
from a threshold crossing until the EMG has sat at rest for ``episode.max_dip_s``. Each
positive night has a negative beside it (the same night without the cramp, or standing up at
the same strength) and the cramps are checked with ``evidence.emg_only_hold = false`` too.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.config import DetectorConfig
from detector.pipeline.emg_hold import EmgHold
from firmware_sim.night import NightEvent
from firmware_sim.night_types import NightScenario
from tests.test_detection_classes import _cramp, _detect, _night

NO_WINDOW = DetectorConfig().replace(in_bed__night_window=None)
NO_HOLD = NO_WINDOW.replace(evidence__emg_only_hold=False)
CRAMP_AT_S = 1400.0  # well past evidence.weak_settle_s: the standing reference is settled


def _hold() -> EmgHold:
    return EmgHold(active_ratio=4.0, active_rise_uv=8.0, rest_fraction=0.5, release_epochs=15)


def test_hold_lasts_from_a_crossing_until_the_emg_has_rested() -> None:
    rest = np.full(100, 2.0)  # threshold max(8, 10) = 10 uV; at rest up to 5 uV
    level = np.full(100, 2.0)
    level[10:60] = 7.0   # between rest and the threshold...
    level[30:40] = 3.0   # ...with a 1-s dip at rest (shorter than the release)
    active = np.zeros(100, dtype=bool)
    active[10] = active[45] = True  # crossings of the threshold
    level[80:90] = 7.0  # the same level after a 2-s rest, without a crossing
    held = _hold().push(first_epoch=0, active=active, level_uv=level, rest_uv=rest)
    assert held[10:30].all() and held[40:60].all()
    assert not held[30:40].any()  # a brief dip at rest stays a gap (the run bridges it)
    assert not held[:10].any() and not held[60:].any()  # nothing before, nor after a rest


@settings(deadline=None, max_examples=40)
@given(cuts=st.lists(st.integers(min_value=1, max_value=599), max_size=8, unique=True),
       seed=st.integers(min_value=0, max_value=2**16))
def test_hold_is_the_same_whatever_the_chunking(cuts: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    level = np.exp(rng.normal(1.5, 0.8, 600))
    level[rng.random(600) < 0.05] = np.nan  # unusable epochs
    rest = np.full(600, 2.0)
    active = level > 10.0
    whole = _hold().push(first_epoch=0, active=active, level_uv=level, rest_uv=rest)
    hold = _hold()
    bounds = [0, *sorted(cuts), 600]
    parts = [hold.push(first_epoch=a, active=active[a:b], level_uv=level[a:b],
                       rest_uv=rest[a:b]) for a, b in itertools.pairwise(bounds)]
    assert np.array_equal(np.concatenate(parts), whole)
    assert whole.sum() > active.sum()  # the check is not vacuous: the hold added epochs


def _weak_night(*, cramp_uv: float | None, duration_s: float = 80.0, seed: int = 5,
                fs_emg: float = 1000.0, posture: str = "supine",
                tonic_uv: float = 4.0) -> NightScenario:
    """Standing before bed (sets the calf's standing reference), in bed 300-1700 s, up at
    1720 s; a cramp at 1400 s unless ``cramp_uv`` is None. Lying rest 2.5 uV: the activity
    threshold is 10.5 uV over the full band."""
    events = [NightEvent(kind="stand", onset_s=0.0, duration_s=280.0),
              NightEvent(kind="stand", onset_s=1720.0, duration_s=80.0)]
    if cramp_uv is not None:
        events.append(_cramp(CRAMP_AT_S, duration_s, emg_uv=cramp_uv, seed=seed))
    scenario = _night(events, duration_s=1800.0, in_bed=(300.0, 1700.0), posture=posture,
                      rest_emg_uv_rms=2.5, standing_tonic_uv=tonic_uv, standing_sway_cv=0.3)
    return dataclasses.replace(scenario, fs_emg=fs_emg)


def _spans(scenario: NightScenario, config: DetectorConfig = NO_WINDOW) -> list[tuple[int, int]]:
    return [(round(e.onset_s), round(e.duration_s))
            for e in _detect(scenario, "emg", config=config).episodes]


def test_weak_lying_cramp_near_the_threshold_is_found_whole_with_emg_only() -> None:
    assert _spans(_weak_night(cramp_uv=None)) == []  # negative: the same night, no cramp
    spans = _spans(_weak_night(cramp_uv=10.0))
    assert len(spans) == 1
    onset, duration = spans[0]
    assert abs(onset - CRAMP_AT_S) <= 3 and abs(duration - 80) <= 5
    assert _spans(_weak_night(cramp_uv=10.0), NO_HOLD) == []  # what the hold adds


def test_weak_side_lying_cramp_at_200_hz_is_found_with_emg_only() -> None:
    kw = {"fs_emg": 200.0, "posture": "left_side"}
    assert _spans(_weak_night(cramp_uv=None, **kw)) == []
    spans = _spans(_weak_night(cramp_uv=10.0, **kw))
    assert len(spans) == 1
    onset, duration = spans[0]
    assert abs(onset - CRAMP_AT_S) <= 4 and abs(duration - 80) <= 6
    assert _spans(_weak_night(cramp_uv=10.0, **kw), NO_HOLD) == []


def test_weak_cramp_with_dips_longer_than_max_dip_is_logged_whole() -> None:
    night = _weak_night(cramp_uv=14.0, duration_s=240.0, seed=5)
    spans = _spans(night)
    assert len(spans) == 1 and abs(spans[0][0] - CRAMP_AT_S) <= 3
    assert abs(spans[0][1] - 240) <= 4
    # without the hold a dip ends it early (the rest is taken as the cramp's aftermath)
    assert [d for _, d in _spans(night, NO_HOLD)] < [230]


def test_standing_up_near_the_threshold_is_not_a_weak_cramp() -> None:
    # the calf's standing tonus at the threshold's level, before bed and on getting up
    assert _spans(_weak_night(cramp_uv=None, tonic_uv=10.0)) == []
    # control: a cramp in bed a few times stronger than that standing level is found
    spans = _spans(_weak_night(cramp_uv=40.0, tonic_uv=10.0))
    assert len(spans) == 1 and abs(spans[0][0] - CRAMP_AT_S) <= 3
