"""EMG only: what a relaxed calf shows is the channel's own noise, not a fixed microvolt level
(issue 9: 200-Hz EMG with coarse 8-bit-like steps and short 12-20 s cramps).

A brief run judged before the recording has shown the calf both standing and at rest is
withdrawn when it starts from a calf already active. On an 8-bit-like front end whose resting
noise is 14 uV RMS (a step of 12 uV), a night lying throughout has one resting level, well over
``evidence.relaxed_max_uv``, and its short cramps start from it: they must be found. A person
standing at the start of such a recording, and of a clean one, is still withdrawn.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np
import pytest

from detector.config import DetectorConfig
from detector.episode import EpisodeEvent, EpisodeStarted, EpisodeWithdrawn
from detector.pipeline.emg_step import StepEstimate
from detector.pipeline.result import NightResult
from detector.pipeline.review import relaxed_level_uv
from firmware_sim.night import NightEvent
from tests.emg_only_helpers import replay_emg_only
from tests.test_detection_classes import DAY_START, NO_WINDOW, _cramp, _night

COARSE_NOISY = {"rest_emg_uv_rms": 14.0, "emg_step_uv": 12.0, "emg_rails_uv": 1500.0}
"""An int8-like front end: 12-uV steps, 14 uV RMS of noise at rest, rails at 1.5 mV."""
CRAMPS = ((200.0, 15.0), (420.0, 18.0))  # (onset, length, s): short cramps lying
BOUTS_S = ((20.0, 14.0), (150.0, 16.0))  # tip-toe bouts standing (see test_tiptoe_upright_start)
CRAMP_SITTING_S = 420.0


@cache
def _lying(chunk_s: float = 1.0) -> tuple[NightResult, tuple[EpisodeEvent, ...]]:
    events = [_cramp(a, d, emg_uv=120.0, seed=5 + i) for i, (a, d) in enumerate(CRAMPS)]
    scenario = _night(events, duration_s=600.0, **COARSE_NOISY)
    scenario = dataclasses.replace(scenario, fs_emg=200.0)
    return replay_emg_only(scenario, path="noisy-lying", rng_seed=4, chunk_s=chunk_s,
                           config=NO_WINDOW)


def test_short_cramps_on_a_noisy_coarse_channel_lying_throughout_are_found() -> None:
    result, events = _lying()
    onsets = [e.onset_s for e in result.episodes]
    assert len(onsets) == len(CRAMPS)
    assert all(abs(o - a) < 2.0 for o, (a, _) in zip(onsets, CRAMPS, strict=True))
    assert not any(isinstance(e, EpisodeWithdrawn) for e in events)


def test_noisy_channel_result_is_the_same_whatever_the_chunking() -> None:
    reference = _lying(1.0)
    assert len(reference[0].episodes) == len(CRAMPS)  # control: something to compare
    for chunk_s in (0.37, 61.0):
        result, events = _lying(chunk_s)
        assert events == reference[1]
        assert result.episodes == reference[0].episodes


@cache
def _upright(front_end: str) -> tuple[NightResult, tuple[EpisodeEvent, ...]]:
    events = [NightEvent(kind="tiptoe", onset_s=a, duration_s=d, emg_uv=150.0, angle_deg=30.0,
                         seed=60 + i) for i, (a, d) in enumerate(BOUTS_S)]
    events.append(_cramp(CRAMP_SITTING_S, 15.0, emg_uv=60.0))
    events.append(NightEvent(kind="sitting", onset_s=240.0, duration_s=360.0, seed=11))
    physiology = COARSE_NOISY if front_end == "noisy" else {}
    scenario = _night(events, duration_s=600.0, start=DAY_START, in_bed=None,
                      standing_tonic_uv=25.0, standing_sway_cv=0.3, **physiology)
    if front_end == "noisy":
        scenario = dataclasses.replace(scenario, fs_emg=200.0)
    return replay_emg_only(scenario, path=f"upright-{front_end}", rng_seed=3, chunk_s=1.0,
                           config=NO_WINDOW)


@pytest.mark.parametrize("front_end", ["noisy", "clean"])
def test_standing_at_the_start_is_still_withdrawn(front_end: str) -> None:
    result, events = _upright(front_end)
    # positive control: the 15-s cramp sitting, later in the same recording, is logged
    assert [abs(e.onset_s - CRAMP_SITTING_S) < 2.0 for e in result.episodes] == [True]
    started = [e.onset_s for e in events if isinstance(e, EpisodeStarted)]
    withdrawn = [e for e in events if isinstance(e, EpisodeWithdrawn)]
    for a, d in BOUTS_S:  # each bout was announced, then withdrawn as begun from standing
        assert any(a - 5.0 < s < a + d for s in started)
        assert any(a - 5.0 < w.onset_s < a + d and "already active" in w.reason
                   for w in withdrawn)


def test_step_estimate_is_the_lattice_whatever_the_chunking() -> None:
    rng = np.random.default_rng(0)
    coarse = np.round(14.0 * rng.standard_normal(4000) / 12.0) * 12.0
    fine = 14.0 * rng.standard_normal(4000)
    seen = set()
    for chunks in ((4000,), (1, 999, 3000), (37,) * 108 + (4,)):
        est = StepEstimate(fs=200.0, epochs_per_s=10)
        smooth = StepEstimate(fs=200.0, epochs_per_s=10)
        start = 0
        for n in chunks:
            est.push(coarse[start:start + n], start_sample=start)
            smooth.push(fine[start:start + n], start_sample=start)
            start += n
        assert est.at(199) == pytest.approx(12.0)
        assert smooth.at(199) < 0.1  # no lattice: the estimate says nothing
        assert np.isnan(est.at(-1))
        seen.add(tuple((est.at(k), smooth.at(k)) for k in range(0, 200, 7)))
    assert len(seen) == 1  # the same at every epoch whatever the chunking


def test_relaxed_level_follows_the_channel() -> None:
    cfg = DetectorConfig()
    v = cfg.evidence
    # a fine converter (or nothing known): the fixed level
    assert relaxed_level_uv(cfg, lowest_uv=14.0, step_uv=1e-4) == v.relaxed_max_uv
    assert relaxed_level_uv(cfg, lowest_uv=np.nan, step_uv=12.0) == v.relaxed_max_uv
    assert relaxed_level_uv(cfg, lowest_uv=14.0, step_uv=np.nan) == v.relaxed_max_uv
    # a coarse one: within relaxed_floor_ratio of the lowest rest, under relaxed_step_ratio
    # steps (a standing tonus in the lowest level is bounded by the step)
    assert relaxed_level_uv(cfg, lowest_uv=14.0, step_uv=12.0) == pytest.approx(
        v.relaxed_floor_ratio * 14.0)
    assert relaxed_level_uv(cfg, lowest_uv=40.0, step_uv=12.0) == pytest.approx(
        v.relaxed_step_ratio * 12.0)


def test_step_estimate_stops_where_a_finer_step_changes_nothing() -> None:
    """A 16-bit-like channel (0.25-uV steps) needs only its first samples looked at: once the
    estimate is at or under ``enough_uv`` (what the relaxed level can still use) it stops,
    and the relaxed level is the same as with the step fully refined; a coarse channel
    (12-uV steps, over ``enough_uv``) is refined to its step as before (positive control)."""
    cfg = DetectorConfig()
    v = cfg.evidence
    enough = v.relaxed_max_uv / v.relaxed_step_ratio
    rng = np.random.default_rng(1)
    fine16 = np.round(20.0 * rng.standard_normal(6000) / 0.25) * 0.25
    coarse = np.round(14.0 * rng.standard_normal(6000) / 12.0) * 12.0
    for chunks in ((6000,), (1, 2999, 3000), (53,) * 113 + (11,)):
        quick = StepEstimate(fs=1000.0, epochs_per_s=10, enough_uv=enough)
        full = StepEstimate(fs=1000.0, epochs_per_s=10)
        lattice = StepEstimate(fs=1000.0, epochs_per_s=10, enough_uv=enough)
        start = 0
        for n in chunks:
            quick.push(fine16[start:start + n], start_sample=start)
            full.push(fine16[start:start + n], start_sample=start)
            lattice.push(coarse[start:start + n], start_sample=start)
            start += n
        assert full.at(59) == pytest.approx(0.25)
        assert 0.25 <= quick.at(59) <= enough  # stopped once it could change nothing
        assert quick._marks[-1][0] < 5  # within the first half-second of samples
        for lowest in (3.0, 14.0, 40.0):
            assert relaxed_level_uv(cfg, lowest_uv=lowest, step_uv=quick.at(59)) == \
                relaxed_level_uv(cfg, lowest_uv=lowest, step_uv=full.at(59))
        assert lattice.at(59) == pytest.approx(12.0)
