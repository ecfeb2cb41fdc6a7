"""StreamAssembler: order, duplicates, held holes, exact gaps, units, counter wrap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.capture.assembler import StreamAssembler, legband_channels
from detector.errors import CrampInputError
from detector.profiles.legband_codec import DataPacket, encode_data_packet
from detector.signals import SignalBlock

EMG, SHANK = 1, 3
FS_EMG, FS_ACC = 1000.0, 50.0
CHANNELS = legband_channels(rates_hz={"emg": FS_EMG, "shank_acc": FS_ACC},
                            full_scales={"emg": 8192, "shank_acc": 4})


def counts_for(sid: int, first: int, n: int) -> np.ndarray:
    """Deterministic counts for samples [first, first + n) of a stream."""
    k = np.arange(first, first + n, dtype=np.int64)
    if sid == EMG:
        return ((k * 37) % 20001 - 10000).astype(np.int16)
    return np.stack([(k * 11 + a * 1000) % 30001 - 15000 for a in range(3)], 1).astype(np.int16)


def packet(sid: int, first: int, n: int, *, seq: int = 0, backfill: bool = False,
           range_code: int | None = None, rate_code: int | None = None,
           base: int = 0) -> bytes:
    default_code = 1  # EMG: 1000 Hz, 8192 uV; accelerometer: 50 Hz, 4 g
    return encode_data_packet(DataPacket(
        stream_id=sid, seq=seq % 65536, first_sample=(base + first) % (1 << 32),
        device_ticks=(first * 33) % (1 << 32),
        rate_code=default_code if rate_code is None else rate_code,
        range_code=default_code if range_code is None else range_code,
        samples=counts_for(sid, first, n), backfill=backfill))


def expected_values(sid: int, first: int, n: int) -> np.ndarray:
    lsb = (8192 if sid == EMG else 4) / 32768
    return counts_for(sid, first, n).astype(np.float64) * lsb


def collect(out: list[tuple[str, SignalBlock]], into: dict[str, list[SignalBlock]]) -> None:
    for role, block in out:
        into.setdefault(role, []).append(block)


def test_in_order_packets_are_released_at_once_in_canonical_units() -> None:
    asm = StreamAssembler(channels=CHANNELS, counter_origin=0)
    for i in range(5):
        out = asm.push(packet(EMG, 10 * i, 10, seq=i), received_s=100.0 + i)
        assert len(out) == 1
        role, block = out[0]
        assert role == "emg" and block.start_sample == 10 * i and block.fs == FS_EMG
        np.testing.assert_array_equal(block.data, expected_values(EMG, 10 * i, 10))
        assert block.data.dtype == np.float64 and block.data.shape == (10,)
    (role, acc), = asm.push(packet(SHANK, 0, 4), received_s=0.0)
    assert role == "shank_acc" and acc.data.shape == (4, 3)
    np.testing.assert_array_equal(acc.data, expected_values(SHANK, 0, 4))
    assert asm.stats["emg"].released == 50 and asm.gaps == []


def test_duplicates_are_dropped_and_counted() -> None:
    asm = StreamAssembler(channels=CHANNELS, counter_origin=0)
    asm.push(packet(EMG, 0, 10), received_s=0.0)
    assert asm.push(packet(EMG, 0, 10, backfill=True), received_s=1.0) == []
    s = asm.stats["emg"]
    assert (s.received, s.duplicates, s.released, s.backfilled) == (20, 10, 10, 0)


def test_hole_is_held_until_backfill_fills_it() -> None:
    asm = StreamAssembler(channels=CHANNELS, counter_origin=0)
    got: dict[str, list[SignalBlock]] = {}
    collect(asm.push(packet(EMG, 0, 10), received_s=0.0), got)
    for first in (40, 50, 60):  # [10, 40) missing (link dropped)
        assert asm.push(packet(EMG, first, 10), received_s=1.0) == []
    # backfill cut differently from the live packets: overlaps both sides of the hole
    collect(asm.push(packet(EMG, 5, 20, backfill=True), received_s=2.0), got)
    assert [b.end_sample for b in got["emg"]] == [10, 25]
    collect(asm.push(packet(EMG, 25, 30, backfill=True), received_s=2.1), got)
    blocks = got["emg"]
    assert [b.start_sample for b in blocks] == [0, 10, 25]
    assert blocks[-1].end_sample == 70
    np.testing.assert_array_equal(np.concatenate([b.data for b in blocks]),
                                  expected_values(EMG, 0, 70))
    s = asm.stats["emg"]
    assert s.backfilled == 30 and s.duplicates == 5 + 15 and s.lost == 0 and asm.gaps == []


def test_hole_becomes_an_exact_gap_once_it_cannot_be_backfilled() -> None:
    hold_s = 0.1  # 100 EMG samples
    asm = StreamAssembler(channels=CHANNELS, hold_s=hold_s, counter_origin=0)
    got: dict[str, list[SignalBlock]] = {}
    collect(asm.push(packet(EMG, 0, 20), received_s=0.0), got)
    first = 57
    while first + 10 < 57 + 100:  # the hole could still be backfilled
        assert asm.push(packet(EMG, first, 10), received_s=1.0) == []
        first += 10
    collect(asm.push(packet(EMG, first, 10), received_s=1.0), got)
    (gap,) = asm.gaps
    assert (gap.role, gap.samples_missing) == ("emg", 37)
    assert gap.start_s == pytest.approx(20 / FS_EMG) and gap.end_s == pytest.approx(57 / FS_EMG)
    blocks = got["emg"]
    assert [(b.start_sample, b.end_sample) for b in blocks] == [(0, 20), (57, first + 10)]
    # the missing samples arriving now are too late: counted, never released
    assert asm.push(packet(EMG, 20, 37, backfill=True), received_s=2.0) == []
    s = asm.stats["emg"]
    assert (s.late, s.lost, s.duplicates) == (37, 37, 0)


def test_flush_releases_held_data_after_a_gap() -> None:
    asm = StreamAssembler(channels=CHANNELS, counter_origin=0)
    asm.push(packet(SHANK, 0, 10), received_s=0.0)
    asm.push(packet(SHANK, 30, 10), received_s=0.0)
    (role, block), = asm.flush()
    assert role == "shank_acc" and block.start_sample == 30 and block.n_samples == 10
    (gap,) = asm.gaps
    assert gap.samples_missing == 20 and gap.end_s == pytest.approx(30 / FS_ACC)


def test_origin_from_first_packet_counter_wrap_and_ranges() -> None:
    asm = StreamAssembler(channels=CHANNELS)
    base = (1 << 32) - 15
    out = asm.push(packet(EMG, 0, 10, base=base), received_s=0.0)
    out += asm.push(packet(EMG, 10, 10, base=base), received_s=0.0)  # counter wraps here
    out += asm.push(packet(EMG, 20, 10, base=base, range_code=0), received_s=0.0)
    assert [b.start_sample for _r, b in out] == [0, 10, 20]
    assert asm.origins["emg"] == base
    lsb_small = 2048 / 32768
    np.testing.assert_array_equal(out[2][1].data, counts_for(EMG, 20, 10) * lsb_small)


def test_bad_input_and_other_streams() -> None:
    asm = StreamAssembler(channels=CHANNELS, counter_origin=0)
    assert asm.push(packet(4, 0, 5), received_s=0.0) == []  # foot stream not asked for
    assert asm.ignored_packets == 1
    with pytest.raises(CrampInputError, match="legband data packet"):
        asm.push(b"\x11\x04\x00", received_s=0.0)
    asm.push(packet(EMG, 0, 5), received_s=0.0)
    with pytest.raises(CrampInputError, match="changed rate"):
        asm.push(packet(EMG, 5, 5, rate_code=0), received_s=0.0)


@settings(max_examples=120, deadline=None)
@given(data=st.data(), hold_packets=st.integers(min_value=0, max_value=12))
def test_any_arrival_order_gives_ascending_exact_output(data: st.DataObject,
                                                        hold_packets: int) -> None:
    n_packets, size = 30, 8
    order = data.draw(st.permutations(list(range(n_packets))))
    dropped = set(data.draw(st.lists(st.integers(0, n_packets - 1), max_size=8)))
    resent = data.draw(st.lists(st.integers(0, n_packets - 1), max_size=10))
    arrivals = [i for i in order if i not in dropped] + resent
    asm = StreamAssembler(channels=CHANNELS, hold_s=hold_packets * size / FS_EMG,
                          counter_origin=0)
    blocks: list[SignalBlock] = []
    for i in arrivals:
        blocks += [b for _r, b in asm.push(packet(EMG, i * size, size), received_s=0.0)]
    blocks += [b for _r, b in asm.flush()]
    released = np.zeros(n_packets * size, dtype=bool)
    last_end = 0
    for b in blocks:
        assert b.start_sample >= last_end  # never back in time
        last_end = b.end_sample
        np.testing.assert_array_equal(b.data, expected_values(EMG, b.start_sample, b.n_samples))
        released[b.start_sample:b.end_sample] = True
    delivered = np.zeros(n_packets * size, dtype=bool)
    for i in set(arrivals):
        delivered[i * size:(i + 1) * size] = True
    assert not (released & ~delivered).any()
    # every sample up to the last released one is either released or inside a gap
    in_gap = np.zeros(n_packets * size, dtype=bool)
    for g in asm.gaps:
        a, b = round(g.start_s * FS_EMG), round(g.end_s * FS_EMG)
        assert g.samples_missing == b - a > 0
        in_gap[a:b] = True
    assert not (in_gap & released).any()
    assert (in_gap | released)[:last_end].all()
    s = asm.stats["emg"]
    assert s.received == len(arrivals) * size
    assert s.released + s.duplicates + s.late == s.received
    assert s.lost == int(in_gap.sum()) and s.released == int(released.sum())
    if len(arrivals) == len(set(arrivals)) and hold_packets >= n_packets:
        assert released.sum() == delivered[:last_end].sum()  # nothing given up too early
