"""Movesense GATT SensorData protocol: vendor byte examples, fuzzing, the assembler."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.capture.movesense_source import DATA_SOURCE, MovesenseAssembler
from detector.errors import CrampInputError
from detector.profiles.errors import DecodeError
from detector.profiles.movesense import (
    STANDARD_GRAVITY_MS2,
    CommandResult,
    DataNotification,
    acc_g,
    acc_path,
    build_hello,
    build_subscribe,
    build_unsubscribe,
    decode_imu_data,
    parse_notification,
)
from firmware_sim.movesense_sim import encode_acc_data


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
    cases = ((b"\x02", "at least 2"), (b"\x03\x01", "type 3"), (b"\x02\x00abcd", "reference 0"),
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
