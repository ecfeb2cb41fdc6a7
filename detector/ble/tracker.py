"""Per-stream bookkeeping of a live LegBand session: what arrived, what is missing, what to ask.

A :class:`StreamTracker` follows one stream's sample counters (unwrapped from the band's u32)
and live sequence numbers (unwrapped from u16). It knows the *frontier* (every sample before it
has arrived or been given up), the holes above it, which live packet a BACKFILL should start
from, and counts samples received, backfilled, duplicated and lost. It does no I/O.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from detector.profiles.legband import LegBandProfile, StreamSpec


def unwrap(value: int, *, reference: int, modulus: int) -> int:
    """The integer congruent to ``value`` mod ``modulus`` nearest to ``reference``."""
    d = (value - reference) % modulus
    if d >= modulus // 2:
        d -= modulus
    return reference + d


@dataclass(frozen=True, kw_only=True)
class LostRange:
    """Samples of a stream the band no longer holds.

    Attributes
    ----------
    stream_id : int
    start_sample, end_sample : int
        Counter range ``[start, end)`` (unwrapped, since START).
    samples_missing : int
        Samples in the range that never arrived.
    """

    stream_id: int
    start_sample: int
    end_sample: int
    samples_missing: int


@dataclass
class StreamTracker:
    """Arrival bookkeeping of one stream during one acquisition run.

    Parameters
    ----------
    spec : StreamSpec
        The stream.
    profile : LegBandProfile
        Profile (counter and sequence moduli).
    """

    spec: StreamSpec
    profile: LegBandProfile
    frontier: int = 0
    max_end: int = 0
    received: int = 0
    backfilled: int = 0
    duplicates: int = 0
    lost: int = 0
    live_packets: int = 0
    backfill_packets: int = 0
    last_live_seq: int | None = None
    backfill_end: int | None = None
    backfill_progress_s: float = 0.0
    requesting: bool = False
    stalls: int = 0
    _accepted_at: int = -1
    _intervals: list[list[int]] = field(default_factory=list)
    _live_firsts: list[int] = field(default_factory=list)
    _live_rows: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def stream_id(self) -> int:
        """Stream id."""
        return self.spec.stream_id

    @property
    def has_hole(self) -> bool:
        """True when some sample below the newest one received is still missing."""
        return self.frontier < self.max_end

    def _counter(self, first_u32: int) -> int:
        ref = self.max_end if self.max_end else 0
        return unwrap(first_u32, reference=ref, modulus=self.profile.data.counter_modulus)

    def on_packet(self, *, first_u32: int, n_samples: int, seq16: int, backfill: bool,
                  now_s: float) -> tuple[int, bool]:
        """Account for one data packet.

        Returns
        -------
        new_samples : int
            Samples not seen before.
        live_gap : bool
            True when a live packet's sequence number skipped (notifications missed).
        """
        first = self._counter(first_u32)
        end = first + n_samples
        new = self._insert(first, end)
        self.received += new
        self.duplicates += n_samples - new
        self.max_end = max(self.max_end, end)
        gap = False
        if backfill:
            self.backfill_packets += 1
            self.backfilled += new
            self.backfill_progress_s = now_s
            if self.backfill_end is not None and self.frontier >= self.backfill_end:
                self.backfill_end = None
        else:
            self.live_packets += 1
            ref = self.last_live_seq if self.last_live_seq is not None else 0
            seq = unwrap(seq16, reference=ref, modulus=self.profile.data.seq_modulus)
            gap = seq > (self.last_live_seq if self.last_live_seq is not None else -1) + 1
            self.last_live_seq = max(seq, ref) if self.last_live_seq is not None else seq
            if not self._live_firsts or first > self._live_firsts[-1]:
                self._live_firsts.append(first)
                self._live_rows.append((first, n_samples, seq))
        return new, gap

    def _insert(self, a: int, b: int) -> int:
        a = max(a, self.frontier)
        if a >= b:
            return 0
        iv = self._intervals
        overlap = 0
        i = bisect.bisect_left(iv, [a, a])
        if i > 0 and iv[i - 1][1] >= a:
            i -= 1
        j = i
        lo, hi = a, b
        while j < len(iv) and iv[j][0] <= b:
            overlap += max(0, min(b, iv[j][1]) - max(a, iv[j][0]))
            lo, hi = min(lo, iv[j][0]), max(hi, iv[j][1])
            j += 1
        iv[i:j] = [[lo, hi]]
        self._advance()
        return (b - a) - overlap

    def _advance(self) -> None:
        iv = self._intervals
        while iv and iv[0][0] <= self.frontier:
            self.frontier = max(self.frontier, iv.pop(0)[1])
        if len(self._live_firsts) > 256:
            k = max(0, bisect.bisect_right(self._live_firsts, self.frontier) - 1)
            if k:
                del self._live_firsts[:k]
                del self._live_rows[:k]

    def backfill_seq(self) -> int:
        """Sequence number (u16) a BACKFILL must ask for to resend from the frontier."""
        k = bisect.bisect_right(self._live_firsts, self.frontier) - 1
        if k < 0:
            return 0
        first, n, seq = self._live_rows[k]
        full = seq if self.frontier < first + n else seq + 1
        return full % self.profile.data.seq_modulus

    def on_backfill_result(self, *, first_u32: int, n_samples: int,
                           now_s: float) -> LostRange | None:
        """The band accepted a BACKFILL; return the samples it no longer has, if any."""
        first = self._counter(first_u32)
        lost = self.give_up(first) if first > self.frontier else None
        if n_samples > 0 and self.frontier < first + n_samples:
            self.backfill_end = first + n_samples
            self.backfill_progress_s = now_s
            self._accepted_at = self.frontier
        else:
            self.backfill_end = None
        return lost

    def note_request(self) -> bool:
        """Record that a backfill is being requested; False once requests stop helping.

        A request the band accepted that did not move the frontier (its packets lost on every
        try, say) counts as a stall; after three in a row the caller gives the hole up.
        """
        stuck = self._accepted_at >= 0 and self._accepted_at == self.frontier
        self._accepted_at = -1
        self.stalls = self.stalls + 1 if stuck else 0
        return self.stalls < 3

    def give_up(self, until: int | None = None) -> LostRange | None:
        """Declare the samples missing below ``until`` (default: the next arrived run) lost."""
        if until is None:
            until = self._intervals[0][0] if self._intervals else self.max_end
        if until <= self.frontier:
            return None
        start = self.frontier
        present = sum(max(0, min(until, b) - max(start, a)) for a, b in self._intervals)
        missing = (until - start) - present
        self.lost += missing
        self.frontier = until
        self.max_end = max(self.max_end, until)
        self._intervals = [[max(a, until), b] for a, b in self._intervals if b > until]
        self._advance()
        self.stalls = 0
        return LostRange(stream_id=self.stream_id, start_sample=start, end_sample=until,
                         samples_missing=missing)
