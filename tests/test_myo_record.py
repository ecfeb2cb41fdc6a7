"""Recording a Myo armband on the calf through the real BleakClient path and a bumble peripheral."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from bumble.link import LocalLink
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from other_band_helpers import ORIGIN_UNIX_S, Run, record
from scipy.signal import resample_poly

from detector.ble.other_bands import MyoSession
from detector.capture.reader import read_capture
from detector.config import DetectorConfig
from detector.episode import EpisodeEnded, EpisodeStarted
from detector.io.channels import ChannelMap
from detector.io.open import open_recording
from detector.profiles.myo import MYO_EMG_UV_PER_COUNT_ASSUMED, decode_emg, decode_imu
from detector.replay import run_source
from firmware_sim.firmware import ManualClock
from firmware_sim.myo_sim import (
    MyoPeripheral,
    emg_uv_to_counts,
    encode_emg_packet,
    encode_imu_packet,
)
from firmware_sim.night import random_scenario, synthesize

STEP_S = 0.1


def _run(tmp: Path, emg_counts: np.ndarray, accel_g: np.ndarray, *, duration_s: float,
         outages: tuple[tuple[float, float], ...]) -> Run:
    def factory(clock: ManualClock) -> MyoPeripheral:
        return MyoPeripheral.on_link(LocalLink(), emg_counts=emg_counts, imu_accel_g=accel_g,
                                     clock=clock)

    return asyncio.run(record(factory, MyoSession, tmp, duration_s=duration_s,
                              outages=outages, step_s=STEP_S))


def _shift(block_data: np.ndarray, truth: np.ndarray, guess: int, reach: int) -> list[int]:
    """Offsets ``o`` (|o - guess| <= reach) at which ``block_data`` equals ``truth[o:]``."""
    n = block_data.shape[0]
    return [o for o in range(max(0, guess - reach), guess + reach + 1)
            if o + n <= truth.shape[0] and np.array_equal(truth[o:o + n], block_data)]


def test_myo_samples_are_exact_and_a_dropout_gap_is_estimated(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    counts = rng.integers(-128, 128, (200 * 70, 8))
    accel = np.round(rng.normal(0.0, 1.0, (50 * 70, 3)) * 2048) / 2048
    run = _run(tmp_path, counts, accel, duration_s=60.0, outages=((25.0, 4.0),))
    s = run.summary
    assert s.connections == 2 and s.dropouts == 1 and s.result is not None
    assert run.band.commands[:2] == [bytes([9, 1, 1]), bytes([1, 3, 3, 1, 0])]
    for role, truth, fs in (("emg", counts[:, 0] * MYO_EMG_UV_PER_COUNT_ASSUMED, 200),
                            ("shank_acc", accel, 50)):
        blocks = run.collector.blocks[role]
        _, _, jumps = run.collector.joined(role)
        assert len(jumps) == 1
        # before the dropout every sample sits at its exact index (one fixed offset)
        offsets = {o for b in blocks if b.start_sample < 20 * fs
                   for o in _shift(b.data, truth, 0, 0 + 40 * fs)[:1]}
        offset = min(offsets)
        gap_at = next(i for i, b in enumerate(blocks[1:], 1)
                      if b.start_sample != blocks[i - 1].end_sample)
        for b in blocks[:gap_at]:
            np.testing.assert_array_equal(b.data, truth[offset + b.start_sample:
                                                        offset + b.end_sample])
        # after it, exact values at an index estimated from the host clock: off by at most
        # one step of the simulated host clock
        after = blocks[gap_at]
        true_start = _shift(after.data, truth, offset + after.start_sample,
                            round(STEP_S * fs) + 2)
        assert len(true_start) == 1
        for b in blocks[gap_at:]:
            o = true_start[0] - after.start_sample
            np.testing.assert_array_equal(b.data, truth[o + b.start_sample: o + b.end_sample])
        assert s.counts[role].lost == jumps[0] >= 4 * fs - round(STEP_S * fs) - 2
    assert any("estimated from the host clock" in n for n in run.collector.notes)
    capture = read_capture(tmp_path / "night.cramp")
    assert {f"myo:emg{k}" for k in range(4)} | {"myo:imu"} <= set(capture.sources.values())
    gaps = [r for r in capture.records if getattr(r, "kind", None) == "gap"]
    assert len(gaps) == 2 and all(g.fields["estimated"] for g in gaps)


def test_a_cramp_on_a_myo_is_detected_live_and_on_replay(tmp_path: Path) -> None:
    sc = random_scenario(duration_s=300.0, rng=np.random.default_rng(11), fs_emg=1000.0,
                         fs_acc=50.0, n_cramps=1, artefacts=False, rest_emg_uv_rms=12.0,
                         contraction_scale=3.0)
    night = synthesize(sc, rng=np.random.default_rng(12))
    emg_200 = resample_poly(night.emg_uv, 1, 5)
    counts = np.repeat(emg_uv_to_counts(emg_200, uv_per_count=MYO_EMG_UV_PER_COUNT_ASSUMED)
                       [:, None], 8, axis=1)
    # the night's cramp is at 81-143 s and the stretch after it ends at 187 s: 200 s of it
    run = _run(tmp_path, counts, night.shank_acc_g, duration_s=200.0, outages=((60.0, 3.0),))
    cramp = next(e for e in sc.events if e.kind == "cramp")
    started = [ev for _, ev in run.collector.events if isinstance(ev, EpisodeStarted)]
    ended = [ev for _, ev in run.collector.events if isinstance(ev, EpisodeEnded)]
    assert len(started) >= 1 and len(ended) >= 1
    result = run.summary.result
    assert result is not None and result.mode == "emg+acc"
    assert run.summary.start_utc is not None
    lead_s = run.summary.start_utc.timestamp() - ORIGIN_UNIX_S  # sim time 0 = array index 0
    onsets = [e.onset_s for e in result.episodes]
    assert any(abs(o + lead_s - cramp.onset_s) < 5.0 for o in onsets)
    with open_recording(tmp_path / "night.cramp", channel_map=ChannelMap(),
                        min_emg_fs_hz=200.0) as rec:
        assert set(rec.info.channels) == {"emg", "shank_acc"}
        assert any("estimated" in n for n in rec.info.notes)
        replayed = run_source(rec, config=DetectorConfig(), leg="unknown")
    assert [round(e.onset_s, 1) for e in replayed.episodes] == [round(o, 1) for o in onsets]


@settings(max_examples=100, deadline=None)
@given(arrays(np.int64, (2, 8), elements=st.integers(-128, 127)))
def test_emg_encoder_round_trips(samples: np.ndarray) -> None:
    packet = decode_emg(encode_emg_packet(samples), fs=200.0, first_sample=4)
    np.testing.assert_array_equal(packet.samples, samples)


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, (3,), elements=st.floats(-15.0, 15.0)))
def test_imu_encoder_round_trips_within_one_count(accel_g: np.ndarray) -> None:
    raw = encode_imu_packet(quaternion=np.array([1.0, 0, 0, 0]), accel_g=accel_g,
                            gyro_dps=np.zeros(3))
    sample = decode_imu(raw, fs=50.0, sample_index=0)
    np.testing.assert_allclose(sample.accel_g, accel_g, atol=0.5 / 2048 + 1e-12)
    np.testing.assert_allclose(sample.quaternion, [1.0, 0, 0, 0])
