"""TickGrid: an accelerometer's packets placed on the RTC's grid by their own ticks.

Properties: every sample lands within one slot of its RTC time; blocks stay contiguous
except at real gaps; the result does not depend on how the released samples are cut into
blocks, nor on whether a packet was seen long before its samples were placed (replay: all
packets first) or just before (live), duplicates included (the first copy's shift holds).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.night.tick_grid import TickGrid
from detector.signals import SignalBlock

TICK_HZ = 32768.0
FS = 50.0


def _packets(rng: np.random.Generator, *, n: int, ppm: float, start_ticks: int
             ) -> list[tuple[int, int, int]]:
    """(first counter, samples, ticks) of a stream whose oscillator is off by ``ppm``
    (relative to the RTC), in counter order."""
    out, c = [], 0
    while c < n:
        k = int(rng.integers(5, 40))
        ticks = start_ticks + round(c * TICK_HZ / (FS * (1 + ppm * 1e-6)))
        out.append((c, min(k, n - c), ticks))
        c += k
    return out


def _place(grid: TickGrid, values: np.ndarray, cuts: list[int], gap: tuple[int, int]
           ) -> tuple[np.ndarray, np.ndarray]:
    """Place ``values`` (counter 0..n-1, the counters in ``gap`` missing) in blocks cut at
    ``cuts``; return the grid indices and values placed."""
    bounds = sorted({0, values.shape[0], *cuts, *gap})
    idx, out = [], []
    for a, b in itertools.pairwise(bounds):
        if gap[0] <= a < gap[1]:
            continue
        placed = grid.place(SignalBlock(data=values[a:b], fs=FS, start_sample=a), origin=0)
        if placed is not None:
            idx.append(np.arange(placed.start_sample, placed.end_sample))
            out.append(placed.data)
    return np.concatenate(idx), np.concatenate(out)


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), ppm=st.floats(-1000.0, 1000.0),
       n_cuts=st.integers(0, 30), resent=st.integers(0, 20))
def test_placement_is_the_same_whatever_the_blocks_and_the_packet_timing(
        seed: int, ppm: float, n_cuts: int, resent: int) -> None:
    rng = np.random.default_rng(seed)
    n = 20_000
    packets = _packets(rng, n=n, ppm=ppm, start_ticks=int(rng.integers(0, 2**31)))
    # a backfill resends some stretches cut differently (same samples, same ticks line)
    extra = []
    for _ in range(resent):
        c = int(rng.integers(0, n - 60))
        extra.append((c, 50, packets[0][2] + round(c * TICK_HZ / (FS * (1 + ppm * 1e-6)))
                      + int(rng.integers(-1, 2))))
    arrivals = packets[:]
    for p in extra:  # each resend arrives some packets after its stretch was first sent
        at = next(i for i, q in enumerate(arrivals) if q[0] > p[0]) + int(rng.integers(0, 9))
        arrivals.insert(min(at, len(arrivals)), p)
    values = np.column_stack([np.arange(n, dtype=float), rng.normal(size=n), np.ones(n)])
    gap = (int(rng.integers(1000, 15_000)), 0)
    gap = (gap[0], gap[0] + int(rng.integers(1, 500)))
    # cuts anywhere, and at packet starts (where the shift changes: a slip at a block's edge)
    starts = np.array([p[0] for p in packets[1:]])
    cuts = sorted({int(c) for c in rng.integers(1, n, size=n_cuts)}
                  | {int(c) for c in rng.choice(starts, size=min(starts.size, 20 * n_cuts))})

    whole = TickGrid(fs_hz=FS, tick_hz=TICK_HZ)  # replay: every packet first, one block
    for p in arrivals:
        whole.observe(*p)
    ref_idx, ref = _place(whole, values, [], gap)

    cut = whole.fresh()  # the same packets, other blocks
    idx, out = _place(cut, values, cuts, gap)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(out, ref)

    live = TickGrid(fs_hz=FS, tick_hz=TICK_HZ)  # live: a block placed once its packets came
    seen = 0
    idx_l, out_l = [], []
    bounds = sorted({0, n, *cuts, *gap})
    for a, b in itertools.pairwise(bounds):
        while seen < len(arrivals) and arrivals[seen][0] < b:
            live.observe(*arrivals[seen])
            seen += 1
        if gap[0] <= a < gap[1]:
            continue
        placed = live.place(SignalBlock(data=values[a:b], fs=FS, start_sample=a), origin=0)
        if placed is not None:
            idx_l.append(np.arange(placed.start_sample, placed.end_sample))
            out_l.append(placed.data)
    np.testing.assert_array_equal(np.concatenate(idx_l), ref_idx)
    np.testing.assert_array_equal(np.concatenate(out_l), ref)

    # every slot holds the sample taken nearest its RTC time (within one sample), the
    # grid has a hole only at the real gap, and no slot is filled twice
    counter = ref[:, 0]
    slot_time = ref_idx / FS
    sample_time = counter / (FS * (1 + ppm * 1e-6))
    assert np.max(np.abs(slot_time - sample_time)) <= 1.0 / FS + 1e-9
    steps = np.diff(ref_idx)
    assert np.all(steps >= 1)
    holes = np.flatnonzero(steps > 1)
    assert holes.size <= 1
    assert abs(ref_idx.size - (n - (gap[1] - gap[0]))) <= abs(ppm) * 1e-6 * n + 2


def test_slips_follow_the_relative_drift() -> None:
    """A stream 500 ppm slow: its 100,000 samples fill 50 more grid slots (each held once
    more), and a stream 500 ppm fast leaves 50 out; at 0 ppm nothing moves (control)."""
    rng = np.random.default_rng(1)
    n = 100_000
    values = np.arange(n, dtype=float)[:, None]
    for ppm, more in ((-500.0, 50), (500.0, -50), (0.0, 0)):
        grid = TickGrid(fs_hz=FS, tick_hz=TICK_HZ)
        for p in _packets(rng, n=n, ppm=ppm, start_ticks=123):
            grid.observe(*p)
        placed = grid.place(SignalBlock(data=values, fs=FS, start_sample=0), origin=0)
        assert placed is not None and placed.start_sample == 0
        assert abs(placed.n_samples - (n + more)) <= 1, (ppm, placed.n_samples)
        kept = np.unique(placed.data[:, 0]).size  # samples left in (slow: all of them)
        assert abs(kept - (n + min(0, more))) <= 1, (ppm, kept)
        if ppm == 0.0:
            np.testing.assert_array_equal(placed.data[:, 0], values[:, 0])


def _intervals(grid: TickGrid) -> tuple[object, ...]:
    return (grid.anchor_ticks, grid.shift_at(np.arange(-5, 3000)).tolist(),
            len(grid._starts))


@settings(deadline=None, max_examples=150)
@given(seed=st.integers(0, 2**32 - 1), ppm=st.floats(-3000.0, 3000.0),
       resent=st.integers(0, 8), shuffle=st.booleans(), split=st.integers(0, 200),
       before=st.booleans())
def test_packets_in_bulk_get_the_shifts_they_get_one_by_one(
        seed: int, ppm: float, resent: int, shuffle: bool, split: int, before: bool) -> None:
    """observe_many (replay: vectorised while the packets come in order) leaves the grid
    exactly as observe packet by packet: anchor, every counter's shift, the intervals
    (consecutive packets of one shift merged), with resends, reordering, empty packets and
    a grid that already holds packets."""
    rng = np.random.default_rng(seed)
    packets = _packets(rng, n=2500, ppm=ppm, start_ticks=int(rng.integers(0, 2**31)))
    packets += [packets[int(i)] for i in rng.integers(0, len(packets), resent)]
    packets.insert(int(rng.integers(0, len(packets))), (7, 0, 99))  # an empty packet
    if shuffle:
        packets = [packets[int(i)] for i in rng.permutation(len(packets))]
    c, n, t = (np.array(col, dtype=np.int64) for col in zip(*packets, strict=True))
    one, bulk = TickGrid(fs_hz=FS, tick_hz=TICK_HZ), TickGrid(fs_hz=FS, tick_hz=TICK_HZ)
    if before:
        one.observe(0, 3, int(t[0]) - 1000)
        bulk.observe(0, 3, int(t[0]) - 1000)
    for p in packets:
        one.observe(*p)
    k = min(split, len(packets))
    bulk.observe_many(c[:k], n[:k], t[:k])
    bulk.observe_many(c[k:], n[k:], t[k:])
    assert _intervals(bulk) == _intervals(one)
    assert (bulk._starts, bulk._ends, bulk._shift) == (one._starts, one._ends, one._shift)


def _place_sample_by_sample(grid: TickGrid, block: SignalBlock, origin: int,
                            state: dict[str, Any]) -> SignalBlock | None:
    """The placement rule written per sample (the reference :meth:`TickGrid.place` is cut
    into pieces from): each sample at ``counter + shift_at(counter)``; a sample on a slot at
    or before the highest one filled is left out, and each sample kept is repeated up to the
    next kept one's slot; the last sample placed leads the next block (held over a slip
    when the block follows on, never over a real gap)."""
    n = block.n_samples
    counters = origin + block.start_sample + np.arange(n, dtype=np.int64)
    slots = counters + grid.shift_at(counters) - origin
    data = block.data
    last, end, nxt = state.get("last"), state.get("end"), state.get("next")
    held = last is not None and nxt == counters[0]
    if last is not None:
        slots = np.concatenate([[end - 1], slots])
        data = np.concatenate([last, data])
    keep = np.ones(slots.size, dtype=bool)
    keep[1:] = slots[1:] > np.maximum.accumulate(slots)[:-1]
    slots, data = slots[keep], data[keep]
    reps = np.ones(slots.size, dtype=np.int64)
    reps[:-1] = np.diff(slots)
    state["next"] = int(counters[-1]) + 1
    if last is not None:
        reps[0] = reps[0] - 1 if held else 0
        if slots.size == 1:
            return None
    first = int(slots[0]) if last is None else (end if held else int(slots[1]))
    state["end"], state["last"] = int(slots[-1]) + 1, data[-1:].copy()
    return SignalBlock(data=np.repeat(data, reps, axis=0), fs=block.fs, start_sample=first)


@settings(deadline=None, max_examples=150)
@given(seed=st.integers(0, 2**32 - 1), ppm=st.floats(-3000.0, 3000.0),
       jitter=st.integers(0, 400), resent=st.integers(0, 8), n_cuts=st.integers(0, 12),
       origin=st.integers(-5, 5), one_axis=st.booleans())
def test_pieces_place_every_sample_where_the_per_sample_rule_does(
        seed: int, ppm: float, jitter: int, resent: int, n_cuts: int, origin: int,
        one_axis: bool) -> None:
    """place (cut at the shift intervals, slices joined) gives exactly the per-sample rule:
    same slots, samples and held samples, block by block, with jittered ticks (shifts that
    go back and forth), resends, blocks left out (gaps) and counters no packet holds."""
    rng = np.random.default_rng(seed)
    packets = [(c, k, t + int(rng.integers(-jitter, jitter + 1)))
               for c, k, t in _packets(rng, n=1500, ppm=ppm, start_ticks=1000)]
    packets += [packets[int(i)] for i in rng.integers(0, len(packets), resent)]
    grid = TickGrid(fs_hz=FS, tick_hz=TICK_HZ)
    for p in packets:
        grid.observe(*p)
    m = 1500 + int(rng.integers(0, 40))  # the last counters are in no packet
    values = rng.standard_normal(m) if one_axis else rng.standard_normal((m, 3))
    bounds = sorted({0, m, *rng.integers(0, m, n_cuts).tolist()})
    state: dict[str, Any] = {}
    for a, b in itertools.pairwise(bounds):
        if rng.random() < 0.2:
            continue  # a gap
        block = SignalBlock(data=values[a:b], fs=FS, start_sample=a - origin)
        want = _place_sample_by_sample(grid, block, origin, state)
        got = grid.place(block, origin=origin)
        assert (got is None) == (want is None)
        if got is not None and want is not None:
            assert got.start_sample == want.start_sample
            np.testing.assert_array_equal(got.data, want.data)
