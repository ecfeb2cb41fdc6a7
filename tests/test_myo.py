"""Myo armband: published vectors (iomz/dl-myo tests, myohw.h), round trips and fuzzing."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.errors import CrampInputError
from detector.profiles.errors import DecodeError
from detector.profiles.myo import (
    MYO,
    MYO_EMG_UV_PER_COUNT_ASSUMED,
    NEVER_SLEEP,
    STREAM_RAW_EMG_AND_IMU,
    ClassifierMode,
    EmgMode,
    ImuMode,
    MyoCalfMapping,
    SleepMode,
    build_set_mode_command,
    build_sleep_mode_command,
    decode_emg,
    decode_firmware_version,
    decode_imu,
    emg_channel_spec,
    emg_uv,
    myo_uuid,
    shank_acc_g,
    shank_channel_spec,
)

FUZZ = settings(max_examples=200, deadline=None)
FAST = settings(max_examples=80, deadline=None)

# iomz/dl-myo tests/test_myo/test_types.py::test_emg_data: sample1 + sample2.
EMG_VECTORS = [
    ("090d01fefefefa0206e9fcfdfcfe0502",
     (9, 13, 1, -2, -2, -2, -6, 2, 6, -23, -4, -3, -4, -2, 5, 2)),
    ("fe0200ff0000ff0304110000fefe0304",
     (-2, 2, 0, -1, 0, 0, -1, 3, 4, 17, 0, 0, -2, -2, 3, 4)),
    ("05fe00000204151ef2f3fffe02fc01ed",
     (5, -2, 0, 0, 2, 4, 21, 30, -14, -13, -1, -2, 2, -4, 1, -19)),
    ("021100fe00fdfd0504ff020100040801",
     (2, 17, 0, -2, 0, -3, -3, 5, 4, -1, 2, 1, 0, 4, 8, 1)),
    ("fffbfd00ff000001ff00fffffefcfe08",
     (-1, -5, -3, 0, -1, 0, 0, 1, -1, 0, -1, -1, -2, -4, -2, 8)),
]

# iomz/dl-myo tests/test_myo/test_types.py::test_imu_data: (w, x, y, z, accel, gyro).
IMU_VECTORS = [
    ("3e2eab2be5f824004e01bd0757000300f5fffcff",
     (0.7225341796875, 0.68231201171875, -0.11102294921875, 0.002197265625),
     [0.1630859375, 0.96728515625, 0.04248046875], [0.1875, -0.6875, -0.25]),
    ("0a2ee12be5f810005b01c6075300f1ff0400f7ff",
     (0.7193603515625, 0.68560791015625, -0.11102294921875, 0.0009765625),
     [0.16943359375, 0.9716796875, 0.04052734375], [-0.9375, 0.25, -0.5625]),
    ("5c2d9e2c23f99cff03fc1a06eaf94900feffe3ff",
     (0.708740234375, 0.6971435546875, -0.10723876953125, -0.006103515625),
     [-0.49853515625, 0.7626953125, -0.7607421875], [4.5625, -0.125, -1.8125]),
]


# ------------------------------------------------------------------------------- profile
def test_uuids_follow_the_header() -> None:
    # myohw.h: "the full service UUID for GCControlService would be d5060001-a904-..."
    assert myo_uuid(0x0001) == "d5060001-a904-deb9-4748-2c7f4a124842"
    assert MYO.command_uuid == "d5060401-a904-deb9-4748-2c7f4a124842"
    assert MYO.imu_data_uuid == "d5060402-a904-deb9-4748-2c7f4a124842"
    assert MYO.emg_data_uuids == tuple(f"d506{s}05-a904-deb9-4748-2c7f4a124842"
                                       for s in ("01", "02", "03", "04"))
    assert (MYO.emg_fs_hz, MYO.imu_fs_hz, MYO.emg_channels) == (200.0, 50.0, 8)


def test_commands() -> None:
    assert STREAM_RAW_EMG_AND_IMU == bytes.fromhex("0103030100")
    assert NEVER_SLEEP == bytes.fromhex("090101")
    assert build_sleep_mode_command(SleepMode.NORMAL) == bytes.fromhex("090100")
    off = build_set_mode_command(emg_mode=EmgMode.NONE, imu_mode=ImuMode.NONE,
                                 classifier_mode=ClassifierMode.DISABLED)
    assert off == bytes.fromhex("0103000000")


# ------------------------------------------------------------------------------- vectors
@pytest.mark.parametrize(("blob", "expected"), EMG_VECTORS)
def test_emg_vectors(blob: str, expected: tuple[int, ...]) -> None:
    packet = decode_emg(bytes.fromhex(blob), fs=200, first_sample=10)
    assert packet.samples.shape == (2, 8)
    assert packet.samples[0].tolist() == list(expected[:8])
    assert packet.samples[1].tolist() == list(expected[8:])
    assert packet.sample_index.tolist() == [10, 11]
    np.testing.assert_allclose(packet.times_s, [0.05, 0.055])


@pytest.mark.parametrize(("blob", "quaternion", "accel", "gyro"), IMU_VECTORS)
def test_imu_vectors(blob: str, quaternion: tuple[float, ...], accel: list[float],
                     gyro: list[float]) -> None:
    sample = decode_imu(bytes.fromhex(blob), fs=50, sample_index=3)
    assert sample.quaternion.tolist() == list(quaternion)
    assert sample.accel_g.tolist() == accel
    assert sample.gyro_dps.tolist() == gyro
    assert sample.time_s == pytest.approx(0.06)


@pytest.mark.parametrize(("blob", "quaternion", "accel", "gyro"), IMU_VECTORS)
def test_imu_vectors_are_little_endian_not_as_the_header_says(
        blob: str, quaternion: tuple[float, ...], accel: list[float], gyro: list[float]) -> None:
    # myohw.h says "All values are big-endian", yet only little-endian gives a unit quaternion.
    little = np.array(struct.unpack("<10h", bytes.fromhex(blob))[:4]) / 16384.0
    big = np.array(struct.unpack(">10h", bytes.fromhex(blob))[:4]) / 16384.0
    assert math.isclose(float(np.linalg.norm(little)), 1.0, abs_tol=1e-3)
    assert not math.isclose(float(np.linalg.norm(big)), 1.0, abs_tol=0.1)
    assert decode_imu(bytes.fromhex(blob), fs=50, sample_index=0).quaternion.tolist() == list(
        quaternion)


def test_firmware_version_vector() -> None:
    # iomz/dl-myo test_firmware_version: b'\x01\x00\x05\x00\xb2\x07\x02\x00' -> 1.5.1970.REVD
    version = decode_firmware_version(b"\x01\x00\x05\x00\xb2\x07\x02\x00")
    assert (version.major, version.minor, version.patch) == (1, 5, 1970)
    assert version.hardware_name == "REVD"


# ------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("length", [0, 1, 15, 17, 20])
def test_emg_wrong_length(length: int) -> None:
    with pytest.raises(DecodeError, match=r"myo\.emg: .* expected exactly 16"):
        decode_emg(bytes(length), fs=200, first_sample=0)


@pytest.mark.parametrize("length", [0, 16, 19, 21])
def test_imu_wrong_length(length: int) -> None:
    with pytest.raises(DecodeError, match=r"myo\.imu: .* expected exactly 20"):
        decode_imu(bytes(length), fs=50, sample_index=0)


def test_bad_parameters() -> None:
    with pytest.raises(DecodeError, match="fs"):
        decode_emg(bytes(16), fs=float("inf"), first_sample=0)
    with pytest.raises(DecodeError, match="sample index"):
        decode_emg(bytes(16), fs=200, first_sample=-1)
    with pytest.raises(DecodeError, match="fs"):
        decode_imu(bytes(20), fs=-50, sample_index=0)
    with pytest.raises(DecodeError, match="expected exactly 8"):
        decode_firmware_version(bytes(7))


# ---------------------------------------------------------------------- pipeline mapping
def test_emg_mapping_uses_the_configured_electrode_and_scale() -> None:
    packet = decode_emg(bytes.fromhex(EMG_VECTORS[0][0]), fs=200, first_sample=0)
    assert emg_uv(packet).tolist() == [9 * MYO_EMG_UV_PER_COUNT_ASSUMED,
                                       6 * MYO_EMG_UV_PER_COUNT_ASSUMED]
    third = MyoCalfMapping(emg_channel=2, uv_per_count=2.5)
    assert emg_uv(packet, mapping=third).tolist() == [2.5, -10.0]
    spec = emg_channel_spec(fs=200, mapping=third)
    assert (spec.role, spec.unit, spec.fs) == ("emg", "uV", 200.0)
    assert spec.source_labels == ("myo_emg_2",)
    assert spec.rails == (-320.0, 317.5)


def test_shank_mapping() -> None:
    sample = decode_imu(bytes.fromhex(IMU_VECTORS[0][0]), fs=50, sample_index=0)
    assert shank_acc_g(sample).tolist() == [[0.1630859375, 0.96728515625, 0.04248046875]]
    spec = shank_channel_spec(fs=50)
    assert (spec.role, spec.unit, spec.fs, spec.rails) == ("shank_acc", "g", 50.0, (-16.0, 16.0))


@pytest.mark.parametrize(("channel", "scale"), [(8, 1.0), (-1, 1.0), (0, 0.0), (0, math.nan)])
def test_bad_mapping_is_a_user_error(channel: int, scale: float) -> None:
    with pytest.raises(CrampInputError, match=r"myo\."):
        MyoCalfMapping(emg_channel=channel, uv_per_count=scale)


# ----------------------------------------------------------------- round trips + fuzzing
@FAST
@given(st.lists(st.integers(-128, 127), min_size=16, max_size=16), st.integers(0, 2**40))
def test_emg_round_trip(values: list[int], first: int) -> None:
    packet = decode_emg(struct.pack("<16b", *values), fs=200, first_sample=first)
    assert packet.samples.reshape(-1).tolist() == values
    assert packet.sample_index.tolist() == [first, first + 1]


@FAST
@given(st.lists(st.integers(-32768, 32767), min_size=10, max_size=10))
def test_imu_round_trip(values: list[int]) -> None:
    sample = decode_imu(struct.pack("<10h", *values), fs=50, sample_index=0)
    assert (sample.quaternion * 16384).tolist() == values[:4]
    assert (sample.accel_g * 2048).tolist() == values[4:7]
    assert (sample.gyro_dps * 16).tolist() == values[7:]


@FUZZ
@given(st.binary(max_size=40), st.integers(-3, 2**40))
def test_fuzz_random_bytes(raw: bytes, index: int) -> None:
    for call in (lambda: decode_emg(raw, fs=200, first_sample=index),
                 lambda: decode_imu(raw, fs=50, sample_index=index),
                 lambda: decode_firmware_version(raw)):
        try:
            call()
        except DecodeError as exc:
            assert "\n" not in str(exc)
