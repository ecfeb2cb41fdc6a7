"""One synthetic night per failure class of issue 9, each with its positive control.

Nights are hand-laid scenarios of the night model (``firmware_sim.night``): standing still,
strong side-lying cramps with vigorous tremor, a cramp while sitting, short contractions in
EMG-only mode, the ankle angle when upright, and in-bed periods on short nights.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from detector.config import DetectorConfig
from detector.pipeline.result import NightResult
from detector.replay import ArrayRecording, make_info, run_source
from detector.signals import ChannelSpec
from firmware_sim.night import NightEvent, NightScenario, synthesize

NIGHT_START = datetime(2024, 1, 15, 22, 30, tzinfo=UTC)
DAY_START = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
NO_WINDOW = DetectorConfig().replace(in_bed__night_window=None)
ROLES = {"emg+acc": ("emg", "shank_acc", "foot_acc"), "emg": ("emg",),
         "acc": ("shank_acc", "foot_acc")}


def _cramp(onset_s: float, duration_s: float, *, emg_uv: float = 120.0, acc_g: float = 0.012,
           seed: int = 5) -> NightEvent:
    return NightEvent(kind="cramp", onset_s=onset_s, duration_s=duration_s, emg_uv=emg_uv,
                      acc_g=acc_g, angle_deg=40.0, seed=seed)


def _night(events: list[NightEvent], *, duration_s: float = 600.0, posture: str = "supine",
           start: datetime = NIGHT_START, in_bed: tuple[float, float] | None = (0.0, 600.0),
           **physiology: float) -> NightScenario:
    evs = list(events)
    if in_bed is not None:
        evs.append(NightEvent(kind="in_bed", onset_s=in_bed[0],
                              duration_s=in_bed[1] - in_bed[0], posture=posture, seed=3))
    params = {"rest_emg_uv_rms": 1.5, "standing_tonic_uv": 25.0, "standing_sway_cv": 0.3}
    params.update(physiology)
    return NightScenario(duration_s=duration_s, fs_emg=1000.0, fs_acc=50.0, start_utc=start,
                         events=tuple(evs), leg="left", **params)


def _detect(scenario: NightScenario, mode: str, *, seed: int = 1,
            config: DetectorConfig = NO_WINDOW) -> NightResult:
    night = synthesize(scenario, rng=np.random.default_rng(seed))
    specs = {"emg": ChannelSpec(role="emg", fs=scenario.fs_emg, unit="uV",
                                rails=(-scenario.emg_rails_uv, scenario.emg_rails_uv)),
             "shank_acc": ChannelSpec(role="shank_acc", fs=scenario.fs_acc, unit="g"),
             "foot_acc": ChannelSpec(role="foot_acc", fs=scenario.fs_acc, unit="g")}
    data = {"emg": night.emg_uv, "shank_acc": night.shank_acc_g, "foot_acc": night.foot_acc_g}
    roles = ROLES[mode]
    info = make_info(path="class", start_utc=scenario.start_utc,
                     duration_s=scenario.duration_s, channels={r: specs[r] for r in roles},
                     leg=scenario.leg)
    return run_source(ArrayRecording(info=info, data={r: data[r] for r in roles}),
                      config=config)


def _onsets(result: NightResult) -> list[int]:
    return [round(e.onset_s) for e in result.episodes]


def _bathroom_trip(t: float) -> list[NightEvent]:
    return [NightEvent(kind="walk", onset_s=t, duration_s=30.0, emg_uv=150.0, acc_g=0.3,
                       freq_hz=1.8, seed=7),
            NightEvent(kind="stand", onset_s=t + 31.0, duration_s=120.0),
            NightEvent(kind="walk", onset_s=t + 152.0, duration_s=30.0, emg_uv=150.0,
                       acc_g=0.3, freq_hz=1.8, seed=8)]


# --- standing still: steady tonic calf activity well above the lying level --------------------

@pytest.mark.parametrize("mode", ["emg+acc", "emg"])
def test_standing_still_on_a_bathroom_trip_is_not_a_cramp(mode: str) -> None:
    trip = _bathroom_trip(150.0)
    quiet = _detect(_night(trip), mode)
    assert quiet.episodes == ()
    # positive control: the same night with a cramp in bed after the trip
    with_cramp = _detect(_night([*trip, _cramp(420.0, 40.0)]), mode)
    assert _onsets(with_cramp) == [420]


def test_standing_before_bed_and_after_getting_up_is_not_a_cramp() -> None:
    events = [NightEvent(kind="walk", onset_s=150.0, duration_s=30.0, emg_uv=150.0, acc_g=0.3,
                         freq_hz=1.8, seed=9), _cramp(400.0, 30.0)]
    result = _detect(_night(events, duration_s=900.0, in_bed=(200.0, 700.0)), "emg+acc")
    assert _onsets(result) == [400]  # standing 0-200 s and 700-900 s logged nothing
    assert [e.in_bed for e in result.episodes] == [True]


# --- strong cramps lying on a side: tremor is evidence for contraction ------------------------

@pytest.mark.parametrize("posture", ["left_side", "right_side"])
def test_strong_side_lying_cramp_with_vigorous_tremor_is_found(posture: str) -> None:
    cramp = _cramp(200.0, 60.0, emg_uv=250.0, acc_g=0.08)
    result = _detect(_night([cramp], posture=posture), "emg+acc")
    assert _onsets(result) == [200]
    ep = result.episodes[0]
    assert abs(ep.duration_s - 60.0) < 3.0
    assert "calf_tremor" in ep.evidence and "leg_still" in ep.evidence
    # the tremor is not gross movement: only the 0.5-5 Hz band moves the leg
    assert result.quality["accelerometer"]["movement_s"] < 5.0


def test_side_lying_tilted_off_pure_side_still_shows_the_ankle_angle() -> None:
    result = _detect(_night([_cramp(200.0, 60.0)], posture="left_side",
                            side_roll_offset_deg=30.0), "emg+acc")
    assert len(result.episodes) == 1
    assert result.episodes[0].plantar_flexion_deg == pytest.approx(40.0, abs=6.0)
    exact = _detect(_night([_cramp(200.0, 60.0)], posture="left_side"), "emg+acc")
    assert exact.episodes[0].plantar_flexion_deg is None  # exactly on a side: unobservable


# --- a cramp while sitting, out of bed ---------------------------------------------------------

def _afternoon(with_cramp: bool) -> NightScenario:
    events = [NightEvent(kind="sitting", onset_s=100.0, duration_s=700.0, seed=11),
              NightEvent(kind="tiptoe", onset_s=40.0, duration_s=6.0, emg_uv=200.0,
                         angle_deg=35.0, seed=12),
              NightEvent(kind="lm", onset_s=250.0, duration_s=1.5, emg_uv=60.0, acc_g=0.05,
                         angle_deg=-5.0, seed=13),
              NightEvent(kind="walk", onset_s=820.0, duration_s=40.0, emg_uv=150.0,
                         acc_g=0.3, freq_hz=1.8, seed=14)]
    if with_cramp:
        events.append(_cramp(400.0, 93.0))
    return _night(events, duration_s=900.0, start=DAY_START, in_bed=None)


@pytest.mark.parametrize("mode", ["emg+acc", "acc"])
def test_sitting_cramp_is_logged_out_of_bed(mode: str) -> None:
    result = _detect(_afternoon(with_cramp=True), mode, config=DetectorConfig())
    assert _onsets(result) == [400] or [abs(o - 400) <= 2 for o in _onsets(result)] == [True]
    ep = result.episodes[0]
    assert ep.in_bed is False and abs(ep.duration_s - 93.0) < 5.0
    assert "upright (sitting or standing): out of bed" in ep.quality_notes
    assert result.in_bed_periods == ()
    # control: the same afternoon (standing, tip-toe, fidgets, walking) without the cramp
    assert _detect(_afternoon(with_cramp=False), mode, config=DetectorConfig()).episodes == ()


# --- ten seconds is the minimum in every mode --------------------------------------------------

@pytest.mark.parametrize(("mode", "duration_s"), [("emg+acc", 11.0), ("emg", 11.0),
                                                   ("acc", 14.0)])
def test_short_cramp_is_found_in_every_mode(mode: str, duration_s: float) -> None:
    # accelerometer only sees the cramp once the tremor has risen (1-5 s): it needs 10 s
    # of tremor, so the shortest cramp it finds is a few seconds longer
    result = _detect(_night([_cramp(300.0, duration_s, acc_g=0.02)]), mode)
    assert len(result.episodes) == 1
    assert abs(result.episodes[0].onset_s - 300.0) < 3.0


def test_rollover_is_not_a_cramp_even_with_emg_only() -> None:
    roll = NightEvent(kind="rollover", onset_s=300.0, duration_s=14.0, emg_uv=80.0, acc_g=0.3,
                      posture="left_side", seed=21)
    assert _detect(_night([roll]), "emg").episodes == ()
    assert _detect(_night([roll]), "emg+acc").episodes == ()
    # control: a cramp of the same length and strength is found
    assert len(_detect(_night([_cramp(300.0, 14.0, emg_uv=80.0)]), "emg").episodes) == 1


# --- the ankle angle is physically bounded -----------------------------------------------------

def test_ankle_angle_stays_in_the_range_of_motion_when_up_and_walking() -> None:
    result = _detect(_afternoon(with_cramp=True), "emg+acc")
    angle = result.trace.plantar_flexion_deg
    assert np.isfinite(angle).mean() > 0.5  # known most of the time
    assert np.nanmin(angle) >= -45.0 and np.nanmax(angle) <= 75.0
    cramp = angle[405:490]
    assert np.nanmedian(cramp) > 25.0  # measured through the cramp, not dropped out


# --- in-bed periods agree with the episodes, also on short nights and without posture ---------

def test_short_night_has_an_in_bed_period_that_holds_its_episodes() -> None:
    events = [_cramp(900.0, 60.0), *_bathroom_trip(1500.0)]
    sc = _night(events, duration_s=3600.0, in_bed=(200.0, 3400.0))
    result = _detect(sc, "emg+acc", config=DetectorConfig())
    assert len(result.in_bed_periods) >= 1
    assert all(any(a <= e.onset_s < b for a, b in result.in_bed_periods) == e.in_bed
               for e in result.episodes)
    assert [e.in_bed for e in result.episodes] == [True]
    a, b = result.in_bed_periods[0]
    assert a < 400 and b > 3000


def test_emg_only_in_bed_period_is_the_night_window_and_says_so() -> None:
    sc = _night([_cramp(300.0, 40.0)])
    result = _detect(sc, "emg", config=DetectorConfig())
    assert result.in_bed_periods == ((0.0, 600.0),)
    assert "night window only" in result.quality["in_bed_basis"]
    assert [e.in_bed for e in result.episodes] == [True]
    day = _detect(_night([_cramp(300.0, 40.0)], start=DAY_START), "emg",
                  config=DetectorConfig())
    assert day.in_bed_periods == () and [e.in_bed for e in day.episodes] == [False]
