"""One stream of the simulated LegBand during an acquisition run: its samples and packets.

:class:`StreamRun` is what the firmware model (:class:`~firmware_sim.firmware.Firmware`) keeps
per stream between START and STOP: the sample clock (off by the crystal's ppm), the ring
buffer of ADC counts BACKFILL resends from, and the index from packet sequence numbers
(16 bit, wrapping) to their first samples. :class:`BackfillCursor` is one BACKFILL request
being served. Sample indices count from START; times are true seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detector.profiles.legband import StreamSpec

__all__ = ["BackfillCursor", "StreamRun"]


class StreamRun:
    """Samples, ring buffer and packet index of one stream during one acquisition run."""

    def __init__(self, spec: StreamSpec, *, rate_hz: int, full_scale: int, ppm: float,
                 run_start_s: float, buffer_s: float) -> None:  # fmt: skip
        self.spec = spec
        self.rate_hz = rate_hz
        self.full_scale = full_scale
        self.lsb = spec.lsb(full_scale)
        self.rate_eff = rate_hz * (1.0 + ppm * 1e-6)
        self.run_start_s = run_start_s
        self.capacity = math.ceil(buffer_s * self.rate_eff) + 1
        self.ring = np.zeros((self.capacity, spec.axes), dtype=np.int16)
        self.produced = 0
        self.packed = 0
        self.next_seq = 0
        self.seq_first = np.full(1 << 16, -1, dtype=np.int64)
        self.seq_full = np.full(1 << 16, -1, dtype=np.int64)

    def count_by(self, t_s: float) -> int:
        if t_s < self.run_start_s:
            return 0
        return math.floor((t_s - self.run_start_s) * self.rate_eff) + 1

    def times(self, k0: int, k1: int) -> np.ndarray:
        return self.run_start_s + np.arange(k0, k1, dtype=np.float64) / self.rate_eff

    @property
    def oldest(self) -> int:
        return max(0, self.produced - self.capacity)

    def store(self, counts: np.ndarray) -> None:
        idx = (self.produced + np.arange(counts.shape[0])) % self.capacity
        self.ring[idx] = counts
        self.produced += counts.shape[0]

    def read(self, k0: int, n: int) -> np.ndarray:
        return self.ring[(k0 + np.arange(n)) % self.capacity]

    def record_packets(self, firsts: np.ndarray) -> np.ndarray:
        seqs = self.next_seq + np.arange(firsts.shape[0], dtype=np.int64)
        self.seq_first[seqs & 0xFFFF] = firsts
        self.seq_full[seqs & 0xFFFF] = seqs
        self.next_seq += firsts.shape[0]
        return seqs

    def resolve(self, seq16: int) -> int | None:
        """First sample of the newest packet numbered ``seq16`` still in the buffer."""
        latest = self.next_seq - 1
        full = latest - ((latest - seq16) % (1 << 16))
        if full < 0 or self.seq_full[seq16] != full:
            return None
        first = int(self.seq_first[seq16])
        return first if first >= self.oldest else None

    def oldest_seq(self) -> int:
        """Number (full) of the oldest packet whose first sample is still buffered."""
        lo, hi = max(0, self.next_seq - (1 << 16)), self.next_seq
        while lo < hi:
            mid = (lo + hi) // 2
            if self.seq_first[mid & 0xFFFF] >= self.oldest:
                hi = mid
            else:
                lo = mid + 1
        return lo


@dataclass
class BackfillCursor:
    """Where a BACKFILL resend is: next sample and packet number, and the sample it ends at."""

    stream_id: int
    next_sample: int
    end_sample: int
    next_seq: int
