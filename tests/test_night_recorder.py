"""The one night recorder: live episode times agree with the stored night (the morning fit).

The recorder is driven with the firmware model's packets directly (no Bluetooth stack, no
real-time loop), so that an 8-h night runs in seconds; the BLE path is covered by
``test_ble_*``. To keep it fast the band streams its two accelerometers only (50 Hz,
accelerometer-only detection).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from synth import Builder

from detector.capture.assembler import legband_channels
from detector.capture.recording import CaptureRecording
from detector.capture.writer import CaptureWriter
from detector.config import DetectorConfig
from detector.episode import EpisodeEnded, EpisodeEvent
from detector.night.recorder import NightRecorder
from detector.profiles.legband import LEGBAND
from detector.profiles.legband_codec import (
    SetRateCommand,
    StartCommand,
    decode_data_packet,
    decode_response,
    encode_command,
)
from detector.replay import run_source
from firmware_sim.firmware import ArrayFeed, Firmware, FirmwareConfig

NIGHT_S = 8 * 3600.0
PPM = 100.0
ACC_HZ = 50
CRAMPS_S = (1800.0, 9000.0, 16200.0, 23400.0, 27600.0)
STALLS = ((5000.0, 120.0), (20000.0, 240.0))
"""Host stalls (start, length, s): packets wait and then arrive in one burst."""
EPOCH_S = datetime(2026, 3, 1, 22, 30, tzinfo=UTC).timestamp()
CONFIG = DetectorConfig()


@dataclass
class LiveNight:
    path: Path
    recorder: NightRecorder
    started: list[datetime]
    ended: list[datetime]


def _feed(rng: np.random.Generator) -> ArrayFeed:
    b = Builder(duration_s=NIGHT_S + 60.0, rng=rng, fs_emg=100.0, fs_acc=ACC_HZ)
    for onset in CRAMPS_S:
        b.cramp(onset, 40.0)
    return ArrayFeed(emg_uv=b.emg, emg_fs=100.0, shank_acc_g=b.shank, shank_acc_fs=ACC_HZ,
                     foot_acc_g=b.foot, foot_acc_fs=ACC_HZ)


def _received(t_s: float, rng: np.random.Generator) -> float:
    """Host receive time of a packet sent at band time ``t_s``: jitter, or a stall's end."""
    for start, length in STALLS:
        if start <= t_s < start + length:
            return EPOCH_S + start + length + float(rng.uniform(0.0, 0.5))
    return EPOCH_S + t_s + float(rng.exponential(0.03))


def record_live(tmp_path: Path, *, seed: int) -> LiveNight:
    """An 8-h acc-only night at +100 ppm, packets fed straight into a NightRecorder."""
    rng = np.random.default_rng(seed)
    fw = Firmware(_feed(rng), rng=rng, config=FirmwareConfig(
        clock_ppm=PPM, accel_clock_ppm=PPM, max_step_s=5.0, tx_queue_packets=4096))
    channels = legband_channels(rates_hz={"shank_acc": ACC_HZ, "foot_acc": ACC_HZ},
                                full_scales={"shank_acc": 8, "foot_acc": 8}, profile=LEGBAND)
    started: list[datetime] = []
    ended: list[datetime] = []

    def on_episode(event: EpisodeEvent, *, start_utc: datetime) -> None:
        if isinstance(event, EpisodeEnded):
            ended.append(event.episode.onset_utc)
        else:
            from datetime import timedelta
            started.append(start_utc + timedelta(seconds=event.onset_s))

    rec = NightRecorder(channels, config=CONFIG, start_utc=datetime.fromtimestamp(EPOCH_S, UTC),
                        on_episode=on_episode, batch_s=30.0)
    rec.use_legband(profile=LEGBAND, hold_s=130.0)
    path = tmp_path / "night.cramp"
    mask = 0
    fw.connect()
    fw.set_att_mtu(247)
    fw.set_data_notifications(True)
    for name in ("shank_acc", "foot_acc"):
        spec = LEGBAND.stream_named(name)
        mask |= spec.mask_bit
        assert decode_response(fw.handle_command(encode_command(
            SetRateCommand(spec.stream_id, ACC_HZ)))).ok
    answer = decode_response(fw.handle_command(encode_command(StartCommand(mask))))
    assert answer.ok
    rec.start_run(run_start_ticks=answer.result.run_start_ticks, offsets={})
    pending: list[tuple[float, bytes]] = []
    last = -np.inf
    with CaptureWriter(path, session={"profile": "legband"}, background_sync=False) as writer:
        writer.event("config", at_s=EPOCH_S, run_start_ticks=answer.result.run_start_ticks,
                     sample_offsets={})
        t = 0.0
        while t < NIGHT_S:
            t = min(NIGHT_S, t + 5.0)
            for payload in fw.advance_to(t):
                pending.append((_received(t, rng), payload))
            due = [p for p in pending if p[0] <= EPOCH_S + t + 0.5]
            pending = [p for p in pending if p[0] > EPOCH_S + t + 0.5]
            for received, payload in due:
                last = max(last, received)  # arrival order keeps host time non-decreasing
                writer.packet(source="legband:data", payload=payload, received_s=last)
                rec.packet(decode_data_packet(payload), received_s=last)
        rec.finish()
    return LiveNight(path=path, recorder=rec, started=started, ended=ended)


@pytest.fixture(scope="module")
def live_night(tmp_path_factory: pytest.TempPathFactory) -> LiveNight:
    return record_live(tmp_path_factory.mktemp("night8h"), seed=3)


def test_live_onsets_agree_with_the_stored_night_after_8_h_at_100_ppm(
        live_night: LiveNight) -> None:
    with CaptureRecording(live_night.path) as source:
        stored = run_source(source, config=CONFIG)
    onsets = [e.onset_utc for e in stored.episodes]
    assert len(onsets) == len(CRAMPS_S)  # every cramp found, nothing else
    assert len(live_night.ended) == len(onsets) and len(live_night.started) == len(onsets)
    for live, morning in zip(live_night.ended, onsets, strict=True):
        assert abs((live - morning).total_seconds()) < 1.0, (live, morning)
    for live, morning in zip(live_night.started, onsets, strict=True):
        assert abs((live - morning).total_seconds()) < 1.0, (live, morning)
    # positive control: the band's own (nominal) clock is 2.8 s off by the last cramp, so a
    # live time that ignored the drift would fail the check above
    nominal = live_night.recorder.result(stored.info).episodes
    late = abs((nominal[-1].onset_utc - onsets[-1]).total_seconds())
    assert late > 2.0
