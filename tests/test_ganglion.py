"""OpenBCI Ganglion: vendor vectors, fuzzing, and exact reconstruction around lost packets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.capture.ganglion_source import (
    DATA_SOURCE,
    GanglionAssembler,
    ganglion_assembler,
    index_after_loss,
)
from detector.errors import CrampInputError
from detector.profiles.errors import DecodeError
from detector.profiles.ganglion import (
    GANGLION,
    PacketKind,
    decode_deltas,
    decode_packet,
    parse_channel_legs,
    signed_lsb,
    unpack_fields,
)
from firmware_sim.ganglion_sim import DeltaEncoder, encode_anchor, representable_delta

# OpenBCI_JavaScript_Utilities test/openBCIUtilities-test.js, decompressDeltas18Bit/19Bit
VENDOR_18 = [
    (bytes([0, 0, 0, 0, 0x20, 0, 0x28, 0, 0x04, 0x80, 0, 0xBC, 0, 0x07, 0, 0x28, 0xC0, 0x0A]),
     [[0, 2, 10, 4], [131074, 245760, 114698, 49162]]),
    (bytes([0xFF, 0xFF, 0x7F, 0xFF, 0xBF, 0xFF, 0xE7, 0xFF, 0xF5, 0x00, 0x01, 0x4F, 0x8E,
            0x30, 0x00, 0x1F, 0xF0, 0x01]),
     [[-3, -5, -7, -11], [-262139, -198429, -262137, -4095]]),
]
VENDOR_19 = [
    (bytes([0, 0, 0, 0, 0x08, 0, 0x05, 0, 0, 0x48, 0, 0x09, 0xF0, 0x01, 0xB0, 0, 0x30, 0,
            0x08]),
     [[0, 2, 10, 4], [262148, 507910, 393222, 8]]),
    (bytes([0xFF, 0xFF, 0xBF, 0xFF, 0xEF, 0xFF, 0xFC, 0xFF, 0xFF, 0x58, 0, 0x0B, 0x3E, 0x38,
            0xE0, 0, 0x3F, 0xF0, 0x01]),
     [[-3, -5, -7, -11], [-262139, -198429, -262137, -4095]]),
]


@pytest.mark.parametrize(("payload", "expected"), VENDOR_18)
def test_18_bit_deltas_match_openbci_vectors(payload: bytes, expected: list[list[int]]) -> None:
    assert decode_deltas(payload, bits=18).tolist() == expected


@pytest.mark.parametrize(("payload", "expected"), VENDOR_19)
def test_19_bit_deltas_match_openbci_vectors(payload: bytes, expected: list[list[int]]) -> None:
    assert decode_deltas(payload, bits=19).tolist() == expected


def test_sign_in_lsb_matches_openbci_conversion_vectors() -> None:
    # convert18bitAsInt32: 00 06 90 -> 1680, 02 C0 00 -> 180224, FF FF FF -> -1,
    # 04 A1 01 -> -220927 (3 bytes, 18 bits used)
    raw = [0x000690, 0x02C000, 0xFFFFFF, 0x04A101]
    assert signed_lsb(np.array(raw), bits=18).tolist() == [1680, 180224, -1, -220927]


def test_uncompressed_packet_and_packet_ids() -> None:
    # openBCIGanglionUtils.sampleUncompressedData: 4 x int24 big-endian = 1, 2, 3, 4
    pkt = decode_packet(bytes([0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 1, 2, 3, 4, 5, 6, 7]))
    assert pkt.kind is PacketKind.UNCOMPRESSED and pkt.counts is not None
    assert pkt.counts.tolist() == [[1, 2, 3, 4]] and pkt.cycle_position == 0
    neg = decode_packet(bytes([0, 0xFF, 0xFF, 0xFF, 0x80, 0, 0, 0x7F, 0xFF, 0xFF, 0, 0, 0]))
    assert neg.counts is not None and neg.counts.tolist() == [[-1, -(2**23), 2**23 - 1, 0]]
    p18 = decode_packet(bytes([1]) + VENDOR_18[0][0] + bytes([0xFE]))
    assert (p18.kind, p18.cycle_position, p18.aux) == (PacketKind.DELTA_18, 1, -2)
    p19 = decode_packet(bytes([200]) + VENDOR_19[0][0])
    assert (p19.kind, p19.cycle_position, p19.n_samples) == (PacketKind.DELTA_19, 199, 2)
    assert decode_packet(b"\xcfhello\x00").text == "hello"
    assert decode_packet(b"\xca").kind is PacketKind.IMPEDANCE


def test_bad_packets_give_one_clear_error() -> None:
    for bad, match in ((b"", "empty"), (b"\xd0" + bytes(19), "packet ID 208"),
                       (b"\x00" + bytes(5), "uncompressed packet of 6 bytes"),
                       (b"\x65" + bytes(10), "need 19")):
        with pytest.raises(DecodeError, match=match):
            decode_packet(bad)
    with pytest.raises(DecodeError, match="18 or 19"):
        decode_deltas(bytes(20), bits=17)
    with pytest.raises(DecodeError, match="CHANNEL=LEG"):
        parse_channel_legs("left")
    with pytest.raises(DecodeError, match="one Ganglion channel per leg"):
        parse_channel_legs("1=left,2=left")
    assert parse_channel_legs("1=left, 3=Right").channel_legs == {0: "left", 2: "right"}


@settings(deadline=None, max_examples=300)
@given(st.binary(min_size=0, max_size=24))
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        pkt = decode_packet(data)
    except DecodeError as exc:
        assert str(exc)
        return
    assert pkt.packet_id == data[0] and pkt.n_samples in (0, 1, 2)


@settings(deadline=None, max_examples=200)
@given(st.lists(st.integers(-(2**19), 2**19), min_size=8, max_size=8), st.sampled_from([18, 19]))
def test_packing_round_trips_every_representable_delta(values: list[int], bits: int) -> None:
    from firmware_sim.ganglion_sim import pack_fields

    v = representable_delta(np.array(values), bits=bits)
    assert np.all((v >= 0) == (v % 2 == 0))
    assert decode_deltas(pack_fields(v, bits=bits), bits=bits).ravel().tolist() == v.tolist()
    assert unpack_fields(pack_fields(v, bits=bits), bits=bits, count=8).shape == (8,)


def _stream(counts: np.ndarray) -> tuple[list[bytes], dict[int, np.ndarray]]:
    """Packets of whole cycles of ``counts`` (n, 4) and the counts the client rebuilds."""
    packets, rebuilt = [], {}
    cycle = GANGLION.samples_per_cycle
    for base in range(0, counts.shape[0] - cycle + 1, cycle):
        packets.append(encode_anchor(counts[base]))
        enc = DeltaEncoder(counts[base])
        rebuilt[base] = enc.prev.copy()
        for n in range(1, 101):
            payload, out = enc.encode(n, counts[base + 2 * n - 1:base + 2 * n + 1])
            packets.append(payload)
            rebuilt[base + 2 * n - 1], rebuilt[base + 2 * n] = out[0], out[1]
    return packets, rebuilt


def _run(asm: GanglionAssembler, packets: list[bytes], drop: set[int],
         stall: range = range(0)) -> dict[int, float]:
    """Decode ``packets`` except those in ``drop``; the packets of ``stall`` are held by the
    host and received together after it (a burst)."""
    got: dict[int, float] = {}
    for k, p in enumerate(packets):
        if k in drop:
            continue
        received_s = (stall.stop if k in stall else k) / 100.5
        for _role, block in asm.push_notification(DATA_SOURCE, p, received_s=received_s):
            for j, v in enumerate(block.data.tolist()):
                got[block.start_sample + j] = v
    for _role, block in asm.flush():
        for j, v in enumerate(block.data.tolist()):
            got[block.start_sample + j] = v
    return got


def test_lost_packet_is_an_exact_gap_and_samples_resume_exactly_at_the_next_anchor() -> None:
    rng = np.random.default_rng(3)
    counts = np.cumsum(rng.integers(-3000, 3000, size=(201 * 4, 4)), axis=0) + 10_000
    packets, rebuilt = _stream(counts)
    assert len(packets) == 4 * 101
    # positive control: nothing lost -> every sample, exactly what the encoder sent
    full = _run(GanglionAssembler(channel=2), packets, set())
    assert sorted(full) == list(range(201 * 4))
    assert all(full[i] == rebuilt[i][2] * GANGLION.uv_per_count for i in full)
    # the encoder follows the signal to within a delta's rounding
    assert max(abs(rebuilt[i][2] - counts[i][2]) for i in range(804)) <= 1
    # lose packet 50 of cycle 1 (samples 201 + 99, 100): the rest of that cycle is left out
    asm = GanglionAssembler(channel=2)
    got = _run(asm, packets, {101 + 50})
    missing = set(range(201 * 4)) - set(got)
    assert missing == set(range(201 + 99, 402))
    assert all(got[i] == rebuilt[i][2] * GANGLION.uv_per_count for i in got)
    (gap,) = asm.track.gaps
    assert (gap.samples_missing, gap.start_s, gap.end_s) == (102, 300 / 200, 402 / 200)
    assert asm.lost_packets == 1 and asm.estimated_gaps == 0


def test_lost_anchor_and_cycle_end_are_counted_or_placed_by_the_host_clock() -> None:
    rng = np.random.default_rng(4)
    counts = np.cumsum(rng.integers(-50, 50, size=(201 * 3, 4)), axis=0)
    packets, rebuilt = _stream(counts)
    asm = GanglionAssembler(channel=0)
    got = _run(asm, packets, {101})  # the anchor of cycle 1: all of cycle 1 is lost
    assert set(range(603)) - set(got) == set(range(201, 402))
    assert all(got[i] == rebuilt[i][0] * GANGLION.uv_per_count for i in got)
    assert asm.track.gaps[0].samples_missing == 201 and asm.estimated_gaps == 0
    # the last packet of cycle 0 too: cycle 1's positions going back still count the cycle
    asm = GanglionAssembler(channel=0)
    got = _run(asm, packets, {100, 101})
    assert set(range(603)) - set(got) == set(range(199, 402))
    assert all(got[i] == rebuilt[i][0] * GANGLION.uv_per_count for i in got)
    assert asm.estimated_gaps == 0
    # only the last packet of cycle 0: nothing says the anchor is the next cycle's but the
    # host clock (here right), so the gap is marked as estimated
    asm = GanglionAssembler(channel=0)
    got = _run(asm, packets, {100})
    assert set(range(603)) - set(got) == {199, 200}
    assert asm.estimated_gaps == 1


@settings(deadline=None)
@given(st.integers(0, 10**7), st.integers(1, 30_000), st.integers(0, 200),
       st.floats(-100.49, 100.49))
def test_whole_cycles_by_the_clock_and_the_position_by_the_id(
        cycle_base: int, cycles: int, position: int, error: float) -> None:
    true = cycle_base + cycles * 201 + position
    # exact while the time estimate errs by less than half a cycle (100.5 samples)
    assert index_after_loss(cycle_base=cycle_base, position=position,
                            predicted_index=true + error) == true
    # off by more than half a cycle, it picks the next cycle
    assert index_after_loss(cycle_base=cycle_base, position=position,
                            predicted_index=true + 201 + error) == true + 201
    # and never less than one cycle on
    assert index_after_loss(cycle_base=cycle_base, position=position,
                            predicted_index=cycle_base + error) == cycle_base + 201 + position


def test_cycles_lost_after_a_late_anchor_are_counted_by_the_fitted_clock() -> None:
    rng = np.random.default_rng(5)
    counts = np.cumsum(rng.integers(-50, 50, size=(201 * 8, 4)), axis=0)
    packets, rebuilt = _stream(counts)
    stall = range(101, 161)  # cycle 1's anchor and 59 packets received 0.6 s late at once
    # positive control: the stall alone loses nothing
    full = _run(GanglionAssembler(channel=0), packets, set(), stall)
    assert sorted(full) == list(range(201 * 8))
    # then cycle 1's last packet and cycles 2-4 lost: the next anchor is cycle 5's, 4 cycles
    # after cycle 1's, which the late anchor's receive time alone would make 3.4 (so 3)
    asm = GanglionAssembler(channel=0)
    got = _run(asm, packets, {201, *range(202, 505)}, stall)
    assert set(range(201 * 8)) - set(got) == set(range(199 + 201, 201 * 5))
    assert all(got[i] == rebuilt[i][0] * GANGLION.uv_per_count for i in got)  # exact
    assert asm.estimated_gaps == 1  # the whole cycles were told by the clock


def test_the_rejoin_hold_comes_from_the_capture_header() -> None:
    assert ganglion_assembler({"ganglion": {"channel": 1}}, where="c").rejoin_hold_s == 1.0
    asm = ganglion_assembler({"ganglion": {"channel": 1, "rejoin_hold_s": 0.25}}, where="c")
    assert (asm.rejoin_hold_s, asm.channel) == (0.25, 1)
    for bad in (0, -1.0, "1", True):
        with pytest.raises(CrampInputError, match="rejoin_hold_s"):
            ganglion_assembler({"ganglion": {"channel": 1, "rejoin_hold_s": bad}}, where="c")


def test_assembler_rejects_a_bad_channel() -> None:
    with pytest.raises(CrampInputError, match="expected 0-3"):
        GanglionAssembler(channel=4)
