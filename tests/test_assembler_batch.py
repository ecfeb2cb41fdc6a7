"""StreamAssembler.push_many: exactly what pushing the packets one at a time gives."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.capture.assembler import StreamAssembler, StreamStats
from detector.errors import CrampInputError
from detector.signals import Gap, SignalBlock
from tests.test_assembler import CHANNELS, EMG, FS_EMG, SHANK, expected_values, packet

FOOT = 4  # a stream the channels do not ask for
Blocks = dict[str, list[tuple[int, np.ndarray]]]


def joined(out: list[tuple[str, SignalBlock]]) -> Blocks:
    """Each role's blocks, consecutive contiguous ones joined (start, data)."""
    by_role: Blocks = {}
    for role, b in out:
        runs = by_role.setdefault(role, [])
        if runs and runs[-1][0] + runs[-1][1].shape[0] == b.start_sample:
            runs[-1] = (runs[-1][0], np.concatenate([runs[-1][1], b.data]))
        else:
            runs.append((b.start_sample, b.data))
    return by_role


def one_at_a_time(asm: StreamAssembler, payloads: list[bytes]) -> list[tuple[str, SignalBlock]]:
    out: list[tuple[str, SignalBlock]] = []
    for p in payloads:
        try:
            out += asm.push(p, received_s=0.0)
        except CrampInputError:
            pass
    return out + asm.flush()


def in_batches(asm: StreamAssembler, payloads: list[bytes], cuts: list[int]
               ) -> list[tuple[str, SignalBlock]]:
    out: list[tuple[str, SignalBlock]] = []
    bounds = [0, *sorted(c % (len(payloads) + 1) for c in cuts), len(payloads)]
    for a, b in itertools.pairwise(bounds):
        out += asm.push_many(payloads[a:b], received_s=[0.0] * (b - a))
    return out + asm.flush()


def state(asm: StreamAssembler) -> tuple[list[Gap], dict[str, StreamStats], int, int]:
    return asm.gaps, asm.stats, asm.ignored_packets, asm.rejected_packets


def assert_same(a: Blocks, b: Blocks) -> None:
    assert a.keys() == b.keys()
    for role in a:
        assert [s for s, _ in a[role]] == [s for s, _ in b[role]]
        for (_, x), (_, y) in zip(a[role], b[role], strict=True):
            assert x.shape == y.shape and x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)


@st.composite
def nights(draw: st.DrawFn) -> tuple[list[bytes], int]:
    """Two streams in packets, then lost, repeated, reordered, resent, broken ones.

    Returns the payloads in arrival order and the EMG packet size (samples).
    """
    base = draw(st.sampled_from([0, (1 << 32) - 500]))  # counters wrap mid-run
    n_emg, size = draw(st.integers(1, 40)), draw(st.integers(1, 9))
    events: list[tuple[int, bytes]] = []
    for i in range(n_emg):
        events.append((i * size, packet(EMG, i * size, size, seq=i, base=base)))
        if i % 4 == 0:
            t = i * size
            events.append((t, packet(SHANK, i // 4 * 3, 3, seq=i // 4, base=base)))
    payloads = [p for _, p in events]
    lost = draw(st.sets(st.integers(0, len(payloads) - 1), max_size=len(payloads) // 2))
    kept = [p for k, p in enumerate(payloads) if k not in lost]
    for _ in range(draw(st.integers(0, 4))):  # move a stretch later (reconnect order)
        if len(kept) > 2:
            a = draw(st.integers(0, len(kept) - 2))
            b = draw(st.integers(a + 1, len(kept)))
            stretch, kept = kept[a:b], kept[:a] + kept[b:]
            at = draw(st.integers(a, len(kept)))
            kept = kept[:at] + stretch + kept[at:]
    resent = draw(st.lists(st.integers(0, n_emg - 1), max_size=8))
    for i in resent:  # backfill of EMG packets, some of them already received
        at = draw(st.integers(0, len(kept)))
        kept.insert(at, packet(EMG, i * size, size, seq=i, base=base, backfill=True))
    extras = [
        b"", b"\x11\x04", packet(FOOT, 0, 2, base=base),
        packet(EMG, 0, size, base=base, rate_code=0),  # another rate: refused
        packet(EMG, 5, size, base=base, range_code=0),  # another range: other LSB
        bytes([0x21]) + packet(EMG, 0, 2)[1:],  # protocol version 2
        packet(EMG, 0, 2)[:-1],  # half a sample
        packet(SHANK, 0, 2)[:-2],  # not a whole 3-axis sample
    ]
    for e in draw(st.lists(st.sampled_from(extras), max_size=5)):
        kept.insert(draw(st.integers(0, len(kept))), e)
    return kept, size


@settings(max_examples=150, deadline=None)
@given(data=st.data(), hold_packets=st.integers(0, 30), cuts=st.lists(st.integers(0, 200),
                                                                      max_size=4),
       origin=st.sampled_from([None, 0, 3]))
def test_push_many_equals_pushing_one_at_a_time(data: st.DataObject, hold_packets: int,
                                                cuts: list[int], origin: int | None) -> None:
    payloads, size = data.draw(nights())
    hold_s = hold_packets * size / FS_EMG  # a hole may be given up by a packet's last sample
    ref = StreamAssembler(channels=CHANNELS, hold_s=hold_s, counter_origin=origin)
    bulk = StreamAssembler(channels=CHANNELS, hold_s=hold_s, counter_origin=origin)
    want = one_at_a_time(ref, payloads)
    got = in_batches(bulk, payloads, cuts)
    assert_same(joined(want), joined(got))
    assert state(bulk) == state(ref)
    assert bulk.origins == ref.origins
    assert {r: bulk.next_sample(r) for r in CHANNELS} == {r: ref.next_sample(r)
                                                          for r in CHANNELS}


def test_clean_stream_in_one_call_is_one_block_per_role_with_exact_values() -> None:
    payloads = [packet(EMG, 10 * i, 10, seq=i) for i in range(50)]
    payloads += [packet(SHANK, 4 * i, 4, seq=i) for i in range(5)]
    asm = StreamAssembler(channels=CHANNELS, counter_origin=0)
    out = asm.push_many(payloads, received_s=np.zeros(len(payloads)))
    assert [(r, b.start_sample, b.n_samples) for r, b in out] == [("emg", 0, 500),
                                                                 ("shank_acc", 0, 20)]
    np.testing.assert_array_equal(out[0][1].data, expected_values(EMG, 0, 500))
    np.testing.assert_array_equal(out[1][1].data, expected_values(SHANK, 0, 20))
    assert asm.stats["emg"].released == 500 and asm.rejected_packets == 0


def test_a_hole_is_held_then_given_up_exactly_as_one_at_a_time() -> None:
    # positive control beside the negative one: with a short hold the hole becomes a gap,
    # with a long one the backfilled packet fills it and there is no gap
    def run(hold_s: float, backfill_at: int) -> tuple[StreamAssembler, list]:
        payloads = [packet(EMG, 10 * i, 10, seq=i) for i in range(40) if i != 3]
        payloads.insert(backfill_at, packet(EMG, 30, 10, seq=3, backfill=True))
        asm = StreamAssembler(channels=CHANNELS, hold_s=hold_s, counter_origin=0)
        return asm, asm.push_many(payloads, received_s=[0.0] * len(payloads)) + asm.flush()

    asm, out = run(0.1, 30)  # 100 samples of hold; backfill comes 260 samples late
    assert [g.samples_missing for g in asm.gaps] == [10]
    assert asm.stats["emg"].late == 10 and asm.stats["emg"].backfilled == 0
    asm, out = run(1.0, 30)
    assert asm.gaps == [] and asm.stats["emg"].backfilled == 10
    assert [(b.start_sample, b.n_samples) for _r, b in out] == [(0, 400)]  # joined


def test_bad_arguments_and_refused_packets_are_counted_not_raised() -> None:
    asm = StreamAssembler(channels=CHANNELS, counter_origin=0)
    with pytest.raises(ValueError, match="receive times"):
        asm.push_many([packet(EMG, 0, 5)], received_s=[])
    out = asm.push_many([b"\x11\x04\x00", packet(EMG, 0, 5), packet(EMG, 5, 5, rate_code=0),
                         packet(FOOT, 0, 5)], received_s=[0.0] * 4)
    assert [(r, b.n_samples) for r, b in out] == [("emg", 5)]
    assert asm.rejected_packets == 2 and asm.ignored_packets == 1
    assert asm.push_many([], received_s=[]) == []


@pytest.mark.parametrize(("backfill_after", "late"), [(12, 0), (13, 10)])
def test_the_packet_whose_last_sample_reaches_the_hold_gives_the_hole_up(
        backfill_after: int, late: int) -> None:
    # hole [30, 40), hold 100 samples: packet 13 ends at sample 140 = 40 + 100 and gives the
    # hole up; a backfill just before it fills the hole, one just after it is late
    payloads = [packet(EMG, 10 * i, 10, seq=i) for i in range(20) if i != 3]
    payloads.insert(backfill_after, packet(EMG, 30, 10, seq=3, backfill=True))
    results = []
    for bulk in (False, True):
        asm = StreamAssembler(channels=CHANNELS, hold_s=0.1, counter_origin=0)
        out = in_batches(asm, payloads, []) if bulk else one_at_a_time(asm, payloads)
        results.append((joined(out), state(asm)))
        assert asm.stats["emg"].late == late
        assert [g.samples_missing for g in asm.gaps] == ([10] if late else [])
    assert_same(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]
