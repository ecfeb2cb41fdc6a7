"""A LegBand stream on its own oscillator, placed on the band's RTC (= EMG) sample grid.

The band's RTC and its EMG ADC share one crystal; the accelerometers run on an oscillator of
their own (``docs/protocol.md``). The pipeline's grid puts sample ``i`` of a channel at
``i / fs`` night seconds with ``fs`` the *nominal* rate, so when the two oscillators drift
apart (e.g. EMG +100 ppm, accelerometers -80 ppm: 5 s over 8 h) the EMG and accelerometer
epochs of one moment drift apart with them, and a cramp's calf and foot evidence no longer
line up.

:class:`TickGrid` places an accelerometer's samples on the RTC's grid by the band's own
time stamps: every data packet carries the RTC ticks of its first sample, so packet ``p``
(first counter ``c_p``, ticks ``T_p``) belongs at grid index
``round(fs * (T_p - T_0) / tick_hz)`` with ``T_0`` the ticks of counter 0 (from the stream's
first packet); its samples keep their nominal spacing within the packet (a packet spans
under a second: < 0.2 ms of drift at 200 ppm). The shift ``d_p = grid - counter`` therefore
changes by one sample every ``1 / (fs * relative drift)`` seconds (every 55 s at 100 Hz and
180 ppm); where it grows, the previous sample is held for one more grid slot, where it
shrinks, one sample is left out. Blocks stay contiguous on the grid except at real gaps.

Every decision depends only on the packets' own fields, and a counter's shift is the one of
the *first* packet received that holds it (as the assembler keeps the first copy), so live
(packets one by one) and replay (the capture's packets in the same order, in bulk) place
every sample at the same grid index, whatever the block sizes.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from detector.profiles.legband import LegBandProfile
from detector.signals import ChannelSpec, SignalBlock

if TYPE_CHECKING:
    from detector.capture.clockfit import PacketTimes


class TickGrid:
    """Counter-to-grid placement of one stream of one acquisition run.

    Parameters
    ----------
    fs_hz : float
        The stream's nominal rate (Hz): the grid's rate.
    tick_hz : float
        Nominal RTC tick rate (Hz).
    """

    def __init__(self, *, fs_hz: float, tick_hz: float) -> None:
        self.fs_hz = float(fs_hz)
        self.tick_hz = float(tick_hz)
        self.anchor_ticks: float | None = None
        """RTC ticks of counter 0 on the grid (from the first packet seen; unwrapped)."""
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._shift: list[int] = []
        self._next: int | None = None  # counter after the last sample placed
        self._grid_end = 0  # grid index after the last sample placed
        self._last: np.ndarray | None = None  # the last sample placed (held over a slip)

    def fresh(self) -> TickGrid:
        """The same packets' placement, with nothing placed yet (a new pass over a run)."""
        out = TickGrid(fs_hz=self.fs_hz, tick_hz=self.tick_hz)
        out.anchor_ticks = self.anchor_ticks
        out._starts, out._ends, out._shift = list(self._starts), list(self._ends), \
            list(self._shift)
        return out

    # ------------------------------------------------------------------------ packets
    def observe(self, counter: int, n_samples: int, ticks: int) -> None:
        """One data packet: counter of its first sample, samples, RTC ticks (unwrapped).

        Counters already held by an earlier packet keep that packet's shift.
        """
        if n_samples <= 0:
            return
        if self.anchor_ticks is None:
            self.anchor_ticks = float(ticks) - counter * self.tick_hz / self.fs_hz
        grid = round(self.fs_hz * (float(ticks) - self.anchor_ticks) / self.tick_hz)
        self.assign(int(counter), int(counter) + int(n_samples), int(grid) - int(counter))

    def observe_many(self, counter: np.ndarray, n_samples: np.ndarray,
                     ticks: np.ndarray) -> None:
        """:meth:`observe` for packets in arrival order (arrays of shape (n,)).

        The leading packets that each start at or after every counter placed before them
        (a capture's usual order) are appended in one vectorised step, with the same
        arithmetic as :meth:`observe` (so the same grid indices) and consecutive packets of
        one shift merged into one interval as :meth:`assign` merges them; from the first
        packet that reaches back (a resend, a reordering) on, packets go one by one.
        """
        keep = np.asarray(n_samples) > 0
        c = np.asarray(counter, dtype=np.int64)[keep]
        b = c + np.asarray(n_samples, dtype=np.int64)[keep]
        t = np.asarray(ticks)[keep]
        if c.size == 0:
            return
        if self.anchor_ticks is None:
            self.anchor_ticks = float(t[0]) - int(c[0]) * self.tick_hz / self.fs_hz
        grid = np.round(self.fs_hz * (t.astype(np.float64) - self.anchor_ticks)
                        / self.tick_hz).astype(np.int64)
        d = grid - c
        end_before = self._ends[-1] if self._ends else np.iinfo(np.int64).min
        reach = np.maximum.accumulate(np.concatenate(([end_before], b[:-1])))
        late = np.flatnonzero(c < reach)
        m = int(late[0]) if late.size else c.size
        if m:
            prev_end = np.concatenate(([end_before], b[:m - 1]))
            prev_d = np.concatenate(([self._shift[-1] if self._shift else 0], d[:m - 1]))
            joins = (c[:m] == prev_end) & (d[:m] == prev_d)
            if not self._starts:
                joins[0] = False
            new = np.flatnonzero(~joins)
            run_end = np.append(new[1:] - 1, m - 1) if new.size else new  # each's last packet
            if joins[0]:  # the first packets continue the last interval
                self._ends[-1] = int(b[new[0] - 1] if new.size else b[m - 1])
            self._starts.extend(c[new].tolist())
            self._ends.extend(b[run_end].tolist())
            self._shift.extend(d[new].tolist())
        for ci, ni, ti in zip(c[m:].tolist(), (b[m:] - c[m:]).tolist(), t[m:].tolist(),
                              strict=True):
            self.observe(ci, ni, ti)

    def assign(self, a: int, b: int, d: int) -> None:
        """Give the indices ``a .. b - 1`` that have no slot yet the shift ``d`` (slot minus
        index); indices already placed keep theirs (first wins)."""
        starts, ends, shifts = self._starts, self._ends, self._shift
        if not starts or a >= ends[-1]:  # the usual case: the next packet in order
            if starts and a == ends[-1] and shifts[-1] == d:
                ends[-1] = b
            else:
                starts.append(a)
                ends.append(b)
                shifts.append(d)
            return
        i = bisect.bisect_right(ends, a)  # first interval ending after a
        pos = a
        pieces: list[tuple[int, int]] = []
        while pos < b:
            if i < len(starts) and starts[i] <= pos:
                pos = ends[i]
                i += 1
                continue
            stop = b if i >= len(starts) else min(b, starts[i])
            pieces.append((pos, stop))
            pos = stop
        for lo, hi in pieces:
            j = bisect.bisect_left(starts, lo)
            starts.insert(j, lo)
            ends.insert(j, hi)
            shifts.insert(j, d)

    def shift_at(self, counters: np.ndarray) -> np.ndarray:
        """Grid index minus counter for each counter (shape (n,)); 0 where none is known."""
        c = np.asarray(counters, dtype=np.int64)
        if not self._starts:
            return np.zeros(c.shape, dtype=np.int64)
        if c.size:  # the usual block: every counter inside one interval (no list copies)
            lo, hi = int(c.min()), int(c.max())
            j = bisect.bisect_right(self._starts, lo) - 1
            if j >= 0 and hi < self._ends[j]:
                return np.full(c.shape, self._shift[j], dtype=np.int64)
        starts = np.asarray(self._starts, dtype=np.int64)
        ends = np.asarray(self._ends, dtype=np.int64)
        shifts = np.asarray(self._shift, dtype=np.int64)
        j = np.searchsorted(starts, c, side="right") - 1
        jc = np.clip(j, 0, None)
        inside = (j >= 0) & (c < ends[jc])
        return np.where(inside, shifts[jc], 0)

    # ------------------------------------------------------------------------- blocks
    def place(self, block: SignalBlock, *, origin: int) -> SignalBlock | None:
        """A block released by the assembler (``start_sample`` = counter - ``origin``) on the
        grid; ``None`` when every sample falls on grid slots already filled.

        Released blocks of a stream come in ascending counter order (as the assembler gives
        them), so a block contiguous with the previous one continues it on the grid.

        The block is cut at the shift intervals it spans (a handful per block: one per slip),
        each piece lying on consecutive grid slots; a piece keeps the samples past every slot
        filled before it (a slip back leaves them out), and the last sample kept before a
        slip ahead is held over the slots skipped. The output is the kept slices joined (the
        samples copied once), or, when one slice is all there is (the usual block), a view of
        ``block.data``: blocks are only read downstream.
        """
        n = block.n_samples
        if n == 0:
            return block
        c0 = origin + block.start_sample
        data = block.data
        last = self._last
        held = last is not None and self._next is not None and c0 == self._next
        self._next = c0 + n
        if last is not None and last.dtype != data.dtype:
            data = data.astype(np.result_type(last, data))
        # kept runs (block positions lo .. hi - 1, grid slot of lo); ``top``: highest slot
        # filled so far (the last sample placed leads the block)
        runs: list[tuple[int, int, int]] = []
        top = None if last is None else self._grid_end - 1
        for lo, hi, d in self._pieces(c0, c0 + n):
            g_lo = lo + d - origin
            skip = 0 if top is None else max(0, top + 1 - g_lo)
            if skip < hi - lo:
                runs.append((lo - c0 + skip, hi - c0, g_lo + skip))
                top = g_lo + (hi - lo) - 1
        if not runs:  # every sample on a slot already filled
            return None
        parts: list[np.ndarray] = []
        if last is not None:
            # the leading sample was placed with the previous block: hold it over a slip
            # only (a real gap stays a gap)
            if held:
                first = self._grid_end
                if runs[0][2] > first:
                    parts.append(np.repeat(last, runs[0][2] - first, axis=0))
            else:
                first = runs[0][2]
        else:
            first = runs[0][2]
        for k, (a, b, g) in enumerate(runs):
            parts.append(data[a:b])
            if k + 1 < len(runs):  # a slip ahead: the sample is held one slot more
                extra = runs[k + 1][2] - (g + b - a)
                if extra > 0:
                    parts.append(np.repeat(data[b - 1:b], extra, axis=0))
        a, b, g = runs[-1]
        self._grid_end = g + b - a
        self._last = data[b - 1:b].copy()
        out = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return SignalBlock(data=out, fs=block.fs, start_sample=first)

    def _pieces(self, a: int, b: int) -> list[tuple[int, int, int]]:
        """Counters ``a .. b - 1`` cut where their shift changes: ``(lo, hi, shift)`` pieces
        in order, covering them (shift 0 where no interval holds them, as :meth:`shift_at`)."""
        starts, ends, shifts = self._starts, self._ends, self._shift
        j = bisect.bisect_right(starts, a) - 1
        if j < 0 or ends[j] <= a:
            j += 1
        out: list[tuple[int, int, int]] = []
        pos, m = a, len(starts)
        while pos < b:
            if j < m and starts[j] <= pos:
                hi = min(b, ends[j])
                out.append((pos, hi, shifts[j]))
                j += 1
            else:
                hi = b if j >= m else min(b, starts[j])
                out.append((pos, hi, 0))
            pos = hi
        return out

    def ticks_of(self, index: float, *, origin: int) -> float | None:
        """RTC ticks (unwrapped, the packets' frame) of grid index ``index``."""
        if self.anchor_ticks is None:
            return None
        return self.anchor_ticks + (float(index) + origin) * self.tick_hz / self.fs_hz


def placed_streams(channels: Mapping[str, ChannelSpec], *,
                   profile: LegBandProfile) -> dict[str, int]:
    """Roles whose stream runs on its own oscillator (the accelerometers), with their stream
    ids: these are placed on the RTC's grid by their ticks (:class:`TickGrid`)."""
    from detector.capture.assembler import stream_for  # the capture package imports this one

    out = {}
    for role, c in channels.items():
        spec = stream_for(c, profile=profile)
        if spec.kind == "accel":
            out[role] = spec.stream_id
    return out


def packet_grids(runs: Sequence[Mapping[int, PacketTimes]],
                 channels: Mapping[str, ChannelSpec], *,
                 profile: LegBandProfile) -> list[dict[str, TickGrid]]:
    """Per run of a capture: each accelerometer's placement, from every packet of its stream
    in arrival order (live, each packet is seen before its samples are released).

    Parameters
    ----------
    runs : sequence of mapping of int to PacketTimes
        Per run, each stream's packet timing (unwrapped counters and ticks).
    channels : mapping of role to ChannelSpec
        At the band's nominal rates.
    profile : LegBandProfile

    Returns
    -------
    list of dict of str to TickGrid
        Per run, per placed role.
    """
    placed = placed_streams(channels, profile=profile)
    out: list[dict[str, TickGrid]] = []
    for times in runs:
        grids: dict[str, TickGrid] = {}
        for role, sid in placed.items():
            pt = times.get(sid)
            if pt is None:
                continue
            grid = TickGrid(fs_hz=channels[role].fs, tick_hz=profile.data.tick_hz)
            grid.observe_many(pt.counter, pt.n_samples, pt.ticks)
            grids[role] = grid
        out.append(grids)
    return out
