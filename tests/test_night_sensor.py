"""Tests of the accelerometer error model (firmware_sim.night_sensor) in the night model."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pytest

from detector.errors import CrampInputError
from firmware_sim import night_events
from firmware_sim.night import NightEvent, NightScenario, random_scenario, synthesize
from firmware_sim.night_sensor import (
    GAIN_MAX,
    OFFSET_MAX_G,
    STRAP_ROLL_MAX_DEG,
    TILT_MAX_DEG,
    SensorErrors,
    draw_sensor_errors,
)

START = datetime(2024, 2, 1, 22, 0, tzinfo=UTC)


def supine_night(**kw: object) -> NightScenario:
    bed = NightEvent(kind="in_bed", onset_s=0.0, duration_s=120.0, posture="supine", seed=4)
    return NightScenario(duration_s=120.0, fs_emg=500.0, fs_acc=50.0, start_utc=START,
                         events=(bed,), acc_noise_g=0.0, **kw)  # type: ignore[arg-type]


def test_hand_built_scenarios_have_ideal_sensors_and_errors_change_only_the_acc() -> None:
    ideal = supine_night()
    assert ideal.shank_sensor is None and ideal.foot_sensor is None
    errors = SensorErrors(offset_g=(0.03, -0.02, 0.04), gain=(1.02, 0.97, 1.01),
                          rotation_deg=(8.0, -3.0, 2.0))
    real = dataclasses.replace(ideal, shank_sensor=errors)
    a = synthesize(ideal, rng=np.random.default_rng(5))
    b = synthesize(real, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.emg_uv, b.emg_uv)
    np.testing.assert_array_equal(a.foot_acc_g, b.foot_acc_g)  # positive control: untouched
    np.testing.assert_allclose(b.shank_acc_g, errors.apply(a.shank_acc_g))
    still = a.shank_acc_g[500:].mean(axis=0)
    assert abs(np.linalg.norm(still) - 1.0) < 0.01 and still[2] > 0.95  # ideal: 1 g, up
    moved = b.shank_acc_g[500:].mean(axis=0)
    assert np.abs(moved - still).max() > 0.03  # offset, gain and rotation show


def test_error_matrix_is_a_rotation_times_the_gains() -> None:
    errors = SensorErrors(gain=(1.0, 1.0, 1.0), rotation_deg=(10.0, -4.0, 3.0))
    m = errors.matrix()
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
    scaled = SensorErrors(gain=(1.05, 0.95, 1.0), rotation_deg=(10.0, -4.0, 3.0)).matrix()
    np.testing.assert_allclose(np.linalg.norm(scaled, axis=1), (1.05, 0.95, 1.0))


def test_draws_stay_in_their_documented_ranges_and_vary() -> None:
    rng = np.random.default_rng(8)
    draws = [draw_sensor_errors(rng, long_axis=0) for _ in range(300)]
    offsets = np.array([d.offset_g for d in draws])
    gains = np.array([d.gain for d in draws])
    rot = np.array([d.rotation_deg for d in draws])
    assert np.abs(offsets).max() <= OFFSET_MAX_G and np.abs(offsets).max() > 0.04
    assert np.abs(gains - 1).max() <= GAIN_MAX + 1e-12 and np.abs(gains - 1).max() > 0.02
    assert np.abs(rot[:, 0]).max() <= STRAP_ROLL_MAX_DEG and np.abs(rot[:, 0]).max() > 8
    assert np.abs(rot[:, 1:]).max() <= TILT_MAX_DEG


def test_random_nights_draw_real_sensors() -> None:
    sc = random_scenario(duration_s=600.0, rng=np.random.default_rng(2), fs_emg=500.0,
                         fs_acc=50.0)
    assert sc.shank_sensor is not None and sc.foot_sensor is not None
    assert sc.shank_sensor != sc.foot_sensor


def test_bad_sensor_errors_are_refused() -> None:
    with pytest.raises(CrampInputError):
        SensorErrors(gain=(1.0, 2.0, 1.0))
    with pytest.raises(CrampInputError):
        SensorErrors(offset_g=(0.0, np.nan, 0.0))


def test_sensor_draws_leave_the_rest_of_the_night_as_with_ideal_sensors(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def next_draw() -> float:
        rng = np.random.default_rng(31)
        random_scenario(duration_s=600.0, rng=rng, fs_emg=500.0, fs_acc=50.0)
        return float(rng.standard_normal())

    monkeypatch.setattr(night_events, "draw_sensor_errors",
                        lambda rng, long_axis: SensorErrors())
    untouched = next_draw()
    monkeypatch.setattr(night_events, "draw_sensor_errors",
                        lambda rng, long_axis: (rng.standard_normal(9), SensorErrors())[1])
    assert next_draw() == untouched  # the sensors' own draws do not shift the night's stream
    monkeypatch.undo()
    sc = random_scenario(duration_s=600.0, rng=np.random.default_rng(31), fs_emg=500.0,
                         fs_acc=50.0)
    ideal = dataclasses.replace(sc, shank_sensor=None, foot_sensor=None)
    a = synthesize(ideal, rng=np.random.default_rng(7))
    b = synthesize(sc, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.emg_uv, b.emg_uv)
    assert not np.allclose(a.foot_acc_g, b.foot_acc_g, atol=0.01)  # the sensors do differ
