"""Standing on tip-toe is a voluntary stance, not a cramp (issue 9: a daytime recording with a
sitting cramp, fidgets and tip-toe standing).

On the toes the foot is pointed and the calf contracts (with its own physiological tremor), as
in a cramp; what tells them apart is the leg's balance sway under a body balancing on it
(``evidence.balance_sway_deg``). A cramp while sitting (the shank resting, still) must still be
logged, with or without calf tremor.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_detection_classes import DAY_START, _cramp, _detect, _night, _onsets

from detector.config import DetectorConfig
from detector.pipeline.emg_shape import EmgShape
from detector.pipeline.evidence import AccRule, EmgAccRule, RunEvidence
from detector.pipeline.sway import sway_deg
from firmware_sim.night import NightEvent

CFG = DetectorConfig()


def _afternoon(*, cramp_tremor_g: float) -> object:
    """Four 25-s tip-toe bouts standing, then a 60-s cramp sitting (at 400 s)."""
    events = [NightEvent(kind="sitting", onset_s=300.0, duration_s=300.0, seed=11)]
    events += [NightEvent(kind="tiptoe", onset_s=30.0 + 60.0 * k, duration_s=25.0,
                          emg_uv=150.0, angle_deg=30.0, seed=30 + k) for k in range(4)]
    events.append(_cramp(400.0, 60.0, acc_g=cramp_tremor_g, seed=3))
    return _night(events, duration_s=700.0, start=DAY_START, in_bed=None)


@pytest.mark.parametrize(("mode", "cramp_tremor_g"), [("emg+acc", 0.012), ("emg+acc", 0.0),
                                                      ("acc", 0.012)])
def test_tiptoe_bouts_are_no_cramp_and_the_sitting_cramp_is_found(
        mode: str, cramp_tremor_g: float) -> None:
    result = _detect(_afternoon(cramp_tremor_g=cramp_tremor_g), mode, seed=3, config=CFG)
    # positive control in the same recording: the sitting cramp (with tremor, or in the fused
    # mode without: the resting shank does not sway) is logged, out of bed
    assert len(_onsets(result)) == 1 and abs(_onsets(result)[0] - 400) <= 2
    assert result.episodes[0].in_bed is False
    # negative: none of the four tip-toe bouts (30-225 s) is an episode
    assert all(e.onset_s > 300.0 for e in result.episodes)


@pytest.mark.parametrize("mode", ["emg+acc", "acc"])
def test_sitting_cramp_with_vigorous_tremor_is_not_taken_for_sway(mode: str) -> None:
    # at 25 Hz a 0.09-g calf tremor aliases into the 0.1-s gravity means as jitter of the
    # resting shank's incline; it is not the slow sway of a balancing body
    events = [NightEvent(kind="sitting", onset_s=100.0, duration_s=400.0, seed=11),
              _cramp(200.0, 60.0, acc_g=0.09, seed=5)]
    scenario = dataclasses.replace(_night(events, duration_s=600.0, start=DAY_START,
                                          in_bed=None), fs_acc=25.0)
    result = _detect(scenario, mode, seed=2, config=CFG)
    assert len(_onsets(result)) == 1 and abs(_onsets(result)[0] - 200) <= 2


def test_sway_is_the_median_change_between_block_means() -> None:
    t = np.arange(200) / 10.0  # 20 s of 0.1-s epochs
    swaying = 85.0 + 1.5 * np.sin(2 * np.pi * 0.7 * t)
    still = np.full(200, 85.0) + 0.01 * np.random.default_rng(0).standard_normal(200)
    assert sway_deg(swaying, block_epochs=5) > 0.5
    assert sway_deg(still, block_epochs=5) < 0.02
    # a resting shank with a vigorous calf tremor aliased into the 0.1-s means: jitter from
    # epoch to epoch, which the block means keep 1/sqrt(5) of, is not sway
    jitter = 1.0 * np.random.default_rng(1).standard_normal(200)
    assert sway_deg(still + jitter, block_epochs=5) < 0.1
    assert sway_deg(swaying + jitter, block_epochs=5) > 0.5
    with_gap = swaying.copy()
    with_gap[50:60] = np.nan  # unknown blocks are left out, not bridged
    assert sway_deg(with_gap, block_epochs=5) == pytest.approx(sway_deg(swaying, block_epochs=5),
                                                               rel=0.2)
    assert sway_deg(swaying[:15], block_epochs=5) is None  # too short to tell
    assert sway_deg(None, block_epochs=5) is None


def _run(*, lying: float, sway: float | None, pf_deg: float = 30.0) -> RunEvidence:
    return RunEvidence(duty=1.0, peak_uv=200.0, mean_uv=150.0, plantar_flexion_deg=pf_deg,
                       tremor_fraction=0.9, moving_fraction=0.0, lying_fraction=lying,
                       hum_fraction=0.0, valid_fraction=1.0,
                       shape=EmgShape(steadiness=0.8, rhythm=0.1, lull_fraction=0.0),
                       rested_before=True, sway_deg=sway)


@pytest.mark.parametrize("rule", [EmgAccRule(CFG), AccRule(CFG, has_foot=True)])
def test_pointed_foot_on_a_swaying_upright_leg_is_tiptoe(rule: EmgAccRule | AccRule) -> None:
    sway = 2 * CFG.evidence.balance_sway_deg
    assert not rule.plausible(_run(lying=0.0, sway=sway))  # on the toes, balancing
    # controls: the same run on a resting shank (sitting), lying, unseen sway, or flat-footed
    assert rule.plausible(_run(lying=0.0, sway=0.01))
    assert rule.plausible(_run(lying=1.0, sway=sway))
    assert rule.plausible(_run(lying=0.0, sway=None))
    assert rule.plausible(_run(lying=0.0, sway=sway, pf_deg=5.0))


@pytest.mark.parametrize("rule", [EmgAccRule(CFG), AccRule(CFG, has_foot=True)])
def test_a_low_heel_raise_is_tiptoe_too(rule: EmgAccRule | AccRule) -> None:
    # a 4-cm heel raise on a 17-cm lever is about 14 deg: under the cramp's pointing
    # criterion (motion.plantar_flexion_deg, 20), still off the flat foot
    sway = 2 * CFG.evidence.balance_sway_deg
    assert not rule.plausible(_run(lying=0.0, sway=sway, pf_deg=14.0))
    assert rule.plausible(_run(lying=0.0, sway=sway, pf_deg=5.0))  # flat-footed: control
    old_cfg = CFG.replace(evidence__tiptoe_min_pf_deg=20.0)
    old = AccRule(old_cfg, has_foot=True) if isinstance(rule, AccRule) else EmgAccRule(old_cfg)
    assert old.plausible(_run(lying=0.0, sway=sway, pf_deg=14.0))  # the defect


def _low_tiptoes() -> object:
    """Four 16-s tip-toe bouts standing, the heel raised 14-18 deg, then a 60-s cramp
    sitting (at 400 s)."""
    events = [NightEvent(kind="sitting", onset_s=300.0, duration_s=300.0, seed=11)]
    events += [NightEvent(kind="tiptoe", onset_s=30.0 + 60.0 * k, duration_s=16.0,
                          emg_uv=180.0, angle_deg=14.0 + k, seed=40 + k) for k in range(4)]
    events.append(_cramp(400.0, 60.0, acc_g=0.012, seed=3))
    return _night(events, duration_s=700.0, start=DAY_START, in_bed=None)


def test_low_tiptoe_bouts_are_no_cramp() -> None:
    result = _detect(_low_tiptoes(), "emg+acc", seed=3, config=CFG)
    assert len(_onsets(result)) == 1 and abs(_onsets(result)[0] - 400) <= 2  # the cramp
    assert all(e.onset_s > 300.0 for e in result.episodes)  # none of the tip-toe bouts
