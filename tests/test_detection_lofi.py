"""200 Hz EMG through a coarse (8-bit-like) front end, EMG only: issue 9, defect 1.

Such a front end reads a resting calf as zeros (the band-passed RMS is below the flat
threshold). Those epochs are rest, not a lifted electrode: the resting level and the "begun
from rest" marks must come from them, or every cramp after the first is taken for activity
carrying on. The activity decision rests on a level averaged to a rate-independent number of
independent samples (``evidence.activity_min_dof``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_detection_classes import NO_WINDOW, _cramp, _detect, _night

from detector.config import DetectorConfig
from detector.pipeline.activity import EmgLevel, smoothing_epochs
from detector.pipeline.features import EpochFeatures
from firmware_sim.night import NightEvent

COARSE = {"rest_emg_uv_rms": 2.0, "emg_step_uv": 16.0, "emg_rails_uv": 1500.0}


def _coarse_night(events: list[NightEvent]):  # type: ignore[no-untyped-def]
    return dataclasses.replace(_night(events, duration_s=600.0, **COARSE), fs_emg=200.0)


def _leg_movements() -> list[NightEvent]:
    return [NightEvent(kind="lm", onset_s=t, duration_s=2.0, emg_uv=60.0, acc_g=0.05, seed=s)
            for s, t in enumerate((60.0, 250.0, 480.0), start=11)]


def test_every_cramp_of_a_coarse_200_hz_emg_only_night_is_found() -> None:
    cramps = [_cramp(100.0, 40.0, emg_uv=60.0, seed=5), _cramp(330.0, 30.0, emg_uv=60.0, seed=6),
              _cramp(520.0, 25.0, emg_uv=60.0, seed=7)]
    result = _detect(_coarse_night(cramps + _leg_movements()), "emg")
    assert [round(e.onset_s / 10) * 10 for e in result.episodes] == [100, 330, 520]
    assert all(abs(e.onset_s - c.onset_s) < 2.0 for e, c in
               zip(result.episodes, cramps, strict=True))


def test_coarse_200_hz_quiet_night_with_leg_movements_has_no_episode() -> None:
    result = _detect(_coarse_night(_leg_movements()), "emg")
    assert len(result.episodes) == 0
    # positive control: the same night with one cramp added
    with_cramp = _detect(_coarse_night([*_leg_movements(), _cramp(330.0, 30.0, emg_uv=60.0)]),
                         "emg")
    assert len(with_cramp.episodes) == 1 and abs(with_cramp.episodes[0].onset_s - 330.0) < 2.0


@pytest.mark.parametrize(("band_hz", "k"), [((20.0, 450.0), 1), ((20.0, 225.0), 2),
                                             ((20.0, 90.0), 6), (None, 1)])
def test_activity_level_averages_to_the_same_number_of_independent_samples(
        band_hz: tuple[float, float] | None, k: int) -> None:
    cfg = DetectorConfig()
    assert smoothing_epochs(band_hz=band_hz, epoch_s=cfg.epoch_s,
                            min_dof=cfg.evidence.activity_min_dof) == k


def _features(first: int, env: np.ndarray, flat: np.ndarray,
              missing: np.ndarray) -> EpochFeatures:
    n = env.shape[0]
    nan = np.full(n, np.nan)
    no = np.zeros(n, dtype=bool)
    return EpochFeatures(first_epoch=first, envelope_uv=np.where(missing, np.nan, env),
                         emg_valid=~flat & ~missing, emg_flat=flat, emg_saturated=no,
                         emg_hum=no, emg_missing=missing, lying=nan, movement_g=nan,
                         tremor_g=nan, plantar_flexion_deg=nan, acc_missing=no)


def test_activity_level_is_chunk_independent_and_treats_flat_as_rest() -> None:
    rng = np.random.default_rng(4)
    n = 400
    env = rng.uniform(1.0, 50.0, n)
    flat = rng.random(n) < 0.2
    missing = rng.random(n) < 0.05
    whole = EmgLevel(k=6).push_features(_features(0, env, flat, missing))
    level = EmgLevel(k=6)
    cuts = np.sort(rng.choice(np.arange(1, n), 30, replace=False))
    parts = [level.push_features(_features(int(a), env[a:b], flat[a:b], missing[a:b]))
             for a, b in zip(np.r_[0, cuts], np.r_[cuts, n], strict=True)]
    assert np.array_equal(np.concatenate(parts), whole, equal_nan=True)
    assert np.isnan(whole[missing]).all()
    # a flat epoch is rest (power 0) inside the average, not unknown
    i = int(np.flatnonzero(~flat & ~missing)[10])
    window = np.arange(i - 5, i + 1)
    power = np.where(flat[window] & ~missing[window], 0.0, env[window] ** 2)
    power = power[~missing[window]]
    assert whole[i] == pytest.approx(np.sqrt(power.mean()))
    assert NO_WINDOW.evidence.activity_min_dof > 0
