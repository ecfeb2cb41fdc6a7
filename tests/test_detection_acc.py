"""Accelerometers only (issue 9, defect 3): the onset is the start of the tremor's ramp-up.

A cramp's calf tremor builds up over 1-5 s with the contraction and crosses the activity
threshold part-way up; the onset is moved back to where the tremor last sat at its resting
level, as the EMG modes do with the envelope. The judged window still starts at the first
active epoch, so the ramp does not count against the run's duty.
"""

from __future__ import annotations

import numpy as np
from test_detection_classes import NO_WINDOW, _cramp, _detect, _night

from firmware_sim.night import NightEvent


def _cramps() -> list[NightEvent]:
    return [_cramp(80.0 + 120.0 * k, 40.0, emg_uv=100.0, acc_g=0.02, seed=20 + k)
            for k in range(4)]


def test_acc_only_onsets_are_within_a_second_of_the_cramps() -> None:
    cramps = _cramps()
    result = _detect(_night(cramps), "acc")
    assert len(result.episodes) == len(cramps)
    errors = np.array([e.onset_s - c.onset_s for e, c in
                       zip(result.episodes, cramps, strict=True)])
    assert np.median(np.abs(errors)) < 1.0 and np.abs(errors).max() < 2.0


def test_acc_only_leg_movements_are_not_moved_into_an_onset() -> None:
    # a leg movement 2 s before a cramp is gross movement, not the cramp's ramp-up
    lm = NightEvent(kind="lm", onset_s=76.0, duration_s=2.0, emg_uv=60.0, acc_g=0.3, seed=9)
    result = _detect(_night([lm, _cramp(80.0, 40.0, emg_uv=100.0, acc_g=0.02, seed=20)]),
                     "acc")
    assert len(result.episodes) == 1
    assert result.episodes[0].onset_s > 77.5
    # positive control: no leg movement, no episode without the cramp
    assert len(_detect(_night([lm]), "acc").episodes) == 0


def test_acc_only_weak_tremor_cramp_at_25_hz_is_one_whole_episode() -> None:
    # a weak tremor (near the 0.004-g threshold) sampled at 25 Hz: each 0.1-s epoch holds
    # under 5 independent samples, so the level is averaged (tremor_min_dof) and the run
    # lasts until the tremor is back at rest, not until its first lull
    import dataclasses

    cramp = _cramp(200.0, 70.0, emg_uv=60.0, acc_g=0.005, seed=31)
    night = dataclasses.replace(_night([cramp]), fs_acc=25.0)
    result = _detect(night, "acc")
    assert len(result.episodes) == 1
    ep = result.episodes[0]
    assert abs(ep.onset_s - 200.0) < 2.0 and abs(ep.duration_s - 70.0) < 10.0
    # positive control for the negative: the same night without the cramp has no episode
    assert len(_detect(dataclasses.replace(_night([]), fs_acc=25.0), "acc").episodes) == 0


def test_acc_only_episodes_do_not_depend_on_the_chunk_size() -> None:
    # the tremor level and the hold until rest carry their state across chunks
    import dataclasses

    from detector.replay import ArrayRecording, make_info, run_source
    from detector.signals import ChannelSpec
    from firmware_sim.night import synthesize

    cramps = [_cramp(200.0, 70.0, emg_uv=60.0, acc_g=0.005, seed=31),
              _cramp(400.0, 40.0, emg_uv=60.0, acc_g=0.02, seed=32)]
    scenario = dataclasses.replace(_night(cramps), fs_acc=25.0)
    night = synthesize(scenario, rng=np.random.default_rng(1))
    specs = {r: ChannelSpec(role=r, fs=25.0, unit="g") for r in ("shank_acc", "foot_acc")}
    info = make_info(path="chunks", start_utc=scenario.start_utc,
                     duration_s=scenario.duration_s, channels=specs)
    rec = ArrayRecording(info=info, data={"shank_acc": night.shank_acc_g,
                                          "foot_acc": night.foot_acc_g})
    results = [run_source(rec, config=NO_WINDOW, chunk_s=c).episodes for c in (0.37, 7.3, 600.0)]
    assert len(results[0]) == 2
    assert results[0] == results[1] == results[2]
