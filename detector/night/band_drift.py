"""A band of a multi-band night kept on the host's clock: its drift fitted to the arrivals.

A band indexed by its own clock (``own_clock`` in the band registry: Polar PMD frames carry
ns stamps, Movesense messages ms stamps, Ganglion packets their position in a 200-sample
cycle) indexes its samples at the nominal rate, so a band fast by ``ppm`` puts a moment at
true time ``t``
at index ``t fs (1 + ppm 1e-6)``: a shank +150 ppm and a foot -150 ppm drift 8.6 s apart over
8 h, and a cramp's shank and foot evidence no longer line up on the night's grid.

:class:`DriftGrid` places a band's index line on the host's: the index line is cut into
segments of ``segment_s`` (the config's ``band_drift_segment_s``, 10 s, kept in the night's
manifest); segment ``k`` (indices ``k L .. (k + 1) L - 1``) is shifted by
``round(k L b) - k L`` samples, ``b`` the slope of host time against the band's own time in
the lower envelope of the arrivals (:class:`~detector.night.clock.OnlineClock`) of the packets
whose last sample is before ``k L``. Those packets have all arrived when any sample of segment
``k`` is released (a band's packets come in index order), so live (packet by packet) and replay
(the capture's packets, in bulk, re-chunked) fix each segment's shift from the same packets:
the same grid, whatever the block sizes. Each shift is fixed once (first wins) and the samples
go onto the grid by :class:`~detector.night.tick_grid.TickGrid` (a sample held one slot more
where the shift grows, one left out where it shrinks). Across a gap the shift before it holds
until the next segment, so a gap on the grid is exactly its missing samples long.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detector.bands.registry import band_named
from detector.night.clock import OnlineClock
from detector.night.tick_grid import TickGrid
from detector.signals import SignalBlock


class DriftGrid:
    """Placement of one band stream on the host's time line.

    Parameters
    ----------
    fs_hz : float
        The stream's nominal rate (Hz).
    arrivals : sequence of (int, float)
        The stream's ``(last sample index, host receive s)`` per packet, ascending in index;
        a list the assembler appends to (read up to what each segment needs).
    segment_s : float
        Seconds of the band's own time per segment of constant shift.
    """

    def __init__(self, *, fs_hz: float, arrivals: Sequence[tuple[int, float]],
                 segment_s: float) -> None:
        self.fs_hz = float(fs_hz)
        self.arrivals = arrivals
        self.segment = max(1, round(segment_s * self.fs_hz))
        self.grid = TickGrid(fs_hz=self.fs_hz, tick_hz=self.fs_hz)
        self._clock = OnlineClock(tick_hz=self.fs_hz, nominal_rates_hz={0: self.fs_hz})
        self._seen = 0  # arrivals taken into the clock
        self._fixed = 0  # segments whose shift is fixed
        self._next: int | None = None  # index after the last block placed

    def _fix_through(self, end: int) -> None:
        """Fix the shift of every segment holding an index below ``end``."""
        while self._fixed * self.segment < end:
            lo = self._fixed * self.segment
            while self._seen < len(self.arrivals) and self.arrivals[self._seen][0] < lo:
                idx, t = self.arrivals[self._seen]
                self._clock.observe(0, counter=idx, n_samples=1, ticks=idx, received_s=t,
                                    live=True)
                self._seen += 1
            slope = self._clock.host_line()[1] if self._clock.n_live_bins >= 2 else 1.0
            self.grid.assign(lo, lo + self.segment, round(lo * slope) - lo)
            self._fixed += 1

    def shift_at(self, index: float) -> int:
        """Grid slot minus index at a band index (0 where not yet fixed)."""
        return int(self.grid.shift_at(np.asarray([int(index)]))[0])

    def place(self, block: SignalBlock) -> SignalBlock | None:
        """A released block (ascending per stream) on the host's grid, or ``None`` when all
        its samples fall on slots already filled."""
        if block.n_samples == 0:
            return block
        if self._next is not None and block.start_sample > self._next:
            # after a gap, the shift before it carries on to the next segment's start, so the
            # hole on the grid is exactly the samples missing (a change of shift is a slot
            # held or left out within data, never a gap made longer or shorter)
            before = self.shift_at(self._next - 1)
            end = (block.start_sample // self.segment + 1) * self.segment
            self.grid.assign(block.start_sample, end, before)
        self._next = max(self._next or 0, block.end_sample)
        self._fix_through(block.end_sample)
        return self.grid.place(block, origin=0)


def drift_grid(band: str, assembler: object, role: str, *, fs_hz: float,
               segment_s: float) -> DriftGrid | None:
    """The :class:`DriftGrid` of a role of a band indexed by its own clock, or ``None`` for a
    band placed on its nominal grid.

    Parameters
    ----------
    band : str
        The band's kind (a name of :data:`detector.bands.registry.BANDS`); its ``own_clock``
        says whether its drift is fitted.
    assembler : object
        The band's assembler (its ``tracks[role].arrivals`` are read as they grow).
    role : str
        The role placed.
    fs_hz : float
        The role's nominal rate (Hz).
    segment_s : float
        Seconds of the band's own time per segment of constant shift.
    """
    tracks = getattr(assembler, "tracks", None)
    if not band_named(band).own_clock or not isinstance(tracks, dict) or role not in tracks:
        return None
    return DriftGrid(fs_hz=fs_hz, arrivals=tracks[role].arrivals, segment_s=segment_s)
