"""The bulk path of :class:`~detector.capture.assembler.StreamAssembler`.

Packets of a :class:`~detector.profiles.legband_batch.DataBatch` are split by stream (each
stream's state is independent of the others), validated and unwrapped as arrays, and their
samples decoded in one gather per stream. The packets then go through the assembler's state
in order, a run at a time where the outcome of a run is known without looking at each packet:

- *released at once*: nothing is held and the run continues exactly where the released
  samples end; every packet would be released as it arrives, so the run is one block;
- *held*: a hole waits for backfill and the run extends the held data at its far end; no
  packet would release anything until the newest sample is ``hold`` samples past the hole,
  so the packets before that one are appended as they are.

Every other packet (a duplicate, a backfill filling a hole, a jump, the one that gives a hole
up) takes the exact one-packet path. So the counts, gaps and samples are those of pushing the
packets one at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from detector.profiles.legband_batch import DataBatch
from detector.signals import SignalBlock

if TYPE_CHECKING:
    from detector.capture.assembler import StreamAssembler, _Stream

Released = list[tuple[str, SignalBlock]]


def push_batch(asm: StreamAssembler, batch: DataBatch, rows: np.ndarray | None = None
               ) -> Released:
    """Push the packets ``rows`` of ``batch`` (default all) into ``asm``, in that order.

    Returns
    -------
    list of (role, SignalBlock)
        Per role (in channel order) in ascending ``start_sample``, joined where contiguous.
    """
    sel = np.arange(len(batch), dtype=np.int64) if rows is None \
        else np.asarray(rows, dtype=np.int64)
    ok = batch.ok[sel]
    asm.rejected_packets += int(sel.size - np.count_nonzero(ok))
    sel = sel[ok]
    sids = batch.stream_id[sel]
    known = np.zeros(sel.shape, dtype=bool)
    out: Released = []
    for sid, (role, st) in asm._by_id.items():
        mine = sids == sid
        known |= mine
        if mine.any():
            blocks = _push_stream(asm, role, st, batch, sel[mine])
            out += [(role, b) for b in _joined(blocks)]
    asm.ignored_packets += int(sel.size - np.count_nonzero(known))
    return out


def _push_stream(asm: StreamAssembler, role: str, st: _Stream, batch: DataBatch,
                 sel: np.ndarray) -> list[SignalBlock]:
    """Push one stream's packets (valid, in arrival order); the blocks released."""
    rates = np.asarray(st.spec.rates_hz, dtype=np.int64)[batch.rate_code[sel]]
    if st.rate_hz is None:
        st.rate_hz = int(rates[0])
    same = rates == st.rate_hz
    asm.rejected_packets += int(sel.size - np.count_nonzero(same))
    sel = sel[same]
    if not sel.size:
        return []
    raw = batch.first_sample[sel]
    modulus = asm.profile.data.counter_modulus
    half = modulus // 2
    prev_raw = int(raw[0]) if st.last_raw is None else st.last_raw
    prev_full = int(raw[0]) if st.last_raw is None else st.last_full
    steps = (np.diff(raw, prepend=prev_raw) + half) % modulus - half
    full = prev_full + np.cumsum(steps)
    st.last_raw, st.last_full = int(raw[-1]), int(full[-1])
    if st.origin is None:
        st.origin = int(full[0])
    start = full - st.origin
    n = batch.n_samples[sel]
    end = start + n
    backfill = batch.backfill[sel]
    values = batch.values(sel)
    at = np.concatenate(([0], np.cumsum(n)))  # sample offset of each packet in values
    breaks = np.flatnonzero(start[1:] != end[:-1]) + 1  # packets not following the one before
    run_end = np.append(breaks, sel.size)
    blocks: list[SignalBlock] = []
    i, m = 0, sel.size
    while i < m:
        s_i = int(start[i])
        j = int(run_end[np.searchsorted(run_end, i, side="right")])  # contiguous run [i, j)
        if not st.segments and s_i == st.released and st.newest <= s_i:
            _count(st, n[i:j], backfill[i:j])
            st.newest = int(end[j - 1])
            blocks.append(asm._block(st, s_i, [values[at[i]:at[j]]]))
            st.released = st.newest
            i = j
            continue
        if st.segments and s_i == st.newest == st.starts[-1] + st.segments[-1][1].shape[0]:
            # the first hole is given up once the newest sample is st.hold past it
            k = i + int(np.searchsorted(end[i:j], st.starts[0] + st.hold, side="left"))
            if k > i:
                _count(st, n[i:k], backfill[i:k])
                st.starts.append(s_i)
                st.segments.append((s_i, values[at[i]:at[k]]))
                st.newest = int(end[k - 1])
                i = k
                continue
        blocks += [b for _r, b in asm._take(role, st, s_i, values[at[i]:at[i + 1]],
                                             bool(backfill[i]))]
        i += 1
    return blocks


def _count(st: _Stream, n: np.ndarray, backfill: np.ndarray) -> None:
    """Counts of fresh packets taken whole (every sample new)."""
    c = st.stats
    total = int(n.sum())
    c.packets += int(n.size)
    c.received += total
    c.backfill_packets += int(np.count_nonzero(backfill))
    c.backfilled += int(n[backfill].sum())


def _joined(blocks: list[SignalBlock]) -> list[SignalBlock]:
    """Consecutive blocks that are contiguous, joined into one."""
    out: list[SignalBlock] = []
    group: list[SignalBlock] = []
    for b in blocks:
        if group and b.start_sample != group[-1].start_sample + group[-1].n_samples:
            out.append(_join(group))
            group = []
        group.append(b)
    if group:
        out.append(_join(group))
    return out


def _join(group: list[SignalBlock]) -> SignalBlock:
    if len(group) == 1:
        return group[0]
    return SignalBlock(data=np.concatenate([b.data for b in group]), fs=group[0].fs,
                       start_sample=group[0].start_sample)
