"""Detection on synthetic recordings whose truth is set explicitly."""

from __future__ import annotations

import numpy as np
import pytest
from synth import Builder

from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.replay import run_source

NO_WINDOW = DetectorConfig().replace(in_bed__night_window=None)


def detect(builder: Builder, config: DetectorConfig = NO_WINDOW, chunk_s: float = 30.0):
    return run_source(builder.recording(), config=config, chunk_s=chunk_s)


@pytest.mark.parametrize("duration_s", [12.0, 25.0, 90.0, 300.0, 720.0])
def test_cramps_of_12_s_to_12_min_found_with_onset_error_under_1_s(duration_s: float) -> None:
    rng = np.random.default_rng(int(duration_s))
    b = Builder(duration_s=duration_s + 240.0, rng=rng)
    b.cramp(120.0, duration_s)
    result = detect(b)
    assert len(result.episodes) == 1
    ep = result.episodes[0]
    assert abs(ep.onset_s - 120.0) < 1.0
    assert abs(ep.duration_s - duration_s) < max(1.5, 0.05 * duration_s)
    assert ep.plantar_flexion_deg is not None and 30.0 < ep.plantar_flexion_deg < 50.0
    assert "plantar_flexion" in ep.evidence and "sustained_emg" in ep.evidence
    assert ep.peak_emg_uv is not None and ep.peak_emg_uv > 40.0
    assert ep.confidence > 0.8
    assert ep.leg == "left"


def test_plm_series_twitches_and_short_movements_are_not_cramps() -> None:
    b = Builder(duration_s=900.0, rng=np.random.default_rng(7))
    b.plm_series(60.0, n=12, interval_s=20.0, duration_s=2.5)
    b.plm_series(400.0, n=6, interval_s=8.0, duration_s=6.0)  # long LMs close together
    b.leg_movement(700.0, 9.5)  # the longest a leg movement can be
    for t in (750.0, 760.0, 771.0):
        b.leg_movement(t, 0.3)
    assert detect(b).episodes == ()


def test_rollover_and_walking_are_not_cramps() -> None:
    b = Builder(duration_s=900.0, rng=np.random.default_rng(8))
    b.walk(100.0, 120.0)
    b.rollover(600.0, 14.0, rms_uv=90.0)
    result = detect(b)
    assert result.episodes == ()
    # the EMG recorded while the leg moved is reported as likely motion artefact
    assert 120.0 <= result.quality["emg"]["motion_s"] <= 140.0


@pytest.mark.parametrize("saturate", [False, True])
def test_electrode_lift_is_not_a_cramp_and_is_reported(saturate: bool) -> None:
    b = Builder(duration_s=600.0, rng=np.random.default_rng(9))
    b.electrode_lift(200.0, 120.0, saturate=saturate)
    result = detect(b)
    assert result.episodes == ()
    emg = result.quality["emg"]
    key = "saturated_s" if saturate else "flat_s"
    assert 115.0 <= emg[key] <= 121.0
    assert emg["usable_fraction"] == pytest.approx(1 - 120.0 / 600.0, abs=0.01)


def test_cramp_followed_by_walking_keeps_the_cramp_and_ends_it_at_walking() -> None:
    b = Builder(duration_s=600.0, rng=np.random.default_rng(10))
    b.cramp(100.0, 40.0)
    b.walk(141.0, 60.0)
    result = detect(b)
    assert len(result.episodes) == 1
    assert abs(result.episodes[0].offset_s - 140.0) < 1.5


def test_emg_only_mode_finds_cramps_and_has_no_angle() -> None:
    b = Builder(duration_s=400.0, rng=np.random.default_rng(11), with_acc=False)
    b.cramp(100.0, 30.0)
    b.plm_series(200.0, n=5, interval_s=25.0, duration_s=2.0)
    result = detect(b)
    assert result.mode == "emg"
    assert len(result.episodes) == 1
    ep = result.episodes[0]
    assert abs(ep.onset_s - 100.0) < 1.0
    assert ep.plantar_flexion_deg is None
    assert "posture unknown (no accelerometer)" in ep.quality_notes


def test_emg_only_mode_rejects_walking_by_its_rhythm() -> None:
    b = Builder(duration_s=400.0, rng=np.random.default_rng(12), with_acc=False)
    b.walk(100.0, 90.0)
    assert detect(b).episodes == ()


def test_accelerometer_only_mode_uses_foot_angle_and_tremor() -> None:
    b = Builder(duration_s=600.0, rng=np.random.default_rng(13), with_emg=False)
    b.cramp(100.0, 45.0, tremor_g=0.012)
    b.rollover(400.0, 10.0)
    result = detect(b)
    assert result.mode == "acc"
    assert len(result.episodes) == 1
    ep = result.episodes[0]
    assert abs(ep.onset_s - 100.0) < 2.5
    assert ep.peak_emg_uv is None and ep.mean_emg_uv is None
    assert set(ep.evidence) >= {"plantar_flexion", "calf_tremor"}


def test_pointed_foot_without_tremor_is_not_a_cramp_in_accelerometer_mode() -> None:
    b = Builder(duration_s=300.0, rng=np.random.default_rng(14), with_emg=False,
                rest_angle_deg=45.0)  # e.g. lying prone with the toes pointed
    assert detect(b).episodes == ()


def test_gap_is_recorded_and_never_bridged() -> None:
    b = Builder(duration_s=600.0, rng=np.random.default_rng(15))
    b.cramp(100.0, 60.0)
    b.gap("emg", 130.0, 190.0)
    b.gap("shank_acc", 130.0, 190.0)
    b.gap("foot_acc", 130.0, 190.0)
    result = detect(b)
    assert len(result.episodes) == 1
    ep = result.episodes[0]
    assert ep.offset_s <= 130.0
    assert "ended at a data gap: true end unknown" in ep.quality_notes
    emg_gaps = [g for g in result.gaps if g.role == "emg"]
    assert len(emg_gaps) == 1
    assert emg_gaps[0].start_s == pytest.approx(130.0)
    assert emg_gaps[0].samples_missing == 60_000
    assert result.quality["emg"]["missing_s"] == pytest.approx(60.0, abs=0.2)
    assert np.isnan(result.trace.emg_envelope_uv[135:185]).all()


def test_no_usable_channel_is_a_clear_error() -> None:
    b = Builder(duration_s=60.0, rng=np.random.default_rng(16), with_emg=False, with_foot=False)
    rec = b.recording()
    rec.info.channels.pop("shank_acc")
    with pytest.raises(CrampInputError, match="need calf EMG or a shank accelerometer"):
        run_source(rec, config=NO_WINDOW)


def test_emg_too_slow_for_the_band_is_a_clear_error() -> None:
    b = Builder(duration_s=60.0, rng=np.random.default_rng(17), fs_emg=150.0)
    with pytest.raises(CrampInputError, match="needs at least 200 Hz"):
        run_source(b.recording(), config=NO_WINDOW)


def test_emg_at_200_hz_and_4_khz_both_work() -> None:
    for fs in (200.0, 4000.0):
        b = Builder(duration_s=200.0, rng=np.random.default_rng(18), fs_emg=fs)
        b.cramp(60.0, 20.0)
        eps = detect(b).episodes
        assert len(eps) == 1 and abs(eps[0].onset_s - 60.0) < 1.0, fs


def test_mains_hum_is_notched_and_flagged_not_detected() -> None:
    b = Builder(duration_s=400.0, rng=np.random.default_rng(19))
    t = np.arange(b.emg.shape[0]) / b.fs_emg
    hum = (t > 100) & (t < 250)
    b.emg[hum] += 40.0 * np.sin(2 * np.pi * 50.0 * t[hum])
    result = detect(b)
    assert result.episodes == ()
    assert result.quality["emg"]["hum_s"] > 140.0


def test_emg_only_stretching_right_after_a_cramp_is_not_a_second_cramp() -> None:
    b = Builder(duration_s=400.0, rng=np.random.default_rng(31), with_acc=False)
    b.cramp(100.0, 40.0)
    b._burst(146.0, 30.0, 35.0, ramp_s=1.0)  # standing and stretching, 6 s after the cramp
    b.cramp(260.0, 30.0)                      # a later cramp still counts
    result = detect(b)
    assert [round(e.onset_s) for e in result.episodes] == [100, 260]


def test_emg_only_tells_a_rollover_burst_train_from_a_12_s_cramp() -> None:
    b = Builder(duration_s=300.0, rng=np.random.default_rng(32), with_acc=False)
    for k in range(8):  # turning over: phasic pushes of 0.8 s with quiet between them
        b._burst(100.0 + 1.8 * k, 0.8, 80.0, ramp_s=0.1)
    assert detect(b).episodes == ()
    cramp = Builder(duration_s=300.0, rng=np.random.default_rng(32), with_acc=False)
    cramp.cramp(100.0, 12.0)  # a 12-s cramp: 10 s is the minimum in every mode
    episodes = detect(cramp).episodes
    assert len(episodes) == 1 and abs(episodes[0].onset_s - 100.0) < 1.0


def test_accelerometer_only_cramp_lying_on_a_side_is_found_from_tremor() -> None:
    b = Builder(duration_s=600.0, rng=np.random.default_rng(33), with_emg=False)
    b.rollover(60.0, 8.0)  # now lying on a side: gravity along the ankle's hinge axis
    a, e = round(300.0 * b.fs_acc), round(360.0 * b.fs_acc)
    b.shank[a:e] += np.random.default_rng(34).normal(0.0, 0.01, (e - a, 3))
    result = detect(b)
    assert len(result.episodes) == 1
    ep = result.episodes[0]
    assert abs(ep.onset_s - 300.0) < 2.0 and abs(ep.duration_s - 60.0) < 3.0
    assert ep.plantar_flexion_deg is None
    assert "ankle angle not observable (lying on a side): calf tremor only" in ep.quality_notes
