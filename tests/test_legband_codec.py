"""LegBand protocol codec: hand-computed vectors, round trips at MTU 23 and 247, fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.errors import CrampInputError
from detector.profiles.legband import LEGBAND, Opcode, Status, StreamSpec
from detector.profiles.legband_codec import (
    BandStatus,
    DataPacket,
    decode_data_packet,
    decode_status,
    encode_data_packet,
    encode_status,
    packet_rate_hz,
    packet_values,
)
from detector.profiles.legband_control import (
    BackfillCommand,
    BackfillResult,
    BackfillUnavailable,
    CalibrateNeutralCommand,
    CalibrationResult,
    ControlPointError,
    ControlResponse,
    RangeResult,
    RateResult,
    SetRangeCommand,
    SetRateCommand,
    StartCommand,
    StartResult,
    StopCommand,
    TimeSyncCommand,
    TimeSyncResult,
    decode_command,
    decode_response,
    encode_command,
    encode_response,
)

FUZZ = settings(max_examples=200, deadline=None)
FAST = settings(max_examples=60, deadline=None)
MTUS = (23, 247)


# ------------------------------------------------------------------------ hand-made vectors
def test_emg_packet_vector_decodes_field_by_field() -> None:
    # version 1 | stream 1; flags: rate code 1 (1000 Hz) << 2 | range code 1 (8192 uV)
    raw = bytes.fromhex("1105" "0201" "06050403" "0a090807" "0100" "feff")
    packet = decode_data_packet(raw)
    assert packet.stream_id == 1
    assert packet.seq == 0x0102
    assert packet.first_sample == 0x03040506
    assert packet.device_ticks == 0x0708090A
    assert not packet.backfill
    assert packet_rate_hz(packet) == 1000
    assert packet.samples.tolist() == [1, -2]
    np.testing.assert_array_equal(packet_values(packet), [0.25, -0.5])
    assert encode_data_packet(packet) == raw


def test_accel_backfill_packet_vector() -> None:
    # stream 4 (foot); flags 0x80 backfill | rate code 2 (100 Hz) << 2 | range code 0 (+-2 g)
    raw = bytes.fromhex("1488" "ffff" "00000000" "00000000" "0040" "00c0" "0000")
    packet = decode_data_packet(raw)
    assert (packet.stream_id, packet.seq, packet.backfill) == (4, 0xFFFF, True)
    assert packet_rate_hz(packet) == 100
    assert packet.samples.shape == (1, 3)
    np.testing.assert_array_equal(packet_values(packet), [[1.0, -1.0, 0.0]])


def test_command_and_response_vectors() -> None:
    assert encode_command(SetRateCommand(1, 1000)) == bytes.fromhex("0301e803")
    assert encode_command(StartCommand(0x0D)) == bytes.fromhex("010d")
    assert encode_command(BackfillCommand(3, 0x1234)) == bytes.fromhex("07033412")
    raw = bytes.fromhex("800700" "01" "3412" "78563412" "10000000")
    response = decode_response(raw)
    assert response.ok and response.opcode == Opcode.BACKFILL
    assert response.result == BackfillResult(1, 0x1234, 0x12345678, 16)
    refused = decode_response(bytes.fromhex("800705" "03" "2200"))
    assert refused.status == Status.NOT_AVAILABLE
    assert refused.result == BackfillUnavailable(3, 0x22)


def test_status_vector() -> None:
    raw = bytes.fromhex("57" "05" "0c" "05" "07000000" "010203")
    status = decode_status(raw)
    assert status.battery_pct == 0x57
    assert status.contact == (True, False, True)
    assert status.tx_fill_pct == 12
    assert (status.streaming, status.battery_low, status.overflow) == (True, False, True)
    assert status.dropped_packets == 7
    assert status.firmware_version == (1, 2, 3)
    assert encode_status(status) == raw


# ------------------------------------------------------------------------ data round trips
@st.composite
def packets(draw: st.DrawFn, spec: StreamSpec, att_mtu: int) -> DataPacket:
    n_max = LEGBAND.samples_per_packet(spec.stream_id, att_mtu=att_mtu)
    n = draw(st.integers(1, n_max))
    flat = draw(st.lists(st.integers(-32768, 32767), min_size=n * spec.axes,
                         max_size=n * spec.axes))  # fmt: skip
    samples = np.array(flat, dtype=np.int16)
    if spec.axes > 1:
        samples = samples.reshape(n, spec.axes)
    return DataPacket(
        stream_id=spec.stream_id,
        seq=draw(st.integers(0, 0xFFFF)),
        first_sample=draw(st.integers(0, 2**32 - 1)),
        device_ticks=draw(st.integers(0, 2**32 - 1)),
        rate_code=draw(st.integers(0, len(spec.rates_hz) - 1)),
        range_code=draw(st.integers(0, len(spec.full_scales) - 1)),
        samples=samples,
        backfill=draw(st.booleans()),
    )


@pytest.mark.parametrize("att_mtu", MTUS)
@pytest.mark.parametrize("spec", LEGBAND.streams, ids=lambda s: s.name)
def test_every_packet_type_round_trips(spec: StreamSpec, att_mtu: int) -> None:
    @FAST
    @given(packets(spec, att_mtu))
    def check(packet: DataPacket) -> None:
        raw = encode_data_packet(packet, att_mtu=att_mtu)
        assert len(raw) <= att_mtu - 3
        assert len(raw) == LEGBAND.data.header_size + packet.n_samples * spec.sample_bytes
        back = decode_data_packet(raw)
        assert back == packet
        lsb = spec.full_scales[packet.range_code] / 32768
        np.testing.assert_array_equal(packet_values(back), packet.samples * lsb)

    check()


@pytest.mark.parametrize("att_mtu", MTUS)
@pytest.mark.parametrize("spec", LEGBAND.streams, ids=lambda s: s.name)
def test_packet_capacity_is_tight(spec: StreamSpec, att_mtu: int) -> None:
    payload_bytes = att_mtu - 3  # 20 at the default MTU, 244 at 247
    n = LEGBAND.samples_per_packet(spec.stream_id, att_mtu=att_mtu)
    assert 12 + n * spec.sample_bytes <= payload_bytes < 12 + (n + 1) * spec.sample_bytes
    shape = (n, spec.axes) if spec.axes > 1 else (n,)
    full = DataPacket(stream_id=spec.stream_id, seq=0, first_sample=0, device_ticks=0,
                      rate_code=0, range_code=0, samples=np.zeros(shape, np.int16))  # fmt: skip
    assert len(encode_data_packet(full, att_mtu=att_mtu)) <= payload_bytes
    over = DataPacket(stream_id=spec.stream_id, seq=0, first_sample=0, device_ticks=0,
                      rate_code=0, range_code=0,
                      samples=np.zeros((n + 1, spec.axes), np.int16))  # fmt: skip
    with pytest.raises(ValueError, match="does not fit"):
        encode_data_packet(over, att_mtu=att_mtu)


@FUZZ
@given(st.binary(max_size=260))
def test_data_decoder_fuzz_only_raises_input_error(raw: bytes) -> None:
    try:
        packet = decode_data_packet(raw)
    except CrampInputError as exc:
        assert "legband data packet" in str(exc)
        assert "\n" not in str(exc)
    else:
        assert encode_data_packet(packet) == raw


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "header alone"),
        (bytes.fromhex("2105020106050403") + bytes(6), "protocol version 2"),
        (bytes.fromhex("1905") + bytes(12), "unknown stream id 9"),
        (bytes.fromhex("1115") + bytes(12), "reserved flag bits"),
        (bytes.fromhex("110d") + bytes(12), "rate code 3"),
        (bytes.fromhex("1305") + bytes(10) + bytes(4), "multiple of 6"),
        (bytes.fromhex("1105") + bytes(10), "positive multiple of 2"),
    ],
)
def test_bad_data_packets_are_named(raw: bytes, fragment: str) -> None:
    with pytest.raises(CrampInputError, match=fragment):
        decode_data_packet(raw)


# ------------------------------------------------------------------------- control point
def commands() -> st.SearchStrategy:
    stream_ids = st.sampled_from([s.stream_id for s in LEGBAND.streams])

    def rate_cmd(sid: int) -> st.SearchStrategy:
        return st.sampled_from(LEGBAND.stream(sid).rates_hz).map(lambda r: SetRateCommand(sid, r))

    def range_cmd(sid: int) -> st.SearchStrategy:
        fs = LEGBAND.stream(sid).full_scales
        return st.sampled_from(fs).map(lambda f: SetRangeCommand(sid, f))

    return st.one_of(
        st.integers(1, LEGBAND.all_streams_mask).map(StartCommand),
        st.just(StopCommand()),
        stream_ids.flatmap(rate_cmd),
        stream_ids.flatmap(range_cmd),
        st.integers(0, 2**64 - 1).map(TimeSyncCommand),
        st.just(CalibrateNeutralCommand()),
        st.builds(BackfillCommand, stream_ids, st.integers(0, 0xFFFF)),
    )


@FUZZ
@given(commands())
def test_commands_round_trip(command: object) -> None:
    raw = encode_command(command)  # type: ignore[arg-type]
    assert decode_command(raw) == command


@pytest.mark.parametrize(
    ("raw", "opcode", "status"),
    [
        (b"", 0, Status.INVALID_LENGTH),
        (b"\x7f", 0x7F, Status.OPCODE_NOT_SUPPORTED),
        (b"\x00", 0x00, Status.OPCODE_NOT_SUPPORTED),
        (b"\x01", Opcode.START, Status.INVALID_LENGTH),
        (b"\x02\x00", Opcode.STOP, Status.INVALID_LENGTH),
        (b"\x01\x00", Opcode.START, Status.INVALID_PARAMETER),
        (b"\x01\x10", Opcode.START, Status.INVALID_PARAMETER),
        (bytes.fromhex("0301e703"), Opcode.SET_RATE, Status.INVALID_PARAMETER),
        (bytes.fromhex("04030300"), Opcode.SET_RANGE, Status.INVALID_PARAMETER),
        (bytes.fromhex("07090000"), Opcode.BACKFILL, Status.INVALID_PARAMETER),
        (bytes.fromhex("050102"), Opcode.TIME_SYNC, Status.INVALID_LENGTH),
    ],
)
def test_bad_commands_get_status_codes(raw: bytes, opcode: int, status: Status) -> None:
    with pytest.raises(ControlPointError) as info:
        decode_command(raw)
    assert info.value.opcode == opcode
    assert info.value.status == status
    assert isinstance(info.value, CrampInputError)


@FUZZ
@given(st.binary(max_size=12))
def test_command_decoder_fuzz(raw: bytes) -> None:
    try:
        command = decode_command(raw)
    except ControlPointError as exc:
        assert exc.status != Status.SUCCESS
    else:
        assert encode_command(command) == raw


def responses() -> st.SearchStrategy:
    u8, u16, u32 = st.integers(0, 255), st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1)
    i16 = st.integers(-32768, 32767)
    ok = Status.SUCCESS
    with_result = st.one_of(
        st.builds(lambda r: ControlResponse(opcode=Opcode.START, status=ok, result=r),
                  st.builds(StartResult, u32)),
        st.builds(lambda r: ControlResponse(opcode=Opcode.SET_RATE, status=ok, result=r),
                  st.builds(RateResult, u8, u16)),
        st.builds(lambda r: ControlResponse(opcode=Opcode.SET_RANGE, status=ok, result=r),
                  st.builds(RangeResult, u8, u16)),
        st.builds(lambda r: ControlResponse(opcode=Opcode.TIME_SYNC, status=ok, result=r),
                  st.builds(TimeSyncResult, st.integers(0, 2**64 - 1), u32)),
        st.builds(lambda r: ControlResponse(opcode=Opcode.CALIBRATE_NEUTRAL, status=ok,
                                            result=r),
                  st.builds(CalibrationResult, i16, i16, i16, i16, i16, i16)),
        st.builds(lambda r: ControlResponse(opcode=Opcode.BACKFILL, status=ok, result=r),
                  st.builds(BackfillResult, u8, u16, u32, u32)),
        st.builds(lambda r: ControlResponse(opcode=Opcode.BACKFILL,
                                            status=Status.NOT_AVAILABLE, result=r),
                  st.builds(BackfillUnavailable, u8, u16)),
    )  # fmt: skip
    bare = st.builds(
        lambda op, s: ControlResponse(opcode=op, status=s),
        st.sampled_from([Opcode.STOP, 0x00, 0x42]),
        st.sampled_from(list(Status)),
    )
    errors = st.builds(
        lambda op, s: ControlResponse(opcode=op, status=s),
        st.sampled_from(list(Opcode)),
        st.sampled_from([s for s in Status if s not in (Status.SUCCESS, Status.NOT_AVAILABLE)]),
    )
    return st.one_of(with_result, bare, errors)


@FUZZ
@given(responses())
def test_responses_round_trip(response: ControlResponse) -> None:
    assert decode_response(encode_response(response)) == response


@FUZZ
@given(st.binary(max_size=24))
def test_response_decoder_fuzz(raw: bytes) -> None:
    try:
        response = decode_response(raw)
    except CrampInputError as exc:
        assert str(exc).startswith("legband control response: ")
    else:
        assert encode_response(response) == raw


# ------------------------------------------------------------------------------- status
@FUZZ
@given(
    st.builds(
        BandStatus,
        battery_pct=st.integers(0, 100),
        contact=st.tuples(st.booleans(), st.booleans(), st.booleans()),
        tx_fill_pct=st.integers(0, 100),
        streaming=st.booleans(),
        battery_low=st.booleans(),
        overflow=st.booleans(),
        dropped_packets=st.integers(0, 2**32 - 1),
        firmware_version=st.tuples(*(st.integers(0, 255),) * 3),
    )
)
def test_status_round_trip(status: BandStatus) -> None:
    raw = encode_status(status)
    assert len(raw) == LEGBAND.status.size
    assert decode_status(raw) == status


@FUZZ
@given(st.binary(max_size=16))
def test_status_decoder_fuzz(raw: bytes) -> None:
    try:
        status = decode_status(raw)
    except CrampInputError as exc:
        assert str(exc).startswith("legband status: ")
    else:
        assert encode_status(status) == raw


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_header_decode_accepts_exactly_what_the_full_decode_accepts(raw: bytes) -> None:
    from detector.profiles.legband_codec import decode_data_header

    try:
        full = decode_data_packet(raw)
    except CrampInputError:
        with pytest.raises(CrampInputError):
            decode_data_header(raw)
        return
    head = decode_data_header(raw)
    assert (head.stream_id, head.seq, head.first_sample, head.device_ticks, head.rate_code,
            head.range_code, head.n_samples, head.backfill) == (
        full.stream_id, full.seq, full.first_sample, full.device_ticks, full.rate_code,
        full.range_code, full.n_samples, full.backfill)
