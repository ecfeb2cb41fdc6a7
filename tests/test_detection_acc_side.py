"""Accelerometers only (issue 9/12): a weak-tremor cramp lying (almost) exactly on a side.

Gravity then runs along the ankle's hinge axis: the absolute ankle angle is unseen (under
``motion.min_sagittal_g``), so the pulled foot cannot corroborate a weak tremor that waxes and
wanes about the full criterion. What remains visible is the foot *turning* against the shank
at the cramp's onset, read from the change of the relative angle with only a few hundredths of
a g of sagittal gravity (:class:`~detector.pipeline.motion.AnklePull`). Each case is checked
beside a side-lying night with rollovers and leg movements and no cramp (nothing found).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_detection_classes import NO_WINDOW, _cramp, _detect, _night

from detector.pipeline.motion import AnklePull, plantar_flexion_deg
from firmware_sim.night import NightEvent, NightScenario
from firmware_sim.night_posture import leg_specific_force

WEAK_G = 0.0025
"""Calf tremor RMS of a weak cramp (g): about 2.5 x a still shank's resting level."""


def _side(with_cramp: bool, *, posture: str = "right_side") -> NightScenario:
    events = [NightEvent(kind="lm", onset_s=t, duration_s=1.5, emg_uv=60.0, acc_g=0.05,
                         angle_deg=25.0, seed=s) for t, s in ((90.0, 31), (130.0, 32))]
    events += [NightEvent(kind="plm", onset_s=380.0 + 25.0 * k, duration_s=1.5, emg_uv=50.0,
                          acc_g=0.04, angle_deg=25.0, seed=40 + k) for k in range(4)]
    other = "left_side" if posture == "right_side" else "right_side"
    events += [NightEvent(kind="rollover", onset_s=470.0, duration_s=6.0, emg_uv=80.0,
                          acc_g=0.3, posture=other, seed=51),
               NightEvent(kind="rollover", onset_s=520.0, duration_s=6.0, emg_uv=80.0,
                          acc_g=0.3, posture=posture, seed=52)]
    if with_cramp:
        events.append(_cramp(200.0, 60.0, emg_uv=40.0, acc_g=WEAK_G, seed=41))
    # tipped 2-4 deg off a pure side: sagittal gravity a few hundredths of a g, far under
    # motion.min_sagittal_g (0.3 g), so the absolute ankle angle is unseen all night
    return _night(events, posture=posture, side_roll_offset_deg=4.0)


@pytest.mark.parametrize(("posture", "seed"), [("right_side", 1), ("left_side", 2),
                                               ("right_side", 3)])
def test_weak_tremor_cramp_lying_on_a_side_is_found(posture: str, seed: int) -> None:
    result = _detect(_side(with_cramp=True, posture=posture), "acc", seed=seed)
    assert len(result.episodes) == 1
    ep = result.episodes[0]
    assert abs(ep.onset_s - 200.0) < 3.0 and abs(ep.duration_s - 60.0) < 10.0
    assert ep.plantar_flexion_deg is None  # the absolute angle stayed unseen
    # negative beside it: the same side-lying night (leg movements, a PLM series, rolling to
    # the other side and back) without the cramp is no episode
    assert _detect(_side(with_cramp=False, posture=posture), "acc", seed=seed).episodes == ()


def test_side_lying_weak_cramp_is_found_by_the_pull() -> None:
    # with the pull criterion out of reach the same cramp is missed at its onset, so it is
    # the foot's turn that corroborates the weak tremor (a later 10-s stretch of it may still
    # be sustained on its own: the run is judged again after each window that was not);
    # positive control: the default rule finds it from its onset
    unreachable = NO_WINDOW.replace(motion__pull_deg=89.0)
    late = _detect(_side(with_cramp=True), "acc", config=unreachable).episodes
    assert all(ep.onset_s > 210.0 for ep in late)
    found = _detect(_side(with_cramp=True), "acc").episodes
    assert len(found) == 1 and abs(found[0].onset_s - 200.0) < 3.0


def test_ankle_pull_reads_a_turn_the_absolute_angle_cannot_and_ignores_a_roll() -> None:
    n = 40  # epochs; the foot turns from 10 to 40 deg at epoch 20, lying 3 deg off a side
    ankle = np.where(np.arange(n) < 20, 10.0, 40.0)
    roll = np.full(n, 87.0)
    roll[30:] = 80.0  # ...and the whole leg rolls a little at epoch 30, the ankle held
    shank, foot = leg_specific_force(np.full(n, 1.0), roll, ankle)
    still = np.ones(n, dtype=bool)
    assert np.isnan(plantar_flexion_deg(shank, foot, neutral_offset_deg=0.0,
                                        min_sagittal_g=0.3)).all()
    tracker = AnklePull(lookback_epochs=5, min_sagittal_g=0.02)
    # fed in two chunks: the tail carries across
    pull = np.concatenate([tracker.push(shank[:23], foot[:23], still=still[:23]),
                           tracker.push(shank[23:], foot[23:], still=still[23:])])
    assert np.isnan(pull[:5]).all()
    assert np.allclose(pull[20:25], 30.0, atol=0.5)  # the turn, for lookback epochs
    assert np.allclose(pull[5:20], 0.0, atol=0.5) and np.allclose(pull[25:], 0.0, atol=0.5)
    # moving epochs are unknown, not zero
    moving = still.copy()
    moving[17] = False
    again = AnklePull(lookback_epochs=5, min_sagittal_g=0.02).push(shank, foot, still=moving)
    assert np.isnan(again[17]) and np.isnan(again[22])
