"""Tests of the physiological night model (firmware_sim.night)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from detector.errors import CrampInputError
from firmware_sim.night import (
    TRUTH_COLUMNS,
    NightEvent,
    NightScenario,
    random_scenario,
    synthesize,
    synthesize_chunks,
    truth_table,
)
from firmware_sim.night_posture import leg_specific_force
from firmware_sim.night_spectrum import emg_band_fraction

START = datetime(2024, 2, 1, 22, 0, tzinfo=UTC)
FS_EMG = 1000.0
FS_ACC = 100.0


def plantar_flexion_deg(shank_g: np.ndarray, foot_g: np.ndarray) -> np.ndarray:
    """The pipeline's documented formula: wrap(phi_foot - phi_shank) + 90 deg."""
    phi_shank = np.degrees(np.arctan2(shank_g[:, 2], shank_g[:, 0]))
    phi_foot = np.degrees(np.arctan2(foot_g[:, 2], foot_g[:, 0]))
    return (phi_foot - phi_shank + 180.0) % 360.0 - 180.0 + 90.0


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def bed_scenario(*events: NightEvent, duration_s: float = 300.0, posture: str = "supine",
                 **kw: float) -> NightScenario:
    """A night spent entirely in bed in ``posture`` with the given events."""
    bed = NightEvent(kind="in_bed", onset_s=0.0, duration_s=duration_s, posture=posture,
                     seed=11)
    return NightScenario(duration_s=duration_s, fs_emg=kw.pop("fs_emg", FS_EMG),
                         fs_acc=kw.pop("fs_acc", FS_ACC), start_utc=START,
                         events=(bed, *events), **kw)


def emg_slice(night, t0: float, t1: float) -> np.ndarray:
    return night.emg_uv[int(t0 * night.fs_emg):int(t1 * night.fs_emg)]


def acc_slice(x: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return x[int(t0 * FS_ACC):int(t1 * FS_ACC)]


# --- geometry --------------------------------------------------------------------------------

def test_reference_postures_match_the_documented_vectors() -> None:
    alpha = 35.0
    cases = {  # elev, roll, ankle -> shank, foot
        (0.0, 0.0, 0.0): ((0, 0, 1), (1, 0, 0)),
        (0.0, 0.0, alpha): ((0, 0, 1), (np.cos(np.radians(alpha)), 0,
                                        np.sin(np.radians(alpha)))),
        (90.0, 0.0, 0.0): ((-1, 0, 0), (0, 0, 1)),
        (0.0, 90.0, 20.0): ((0, 1, 0), (0, 1, 0)),
        (0.0, -90.0, 20.0): ((0, -1, 0), (0, -1, 0)),
        (0.0, 180.0, 0.0): ((0, 0, -1), (-1, 0, 0)),
    }
    for (elev, roll, ankle), (shank_ref, foot_ref) in cases.items():
        shank, foot = leg_specific_force(np.array([elev]), np.array([roll]), np.array([ankle]))
        np.testing.assert_allclose(shank[0], shank_ref, atol=1e-12)
        np.testing.assert_allclose(foot[0], foot_ref, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(elev=st.floats(-30, 120), roll=st.sampled_from([0.0, 180.0]),
       ankle=st.floats(-40, 80))
def test_formula_recovers_ankle_angle_in_sagittal_postures(elev: float, roll: float,
                                                           ankle: float) -> None:
    shank, foot = leg_specific_force(np.array([elev]), np.array([roll]), np.array([ankle]))
    np.testing.assert_allclose(np.linalg.norm(foot, axis=1), 1.0, rtol=1e-12)
    assert plantar_flexion_deg(shank, foot)[0] == pytest.approx(ankle, abs=1e-6)


# --- determinism -----------------------------------------------------------------------------

def test_same_seed_gives_identical_arrays_and_other_seed_differs() -> None:
    sc = random_scenario(duration_s=240.0, rng=np.random.default_rng(5), fs_emg=500.0,
                         fs_acc=50.0, n_cramps=1)
    assert sc == random_scenario(duration_s=240.0, rng=np.random.default_rng(5), fs_emg=500.0,
                                 fs_acc=50.0, n_cramps=1)
    a = synthesize(sc, rng=np.random.default_rng(9))
    b = synthesize(sc, rng=np.random.default_rng(9))
    c = synthesize(sc, rng=np.random.default_rng(10))
    assert a.emg_uv.shape == (120_000,) and a.shank_acc_g.shape == (12_000, 3)
    np.testing.assert_array_equal(a.emg_uv, b.emg_uv)
    np.testing.assert_array_equal(a.shank_acc_g, b.shank_acc_g)
    np.testing.assert_array_equal(a.foot_acc_g, b.foot_acc_g)
    assert not np.array_equal(a.emg_uv, c.emg_uv)


@pytest.mark.parametrize("chunk_s", [7.3, 45.0, 1000.0])
def test_chunks_concatenate_to_the_whole_night(chunk_s: float) -> None:
    sc = random_scenario(duration_s=100.5, rng=np.random.default_rng(3), fs_emg=2000.0,
                         fs_acc=32.0, n_cramps=1)
    whole = synthesize(sc, rng=np.random.default_rng(4))
    chunks = list(synthesize_chunks(sc, rng=np.random.default_rng(4), chunk_s=chunk_s))
    assert chunks[0].emg_start_sample == 0
    assert [c.emg_start_sample for c in chunks[1:]] == list(
        np.cumsum([len(c.emg_uv) for c in chunks[:-1]]))
    np.testing.assert_array_equal(np.concatenate([c.emg_uv for c in chunks]), whole.emg_uv)
    np.testing.assert_array_equal(np.concatenate([c.shank_acc_g for c in chunks]),
                                  whole.shank_acc_g)
    np.testing.assert_array_equal(np.concatenate([c.foot_acc_g for c in chunks]),
                                  whole.foot_acc_g)


# --- random scenarios: truth table consistency -----------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_random_night_truth_is_consistent(seed: int) -> None:
    duration = 8 * 3600.0
    sc = random_scenario(duration_s=duration, rng=np.random.default_rng(seed), fs_emg=FS_EMG,
                         fs_acc=FS_ACC)
    truth = truth_table(sc)
    assert tuple(truth.columns) == TRUTH_COLUMNS
    assert (truth.onset_s >= 0).all() and (truth.onset_s + truth.duration_s <= duration).all()
    assert set(truth.leg) == {sc.leg}
    bed = truth[truth.kind == "in_bed"].iloc[0]
    sleep = truth[truth.kind == "sleep"].iloc[0]
    assert 300 <= bed.onset_s <= 1200 and bed.duration_s > 7 * 3600
    assert bed.onset_s < sleep.onset_s < sleep.onset_s + sleep.duration_s < (
        bed.onset_s + bed.duration_s)
    cramps = truth[truth.kind == "cramp"]
    assert 0 <= len(cramps) <= 6
    assert cramps.duration_s.between(10, 900).all()
    assert cramps.angle_deg.between(30, 50).all()
    assert cramps.onset_s.between(sleep.onset_s, sleep.onset_s + sleep.duration_s).all()
    lm = truth[truth.kind.isin(["lm", "plm"])]
    assert lm.duration_s.between(0.5, 10).all() and (lm.angle_deg < sc.rest_ankle_deg).all()
    assert (truth[truth.kind == "twitch"].duration_s < 0.5).all()
    assert truth[truth.kind == "hypnic_jerk"].duration_s.between(0.2, 1.0).all()
    assert truth[truth.kind == "rollover"].duration_s.between(3, 45).all()
    assert truth[truth.kind == "walk"].duration_s.between(8, 120).all()
    assert truth[truth.kind == "stand"].duration_s.between(5, 180).all()
    assert set(truth[truth.kind.isin(["walk", "stretch", "stand"])].posture) <= {"standing"}
    assert 2 <= sc.standing_tonic_uv <= 90 and 0.8 <= sc.rest_emg_uv_rms <= 4
    assert 0 <= sc.standing_shift_depth <= 0.8 and 0.05 <= sc.standing_sway_cv <= 0.8
    assert sc.emg_spectrum_hz is not None
    assert 50 <= sc.emg_spectrum_hz[0] <= 80 and 110 <= sc.emg_spectrum_hz[1] <= 320
    # contraction and movement events never overlap one another
    moving = truth[truth.kind.isin(["cramp", "lm", "plm", "twitch", "hypnic_jerk", "rollover",
                                    "walk", "stretch", "stand"])].sort_values("onset_s")
    ends = (moving.onset_s + moving.duration_s).to_numpy()
    assert (moving.onset_s.to_numpy()[1:] >= ends[:-1]).all()


def test_plm_series_intervals_and_sizes() -> None:
    n_series = 0
    all_gaps: list[np.ndarray] = []
    for seed in range(12):
        sc = random_scenario(duration_s=8 * 3600.0, rng=np.random.default_rng(100 + seed),
                             fs_emg=FS_EMG, fs_acc=FS_ACC, artefacts=False)
        plm = truth_table(sc).query("kind == 'plm'")
        for _, series in plm.groupby("series"):
            n_series += 1
            onsets = np.sort(series.onset_s.to_numpy())
            gaps = np.diff(onsets)
            assert 4 <= len(onsets) <= 40
            assert gaps.min() >= 5 and gaps.max() <= 90
            all_gaps.append(gaps)
            assert (series.duration_s.to_numpy()[:-1] < gaps).all()
    assert n_series >= 5  # the model does produce PLM series
    # a short series of 4 can sit low by chance; the intervals pooled have their median 28 s
    assert 20 <= np.median(np.concatenate(all_gaps)) <= 40


def test_requested_cramp_count_is_honoured_or_refused() -> None:
    for n in (0, 3, 6):
        sc = random_scenario(duration_s=6 * 3600.0, rng=np.random.default_rng(n), fs_emg=FS_EMG,
                             fs_acc=FS_ACC, n_cramps=n)
        assert sum(e.kind == "cramp" for e in sc.events) == n
    with pytest.raises(CrampInputError, match="n_cramps"):
        random_scenario(duration_s=120.0, rng=np.random.default_rng(0), fs_emg=FS_EMG,
                        fs_acc=FS_ACC, n_cramps=6)


def test_bad_scenarios_are_refused() -> None:
    with pytest.raises(CrampInputError, match="fs_emg"):
        NightScenario(duration_s=60, fs_emg=750, fs_acc=50, start_utc=START)
    with pytest.raises(CrampInputError, match="fs_acc"):
        NightScenario(duration_s=60, fs_emg=500, fs_acc=200, start_utc=START)
    with pytest.raises(CrampInputError, match="start_utc"):
        NightScenario(duration_s=60, fs_emg=500, fs_acc=50, start_utc=datetime(2024, 1, 1))
    with pytest.raises(CrampInputError, match="duration_s"):
        NightEvent(kind="cramp", onset_s=1.0, duration_s=0.0)
    with pytest.raises(CrampInputError, match="kind"):
        NightEvent(kind="yawn", onset_s=1.0, duration_s=1.0)  # type: ignore[arg-type]


# --- physiology of the synthesised signals ----------------------------------------------------

CRAMP = NightEvent(kind="cramp", onset_s=100.0, duration_s=60.0, emg_uv=120.0, acc_g=0.012,
                   angle_deg=40.0, seed=21)


@pytest.mark.parametrize("posture", ["supine", "prone"])
def test_plantar_flexion_during_cramp_and_at_rest(posture: str) -> None:
    night = synthesize(bed_scenario(CRAMP, posture=posture), rng=np.random.default_rng(1))
    angle = plantar_flexion_deg(night.shank_acc_g, night.foot_acc_g)
    rest = np.median(angle[int(20 * FS_ACC):int(90 * FS_ACC)])
    held = np.median(angle[int(110 * FS_ACC):int(155 * FS_ACC)])
    after = np.median(angle[int(170 * FS_ACC):int(290 * FS_ACC)])
    if posture == "supine":
        assert 6 <= rest <= 14 and rest < 20  # relaxed foot: below a 20-deg detection threshold
        assert 36 <= held <= 44
    else:  # prone the foot rests pointed on the mattress, and the cramp forces it further
        assert 17 <= rest <= 48
        assert held >= max(36.0, rest + 9.0) and held <= 61.0
    assert abs(after - rest) < 1.0


def test_prone_foot_rests_pointed_and_a_cramp_pulls_it_further() -> None:
    # prone, the relaxed foot lies on its dorsum (10-35 deg past the supine rest); a cramp
    # whose drawn angle is below that still pulls the foot 10 deg past it, never beyond 60
    weak_angle = dataclasses.replace(CRAMP, angle_deg=30.0)
    rests, helds = [], []
    for seed in range(6):
        base = bed_scenario(weak_angle, posture="prone")  # the bed's seed draws the foot's rest
        sc = dataclasses.replace(base, events=tuple(dataclasses.replace(e, seed=e.seed + seed)
                                                    for e in base.events))
        night = synthesize(sc, rng=np.random.default_rng(1))
        angle = plantar_flexion_deg(night.shank_acc_g, night.foot_acc_g)
        rests.append(np.median(angle[int(20 * FS_ACC):int(90 * FS_ACC)]))
        helds.append(np.median(angle[int(110 * FS_ACC):int(155 * FS_ACC)]))
    rests_a, helds_a = np.array(rests), np.array(helds)
    assert rests_a.min() >= 17.0 and rests_a.max() <= 48.0 and np.ptp(rests_a) > 5.0
    assert np.all(helds_a >= np.maximum(29.0, rests_a + 9.0)) and helds_a.max() <= 61.0
    # control: supine, the same cramp holds the foot at its drawn 30 deg from a 10-deg rest
    supine = synthesize(bed_scenario(weak_angle, posture="supine"), rng=np.random.default_rng(1))
    sup = plantar_flexion_deg(supine.shank_acc_g, supine.foot_acc_g)
    assert np.median(sup[int(110 * FS_ACC):int(155 * FS_ACC)]) == pytest.approx(30.0, abs=3.0)


def test_cramp_emg_rms_tremor_and_stillness() -> None:
    sc = bed_scenario(CRAMP, rest_emg_uv_rms=2.0, contraction_scale=0.8)
    night = synthesize(sc, rng=np.random.default_rng(2))
    rest_rms = rms(emg_slice(night, 20, 90))
    cramp_rms = rms(emg_slice(night, 108, 156))
    assert rest_rms == pytest.approx(2.0, rel=0.1)
    assert cramp_rms == pytest.approx(120.0 * 0.8, rel=0.35)
    # irregular: 250-ms RMS envelope varies with a CV of roughly 40 %
    env = np.sqrt(emg_slice(night, 108, 156).reshape(-1, 250).__pow__(2).mean(axis=1))
    assert 0.2 <= env.std() / env.mean() <= 0.7
    # the resting EMG is band-limited to about 20-450 Hz
    f, pxx = signal.welch(emg_slice(night, 0, 95), fs=FS_EMG, nperseg=2048)
    in_band = pxx[(f >= 20) & (f <= 450)].sum() / pxx.sum()
    assert in_band > 0.9
    # calf tremor on the shank (8-40 Hz) during the cramp, not at rest; the leg stays still
    sos = signal.butter(4, [8, 40], btype="bandpass", fs=FS_ACC, output="sos")
    trem = signal.sosfiltfilt(sos, night.shank_acc_g[:, 2])
    assert rms(acc_slice(trem, 110, 155)) > 0.006
    assert rms(acc_slice(trem, 20, 90)) < 0.001
    slow = acc_slice(night.shank_acc_g, 110, 155)
    assert np.ptp(signal.medfilt(slow[:, 2], 51)) < 0.05


def test_accelerometer_rest_noise_and_gravity() -> None:
    night = synthesize(bed_scenario(acc_noise_g=0.0008), rng=np.random.default_rng(3))
    shank = acc_slice(night.shank_acc_g, 10, 290)
    foot = acc_slice(night.foot_acc_g, 10, 290)
    np.testing.assert_allclose(np.linalg.norm(shank.mean(axis=0)), 1.0, atol=0.01)
    np.testing.assert_allclose(np.linalg.norm(foot.mean(axis=0)), 1.0, atol=0.01)
    assert shank.mean(axis=0)[2] > 0.98  # supine: shin faces up
    assert 0.0005 <= shank.std(axis=0).mean() <= 0.0011


def test_leg_movement_emg_and_small_dorsiflexion() -> None:
    lm = NightEvent(kind="lm", onset_s=60.0, duration_s=2.0, emg_uv=80.0, acc_g=0.05,
                    angle_deg=0.0, seed=5)
    night = synthesize(bed_scenario(lm, duration_s=120.0), rng=np.random.default_rng(4))
    assert rms(emg_slice(night, 60.2, 61.7)) == pytest.approx(80.0, rel=0.35)
    angle = plantar_flexion_deg(night.shank_acc_g, night.foot_acc_g)
    assert np.min(acc_slice(angle, 60, 62)) < 3.0  # dorsiflexed from rest (~10 deg)
    assert np.median(acc_slice(angle, 70, 110)) > 6.0


def test_walk_is_upright_with_gait_rhythm_and_push_off_bursts() -> None:
    walk = NightEvent(kind="walk", onset_s=30.0, duration_s=60.0, emg_uv=200.0, acc_g=0.3,
                      freq_hz=1.8, seed=8)
    night = synthesize(bed_scenario(walk, duration_s=120.0), rng=np.random.default_rng(5))
    shank = acc_slice(night.shank_acc_g, 40, 80)
    assert shank[:, 0].mean() < -0.8  # shank upright: +x (knee->ankle) points down
    f, pxx = signal.welch(shank[:, 0] - shank[:, 0].mean(), fs=FS_ACC, nperseg=1024)
    assert abs(f[np.argmax(pxx)] - 1.8) < 0.15
    env = np.sqrt((emg_slice(night, 40, 80) ** 2).reshape(-1, 50).mean(axis=1))
    assert env.max() > 100 and np.percentile(env, 20) < 20  # bursts, quiet between
    lying = acc_slice(night.shank_acc_g, 5, 25)
    assert lying[:, 2].mean() > 0.95


@pytest.fixture(scope="module")
def upright_draws() -> tuple[list[NightScenario], pd.DataFrame]:
    """60 one-hour scenarios of the sweep's families (layout only, nothing synthesised)."""
    scenarios = [random_scenario(duration_s=3600.0, rng=np.random.default_rng(seed),
                                 fs_emg=FS_EMG, fs_acc=FS_ACC, family=family)
                 for seed in range(20) for family in ("mixed", "busy", "daytime")]
    return scenarios, pd.concat([truth_table(sc) for sc in scenarios])


def test_standing_physiology_spans_people_from_near_rest_to_a_weak_cramp(
        upright_draws: tuple[list[NightScenario], pd.DataFrame]) -> None:
    scenarios, _ = upright_draws
    tonic = np.array([sc.standing_tonic_uv for sc in scenarios])
    # near the lying resting level for some, above a weak cramp (15 uV x 0.5-1.2) for others
    assert tonic.min() < 3.0 and tonic.max() > 50.0
    assert max(sc.standing_sway_cv for sc in scenarios) > 0.5
    depth = np.array([sc.standing_shift_depth for sc in scenarios])
    assert depth.max() > 0.5 and depth.min() < 0.2


def test_standing_walks_and_stretches_are_short_long_slow_and_in_sequence(
        upright_draws: tuple[list[NightScenario], pd.DataFrame]) -> None:
    _, truth = upright_draws
    stands = truth[truth.kind == "stand"].duration_s
    walks = truth[truth.kind == "walk"]
    assert stands.min() < 10 and stands.max() > 150
    assert walks.duration_s.min() < 12 and (walks.duration_s < 25).mean() > 0.2
    # slow shuffles (weak push-off, under 1.2 steps/s; brisk walks are 1.2-2.1) beside brisk
    shuffle = walks[walks.freq_hz < 1.2]
    assert 0.1 < len(shuffle) / len(walks) < 0.6
    assert shuffle.emg_uv.max() <= 80 * 1.2  # truth EMG is scaled by contraction_scale
    stretches = truth[truth.kind == "stretch"]
    assert stretches.duration_s.min() < 15 and stretches.duration_s.max() > 60
    # stand-walk-stand: a walk with standing just before and just after it
    up = truth[truth.kind.isin(["stand", "walk"])].sort_values("onset_s")
    kinds = up.kind.tolist()
    assert any(kinds[i:i + 3] == ["stand", "walk", "stand"] for i in range(len(kinds) - 2))


def _standing_envelope(depth: float) -> np.ndarray:
    """1-s RMS of 200 s of standing still (tonic 30 uV, sway cv 0.1), weight shifts of depth."""
    sc = NightScenario(duration_s=200.0, fs_emg=500.0, fs_acc=50.0, start_utc=START,
                       standing_tonic_uv=30.0, standing_sway_cv=0.1,
                       standing_shift_depth=depth, rest_emg_uv_rms=1.0)
    emg = synthesize(sc, rng=np.random.default_rng(4)).emg_uv
    return np.sqrt((emg.reshape(-1, 500) ** 2).mean(axis=1))


def test_weight_shifts_move_the_standing_tonus_between_legs() -> None:
    shifting, even = _standing_envelope(0.9), _standing_envelope(0.0)
    # weight on the other leg: this calf falls towards rest; all on this one: up to 1.9x
    assert np.percentile(shifting, 5) < 12 and np.percentile(shifting, 95) > 45
    # positive control: an even stance keeps the tonus within the small sway
    assert 22 < np.percentile(even, 5) and np.percentile(even, 95) < 38


def _burst_intervals_s(step_hz: float, seed: int) -> np.ndarray:
    walk = NightEvent(kind="walk", onset_s=10.0, duration_s=80.0, emg_uv=60.0, acc_g=0.1,
                      freq_hz=step_hz, seed=seed)
    sc = NightScenario(duration_s=100.0, fs_emg=500.0, fs_acc=50.0, start_utc=START,
                       events=(walk,), rest_emg_uv_rms=0.5)
    emg = synthesize(sc, rng=np.random.default_rng(seed)).emg_uv[20 * 500:80 * 500]
    env = np.sqrt((emg.reshape(-1, 25) ** 2).mean(axis=1))  # 50 ms
    peaks, _ = signal.find_peaks(signal.savgol_filter(env, 7, 2), height=0.3 * env.max(),
                                 distance=int(0.6 / step_hz / 0.05))
    return np.diff(peaks) * 0.05


def test_a_slow_shuffle_has_irregular_strides_and_a_brisk_walk_regular_ones() -> None:
    slow = np.concatenate([_burst_intervals_s(0.8, s) for s in (1, 2, 3)])
    brisk = np.concatenate([_burst_intervals_s(1.8, s) for s in (1, 2, 3)])
    def spread(x: np.ndarray) -> float:  # interquartile range over median (robust to a
        q1, q2, q3 = np.percentile(x, [25, 50, 75])  # burst too weak to be picked)
        return float((q3 - q1) / q2)

    assert spread(slow) > 0.15
    assert spread(brisk) < 0.1


def test_rollover_changes_posture_to_a_side() -> None:
    roll = NightEvent(kind="rollover", onset_s=40.0, duration_s=8.0, emg_uv=40.0, acc_g=0.3,
                      posture="left_side", seed=2)
    sc = bed_scenario(roll, duration_s=100.0)
    night = synthesize(sc, rng=np.random.default_rng(6))
    before = acc_slice(night.shank_acc_g, 10, 38).mean(axis=0)
    after = acc_slice(night.shank_acc_g, 50, 95).mean(axis=0)
    during = acc_slice(night.shank_acc_g, 41, 47)
    assert before[2] > 0.95
    assert after[1] < -0.95  # left leg, lying on the left side: up is medial (-y)
    assert np.std(np.linalg.norm(during, axis=1)) > 0.1
    assert night.truth.set_index("kind").loc["rollover", "posture"] == "left_side"


def test_electrode_lift_flat_and_saturated_and_hum() -> None:
    flat = NightEvent(kind="electrode_lift", onset_s=20.0, duration_s=20.0, emg_uv=0.0, seed=1)
    rail = NightEvent(kind="electrode_lift", onset_s=60.0, duration_s=15.0, emg_uv=4000.0,
                      seed=2)
    hum = NightEvent(kind="hum", onset_s=100.0, duration_s=60.0, emg_uv=30.0, freq_hz=60.0,
                     seed=3)
    night = synthesize(bed_scenario(flat, rail, hum, duration_s=200.0, emg_rails_uv=4000.0),
                       rng=np.random.default_rng(7))
    assert rms(emg_slice(night, 21, 39)) < 0.2
    sat = emg_slice(night, 61, 74)
    assert np.all(np.abs(sat) == 4000.0)
    f, pxx = signal.welch(emg_slice(night, 105, 155), fs=FS_EMG, nperseg=2000)
    assert f[np.argmax(pxx)] == pytest.approx(60.0, abs=1.0)
    assert rms(emg_slice(night, 105, 155)) == pytest.approx(np.hypot(30 / np.sqrt(2), 2.0),
                                                            rel=0.2)
    assert np.max(np.abs(night.emg_uv)) <= 4000.0


def test_stretch_dorsiflexes_the_standing_foot() -> None:
    stretch = NightEvent(kind="stretch", onset_s=30.0, duration_s=40.0, emg_uv=40.0,
                         angle_deg=-20.0, seed=4)
    night = synthesize(bed_scenario(stretch, duration_s=100.0), rng=np.random.default_rng(8))
    angle = plantar_flexion_deg(night.shank_acc_g, night.foot_acc_g)
    assert np.median(acc_slice(angle, 42, 60)) == pytest.approx(-20.0, abs=2.0)
    foot = acc_slice(night.foot_acc_g, 42, 60).mean(axis=0)
    assert foot[2] > 0.97  # the foot stays flat on the floor while the knee leans


# --- the surface-EMG spectrum ------------------------------------------------------------------

def _held_contraction(fs: float, spectrum_hz: tuple[float, float] | None) -> np.ndarray:
    sc = NightScenario(duration_s=40.0, fs_emg=fs, fs_acc=50.0,
                       start_utc=datetime(2024, 1, 1, tzinfo=UTC), rest_emg_uv_rms=0.5,
                       events=(NightEvent(kind="tiptoe", onset_s=5.0, duration_s=30.0,
                                          emg_uv=100.0, angle_deg=30.0, seed=2),),
                       emg_spectrum_hz=spectrum_hz)
    return synthesize(sc, rng=np.random.default_rng(3)).emg_uv[int(10 * fs):int(30 * fs)]


def _median_hz(x: np.ndarray, fs: float) -> float:
    f, p = signal.welch(x, fs=fs, nperseg=1024)
    band = (f >= 20) & (f <= min(450, 0.45 * fs))
    c = np.cumsum(p[band])
    return float(f[band][np.searchsorted(c, c[-1] / 2)])


def test_shaped_emg_spectrum_peaks_low_and_a_200_hz_front_end_sees_part_of_it() -> None:
    shape = (60.0, 150.0)  # f_low, f_high of Shwedyk et al. 1977
    wide = _held_contraction(2000.0, shape)
    flat = _held_contraction(2000.0, None)
    # real calf surface EMG (../shared/data/real): median frequency about 94-186 Hz
    assert 90 <= _median_hz(wide, 2000.0) <= 130
    assert _median_hz(flat, 2000.0) > 200  # the flat model: 20-450 Hz, median about 235 Hz
    # the level is stated over 20-450 Hz: at 2 kHz it is all there
    assert np.std(wide) == pytest.approx(np.std(flat), rel=0.1)
    # a 200 Hz front end (20-90 Hz) keeps only its share of the shaped EMG...
    narrow = _held_contraction(200.0, shape)
    kept = np.std(narrow) / np.std(wide)
    assert kept == pytest.approx(np.sqrt(emg_band_fraction(shape, fs=200.0)), rel=0.1)
    assert 0.5 < kept < 0.75
    # ...while the flat model squeezes the whole level into it (the old, optimistic model)
    assert np.std(_held_contraction(200.0, None)) == pytest.approx(np.std(flat), rel=0.1)


def test_lofi_nights_include_noisy_front_ends_with_short_cramps() -> None:
    scenarios = [random_scenario(duration_s=3600.0, rng=np.random.default_rng(seed),
                                 fs_emg=200.0, fs_acc=FS_ACC, family="lofi")
                 for seed in range(16)]
    rest = np.array([sc.rest_emg_uv_rms for sc in scenarios])
    assert all(0.8 <= r <= 4.0 or 8.0 <= r <= 20.0 for r in rest)
    # both kinds of 8-bit-like front end: a quiet calf read as zeros and flicker, and a noisy
    # one whose resting floor is 8-20 uV RMS, all with coarse steps
    assert (rest >= 8.0).any() and (rest <= 4.0).any()
    assert all(4.0 <= sc.emg_step_uv <= 20.0 for sc in scenarios)
    cramps = pd.concat([truth_table(sc) for sc in scenarios]).query("kind == 'cramp'")
    assert len(cramps) and (cramps.duration_s.between(12.0, 20.0)).mean() > 0.5
