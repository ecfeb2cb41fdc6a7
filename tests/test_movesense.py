"""Movesense GATT SensorData protocol: vendor byte examples, fuzzing, the assembler."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.capture.movesense_source import (
    DATA_SOURCE,
    MovesenseAssembler,
    stamp_tolerance_samples,
)
from detector.errors import CrampInputError
from detector.profiles.errors import DecodeError
from detector.profiles.movesense import (
    STANDARD_GRAVITY_MS2,
    CommandResult,
    DataNotification,
    MessageJoiner,
    acc_g,
    acc_path,
    build_hello,
    build_subscribe,
    build_unsubscribe,
    decode_imu_data,
    parse_notification,
)
from firmware_sim.movesense_sim import encode_acc_data, split_message


def test_commands_match_the_vendor_python_client() -> None:
    # gatt_sensordata_app/python_client: write [1, 99] + "/Meas/Acc/13", then [2, 99]
    assert build_subscribe(99, "/Meas/Acc/13") == bytearray([1, 99]) + b"/Meas/Acc/13"
    assert build_unsubscribe(99) == bytes([2, 99])
    assert build_hello(7) == bytes([0, 7])
    assert acc_path(fs=416) == "/Meas/Acc/416"
    for bad in (lambda: build_subscribe(0, "/Meas/Acc/13"), lambda: build_unsubscribe(256),
                lambda: acc_path(fs=100), lambda: build_subscribe(1, "")):
        with pytest.raises(ValueError):
            bad()


def test_command_results_match_the_vendor_sample() -> None:
    # GATTSensorDataClient.cpp: hello {1, ref, 'H','e','l','l','o'}; no slot {1, ref, 0x01, 0xFB}
    hello = parse_notification(bytes([1, 5]) + b"Hello")
    assert hello == CommandResult(reference=5, status=None, text="Hello")
    assert parse_notification(bytes([1, 5, 0x01, 0xFB])) == CommandResult(reference=5,
                                                                          status=507)


def test_acc_data_at_the_vendor_client_offsets() -> None:
    # the vendor client reads u32 at byte 2 and float32 x, y, z at bytes 6, 10, 14
    raw = bytes([2, 99]) + struct.pack("<I3f", 1234567, 0.5, -9.80665, 19.6133)
    msg = parse_notification(raw)
    assert isinstance(msg, DataNotification) and msg.reference == 99
    data = decode_imu_data(msg.payload, fs=13)
    assert data.timestamp_ms == 1234567 and data.n_samples == 1
    assert np.allclose(data.values, [[0.5, -9.80665, 19.6133]], rtol=1e-6)
    assert np.allclose(acc_g(data), [[0.5 / STANDARD_GRAVITY_MS2, -1.0, 2.0]], rtol=1e-6)
    two = decode_imu_data(struct.pack("<I6f", 10, *range(6)), fs=104)
    assert two.values.shape == (2, 3) and np.allclose(two.sample_times_ms(), [10, 10 + 1e3 / 104])


def test_bad_notifications_give_one_clear_error() -> None:
    cases = ((b"\x02", "at least 2"), (b"\x04\x01", "type 4"), (b"\x02\x00abcd", "reference 0"),
             (b"\x01\x05\x01", "2-byte HTTP status"))
    for raw, match in cases:
        with pytest.raises(DecodeError, match=match):
            parse_notification(raw)
    for payload, match in ((bytes(15), "4 \\+ 12 x n"), (bytes(4), "4 \\+ 12 x n"),
                           (struct.pack("<I3f", 0, float("nan"), 0, 0), "finite")):
        with pytest.raises(DecodeError, match=match):
            decode_imu_data(payload, fs=52)
    with pytest.raises(DecodeError, match="fs"):
        decode_imu_data(bytes(16), fs=0)


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        msg = parse_notification(data)
        if isinstance(msg, DataNotification):
            decoded = decode_imu_data(msg.payload, fs=104)
            assert decoded.values.shape == (len(msg.payload) // 12, 3)
    except DecodeError as exc:
        assert str(exc)


def _frames(acc: np.ndarray, *, fs: int, per: int, boot_ms: int) -> list[tuple[int, bytes]]:
    out = []
    for k in range(0, acc.shape[0] - per + 1, per):
        out.append((k, encode_acc_data(1, timestamp_ms=boot_ms + round(k * 1000 / fs),
                                       acc_ms2=acc[k:k + per] * STANDARD_GRAVITY_MS2)))
    return out


@pytest.mark.parametrize("fs", [52, 416, 833])
def test_assembler_counts_on_and_places_a_reconnection_by_the_sensor_clock(fs: int) -> None:
    rng = np.random.default_rng(fs)
    acc = rng.normal(0, 0.3, size=(fs * 6, 3)).astype(np.float32).astype(np.float64)
    frames = _frames(acc, fs=fs, per=8, boot_ms=(1 << 32) - 2500)  # the u32 clock wraps
    asm = MovesenseAssembler(fs=fs, role="foot_acc")
    got = np.full((acc.shape[0], 3), np.nan)
    cut = set(range(len(frames) // 3, len(frames) // 2))  # a dropout
    for n, (k, payload) in enumerate(frames):
        if n in cut:
            continue
        if n == max(cut) + 1:
            asm.new_connection()
        for role, block in asm.push_notification(DATA_SOURCE, payload, received_s=k / fs):
            assert role == "foot_acc"
            got[block.start_sample:block.end_sample] = block.data
    for _role, block in asm.flush():
        got[block.start_sample:block.end_sample] = block.data
    lost = set().union(*(range(frames[n][0], frames[n][0] + 8) for n in cut))
    kept = [i for i in range(len(frames) * 8) if i not in lost]
    assert np.allclose(got[kept], acc[kept], atol=1e-6)
    assert np.isnan(got[sorted(lost)]).all()
    (gap,) = asm.track.gaps
    assert gap.samples_missing == len(lost)
    # a refused subscription is kept for the session to report
    asm.push_notification(DATA_SOURCE, bytes([1, 1, 0x01, 0xFB]), received_s=99.0)
    assert asm.refused == [507]


def test_assembler_rejects_a_rate_the_sensor_does_not_offer() -> None:
    with pytest.raises(CrampInputError, match="100 Hz"):
        MovesenseAssembler(fs=100)


def test_a_two_part_message_joins_as_the_vendor_client_joins_it() -> None:
    # the vendor's later python client: DATA (2) holds the first part of an /Meas/IMU9/104
    # message, DATA_PART2 (3) the rest; whole = first + part2[2:]; then u32 stamp at byte 2,
    # 8 x (x, y, z) float32 of acc from byte 6, gyro 96 bytes on, magn 192 bytes on
    acc = np.arange(24, dtype=np.float32).reshape(8, 3)
    gyro, magn = acc + 100, acc + 200
    whole = bytes([2, 99]) + struct.pack("<I", 4_000_000_123) + acc.tobytes() \
        + gyro.tobytes() + magn.tobytes()
    assert len(whole) == 2 + 4 + 288
    first, second = whole[:155], bytes([3, 99]) + whole[155:]
    joiner = MessageJoiner()
    part1, part2 = parse_notification(first), parse_notification(second)
    assert isinstance(part1, DataNotification) and isinstance(part2, DataNotification)
    assert (part1.part, part2.part, part2.reference) == (1, 2, 99)
    assert joiner.push(part1, 1.5) == []
    ((msg, received_s),) = joiner.push(part2, 1.6)
    assert received_s == 1.5 and msg.reference == 99 and msg.part == 1
    assert bytes([2, 99]) + msg.payload == whole
    assert struct.unpack_from("<I", msg.payload, 0)[0] == 4_000_000_123
    for i in range(8):
        row = struct.unpack_from("<9f", b"".join(
            msg.payload[4 + 12 * i + 96 * k:4 + 12 * i + 96 * k + 12] for k in range(3)))
        assert row == (*acc[i], *gyro[i], *magn[i])
    # a DATA that is not followed by a second part is a whole message
    one = parse_notification(encode_acc_data(99, timestamp_ms=7, acc_ms2=acc[:2]))
    assert isinstance(one, DataNotification)
    assert joiner.push(one, 2.0) == []
    assert [m.payload for m, _ in joiner.flush()] == [one.payload]
    with pytest.raises(DecodeError, match="no first part"):
        joiner.push(part2, 3.0)  # its first part never came


def test_the_simulator_splits_only_what_does_not_fit() -> None:
    msg = encode_acc_data(1, timestamp_ms=0, acc_ms2=np.ones((24, 3)))
    assert split_message(msg, max_bytes=len(msg)) == [msg]
    first, second = split_message(msg, max_bytes=244)
    assert first == msg[:244] and second == bytes([3, 1]) + msg[244:]
    with pytest.raises(ValueError, match="two notifications"):
        split_message(msg, max_bytes=100)


def test_stamp_tolerance_follows_the_rate() -> None:
    assert [stamp_tolerance_samples(fs) for fs in (13, 52, 416, 833, 1666)] == [1, 1, 1, 1, 2]


@settings(deadline=None, max_examples=80)
@given(seed=st.integers(0, 2**16), fs=st.sampled_from([52, 104, 208, 416]),
       per=st.integers(1, 24), data=st.data())
def test_split_messages_rebuild_every_sample_at_its_index(seed: int, fs: int, per: int,
                                                          data: st.DataObject) -> None:
    # (above 500 Hz a message placed by its whole-ms stamp may be one sample off)
    rng = np.random.default_rng(seed)
    acc = rng.normal(0, 0.3, size=(per * 12, 3)).astype(np.float32).astype(np.float64)
    frames = _frames(acc, fs=fs, per=per, boot_ms=5_000)
    asm = MovesenseAssembler(fs=fs, role="shank_acc")
    got = np.full((acc.shape[0], 3), np.nan)
    errors = lost_parts = 0
    reconnect_at = data.draw(st.integers(2, len(frames) - 1))
    for n, (k, message) in enumerate(frames):
        split = data.draw(st.one_of(st.none(), st.integers(3, len(message) - 1)))
        parts = [message] if split is None else [message[:split],
                                                 bytes([3, 1]) + message[split:]]
        # whole samples in a first part, if its length is one of a whole message
        kept = (split - 6) // 12 if split is not None and split > 6 and \
            (split - 6) % 12 == 0 else 0
        if split is not None and n > 0 and per - kept > stamp_tolerance_samples(fs) \
                and data.draw(st.integers(0, 5)) == 0:
            parts = parts[:1]  # its second part is lost (notifications are not acknowledged)
            lost_parts += 1
        if n == reconnect_at:
            asm.new_connection()
        for part in parts:
            try:
                blocks = asm.push_notification(DATA_SOURCE, part, received_s=k / fs)
            except CrampInputError:
                errors += 1
                continue
            for _role, block in blocks:
                got[block.start_sample:block.end_sample] = block.data
    for _role, block in asm.flush():
        got[block.start_sample:block.end_sample] = block.data
    placed = ~np.isnan(got[:, 0])
    assert placed.any()
    assert np.allclose(got[placed], acc[placed], atol=1e-6)  # every sample at its index
    assert asm.track.lost == int((~placed[:asm.track.frontier]).sum())
    assert errors <= lost_parts
    if lost_parts == 0:  # positive control: nothing lost, every sample placed
        assert placed.all() and asm.track.lost == 0 and errors == 0
