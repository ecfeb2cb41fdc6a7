"""A LegBand whose EMG crystal and accelerometer oscillator drift apart (+100 / -600 ppm).

The RTC and the EMG ADC share one crystal, the accelerometers have their own oscillator
(``docs/protocol.md``; a MEMS accelerometer's internal oscillator is often off by far more than
a crystal). Placed at their nominal rates, the foot's samples of a cramp 2 h into the night
sit 4 s before the calf's on the night's grid (as +100 / -80 ppm would after 6 h; the shorter
night keeps the 500-Hz EMG affordable); the night recorder places them on the RTC's grid by
their packets' ticks, live and in replay alike. The firmware model is driven directly (no
Bluetooth stack), as in ``test_night_recorder``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from synth import Builder, foot_vector

from detector.capture.assembler import legband_channels
from detector.capture.recording import CaptureRecording
from detector.capture.writer import CaptureWriter
from detector.config import DetectorConfig
from detector.episode import EpisodeEnded, EpisodeEvent
from detector.night.recorder import NightRecorder
from detector.profiles.legband import LEGBAND, Opcode
from detector.profiles.legband_codec import decode_data_packet
from detector.profiles.legband_control import (
    SetRateCommand,
    StartCommand,
    decode_response,
    encode_command,
)
from detector.replay import run_source
from detector.signals import SignalBlock
from firmware_sim.firmware import ArrayFeed, Firmware, FirmwareConfig

NIGHT_S = 2 * 3600.0
EMG_PPM, ACC_PPM = 100.0, -600.0
EMG_HZ, ACC_HZ = 500, 50
CRAMPS_S = (900.0, 6300.0)  # early (0.25 h: 0.6 s apart unplaced) and late (1.75 h: 4.4 s)
EPOCH_S = datetime(2026, 3, 1, 22, 30, tzinfo=UTC).timestamp()
CONFIG = DetectorConfig()
REST_DEG = 8.0


@dataclass
class Night:
    path: Path
    recorder: NightRecorder
    ended: list[datetime]
    blocks: dict[str, list[SignalBlock]]
    foot_by_counter: np.ndarray
    """The foot accelerometer's samples (ADC counts) at their own counters, from the packets."""


def _start(fw: Firmware) -> int:
    fw.connect()
    fw.set_att_mtu(247)
    fw.set_data_notifications(True)
    mask = 0
    for name, rate in (("emg_raw", EMG_HZ), ("shank_acc", ACC_HZ), ("foot_acc", ACC_HZ)):
        spec = LEGBAND.stream_named(name)
        mask |= spec.mask_bit
        assert decode_response(fw.handle_command(encode_command(
            SetRateCommand(spec.stream_id, rate)))).ok
    answer = decode_response(fw.handle_command(encode_command(StartCommand(mask))))
    assert answer.ok
    return int(answer.result.run_start_ticks)


def record(tmp_path: Path, *, seed: int) -> Night:
    """The night into a NightRecorder (live) and a capture (stored), packets as they come."""
    rng = np.random.default_rng(seed)
    b = Builder(duration_s=NIGHT_S + 60.0, rng=rng, fs_emg=float(EMG_HZ), fs_acc=ACC_HZ,
                rest_angle_deg=REST_DEG)
    for onset in CRAMPS_S:
        b.cramp(onset, 40.0)
    feed = ArrayFeed(emg_uv=b.emg, emg_fs=float(EMG_HZ), shank_acc_g=b.shank,
                     shank_acc_fs=ACC_HZ, foot_acc_g=b.foot, foot_acc_fs=ACC_HZ)
    del b
    fw = Firmware(feed, rng=rng, config=FirmwareConfig(
        clock_ppm=EMG_PPM, accel_clock_ppm=ACC_PPM, max_step_s=5.0, tx_queue_packets=8192,
        max_latency_s=1.0))
    channels = legband_channels(rates_hz={"emg": EMG_HZ, "shank_acc": ACC_HZ,
                                          "foot_acc": ACC_HZ},
                                full_scales={"emg": 8192, "shank_acc": 4, "foot_acc": 4},
                                profile=LEGBAND)
    ended: list[datetime] = []
    blocks: dict[str, list[SignalBlock]] = {r: [] for r in channels}

    def on_episode(event: EpisodeEvent, *, start_utc: datetime) -> None:
        if isinstance(event, EpisodeEnded):
            ended.append(event.episode.onset_utc)

    rec = NightRecorder(channels, config=CONFIG, start_utc=datetime.fromtimestamp(EPOCH_S, UTC),
                        on_episode=on_episode, batch_s=30.0,
                        on_block=lambda role, block: blocks[role].append(block))
    rec.use_legband(profile=LEGBAND, hold_s=130.0)
    path = tmp_path / "night.cramp"
    with CaptureWriter(path, session={"profile": "legband"}, background_sync=False) as writer:
        ticks = _start(fw)
        writer.packet(source="legband:command", payload=bytes([Opcode.START]),
                      received_s=EPOCH_S)
        offsets = rec.start_run(run_start_ticks=ticks, elapsed_s=0.0)
        writer.event("config", at_s=EPOCH_S, run_start_ticks=ticks, sample_offsets=offsets)
        t = 0.0
        last = -np.inf
        foot_sid = LEGBAND.stream_named("foot_acc").stream_id
        foot = np.full((round(NIGHT_S * ACC_HZ) + 1000, 3), np.nan)
        while t < NIGHT_S:
            t = min(NIGHT_S, t + 5.0)
            for payload in fw.advance_to(t):
                last = max(last, EPOCH_S + t + float(rng.exponential(0.03)))
                writer.packet(source="legband:data", payload=payload, received_s=last)
                packet = decode_data_packet(payload)
                if packet.stream_id == foot_sid:
                    foot[packet.first_sample:packet.first_sample + packet.n_samples] = \
                        packet.samples
                rec.packet(packet, received_s=last)
        rec.finish()
    return Night(path=path, recorder=rec, ended=ended, blocks=blocks, foot_by_counter=foot)


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Night:
    return record(tmp_path_factory.mktemp("two_osc"), seed=11)


def _on_grid(blocks: list[SignalBlock]) -> np.ndarray:
    n = max(blk.end_sample for blk in blocks)
    first = blocks[0].data
    out = np.full((n, *first.shape[1:]), np.nan)
    for blk in blocks:
        out[blk.start_sample:blk.end_sample] = blk.data
    return out


def _rise(x: np.ndarray, fs: float, onset_s: float) -> float:
    """Grid second where ``x`` first reaches half its level 5-30 s into the cramp, searched
    from 30 s before the true onset."""
    a = round((onset_s - 30.0) * fs)
    level = np.median(x[round((onset_s + 5.0) * fs):round((onset_s + 30.0) * fs)])
    rest = np.median(x[a:round((onset_s - 5.0) * fs)])
    above = np.flatnonzero(x[a:] > rest + 0.5 * (level - rest))
    return (a + int(above[0])) / fs


def _lags(blocks: dict[str, list[SignalBlock]], foot: np.ndarray | None = None
          ) -> list[float]:
    """Foot rise less calf rise, per cramp (s of the night's grid; ``foot``: these foot
    samples instead of the grid's)."""
    emg = _on_grid(blocks["emg"])
    win = EMG_HZ // 2
    power = np.convolve(np.nan_to_num(emg - np.nanmean(emg)) ** 2, np.ones(win) / win, "same")
    foot = _on_grid(blocks["foot_acc"]) if foot is None else foot
    base = foot_vector(REST_DEG)
    angle = np.degrees(np.arccos(np.clip(foot @ base / np.linalg.norm(foot, axis=1), -1, 1)))
    return [_rise(angle, ACC_HZ, s) - _rise(power, EMG_HZ, s) for s in CRAMPS_S]


def test_a_late_cramps_calf_and_foot_evidence_line_up_on_the_grid(night: Night) -> None:
    early, late = _lags(night.blocks)
    # the same cramp shape at 0.5 h and at 7.5 h: the foot follows the calf by the same lag
    assert abs(late - early) < 0.5, (early, late)
    # positive control: at the foot accelerometer's own counters the late foot is 3.8 s
    # further off than the early one
    counters = _lags(night.blocks, foot=night.foot_by_counter)
    assert abs(counters[1] - counters[0]) > 3.0, counters


def test_both_cramps_found_at_host_time_and_live_equals_stored(night: Night) -> None:
    with CaptureRecording(night.path) as source:
        stored = run_source(source, config=CONFIG)
        replayed: dict[str, list[SignalBlock]] = {r: [] for r in night.blocks}
        for role, block in source.blocks(3600.0):
            replayed[role].append(block)
    onsets = [e.onset_utc for e in stored.episodes]
    assert len(onsets) == len(CRAMPS_S) == len(night.ended)
    for at, truth in zip(onsets, CRAMPS_S, strict=True):  # episode times are host times
        assert abs(at.timestamp() - (EPOCH_S + truth)) < 3.0, (at, truth)
    for live, morning in zip(night.ended, onsets, strict=True):
        assert abs((live - morning).total_seconds()) < 1.0, (live, morning)
    # the one grid: replay places every sample where live placed it
    for role, live in night.blocks.items():
        live_idx = np.concatenate([np.arange(b.start_sample, b.end_sample) for b in live])
        rep_idx = np.concatenate([np.arange(b.start_sample, b.end_sample)
                                  for b in replayed[role]])
        np.testing.assert_array_equal(rep_idx, live_idx, err_msg=role)
        np.testing.assert_array_equal(np.concatenate([b.data for b in replayed[role]]),
                                      np.concatenate([b.data for b in live]), err_msg=role)
    # the accelerometers moved onto the RTC's grid: 700 ppm over 2 h is 252 of their samples
    n_foot = sum(b.n_samples for b in night.blocks["foot_acc"])
    n_counters = int(np.count_nonzero(~np.isnan(night.foot_by_counter[:, 0])))
    assert n_foot - n_counters > 200, (n_foot, n_counters)
