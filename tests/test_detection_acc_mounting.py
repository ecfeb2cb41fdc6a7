"""Accelerometers only: a cramp lying partly on a side, read by a band with mounting errors.

Tipped some 30 deg off a pure side posture, each sensor still has about half a g of gravity
in its sagittal plane, but most of gravity runs along the ankle's hinge axis; a strap sitting
a few degrees round the limb turns a share of that lateral gravity into the sagittal plane,
and a zero-g offset adds to it, so the *absolute* ankle angle read there is biased by tens of
degrees (a 30-deg pointed foot read as about 13 deg). Under ``motion.trusted_sagittal_g`` the
measured angle neither confirms nor refutes a pointed foot (it counts as unseen), and the
tremor, with the foot's turn against the shank, decides.
"""

from __future__ import annotations

import dataclasses

from test_detection_classes import _detect, _night

from firmware_sim.night import NightEvent, NightScenario
from firmware_sim.night_sensor import SensorErrors

SHANK = SensorErrors(offset_g=(0.027, -0.064, -0.019), gain=(1.01, 0.98, 1.02),
                     rotation_deg=(-2.8, 1.8, -4.9))
FOOT = SensorErrors(offset_g=(0.017, -0.026, 0.010), gain=(0.99, 1.02, 1.0),
                    rotation_deg=(6.9, 2.6, 4.7))
"""Errors of the shank and foot sensors (within the night model's ranges)."""


def _tipped_side(*, real_sensors: bool) -> NightScenario:
    cramp = NightEvent(kind="cramp", onset_s=200.0, duration_s=70.0, emg_uv=80.0, acc_g=0.05,
                       angle_deg=30.0, seed=41)
    night = _night([cramp], posture="left_side", side_roll_offset_deg=33.0,
                   shank_sensor=SHANK if real_sensors else None,  # type: ignore[arg-type]
                   foot_sensor=FOOT if real_sensors else None)  # type: ignore[arg-type]
    return dataclasses.replace(night, leg="right")


def test_side_lying_cramp_is_found_through_mounting_and_offset_errors() -> None:
    # positive control: ideal sensors show the pointed foot, and the cramp is found
    ideal = _detect(_tipped_side(real_sensors=False), "acc")
    assert len(ideal.episodes) == 1
    result = _detect(_tipped_side(real_sensors=True), "acc")
    assert len(result.episodes) == 1
    ep = result.episodes[0]
    assert abs(ep.onset_s - 200.0) < 3.0 and abs(ep.duration_s - 70.0) < 10.0
    assert "calf_tremor" in ep.evidence


def test_a_night_with_mounting_errors_and_no_cramp_is_no_episode() -> None:
    rollover = NightEvent(kind="rollover", onset_s=300.0, duration_s=6.0, emg_uv=80.0,
                          acc_g=0.3, posture="right_side", seed=52)
    lm = NightEvent(kind="lm", onset_s=120.0, duration_s=1.5, emg_uv=60.0, acc_g=0.05,
                    angle_deg=25.0, seed=31)
    night = _night([lm, rollover], posture="left_side", side_roll_offset_deg=33.0,
                   shank_sensor=SHANK, foot_sensor=FOOT)  # type: ignore[arg-type]
    assert _detect(dataclasses.replace(night, leg="right"), "acc").episodes == ()
