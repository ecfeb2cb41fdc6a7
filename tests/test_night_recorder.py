"""The one night recorder: live episode times agree with the stored night (the morning fit).

The recorder is driven with the firmware model's packets directly (no Bluetooth stack, no
real-time loop), so that an 8-h night runs in seconds; the BLE path is covered by
``test_ble_*``. To keep it fast the band streams its two accelerometers only (50 Hz,
accelerometer-only detection).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from synth import Builder

from detector.capture.assembler import legband_channels
from detector.capture.reader import read_capture
from detector.capture.recording import CaptureRecording
from detector.capture.writer import CaptureWriter
from detector.config import DetectorConfig
from detector.episode import EpisodeEnded, EpisodeEvent
from detector.night.recorder import NightRecorder
from detector.profiles.legband import LEGBAND, Opcode
from detector.profiles.legband_codec import (
    decode_data_packet,
)
from detector.profiles.legband_control import (
    SetRateCommand,
    StartCommand,
    decode_response,
    encode_command,
)
from detector.replay import run_source
from detector.signals import SignalBlock
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
    blocks: dict[str, list[SignalBlock]]


def _feed(rng: np.random.Generator, night_s: float, cramps: tuple[float, ...]) -> ArrayFeed:
    b = Builder(duration_s=night_s + 60.0, rng=rng, fs_emg=100.0, fs_acc=ACC_HZ)
    for onset in cramps:
        b.cramp(onset, 40.0)
    return ArrayFeed(emg_uv=b.emg, emg_fs=100.0, shank_acc_g=b.shank, shank_acc_fs=ACC_HZ,
                     foot_acc_g=b.foot, foot_acc_fs=ACC_HZ)


def _received(t_s: float, rng: np.random.Generator,
              stalls: tuple[tuple[float, float], ...]) -> float:
    """Host receive time of a packet sent at band time ``t_s``: jitter, or a stall's end."""
    for start, length in stalls:
        if start <= t_s < start + length:
            return EPOCH_S + start + length + float(rng.uniform(0.0, 0.5))
    return EPOCH_S + t_s + float(rng.exponential(0.03))


def _start(fw: Firmware) -> int:
    """Connect, set the accelerometers to 50 Hz, START them; return the run's start ticks."""
    fw.connect()
    fw.set_att_mtu(247)
    fw.set_data_notifications(True)
    mask = 0
    for name in ("shank_acc", "foot_acc"):
        spec = LEGBAND.stream_named(name)
        mask |= spec.mask_bit
        assert decode_response(fw.handle_command(encode_command(
            SetRateCommand(spec.stream_id, ACC_HZ)))).ok
    answer = decode_response(fw.handle_command(encode_command(StartCommand(mask))))
    assert answer.ok
    return int(answer.result.run_start_ticks)


def record_live(tmp_path: Path, *, seed: int, night_s: float = NIGHT_S,
                cramps: tuple[float, ...] = CRAMPS_S,
                stalls: tuple[tuple[float, float], ...] = STALLS,
                restarts: tuple[float, ...] = ()) -> LiveNight:
    """An acc-only night at +100 ppm, packets fed straight into a NightRecorder.

    Every packet also goes into a capture (as the live session writes it: a START command
    and a ``config`` event with the offsets for each run), which the test replays.
    """
    rng = np.random.default_rng(seed)
    fw = Firmware(_feed(rng, night_s, cramps), rng=rng, config=FirmwareConfig(
        clock_ppm=PPM, accel_clock_ppm=PPM, max_step_s=5.0, tx_queue_packets=4096,
        max_latency_s=1.0))  # full packets: 4x fewer to decode
    channels = legband_channels(rates_hz={"shank_acc": ACC_HZ, "foot_acc": ACC_HZ},
                                full_scales={"shank_acc": 8, "foot_acc": 8}, profile=LEGBAND)
    started: list[datetime] = []
    ended: list[datetime] = []
    blocks: dict[str, list[SignalBlock]] = {r: [] for r in channels}

    def on_episode(event: EpisodeEvent, *, start_utc: datetime) -> None:
        if isinstance(event, EpisodeEnded):
            ended.append(event.episode.onset_utc)
        else:
            started.append(start_utc + timedelta(seconds=event.onset_s))

    rec = NightRecorder(channels, config=CONFIG, start_utc=datetime.fromtimestamp(EPOCH_S, UTC),
                        on_episode=on_episode, batch_s=30.0,
                        on_block=lambda role, block: blocks[role].append(block))
    rec.use_legband(profile=LEGBAND, hold_s=130.0)
    path = tmp_path / "night.cramp"
    pending: list[tuple[float, bytes]] = []
    last = -np.inf
    todo = list(restarts)
    with CaptureWriter(path, session={"profile": "legband"}, background_sync=False) as writer:
        def start_run(t_s: float) -> None:
            ticks = _start(fw)
            writer.packet(source="legband:command", payload=bytes([Opcode.START]),
                          received_s=EPOCH_S + t_s)
            offsets = rec.start_run(run_start_ticks=ticks, elapsed_s=t_s)
            writer.event("config", at_s=EPOCH_S + t_s, run_start_ticks=ticks,
                         sample_offsets=offsets)

        start_run(0.0)
        t = 0.0
        while t < night_s:
            if todo and t >= todo[0]:
                todo.pop(0)
                fw.restart()
                pending.clear()  # what the band had not sent is gone with its buffers
                start_run(t)
            t = min(night_s, t + 5.0)
            for payload in fw.advance_to(t):
                pending.append((_received(t, rng, stalls), payload))
            due = [p for p in pending if p[0] <= EPOCH_S + t + 0.5]
            pending = [p for p in pending if p[0] > EPOCH_S + t + 0.5]
            for received, payload in due:
                last = max(last, received)  # arrival order keeps host time non-decreasing
                writer.packet(source="legband:data", payload=payload, received_s=last)
                rec.packet(decode_data_packet(payload), received_s=last)
        rec.finish()
    return LiveNight(path=path, recorder=rec, started=started, ended=ended, blocks=blocks)


@pytest.fixture(scope="module")
def live_night(tmp_path_factory: pytest.TempPathFactory) -> LiveNight:
    return record_live(tmp_path_factory.mktemp("night8h"), seed=3)


def test_the_live_clock_agrees_with_the_morning_fit_after_8_h_at_100_ppm(
        live_night: LiveNight) -> None:
    """The clock half of "live and stored agree": the online estimate's time of every hour's
    sample is the morning fit's time of that sample, within 0.25 s, through both stalls."""
    with CaptureRecording(live_night.path) as source:
        info = source.info
    assert info.channels["shank_acc"].fs == ACC_HZ  # the band's own grid, as live
    sid = LEGBAND.stream_named("shank_acc").stream_id
    fs_fit = source.fit.streams[sid].rate_hz
    assert fs_fit == pytest.approx(ACC_HZ * (1 + PPM * 1e-6), rel=2e-6)  # the drift is seen
    worst = 0.0
    for hour in range(1, 9):
        index = hour * 3600.0 * ACC_HZ  # the shank accelerometer's sample at that hour
        live = live_night.recorder.live_time(index / ACC_HZ)
        morning_s = source.clock.host_time_s("shank_acc", index)
        assert morning_s == pytest.approx(info.start_utc.timestamp() + index / fs_fit, abs=0.01)
        morning = datetime.fromtimestamp(morning_s, UTC)
        worst = max(worst, abs((live - morning).total_seconds()))
    assert worst < 0.25, worst
    # positive control: ignoring the drift is 2.9 s off after 8 h
    nominal = info.start_utc + timedelta(seconds=8 * 3600.0)
    assert abs((nominal - morning).total_seconds()) > 2.5


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
    # one epoch grid: replayed on the band's sample grid, the capture gives the live night's
    # episodes exactly (before the clock places them)
    with CaptureRecording(live_night.path) as source:
        grid = NightRecorder(source.info.channels, config=CONFIG,
                             start_utc=source.info.start_utc, batch_s=0.0)
        for role, block in source.blocks(300.0):
            grid.push(role, block)
        grid.finish(end_s=source.info.duration_s)
        replayed = grid.result(source.info).episodes
    live_grid = live_night.recorder.pipeline.result(stored.info).episodes
    assert [(e.onset_s, e.offset_s) for e in replayed] == \
        [(e.onset_s, e.offset_s) for e in live_grid]
    # the stored night's onsets are the morning clock's times of the grid's onsets
    for e in stored.episodes:
        assert (e.onset_utc - stored.info.start_utc).total_seconds() == pytest.approx(
            e.onset_s, abs=1e-3)
    # positive control: the band's own (nominal) clock is 2.8 s off by the last cramp, so a
    # live time that ignored the drift would fail the check above
    nominal = live_night.recorder.pipeline.result(stored.info).episodes
    late = abs((nominal[-1].onset_utc - onsets[-1]).total_seconds())
    assert late > 2.0


def test_a_band_restart_is_placed_the_same_live_and_in_replay(tmp_path: Path) -> None:
    night = record_live(tmp_path, seed=5, night_s=1500.0, cramps=(1000.0,), stalls=(),
                        restarts=(600.0,))
    configs = [r for r in read_capture(night.path).records
               if getattr(r, "kind", None) == "config"]
    assert len(configs) == 2
    offsets = configs[1].fields["sample_offsets"]
    assert offsets == {"shank_acc": 30_000, "foot_acc": 30_000}  # 600 s of host time
    with CaptureRecording(night.path) as source:
        replayed: dict[str, list[SignalBlock]] = {r: [] for r in night.blocks}
        for role, block in source.blocks(3600.0):
            replayed[role].append(block)
        stored = run_source(source, config=CONFIG)
    for role, live in night.blocks.items():
        live_idx = np.concatenate([np.arange(b.start_sample, b.end_sample) for b in live])
        rep_idx = np.concatenate([np.arange(b.start_sample, b.end_sample)
                                  for b in replayed[role]])
        np.testing.assert_array_equal(rep_idx, live_idx, err_msg=role)
        np.testing.assert_array_equal(np.concatenate([b.data for b in replayed[role]]),
                                      np.concatenate([b.data for b in live]), err_msg=role)
        assert live_idx.min() == 0 and offsets[role] in live_idx  # both runs are there
    # the cramp after the restart: found once, at the same time live and stored
    assert len(stored.episodes) == 1 and len(night.ended) == 1
    assert abs((night.ended[0] - stored.episodes[0].onset_utc).total_seconds()) < 1.0
    assert abs((stored.episodes[0].onset_utc.timestamp() - EPOCH_S) - 1000.0) < 3.0


def test_a_given_start_time_moves_the_clock_placed_episodes_with_it() -> None:
    """``start_utc`` given for a capture (``--start``): the morning clock moves with it, so
    episodes keep their place in the night and sit at the given start + onset."""
    path = Path(__file__).resolve().parents[1] / "recordings" / "sample_capture.cramp"
    with CaptureRecording(path) as source:
        fitted = run_source(source, config=CONFIG)
        fit_start = source.info.start_utc
    given = fit_start - timedelta(days=1, seconds=0.5)
    with CaptureRecording(path, start_utc=given) as source:
        moved = run_source(source, config=CONFIG)
    assert len(fitted.episodes) == len(moved.episodes) >= 1
    for a, b in zip(fitted.episodes, moved.episodes, strict=True):
        assert b.onset_s == pytest.approx(a.onset_s, abs=1e-6)
        assert abs((b.onset_utc - (given + timedelta(seconds=b.onset_s))).total_seconds()) < 1e-3
        # positive control: the fitted night is a day and half a second later
        assert (a.onset_utc - b.onset_utc).total_seconds() == pytest.approx(86400.5, abs=1e-3)
