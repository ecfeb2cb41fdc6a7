"""Firmware model: quantisation, drift, packetisation, backfill, pacing and faults."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.profiles.legband import LEGBAND, Status
from detector.profiles.legband_codec import (
    DataPacket,
    decode_data_packet,
    decode_status,
)
from detector.profiles.legband_control import (
    BackfillCommand,
    CalibrateNeutralCommand,
    SetRangeCommand,
    SetRateCommand,
    StartCommand,
    StopCommand,
    TimeSyncCommand,
    decode_response,
    encode_command,
)
from firmware_sim.firmware import (
    ArrayFeed,
    BatteryModel,
    Firmware,
    FirmwareConfig,
    LinkPacing,
    SignalFeed,
)

EMG_RAW, EMG_ENV, SHANK, FOOT = 1, 2, 3, 4
ALL = 0x0F
RAW_AND_ACCEL = 0x0D
EMG_LSB = 8192 / 32768  # default EMG range
ACC_LSB = 4 / 32768  # default accelerometer range (+-4 g)


def grid_feed(rng: np.random.Generator, *, duration_s: float) -> ArrayFeed:
    """Random signals on the band's default rates, exact multiples of each LSB."""
    n_emg, n_acc = int(duration_s * 1000) + 2, int(duration_s * 50) + 2
    return ArrayFeed(
        emg_uv=rng.integers(-4000, 4000, n_emg) * EMG_LSB, emg_fs=1000.0,
        shank_acc_g=rng.integers(-30000, 30000, (n_acc, 3)) * ACC_LSB, shank_acc_fs=50.0,
        foot_acc_g=rng.integers(-30000, 30000, (n_acc, 3)) * ACC_LSB, foot_acc_fs=50.0,
    )  # fmt: skip


def make_firmware(feed: SignalFeed, **config: object) -> Firmware:
    return Firmware(feed, config=FirmwareConfig(**config), rng=np.random.default_rng(7))  # type: ignore[arg-type]


def command(fw: Firmware, cmd: object) -> object:
    return decode_response(fw.handle_command(encode_command(cmd)))  # type: ignore[arg-type]


def link_up(fw: Firmware, *, att_mtu: int) -> None:
    fw.connect()
    fw.set_att_mtu(att_mtu)
    fw.set_data_notifications(True)


def run(fw: Firmware, until_s: float, *, step_s: float = 0.25) -> list[DataPacket]:
    out: list[bytes] = []
    t = fw.now_s
    while t < until_s - 1e-12:
        t = min(until_s, t + step_s)
        out += fw.advance_to(t)
    return [decode_data_packet(raw) for raw in out]


def by_stream(packets: list[DataPacket]) -> dict[int, list[DataPacket]]:
    groups: dict[int, list[DataPacket]] = defaultdict(list)
    for p in packets:
        groups[p.stream_id].append(p)
    return groups


def assemble(packets: list[DataPacket]) -> dict[int, np.ndarray]:
    """Counter -> sample rows of one stream; conflicting duplicates fail the test."""
    rows: dict[int, np.ndarray] = {}
    for p in packets:
        samples = p.samples.reshape(p.n_samples, -1)
        for i in range(p.n_samples):
            k = p.first_sample + i
            if k in rows:
                np.testing.assert_array_equal(rows[k], samples[i])
            rows[k] = samples[i]
    return rows


def expected_counts(values: np.ndarray, lsb: float) -> np.ndarray:
    return np.clip(np.rint(values / lsb), -32768, 32767).astype(np.int64)


# -------------------------------------------------------------------------- ADC and clocks
def test_quantisation_and_saturation_within_bounds() -> None:
    rng = np.random.default_rng(1)
    emg = rng.uniform(-3000.0, 3000.0, 5002)  # beyond the +-2048 uV range half the time
    acc = rng.uniform(-2.5, 2.5, (252, 3))  # beyond +-2 g sometimes
    feed = ArrayFeed(emg_uv=emg, emg_fs=1000.0, shank_acc_g=acc, shank_acc_fs=50.0,
                     foot_acc_g=acc, foot_acc_fs=50.0)  # fmt: skip
    fw = make_firmware(feed)
    assert command(fw, SetRangeCommand(EMG_RAW, 2048)).ok
    assert command(fw, SetRangeCommand(SHANK, 2)).ok
    link_up(fw, att_mtu=247)
    assert command(fw, StartCommand(RAW_AND_ACCEL)).ok
    streams = by_stream(run(fw, 4.9))
    emg_rows = assemble(streams[EMG_RAW])
    k = np.array(sorted(emg_rows))
    got = np.array([emg_rows[i][0] for i in k], dtype=np.int64)
    lsb = 2048 / 32768
    fed = emg[k]
    inside = np.abs(fed) < 2048 - lsb
    assert inside.sum() > 1000 and (~inside).sum() > 1000
    assert np.max(np.abs(got[inside] * lsb - fed[inside])) <= lsb / 2 + 1e-12
    assert set(got[fed >= 2048].tolist()) == {32767}
    assert set(got[fed <= -2048].tolist()) == {-32768}
    shank = assemble(streams[SHANK])
    ks = np.array(sorted(shank))
    got_acc = np.array([shank[i] for i in ks], dtype=np.int64)
    np.testing.assert_array_equal(got_acc, expected_counts(acc[ks], 2 / 32768))
    assert np.any(got_acc == 32767) and np.any(got_acc == -32768)


def test_clock_drift_moves_sample_times_and_timestamps() -> None:
    ppm, accel_ppm, amp_uv, f_hz = 80.0, -150.0, 1000.0, 5.0

    def feed(role: str, t: np.ndarray) -> np.ndarray:
        if role == "emg":
            return amp_uv * np.sin(2 * np.pi * f_hz * t)
        return np.stack([np.sin(0.5 * t), np.cos(0.5 * t), 0.1 * t / 200], axis=1)

    fw = make_firmware(feed, clock_ppm=ppm, accel_clock_ppm=accel_ppm, rtc_start_ticks=1000)
    link_up(fw, att_mtu=247)
    assert command(fw, StartCommand(RAW_AND_ACCEL)).ok
    packets = run(fw, 200.0, step_s=1.0)
    streams = by_stream(packets)
    last = streams[EMG_RAW][-1]
    produced = last.first_sample + last.n_samples
    packed_limit = 200.0 * 1000 * (1 + ppm * 1e-6)
    assert packed_limit - 120 <= produced <= packed_limit + 1  # at most one packet pending
    rows = assemble(streams[EMG_RAW])
    k = np.array(sorted(rows))
    got_uv = np.array([rows[i][0] for i in k]) * EMG_LSB
    t_true = k / (1000 * (1 + ppm * 1e-6))
    assert np.max(np.abs(got_uv - amp_uv * np.sin(2 * np.pi * f_hz * t_true))) <= EMG_LSB / 2
    t_nominal = k / 1000.0  # where an undrifted clock would have sampled
    assert np.max(np.abs(got_uv - amp_uv * np.sin(2 * np.pi * f_hz * t_nominal))) > 100.0
    # The RTC shares the EMG crystal: ticks advance 32.768 per EMG sample in device time.
    for p in streams[EMG_RAW][::50]:
        assert abs(p.device_ticks - (1000 + p.first_sample * 32.768)) <= 1.0
    # The accelerometer has its own oscillator: its rate against the RTC shows both drifts.
    acc = streams[SHANK]
    a, b = acc[0], acc[-1]
    ratio = (b.device_ticks - a.device_ticks) / 32768 / ((b.first_sample - a.first_sample) / 50)
    expected = (1 + ppm * 1e-6) / (1 + accel_ppm * 1e-6)
    assert abs(ratio - expected) < 2e-6
    sync = command(fw, TimeSyncCommand(1_700_000_000_000_000))
    assert sync.result.host_time_us == 1_700_000_000_000_000
    assert sync.result.device_ticks == 1000 + math.floor(200.0 * 32768 * (1 + ppm * 1e-6))


def test_envelope_tracks_rms_of_emg() -> None:
    amp_uv = 400.0

    def feed(role: str, t: np.ndarray) -> np.ndarray:
        if role == "emg":
            return np.where(t < 2.0, 0.0, amp_uv * np.sin(2 * np.pi * 100.0 * t))
        return np.zeros((t.shape[0], 3))

    fw = make_firmware(feed)
    link_up(fw, att_mtu=247)
    assert command(fw, StartCommand(1 << (EMG_ENV - 1))).ok
    rows = assemble(by_stream(run(fw, 4.0))[EMG_ENV])
    env = {k: v[0] * EMG_LSB for k, v in rows.items()}
    assert all(env[k] == 0.0 for k in range(5, 95))  # 50 Hz: samples before 1.9 s
    late = [env[k] for k in range(110, 190)]
    assert np.allclose(late, amp_uv / math.sqrt(2), rtol=0.02)


# ---------------------------------------------------------------------------- packets
@pytest.mark.parametrize(("att_mtu", "emg_n", "acc_n"), [(23, 4, 1), (247, 116, 10)])
def test_packets_fit_mtu_and_are_contiguous(att_mtu: int, emg_n: int, acc_n: int) -> None:
    fw = make_firmware(grid_feed(np.random.default_rng(2), duration_s=4.0))
    fw.connect()
    fw.set_att_mtu(att_mtu)
    fw.set_data_notifications(True)
    assert command(fw, StartCommand(ALL)).ok
    raws = []
    for i in range(1, 13):
        raws += fw.advance_to(i * 0.25)
    assert max(len(r) for r in raws) <= att_mtu - 3
    streams = by_stream([decode_data_packet(r) for r in raws])
    assert {p.n_samples for p in streams[EMG_RAW]} == {emg_n}
    assert {p.n_samples for p in streams[SHANK]} == {acc_n}
    for packets in streams.values():
        assert [p.seq for p in packets] == list(range(len(packets)))
        for a, b in itertools.pairwise(packets):
            assert b.first_sample == a.first_sample + a.n_samples
    assert fw.stats.notifications_dropped == 0


def test_step_size_does_not_change_the_bytes() -> None:
    feed = grid_feed(np.random.default_rng(3), duration_s=6.0)

    def collect(steps: list[float]) -> list[bytes]:
        fw = make_firmware(feed, pacing=LinkPacing(conn_interval_s=0.03, packets_per_event=4))
        link_up(fw, att_mtu=23)
        assert command(fw, StartCommand(ALL)).ok
        fw.set_notification_loss(probability=0.1)
        out: list[bytes] = []
        for t in steps:
            out += fw.advance_to(t)
        return out

    rng = np.random.default_rng(4)
    ragged = [*np.sort(rng.uniform(0.0, 5.0, 60)).tolist(), 5.0]
    one = collect([5.0])
    assert len(one) > 100
    assert collect(ragged) == one


def test_stop_flushes_partial_packets() -> None:
    fw = make_firmware(grid_feed(np.random.default_rng(5), duration_s=3.0))
    link_up(fw, att_mtu=247)
    assert command(fw, StartCommand(RAW_AND_ACCEL)).ok
    packets = run(fw, 1.234)
    assert command(fw, StopCommand()).ok
    packets += run(fw, 1.5)
    streams = by_stream(packets)
    assert len(assemble(streams[EMG_RAW])) == math.floor(1.234 * 1000) + 1
    assert len(assemble(streams[FOOT])) == math.floor(1.234 * 50) + 1
    assert not decode_status(fw.status_bytes()).streaming


# ---------------------------------------------------------------------------- backfill
def test_backfill_after_reconnect_returns_exactly_the_missing_samples() -> None:
    feed = grid_feed(np.random.default_rng(6), duration_s=45.0)
    fw = make_firmware(feed)
    link_up(fw, att_mtu=247)
    assert command(fw, StartCommand(RAW_AND_ACCEL)).ok
    before = by_stream(run(fw, 5.0))
    fw.disconnect()
    assert run(fw, 40.0) == []
    link_up(fw, att_mtu=23)  # the reconnection negotiates a smaller MTU
    live = by_stream(run(fw, 40.5))
    answers = {}
    for sid in (EMG_RAW, SHANK, FOOT):
        answer = command(fw, BackfillCommand(sid, (before[sid][-1].seq + 1) % 65536))
        assert answer.ok
        answers[sid] = answer.result
    # At MTU 23 the link takes ~800 notifications/s: 35 s of EMG needs ~20 s to resend.
    resent = by_stream([p for p in run(fw, 70.0) if p.backfill])
    for sid in (EMG_RAW, SHANK, FOOT):
        first_missing = max(assemble(before[sid])) + 1
        assert live[sid][0].first_sample > first_missing  # a real gap
        assert answers[sid].first_sample == first_missing
        resend_end = first_missing + answers[sid].n_samples
        assert resend_end >= live[sid][0].first_sample
        assert sorted(assemble(resent[sid])) == list(range(first_missing, resend_end))
        assert max(len(p.samples.tobytes()) for p in resent[sid]) <= 20 - 12
    # Everything the client now holds equals what the sensors saw, sample by sample.
    rows = assemble(before[EMG_RAW] + resent[EMG_RAW] + live[EMG_RAW])
    k = np.array(sorted(rows))
    assert k.tolist() == list(range(k.size)) and k.size > 40_000
    want = expected_counts(feed("emg", k / 1000), EMG_LSB)
    np.testing.assert_array_equal([rows[i][0] for i in k], want)


def test_backfill_older_than_the_buffer_is_refused_with_oldest_seq() -> None:
    feed = grid_feed(np.random.default_rng(8), duration_s=205.0)
    fw = make_firmware(feed, buffer_s=128.0)
    link_up(fw, att_mtu=247)
    assert command(fw, StartCommand(1 << (SHANK - 1))).ok
    first = run(fw, 2.0)
    fw.disconnect()
    run(fw, 200.0, step_s=1.0)
    link_up(fw, att_mtu=247)
    refused = command(fw, BackfillCommand(SHANK, first[-1].seq + 1))
    assert refused.status == Status.NOT_AVAILABLE
    oldest_seq = refused.result.oldest_seq
    accepted = command(fw, BackfillCommand(SHANK, oldest_seq))
    assert accepted.ok
    held_from = 200.0 * 50 - 128.0 * 50  # buffer span in samples
    assert held_from - 10 <= accepted.result.first_sample <= held_from + 10
    assert accepted.result.n_samples >= 128 * 50 - 20
    resent = sorted(assemble([p for p in run(fw, 203.0) if p.backfill]))
    end = accepted.result.first_sample + accepted.result.n_samples
    # The oldest edge keeps being overwritten while the resend runs (50 samples/s here):
    # those few are skipped, never sent stale, and the rest arrives contiguous.
    assert resent == list(range(resent[0], end))
    assert resent[0] - accepted.result.first_sample <= 20


def test_lost_notifications_show_as_gaps_and_backfill_repairs_them() -> None:
    feed = grid_feed(np.random.default_rng(9), duration_s=5.0)
    fw = make_firmware(feed)
    link_up(fw, att_mtu=247)
    assert command(fw, StartCommand(1 << (EMG_RAW - 1))).ok
    packets = run(fw, 1.0)
    fw.lose_next_notifications(3)
    packets += run(fw, 3.0)
    seqs = [p.seq for p in packets]
    missing = sorted(set(range(seqs[-1] + 1)) - set(seqs))
    assert len(missing) == 3 and fw.stats.notifications_lost == 3
    answer = command(fw, BackfillCommand(EMG_RAW, missing[0]))
    assert answer.ok
    packets += run(fw, 3.5)
    rows = assemble(packets)
    assert sorted(rows) == list(range(len(rows)))
    k = np.array(sorted(rows))
    want = expected_counts(feed("emg", k / 1000), EMG_LSB)
    np.testing.assert_array_equal([rows[i][0] for i in k], want)


def test_slow_central_overflow_is_reported_honestly() -> None:
    fw = make_firmware(grid_feed(np.random.default_rng(10), duration_s=5.0), tx_queue_packets=16)
    link_up(fw, att_mtu=23)
    fw.set_link_pacing(LinkPacing(conn_interval_s=0.05, packets_per_event=2))  # 40 per s
    assert command(fw, StartCommand(1 << (EMG_RAW - 1))).ok  # 250 packets per s
    packets = run(fw, 2.0)
    status = decode_status(fw.status_bytes())
    cut = fw.stats.packets_cut
    assert status.overflow and status.dropped_packets == fw.stats.notifications_dropped
    assert len(packets) + status.dropped_packets + status.tx_fill_pct * 16 // 100 == cut
    assert status.tx_fill_pct == 100
    seqs = {p.seq for p in packets}
    assert len(set(range(cut)) - seqs) == status.dropped_packets + 16
    assert 75 <= len(packets) <= 81  # the link's capacity over 2 s


# ------------------------------------------------------------------------------ faults
def test_electrode_lift_clears_contact_and_saturates_emg() -> None:
    fw = make_firmware(grid_feed(np.random.default_rng(11), duration_s=4.0))
    fw.lift_electrode("emg_minus", start_s=2.0, end_s=3.0)
    link_up(fw, att_mtu=247)
    assert command(fw, StartCommand(1 << (EMG_RAW - 1))).ok
    packets = run(fw, 2.5)
    assert decode_status(fw.status_bytes()).contact == (True, False, True)
    packets += run(fw, 3.6)
    assert decode_status(fw.status_bytes()).contact == (True, True, True)
    rows = assemble(packets)
    lifted = [rows[k][0] for k in range(2000, 3000)]
    assert set(lifted) == {32767}
    assert np.mean([rows[k][0] == 32767 for k in range(0, 2000)]) < 0.01


def test_battery_drains_by_the_model_and_dies() -> None:
    battery = BatteryModel(capacity_mah=10.0)
    fw = make_firmware(grid_feed(np.random.default_rng(12), duration_s=2.0), battery=battery)
    link_up(fw, att_mtu=247)
    assert command(fw, StartCommand(RAW_AND_ACCEL)).ok
    fw.advance_to(600.0)  # feed holds its last value after 2 s
    used_mas = (battery.idle_ma + battery.connected_ma + battery.emg_raw_ma
                + 2 * battery.accel_ma) * 600.0 + fw.stats.notifications_sent * 2e-3  # fmt: skip
    left_pct = 100 * (1 - used_mas / (10.0 * 3600))
    assert fw.battery_pct == math.ceil(left_pct)
    fw.drain_battery(to_pct=0.001)
    fw.advance_to(601.0)
    assert not fw.powered and not fw.streaming
    assert fw.take_disconnect_request() and not fw.take_disconnect_request()
    status = decode_status(fw.status_bytes())
    assert status.battery_pct == 0 and status.battery_low
    assert fw.advance_to(700.0) == []
    assert command(fw, StartCommand(ALL)).status == Status.INVALID_STATE


def test_scheduled_disconnect_stops_the_air_at_that_time() -> None:
    fw = make_firmware(grid_feed(np.random.default_rng(13), duration_s=5.0))
    link_up(fw, att_mtu=247)
    assert command(fw, StartCommand(1 << (EMG_RAW - 1))).ok
    fw.schedule_disconnect(2.0)
    packets = run(fw, 4.0, step_s=1.5)
    assert fw.take_disconnect_request()
    last = packets[-1]
    assert (last.first_sample + last.n_samples - 1) / 1000 <= 2.0
    assert last.first_sample + last.n_samples >= 2000 - 116 - 1


def test_random_disconnects_come_from_the_generator() -> None:
    def disconnect_time(seed: int) -> float:
        fw = Firmware(grid_feed(np.random.default_rng(0), duration_s=1.0),
                      config=FirmwareConfig(), rng=np.random.default_rng(seed))  # fmt: skip
        fw.set_random_disconnects(per_hour=60.0)
        link_up(fw, att_mtu=23)
        t = 0.0
        while not fw.take_disconnect_request():
            t += 10.0
            fw.advance_to(t)
            assert t < 36000
        return t

    assert disconnect_time(1) == disconnect_time(1)
    assert len({disconnect_time(s) for s in range(2, 8)}) > 1


# ---------------------------------------------------------------------------- commands
def test_commands_refused_in_the_wrong_state() -> None:
    fw = make_firmware(grid_feed(np.random.default_rng(14), duration_s=3.0))
    assert command(fw, StopCommand()).status == Status.INVALID_STATE
    assert command(fw, BackfillCommand(EMG_RAW, 0)).status == Status.INVALID_STATE
    assert command(fw, SetRateCommand(EMG_RAW, 2000)).ok
    assert command(fw, StartCommand(1 << (EMG_RAW - 1))).ok
    assert command(fw, StartCommand(ALL)).status == Status.INVALID_STATE
    assert command(fw, SetRateCommand(EMG_RAW, 500)).status == Status.INVALID_STATE
    assert command(fw, SetRangeCommand(SHANK, 8)).status == Status.INVALID_STATE
    assert command(fw, CalibrateNeutralCommand()).status == Status.INVALID_STATE
    assert command(fw, BackfillCommand(SHANK, 0)).status == Status.INVALID_STATE
    link_up(fw, att_mtu=247)
    packets = run(fw, 0.5)
    assert {p.rate_code for p in packets} == {2}  # 2000 Hz
    assert len(assemble(packets)) >= 900


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=16))
def test_any_write_gets_a_response_never_an_exception(raw: bytes) -> None:
    fw = make_firmware(grid_feed(np.random.default_rng(15), duration_s=1.0))
    response = decode_response(fw.handle_command(raw))
    assert response.opcode == (raw[0] if raw else 0)


def test_neutral_calibration_reports_gravity_and_refuses_motion() -> None:
    shank_g, foot_g = np.array([0.0, 0.0, 1.0]), np.array([0.5, 0.0, -0.866])

    def still(role: str, t: np.ndarray) -> np.ndarray:
        if role == "emg":
            return np.zeros(t.shape)
        base = shank_g if role == "shank_acc" else foot_g
        return base + 0.002 * np.sin(7 * t)[:, None]

    fw = make_firmware(still)
    assert command(fw, StartCommand(RAW_AND_ACCEL)).ok
    fw.advance_to(0.5)
    assert command(fw, CalibrateNeutralCommand()).status == Status.INVALID_STATE  # < 1 s
    fw.advance_to(2.0)
    result = command(fw, CalibrateNeutralCommand()).result
    got = np.array([result.shank_x_mg, result.shank_y_mg, result.shank_z_mg,
                    result.foot_x_mg, result.foot_y_mg, result.foot_z_mg])  # fmt: skip
    assert np.max(np.abs(got - 1000 * np.concatenate([shank_g, foot_g]))) <= 3

    def moving(role: str, t: np.ndarray) -> np.ndarray:
        if role == "emg":
            return np.zeros(t.shape)
        return np.stack([np.sin(6 * t), np.zeros_like(t), 0.5 + 0.5 * np.cos(6 * t)], axis=1)

    fw = make_firmware(moving)
    assert command(fw, StartCommand(RAW_AND_ACCEL)).ok
    fw.advance_to(2.0)
    assert command(fw, CalibrateNeutralCommand()).status == Status.MOTION_DETECTED


def test_config_refuses_short_buffers() -> None:
    with pytest.raises(ValueError, match="120"):
        FirmwareConfig(buffer_s=60.0)
    assert LEGBAND.samples_per_packet(EMG_RAW, att_mtu=23) == 4
