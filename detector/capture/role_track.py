"""One pipeline role of a consumer band on its index line: counts, gaps, arrivals, blocks.

Shared by the assemblers of the consumer bands (:mod:`detector.capture.polar_source`,
:mod:`detector.capture.other_sources`, :mod:`detector.capture.movesense_source`,
:mod:`detector.capture.ganglion_source`), live and in the replay of their captures.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from detector.capture.recording import _Pending
from detector.night.clock import INITIAL_BIN_S
from detector.signals import ChannelSpec, Gap, SignalBlock

BLOCK_S = 0.5
"""Seconds of samples gathered before a block goes to the pipeline (gaps end a block early)."""

Blocks = list[tuple[str, SignalBlock]]


class RoleTrack:
    """Places the samples of one pipeline role on its index line; counts and gaps.

    Parameters
    ----------
    spec : ChannelSpec
        The channel (its ``fs``).
    block_s : float
        Seconds per released block.
    role : str, optional
        Role name its blocks and gaps carry (default ``spec.role``; a band feeding both legs
        names them per leg, e.g. ``"emg@left"``).
    """

    def __init__(self, spec: ChannelSpec, *, block_s: float = BLOCK_S,
                 role: str | None = None) -> None:
        self.spec = spec
        self.role = role or spec.role
        self.frontier = 0
        self.received = 0
        self.lost = 0
        self.duplicates = 0
        self.gaps: list[Gap] = []
        self.arrivals: list[tuple[int, float]] = []
        """``(last new sample, host receive s)`` of the packets that may bound the lower
        envelope of the arrivals (:meth:`note_arrival`)."""
        self._bin_key: int | None = None
        self._bin_least = 0.0
        self.first_block_end: int | None = None
        """End (exclusive index) of the first block released: the packets before it have all
        been placed when it is released, live and in replay."""
        self._pending = _Pending(self.role, max(1, round(block_s * spec.fs)))
        self._envelope_start: float | None = None

    def place(self, first: int, data: np.ndarray, *, received_s: float | None = None,
              packets: tuple[np.ndarray, Sequence[float]] | None = None) -> Blocks:
        """Put ``data`` (n samples) at ``first`` (arrived at ``received_s``, host s, noted in
        ``arrivals``); return blocks that are complete.

        ``packets`` are the last sample indices (ascending) and host receive times (s) of the
        packets a run placed at once is made of (a replay's bulk path): each is noted in
        ``arrivals`` as placing that packet alone notes it (when it brings a new sample).
        """
        frontier = self.frontier
        blocks = self._place(first, data, received_s=received_s)
        if packets is not None:
            lasts = np.asarray(packets[0], dtype=np.int64)
            times = np.asarray(packets[1], dtype=np.float64)
            if lasts.size and lasts[0] < frontier:  # duplicates: only new samples count
                new = lasts >= frontier
                lasts, times = lasts[new], times[new]
            self.note_arrivals(lasts, times)
        return self._released(blocks)

    def note_arrivals(self, lasts: np.ndarray, received_s: np.ndarray) -> None:
        """:meth:`note_arrival` of packets in index order, with array operations (the same
        packets kept: a running minimum of the delay per bin)."""
        if lasts.size == 0:
            return
        device_s = lasts / self.spec.fs
        delay = received_s - device_s
        first_key = int(np.floor(device_s[0] / INITIAL_BIN_S))
        if first_key == int(np.floor(device_s[-1] / INITIAL_BIN_S)):  # one bin (most runs)
            self._note_bin(first_key, lasts, received_s, delay)
            return
        keys = np.floor(device_s / INITIAL_BIN_S).astype(np.int64)
        bounds = [0, *(np.flatnonzero(keys[1:] != keys[:-1]) + 1).tolist(), keys.size]
        for lo, hi in itertools.pairwise(bounds):
            self._note_bin(int(keys[lo]), lasts[lo:hi], received_s[lo:hi], delay[lo:hi])

    def _note_bin(self, key: int, lasts: np.ndarray, received_s: np.ndarray,
                  delay: np.ndarray) -> None:
        """Packets of one bin: those less delayed than every one before them in the bin."""
        least = self._bin_least if key == self._bin_key else np.inf
        before = np.empty_like(delay)  # the least delay before each packet
        before[0] = least
        np.minimum(np.minimum.accumulate(delay[:-1]), least, out=before[1:])
        for i in np.flatnonzero(delay < before).tolist():
            self.arrivals.append((int(lasts[i]), float(received_s[i])))
        self._bin_key, self._bin_least = key, float(min(before[-1], delay[-1]))

    def note_arrival(self, last: int, received_s: float) -> None:
        """Note a packet (its last sample, its host receive time) in :attr:`arrivals` if it
        may bound the lower envelope: the first of its bin of band time (the
        :class:`~detector.night.clock.OnlineClock`'s initial bins, which its wider bins are
        made of) or less delayed (``received - last / fs``) than every packet of the bin
        before it. The clock keeps only each bin's least delayed packet, so it fits the same
        line from these as from every packet; a Ganglion's 100 packets a second would
        otherwise hold some 300 MB over a night. Append-only, packets in index order: live
        and replay note the same."""
        device_s = last / self.spec.fs  # as the clock computes it, so the same bins
        key = int(np.floor(device_s / INITIAL_BIN_S))
        delay = float(received_s) - device_s
        if key != self._bin_key or delay < self._bin_least:
            self.arrivals.append((last, float(received_s)))
            self._bin_key, self._bin_least = key, delay

    def _released(self, blocks: Blocks) -> Blocks:
        if blocks and self.first_block_end is None:
            self.first_block_end = blocks[0][1].end_sample
        return blocks

    def envelope_start_s(self) -> float | None:
        """Host time of sample 0 by the lower envelope of the arrivals: the least
        ``received - last / fs`` over the packets before the first released block (a packet
        arrives after its last sample was taken; the least delayed bounds the start
        tightest), or ``None`` before a block is released. The same packets live and in
        replay, so the same start whenever it is read after the first block."""
        if self.first_block_end is None:
            return None
        if self._envelope_start is None:
            early = [t - last / self.spec.fs for last, t in self.arrivals
                     if last < self.first_block_end]
            if not early:
                return None
            self._envelope_start = min(early)
        return self._envelope_start

    def _place(self, first: int, data: np.ndarray, *, received_s: float | None) -> Blocks:
        n = data.shape[0]
        if first < self.frontier:
            cut = min(n, self.frontier - first)
            self.duplicates += cut
            data, first = data[cut:], first + cut
        if data.shape[0] == 0:
            return []
        if first > self.frontier:
            missing = first - self.frontier
            self.lost += missing
            self.gaps.append(Gap(role=self.role, start_s=self.frontier / self.spec.fs,
                                 end_s=first / self.spec.fs, samples_missing=missing))
        self.received += data.shape[0]
        self.frontier = first + data.shape[0]
        if received_s is not None:
            self.note_arrival(self.frontier - 1, received_s)
        return list(self._pending.add(SignalBlock(data=data, fs=self.spec.fs,
                                                  start_sample=first)))

    def flush(self) -> Blocks:
        """Release what is held."""
        return self._released(list(self._pending.drain()))
