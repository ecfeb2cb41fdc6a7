"""Polar PMD accelerometer: Polar's published vectors, round trips and fuzzing.

Byte vectors and expected values come from Polar's own unit tests in polarofficial/polar-ble-sdk
(AccDataTest.kt / AccDataTest.swift, PmdSettingTest.kt, BlePmdClientControlPointResponseTest.kt,
BlePmdClientTest.kt); each test names its source.
"""

from __future__ import annotations

import itertools
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from detector.errors import CrampInputError
from detector.profiles.errors import DecodeError
from detector.profiles.polar_pmd import (
    H10_ACC_200HZ,
    POLAR_EPOCH_UNIX_S,
    POLAR_PMD,
    AccSettings,
    ControlOpcode,
    ControlPointResponse,
    MeasurementStopped,
    MeasurementType,
    ResponseStatus,
    SettingType,
    build_get_settings_command,
    build_start_acc_command,
    build_start_command,
    build_stop_command,
    parse_control_point_message,
    parse_settings,
    settings_from_response,
    start_response_factor,
)
from detector.profiles.polar_pmd_frames import (
    PolarFootMapping,
    decode_acc_frame,
    decode_delta_payload,
    foot_acc_g,
    foot_channel_spec,
    parse_frame_header,
    sample_times_ns,
)

FUZZ = settings(max_examples=200, deadline=None)
FAST = settings(max_examples=80, deadline=None)


def hx(text: str) -> bytes:
    """Bytes from a hex dump with spaces."""
    return bytes.fromhex(text.replace(" ", "").replace("\n", ""))


# ---- AccDataTest.kt, "process acc raw data frame type 1" (52 Hz, factor 1)
RAW1_HEADER = hx("02 00 94 35 77 00 00 00 00 01")
RAW1_CONTENT = hx("""
F7 FF FF FF E7 03 F8 FF FE FF E5 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 FA FF FE FF E6 03
F9 FF FF FF E5 03 F8 FF FF FF E6 03 F8 FF FE FF E6 03 FA FF FF FF E5 03 FA FF FF FF E7 03
FA FF FF FF E5 03 F8 FF FF FF E6 03 F7 FF FF FF E6 03 F8 FF FE FF E6 03 F9 FF FE FF E7 03
F9 FF 00 00 E6 03 F9 FF FF FF E6 03 F7 FF FE FF E5 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03
FA FF 00 00 E6 03 F9 FF FE FF E6 03 F8 FF FF FF E6 03 F8 FF FF FF E5 03 F9 FF FF FF E6 03
F9 FF FF FF E5 03 FA FF FF FF E6 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03 F8 FF FE FF E6 03
F9 FF FF FF E6 03 F9 FF FF FF E6 03 F9 FF 00 00 E5 03 F9 FF FE FF E6 03 F8 FF FE FF E6 03
F7 FF FE FF E6 03""")

# ---- AccDataTest.kt, "process acc compressed data type 0" (factor 2.44E-4f, previous ts 100)
COMP0_HEADER = hx("02 00 94 35 77 00 00 00 00 80")
COMP0_CONTENT = hx("""
71 07 F0 6A 9E 8D 0A 38 BE 5C BE BA 2F 96 B3 EE 4B E5 AD FB 42 B9 EB BE 4C FE BA 2F 92 BF
EE 4B E4 B1 FB 12 B9 EC BD 3C 3E BB 2F 8F D3 DE 4B E3 B5 F7 D2 B8 ED BD 30 7E 7B 2F 8B E3
CE 8B E2 BA F7 A2 B8 EE BC 20 BE 7B 2F 88 F3 CE CB E1 BD EF 52 F8 EF BC 18 FE 3B 2F 84 03
BF CB E0 C2 EF 32 B8 F0 BB 04 4E BC 2E 81 13 AF 0B E0 C6 EF F2 F7 F1 B9 FC 7D BC 2E 7D 27
9F 4B DF CA EB C2 F7 F2 B8 EC CD 7C 2E 7B 37 8F 4B DE CE E3 92 F7 F3 B8 E0 0D FD 2D 77 4B
7F CB DD D2 DF 62 37 F5 B7 D4 4D BD 2D 74 5B 6F CB DC D7 D7 32 37 F6 B5 C8 8D 7D 2D 71 6B
4F 4B DC DC D3 F2 36 F7 B4 BC DD FD 2C 6F 7B 3F 4B DB E0 CF D2 36 F8 B2 B0 2D BE 2C 6C 8F
1F CB DA E3 C7 A2 76 F9""")

# ---- AccDataTest.kt, private measurementFrameAccType0Short (reference sample -163, ...)
SHORT_CONTENT = hx("""
5D FF 98 00 FD 0F 06 2A F2 B0 13 EC A1 1B 3E C3 D0 40 7F CD 40 71 D8 F3 4D 00 46 3F 08 7B
9F D7 3A AF 38 52 A6 13 ED 3E 13 09 91 DC FA EE EF 3E 54 10 E2 8F 77 85 EE F2 4C 7E 04 87
9C FC D2 2F 10 FD 4F EF FE 21 FF C2 81 04 03 5F 13 45 D1 08 4A DF BF B5 51 44 7B 50 F7 39
A1 10 2E 6F 18 F7 9F 1C 36 4D 1B 0D 03 0C 14 06 D0 FE F7 AF FF FC BF FF F4 3F 01 17 F0 00
01 10 00 F8 DF FF 00""")


# ------------------------------------------------------------------------------- profile
def test_uuids_share_the_pmd_suffix() -> None:
    assert POLAR_PMD.service_uuid == "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
    assert POLAR_PMD.control_point_uuid == "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
    assert POLAR_PMD.data_uuid == "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
    assert int(MeasurementType.ACC) == 2 and int(SettingType.FACTOR) == 5


# ------------------------------------------------------------------------------ commands
def test_h10_start_acc_command_bytes() -> None:
    expected = hx("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")
    assert build_start_acc_command(H10_ACC_200HZ) == expected


def test_start_command_with_channels_and_simple_commands() -> None:
    verity = AccSettings(sample_rate_hz=52, resolution_bits=16, range_g=8, channels=3)
    assert build_start_acc_command(verity) == hx("02 02 00 01 34 00 01 01 10 00 02 01 08 00"
                                                 "04 01 03")
    assert build_get_settings_command(MeasurementType.ACC) == hx("01 02")
    assert build_stop_command(MeasurementType.ACC) == hx("03 02")


def test_start_command_rejects_factor_and_oversized_values() -> None:
    with pytest.raises(ValueError, match="FACTOR"):
        build_start_command(MeasurementType.ACC, [(SettingType.FACTOR, 1)])
    with pytest.raises(ValueError, match="SAMPLE_RATE"):
        build_start_command(MeasurementType.ACC, [(SettingType.SAMPLE_RATE, 70000)])


def test_selected_settings_serialise_and_parse_back() -> None:
    # PmdSettingTest.testPmdSelectedSerialization: FACTOR is never serialised.
    command = build_start_command(MeasurementType.ACC, [
        (SettingType.SAMPLE_RATE, 0x7FFF), (SettingType.RESOLUTION, 0),
        (SettingType.RANGE, 15), (SettingType.RANGE_MILLIUNIT, 2**31 - 1),
        (SettingType.CHANNELS, 4)])
    parsed = parse_settings(command[2:])
    assert parsed.sample_rates_hz == (0x7FFF,)
    assert parsed.resolutions_bits == (0,)
    assert parsed.ranges == (15,)
    assert parsed.ranges_milliunit == (2**31 - 1,)
    assert parsed.channels == (4,)
    assert parsed.factors == ()


# ------------------------------------------------------------------------------ settings
def test_settings_with_ranges_vector() -> None:
    # PmdSettingTest.testPmdSettingsWithRange
    raw = hx("00 01 34 00 01 01 10 00 02 04 F5 00 F4 01 E8 03 D0 07 04 01 03")
    parsed = parse_settings(raw)
    assert parsed.sample_rates_hz == (52,)
    assert parsed.resolutions_bits == (16,)
    assert set(parsed.ranges) == {245, 500, 1000, 2000} and len(parsed.ranges) == 4
    assert parsed.channels == (3,)
    assert parsed.ranges_milliunit == () and parsed.factors == ()


def test_settings_with_range_milliunit_vector() -> None:
    # PmdSettingTest.testPmdSettingWithRangeMilliUnit. Polar's Kotlin reads FF FF FF FF into a
    # signed Int (-1); the field is unsigned 32-bit, so it is 0xFFFFFFFF here.
    raw = hx("03 02 FF FF FF FF FF 00 00 00 01 01 0E 00")
    parsed = parse_settings(raw)
    assert set(parsed.ranges_milliunit) == {0xFFFFFFFF, 0xFF}
    assert parsed.resolutions_bits == (14,)
    assert parsed.sample_rates_hz == ()


@pytest.mark.parametrize(("raw", "message"), [
    (hx("07 01 00"), "unknown setting type 7"),
    (hx("00 02 34 00 1A"), "SAMPLE_RATE lists 2 values"),
    (hx("00 01 34 00 01"), "setting header cut short"),
])
def test_bad_settings_raise_decode_error(raw: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_settings(raw)


def test_empty_and_single_byte_settings_are_empty() -> None:
    assert parse_settings(b"") == parse_settings(b"\x00")
    assert parse_settings(b"\x00").sample_rates_hz == ()


# ------------------------------------------------------------------ control-point responses
def test_success_response_vector() -> None:
    # BlePmdClientControlPointResponseTest: "success control point response for acc stream"
    response = parse_control_point_message(hx("F0 01 02 00 00 FF FF FF"))
    assert isinstance(response, ControlPointResponse)
    assert response.opcode == ControlOpcode.GET_SETTINGS
    assert response.measurement_type == MeasurementType.ACC
    assert response.status == ResponseStatus.SUCCESS and response.ok
    assert response.more is False
    assert response.parameters == hx("FF FF FF")


def test_failure_response_vector() -> None:
    # BlePmdClientControlPointResponseTest: "failing control point response for mag stream"
    response = parse_control_point_message(hx("F0 01 06 07 00"))
    assert isinstance(response, ControlPointResponse)
    assert response.measurement_type == MeasurementType.MAG
    assert response.status == ResponseStatus.INVALID_RESOLUTION
    assert response.status_name == "INVALID_RESOLUTION"
    assert not response.ok and response.more is False and response.parameters == b""
    with pytest.raises(DecodeError, match="INVALID_RESOLUTION"):
        settings_from_response(response)


def test_measurement_stopped_vector() -> None:
    # BlePmdClientTest: "process measurement stop control point command" (01 01 02)
    message = parse_control_point_message(hx("01 01 02"))
    assert message == MeasurementStopped(measurement_types=(1, 2))
    assert parse_control_point_message(hx("01")) == MeasurementStopped(measurement_types=())


def test_start_response_factor_vector() -> None:
    # BlePmdClientTest: start response whose parameters carry FACTOR = floatToIntBits(2.5f)
    response = parse_control_point_message(hx("F0 02 01 00 00 05 01 00 00 20 40"))
    assert isinstance(response, ControlPointResponse)
    assert start_response_factor(response) == 2.5
    acc_factor = struct.pack("<f", 2.44e-4)  # little-endian float32, as the device sends it
    response = parse_control_point_message(hx("F0 02 02 00 00 05 01") + acc_factor)
    assert isinstance(response, ControlPointResponse)
    assert start_response_factor(response) == float(np.float32(2.44e-4))


def test_start_response_without_factor_and_bad_factor() -> None:
    plain = parse_control_point_message(hx("F0 02 02 00 00"))
    assert isinstance(plain, ControlPointResponse)
    assert start_response_factor(plain) == 1.0
    nan = parse_control_point_message(hx("F0 02 02 00 00 05 01 00 00 C0 7F"))
    assert isinstance(nan, ControlPointResponse)
    with pytest.raises(DecodeError, match="FACTOR"):
        start_response_factor(nan)
    other = parse_control_point_message(hx("F0 01 02 00 00"))
    assert isinstance(other, ControlPointResponse)
    with pytest.raises(DecodeError, match="START"):
        start_response_factor(other)


@pytest.mark.parametrize("raw", [b"", hx("F0 01 02"), hx("AA 01 02 00")])
def test_malformed_control_point_messages(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_control_point_message(raw)


# ------------------------------------------------------------------------------ headers
def test_header_vectors() -> None:
    # BlePmdClientTest "process ecg data": timestamp 946833049921875000, raw frame type 3
    ecg = parse_frame_header(hx("00 38 6C 31 72 A4 D3 23 0D 03 00 12 03"))
    assert ecg.measurement_type == MeasurementType.ECG
    assert ecg.timestamp_ns == 946833049921875000
    assert ecg.frame_type == 3 and not ecg.compressed
    # "process ppg data": 0x7000000000000000, compressed type 0
    ppg = parse_frame_header(hx("01 00 00 00 00 00 00 00 70 80 FF"))
    assert ppg.timestamp_ns == 8070450532247928832
    assert ppg.frame_type == 0 and ppg.compressed
    # "process acc data": timestamp 1, compressed type 3 (unsupported by the ACC parser)
    acc = parse_frame_header(hx("02 01 00 00 00 00 00 00 00 83 00"))
    assert (acc.timestamp_ns, acc.frame_type, acc.compressed) == (1, 3, True)
    with pytest.raises(DecodeError, match="compressed ACC frame type 3"):
        decode_acc_frame(hx("02 01 00 00 00 00 00 00 00 83 00"), fs=52, factor=1.0)


# --------------------------------------------------------------------------- ACC frames
def test_raw_type1_vector() -> None:
    frame = decode_acc_frame(RAW1_HEADER + RAW1_CONTENT, fs=52, factor=1.0)
    assert frame.n_samples == len(RAW1_CONTENT) // 2 // 3 == 36
    assert frame.counts[0].tolist() == [-9, -1, 999]
    assert frame.counts[1].tolist() == [-8, -2, 997]
    np.testing.assert_array_equal(frame.acc_mg[:2], [[-9.0, -1.0, 999.0], [-8.0, -2.0, 997.0]])
    assert frame.timestamp_ns == 2000000000
    assert int(frame.sample_times_ns[-1]) == 2000000000
    steps = np.diff(frame.sample_times_ns)
    assert np.all(np.abs(steps - 1e9 / 52) <= 1.0)
    assert frame.fs == 52.0 and not frame.compressed and frame.frame_type == 1


def test_compressed_type0_vector() -> None:
    factor = float(np.float32(2.44e-4))
    frame = decode_acc_frame(COMP0_HEADER + COMP0_CONTENT, fs=52, factor=factor,
                             previous_timestamp_ns=100)
    assert frame.n_samples == 1 + 56
    ref = [1905, 27376, -29282]
    assert frame.counts[0].tolist() == ref
    assert frame.counts[1].tolist() == [1905 + 190, 27376 - 105, -29282 - 85]
    # Polar's expected values: (factor * sample * 1000f).toInt() in float32 arithmetic.
    f32 = np.float32(2.44e-4)
    for row, sample in enumerate((ref, [1905 + 190, 27376 - 105, -29282 - 85])):
        expected = [int(f32 * np.float32(v) * np.float32(1000)) for v in sample]
        assert np.trunc(frame.acc_mg[row]).astype(int).tolist() == expected
    assert np.all(np.abs(frame.acc_mg) <= 8 * 1000)
    # First sample: round(previous + (timestamp - previous) / n); last: the frame's timestamp.
    assert int(frame.sample_times_ns[0]) == round(100 + (2000000000 - 100) / 57)
    assert int(frame.sample_times_ns[-1]) == 2000000000


def test_compressed_type1_vector_android() -> None:
    frame = decode_acc_frame(hx("02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08"),
                             fs=52, factor=1.0, previous_timestamp_ns=100)
    assert frame.counts.tolist() == [[-15, 20, 1008], [-20, 17, 1008]]
    assert frame.acc_mg.tolist() == [[-15.0, 20.0, 1008.0], [-20.0, 17.0, 1008.0]]
    assert frame.sample_times_ns.tolist() == [100, 101]


def test_compressed_type1_vector_ios() -> None:
    frame = decode_acc_frame(hx("02 66 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08"),
                             fs=52, factor=1.0, previous_timestamp_ns=100)
    assert frame.counts.tolist() == [[-15, 20, 1008], [-20, 17, 1008]]
    assert frame.sample_times_ns.tolist() == [101, 102]


def test_compressed_type1_with_factor_scales_counts() -> None:
    raw = hx("02 66 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08")
    frame = decode_acc_frame(raw, fs=52, factor=0.5, previous_timestamp_ns=100)
    assert frame.acc_mg.tolist() == [[-7.5, 10.0, 504.0], [-10.0, 8.5, 504.0]]


def test_truncated_short_frame_is_rejected_but_its_first_block_decodes() -> None:
    with pytest.raises(DecodeError, match="delta block at byte 103"):
        decode_acc_frame(COMP0_HEADER + SHORT_CONTENT, fs=52, factor=1.0)
    head = decode_delta_payload(SHORT_CONTENT[:103], channels=3, resolution_bits=16)
    assert head[0].tolist() == [-163, 152, 4093]
    assert head.shape == (1 + 42, 3)


def test_raw_type0_and_type2_signed_boundaries() -> None:
    type0 = decode_acc_frame(hx("02 00 10 A5 D4 E8 00 00 00 00 80 7F 00 FF 01 02"),
                             fs=50, factor=1.0)
    assert type0.counts.tolist() == [[-128, 127, 0], [-1, 1, 2]]
    type2 = decode_acc_frame(hx("02 E8 03 00 00 00 00 00 00 02 00 00 80 FF FF 7F FF FF FF"),
                             fs=50, factor=1.0)
    assert type2.counts.tolist() == [[-(2**23), 2**23 - 1, -1]]


def test_unix_time_conversion() -> None:
    frame = decode_acc_frame(RAW1_HEADER + RAW1_CONTENT, fs=52, factor=1.0)
    assert frame.unix_times_s[-1] == pytest.approx(POLAR_EPOCH_UNIX_S + 2.0, abs=1e-6)


@pytest.mark.parametrize(("raw", "message"), [
    (hx("02 00 00"), "frame header"),
    (hx("00 E8 03 00 00 00 00 00 00 01 00 00 00 00 00 00"), "expected ACC"),
    (hx("02 E8 03 00 00 00 00 00 00 05 00 00 00"), "raw ACC frame type 5"),
    (hx("02 E8 03 00 00 00 00 00 00 01 00 00 00 00 00"), "multiple of 6"),
    (hx("02 E8 03 00 00 00 00 00 00 01"), "multiple of 6"),
    (hx("02 E8 03 00 00 00 00 00 00 80 00 00 00 00"), "reference sample"),
    (hx("02 E8 03 00 00 00 00 00 00 80 00 00 00 00 00 00 06"), "header cut short"),
    (hx("02 E8 03 00 00 00 00 00 00 80 00 00 00 00 00 00 00 01 00"), "bit width 0"),
    (hx("02 E8 03 00 00 00 00 00 00 80 00 00 00 00 00 00 21 01 00"), "bit width 33"),
    (hx("02 E8 03 00 00 00 00 00 00 80 00 00 00 00 00 00 04 00"), "0 samples"),
    (hx("02 E8 03 00 00 00 00 00 00 80 00 00 00 00 00 00 08 02 01 02 03 04 05"), "needs 6"),
    (hx("02 E8 03 00 00 00 00 00 00 81 FF 7F 00 00 00 00 20 02"
        "FF FF FF 7F 00 00 00 00 00 00 00 00 FF FF FF 7F 00 00 00 00 00 00 00 00"),
     "32-bit sample range"),
])
def test_malformed_acc_frames(raw: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_acc_frame(raw, fs=52, factor=1.0)


def test_bad_parameters_raise_decode_error() -> None:
    frame = RAW1_HEADER + RAW1_CONTENT
    with pytest.raises(DecodeError, match="fs"):
        decode_acc_frame(frame, fs=0.0, factor=1.0)
    with pytest.raises(DecodeError, match="factor"):
        decode_acc_frame(frame, fs=52, factor=float("nan"))
    with pytest.raises(DecodeError, match="not after the previous"):
        decode_acc_frame(frame, fs=52, factor=1.0, previous_timestamp_ns=2000000000)
    early = hx("02 0A 00 00 00 00 00 00 00 01") + RAW1_CONTENT
    with pytest.raises(DecodeError, match="before 2000"):
        decode_acc_frame(early, fs=52, factor=1.0)
    late = hx("02 00 00 00 00 00 00 00 40 01") + RAW1_CONTENT
    with pytest.raises(DecodeError, match="2146"):
        decode_acc_frame(late, fs=52, factor=1.0)


# ---------------------------------------------------------------------- pipeline mapping
def test_foot_mapping_converts_to_g_and_reorders_axes() -> None:
    frame = decode_acc_frame(RAW1_HEADER + RAW1_CONTENT, fs=52, factor=1.0)
    default = foot_acc_g(frame)
    np.testing.assert_allclose(default[0], [-0.009, -0.001, 0.999])
    swapped = foot_acc_g(frame, mapping=PolarFootMapping(axis_order=(2, 0, 1),
                                                         axis_sign=(-1, 1, 1)))
    np.testing.assert_allclose(swapped[0], [-0.999, -0.009, -0.001])
    spec = foot_channel_spec(fs=52, range_g=8, mapping=PolarFootMapping(axis_order=(2, 0, 1),
                                                                        axis_sign=(-1, 1, 1)))
    assert spec.role == "foot_acc" and spec.unit == "g" and spec.fs == 52.0
    assert spec.rails == (-8.0, 8.0)
    assert spec.source_labels == ("-polar_acc_z", "polar_acc_x", "polar_acc_y")


@pytest.mark.parametrize(("order", "sign"), [((0, 0, 1), (1, 1, 1)), ((0, 1, 2), (1, 2, 1))])
def test_bad_foot_mapping_is_a_user_error(order: tuple[int, int, int],
                                          sign: tuple[int, int, int]) -> None:
    with pytest.raises(CrampInputError, match=r"polar\.axis"):
        PolarFootMapping(axis_order=order, axis_sign=sign)


# ------------------------------------------------------------- test-only reference encoder
def _bits_needed(values: list[int]) -> int:
    """Smallest two's-complement width holding every value (at least 1)."""
    return max([1] + [(v if v >= 0 else -v - 1).bit_length() + 1 for v in values])


def encode_compressed(samples: np.ndarray, block_sizes: list[int], extra_width: int) -> bytes:
    """Delta-compress ``samples`` (n, 3) int16 the way the device does, bit by bit."""
    out = bytearray()
    for value in samples[0]:
        out += int(value).to_bytes(2, "little", signed=True)
    deltas = [[int(b) - int(a) for a, b in zip(prev, cur, strict=True)]
              for prev, cur in itertools.pairwise(samples)]
    start = 0
    for size in block_sizes:
        block = deltas[start:start + size]
        if not block:
            break
        start += len(block)
        width = min(32, _bits_needed([v for row in block for v in row]) + extra_width)
        bits = [(v >> b) & 1 for row in block for v in row for b in range(width)]
        packed = bytearray((len(bits) + 7) // 8)
        for i, bit in enumerate(bits):
            packed[i // 8] |= bit << (i % 8)
        out += bytes([width, len(block)]) + packed
    assert start == len(deltas), "block sizes must cover every delta"
    return bytes(out)


@st.composite
def compressed_cases(draw: st.DrawFn) -> tuple[np.ndarray, list[int], int]:
    n = draw(st.integers(1, 400))
    samples = draw(arrays(np.int64, (n, 3), elements=st.integers(-32768, 32767),
                          fill=st.nothing()))  # every value drawn, not a fill
    sizes: list[int] = []
    left = n - 1
    while left > 0:
        size = draw(st.integers(1, min(255, left)))
        sizes.append(size)
        left -= size
    return samples, sizes, draw(st.integers(0, 3))


@FUZZ
@given(compressed_cases(), st.integers(1000, 2**40), st.sampled_from([0x80, 0x81]))
def test_compressed_round_trip(case: tuple[np.ndarray, list[int], int], stamp: int,
                               kind: int) -> None:
    samples, sizes, extra = case
    header = bytes([2]) + stamp.to_bytes(8, "little") + bytes([kind])
    fs = 1e9  # 1 ns spacing keeps every drawn timestamp after 2000
    frame = decode_acc_frame(header + encode_compressed(samples, sizes, extra), fs=fs,
                             factor=1.0)
    np.testing.assert_array_equal(frame.counts, samples)
    scale = 1000.0 if kind == 0x80 else 1.0
    np.testing.assert_array_equal(frame.acc_mg, samples * scale)
    assert int(frame.sample_times_ns[-1]) == stamp


@FAST
@given(st.sampled_from([0, 1, 2]), st.data())
def test_raw_round_trip(frame_type: int, data: st.DataObject) -> None:
    width = frame_type + 1
    limit = 1 << (8 * width - 1)
    n = data.draw(st.integers(1, 60))
    values = data.draw(st.lists(st.integers(-limit, limit - 1), min_size=3 * n, max_size=3 * n))
    payload = b"".join(v.to_bytes(width, "little", signed=True) for v in values)
    header = bytes([2]) + (10**12).to_bytes(8, "little") + bytes([frame_type])
    frame = decode_acc_frame(header + payload, fs=100, factor=1.0)
    assert frame.counts.reshape(-1).tolist() == values


@FAST
@given(st.lists(st.tuples(st.sampled_from([s for s in SettingType if s != SettingType.FACTOR]),
                          st.integers(0, 255)), min_size=1, max_size=6))
def test_settings_round_trip(chosen: list[tuple[SettingType, int]]) -> None:
    parsed = parse_settings(build_start_command(MeasurementType.ACC, chosen)[2:])
    field_of = {SettingType.SAMPLE_RATE: "sample_rates_hz",
                SettingType.RESOLUTION: "resolutions_bits", SettingType.RANGE: "ranges",
                SettingType.RANGE_MILLIUNIT: "ranges_milliunit",
                SettingType.CHANNELS: "channels"}
    last = {kind: value for kind, value in chosen}  # a type listed twice keeps its last list
    for kind, value in last.items():
        assert getattr(parsed, field_of[kind]) == (value,)


@FAST
@given(st.integers(1, 2**40), st.integers(1, 2**30), st.integers(1, 300))
def test_times_between_frames_are_increasing_and_end_on_the_stamp(
        previous: int, gap: int, n: int) -> None:
    times = sample_times_ns(previous + gap, n, fs=52, previous_timestamp_ns=previous)
    assert int(times[-1]) == previous + gap
    assert int(times[0]) >= previous  # rounding half to even may land on it (Polar: 100, 101)
    assert np.all(np.diff(times) >= 0)


# ----------------------------------------------------------------------------- fuzzing
def _only_decode_errors(call: object) -> None:
    try:
        call()  # type: ignore[operator]
    except DecodeError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(raw: bytes) -> None:
    _only_decode_errors(lambda: decode_acc_frame(raw, fs=52, factor=1.0))
    _only_decode_errors(lambda: decode_acc_frame(raw, fs=52, factor=2.44e-4,
                                                 previous_timestamp_ns=0))
    _only_decode_errors(lambda: parse_control_point_message(raw))
    _only_decode_errors(lambda: parse_settings(raw))
    _only_decode_errors(lambda: parse_frame_header(raw))


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_acc_frames_with_valid_header(body: bytes) -> None:
    for kind in (0x00, 0x01, 0x02, 0x80, 0x81):
        raw = bytes([2]) + (10**15).to_bytes(8, "little") + bytes([kind]) + body
        _only_decode_errors(lambda raw=raw: decode_acc_frame(raw, fs=200, factor=1.0))


@FUZZ
@given(st.sampled_from([RAW1_HEADER + RAW1_CONTENT, COMP0_HEADER + COMP0_CONTENT,
                        hx("02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08")]),
       st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
       st.integers(0, 400))
def test_fuzz_mutated_vectors(frame: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    mutated = bytearray(frame)
    for position, value in flips:
        mutated[position % len(mutated)] = value
    extra = bytes(value for _, value in flips)
    for candidate in (bytes(mutated), bytes(mutated[:cut]), bytes(mutated) + extra):
        _only_decode_errors(lambda c=candidate: decode_acc_frame(c, fs=52, factor=1.0,
                                                                 previous_timestamp_ns=100))


@FUZZ
@given(st.binary(max_size=40))
def test_fuzz_start_responses(params: bytes) -> None:
    def run() -> None:
        response = parse_control_point_message(hx("F0 02 02 00 00") + params)
        assert isinstance(response, ControlPointResponse)
        factor = start_response_factor(response)
        assert factor > 0
    _only_decode_errors(run)
