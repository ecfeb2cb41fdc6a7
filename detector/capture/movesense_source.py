"""Movesense accelerometer notifications -> ``shank_acc``/``foot_acc`` blocks (g).

The same :class:`MovesenseAssembler` runs in the recorder and in the replay of its capture
(:class:`~detector.capture.other_sources.OtherBandCapture`); the replay decodes the
notifications in bulk (:mod:`detector.profiles.movesense_batch`,
:meth:`MovesenseAssembler.push_decoded_rows`) with the same results, sample for sample.

Each DATA notification carries the sensor time (ms) of its first sample. Within a connection
samples are counted on (the time stamps only confirm nothing was missed); the first
notification after a (re)connection is placed by its time stamp, which gives the exact gap
while the link was down (the sensor's clock keeps running; its u32 ms counter is unwrapped).
The stamps are whole milliseconds, so the clock's origin is averaged over every packet placed
so far. Each stamp and the origin are off by up to 0.5 ms, so a message placed by its
stamp is exact up to 416 Hz; above 500 Hz it may be one sample off (measured with a
property test: at 833 Hz, a reconnection three messages into the night).
The sensor's clock is not an absolute time: the night's start is the host receive time of the
first notification less the samples it carried.
A message split over ``DATA`` + ``DATA_PART2`` notifications is joined first
(:class:`~detector.profiles.movesense.MessageJoiner`); since a ``DATA`` may be the first part
of a message, each is released with the next notification of the subscription (or at a
reconnection or the end): blocks come one notification late, the same live and in replay.
"""

from __future__ import annotations

import math

import numpy as np

from detector.capture.role_track import Blocks, RoleTrack
from detector.errors import CrampInputError
from detector.profiles.movesense import (
    MOVESENSE,
    CommandResult,
    DataNotification,
    MessageJoiner,
    acc_channel_spec,
    acc_g,
    decode_imu_data,
    parse_notification,
)
from detector.profiles.movesense_batch import WIDTH, MovesenseBatch, decode_matrix

DATA_SOURCE = "movesense:data"
COMMAND_SOURCE = "movesense:command"
ACC_REFERENCE = 1
"""Client reference of the accelerometer subscription."""
_WRAP_MS = 1 << 32
_COUNT_ON_ROWS = 512
"""Rows tried at once for a counted-on run (a row that is not costs at most this much)."""
STAMP_ERROR_MS = 1.0
"""Worst error (ms) of a stamp against the clock's origin: whole-ms stamps are each off by up
to 0.5 ms, and the origin (averaged over placed messages) by up to 0.5 ms at first."""


def stamp_tolerance_samples(fs: float) -> int:
    """Samples by which a message's stamp may differ from the count with nothing missing.

    Within a connection a message within this of the count is counted on; beyond it samples
    went missing (e.g. a message whose second part was lost) and the message is placed by
    its stamp, the missing samples a gap. At least 1 (a sample of jitter), 2 at 1666 Hz.
    Fewer missing samples than this cannot be told from the ms stamps.
    """
    return max(1, math.ceil(STAMP_ERROR_MS * fs / 1000.0 - 0.5))


class MovesenseAssembler:
    """Movesense ``/Meas/Acc`` notifications -> one accelerometer role (g).

    Parameters
    ----------
    fs : int
        Rate subscribed to (Hz).
    role : {"shank_acc", "foot_acc"}
        Where the sensor is strapped.
    reference : int
        Client reference of the accelerometer subscription.
    """

    notes: tuple[str, ...] = ()
    data_source = DATA_SOURCE
    """Source of the notifications :meth:`decode_rows` decodes."""
    payload_width = WIDTH
    """Bytes of each notification :meth:`decode_rows` reads."""
    decode_rows = staticmethod(decode_matrix)
    """Bulk decoder of data notifications laid out as rows of bytes, for
    :meth:`push_decoded_rows` (a capture's replay)."""

    def __init__(self, *, fs: int, role: str = "shank_acc",
                 reference: int = ACC_REFERENCE) -> None:
        if fs not in MOVESENSE.imu_rates_hz:
            raise CrampInputError("movesense rate", f"{fs} Hz; expected one of "
                                  + ", ".join(map(str, MOVESENSE.imu_rates_hz)))
        self.fs = float(fs)
        self.role = role
        self.reference = reference
        self.channels = {role: acc_channel_spec(role=role, fs=fs)}
        self.track = RoleTrack(self.channels[role])
        self.tracks = {role: self.track}
        self.start_unix_s: float | None = None
        self.refused: list[int] = []
        self._t0_ms: int | None = None
        self._last_ms: int | None = None
        self._wraps = 0
        self._fresh = True
        self._residual_sum_ms = 0.0
        self._residual_n = 0
        self._joiner = MessageJoiner()
        self._tolerance = stamp_tolerance_samples(self.fs)
        self._carried: list[tuple[DataNotification, float]] = []

    def new_connection(self) -> None:
        """A (re)connection: the next notification is placed by its time stamp.

        A message held from the last connection is whole (its second part cannot follow on a
        new link); it is placed, counted on, before the new connection's first.
        """
        self._carried.extend(self._joiner.flush())
        self._fresh = True

    def _unwrap(self, ms: int) -> int:
        if self._last_ms is not None and ms < self._last_ms - _WRAP_MS // 2:
            self._wraps += 1
        self._last_ms = ms
        return ms + self._wraps * _WRAP_MS

    def push_notification(self, source: str, payload: bytes, *, received_s: float) -> Blocks:
        """Decode one notification; return the blocks it completes.

        Raises
        ------
        CrampInputError
            An undecodable notification (the caller counts it and goes on).
        """
        if source != DATA_SOURCE:
            return []
        message = parse_notification(payload)
        if isinstance(message, CommandResult):
            if message.status is not None and message.status >= 400:
                self.refused.append(message.status)
            return []
        assert isinstance(message, DataNotification)
        if message.reference != self.reference:
            return []
        # first the join (a stray second part raises before anything is placed), then what
        # the last connection left (an undecodable one raises with this one already held)
        released = self._joiner.push(message, received_s)
        blocks = self._place_carried()
        for whole, first_received in released:
            blocks += self._place(whole.payload, first_received,
                                  fresh=self._fresh)
            self._fresh = False
        return blocks

    def push_decoded_rows(self, batch: MovesenseBatch, lo: int, hi: int,
                          received_s: list[float]) -> tuple[Blocks, int]:
        """Rows ``lo .. hi-1`` of a batch, one after the other with nothing between them, as
        :meth:`push_notification` row by row: in a run of simple rows of this subscription
        each row releases the one before it, so the run's messages are placed from the
        decoded rows (counted on where they continue the count) and held back as live.

        Parameters
        ----------
        batch : MovesenseBatch
        lo, hi : int
            Rows to take.
        received_s : list of float
            Host receive time (s) of each row of the batch.

        Returns
        -------
        blocks : Blocks
            The blocks completed.
        bad : int
            Rows that did not decode (skipped, as the caller of :meth:`push_notification`
            would).
        """
        blocks: Blocks = []
        bad = 0
        mine = batch.simple[lo:hi] & (batch.reference[lo:hi] == self.reference)
        r = lo
        while r < hi:
            j = r + 1
            if mine[r - lo]:
                while j < hi and mine[j - lo]:
                    j += 1
            try:  # the run's first row as live: it releases what is held and is held itself
                blocks += self.push_notification(DATA_SOURCE, batch.payload(r),
                                                 received_s=received_s[r])
            except CrampInputError:
                bad += 1
            if j - r > 1:  # rows r+1 .. j-1 release rows r .. j-2; row j-1 stays held
                blocks += self._place_rows(batch, r, j - 1, received_s)
                last = DataNotification(reference=self.reference,
                                        payload=batch.payload(j - 1)[2:])
                self._joiner.push(last, received_s[j - 1])  # releases row r, placed above
            r = j
        return blocks, bad

    def _place_rows(self, batch: MovesenseBatch, lo: int, hi: int,
                    received_s: list[float]) -> Blocks:
        """:meth:`_place` of the simple rows ``lo .. hi-1``: runs that are counted on are
        found with array operations (:meth:`_counted_prefix`), the other rows one by one."""
        blocks: Blocks = []
        k = lo
        while k < hi:
            p = 0
            if self._t0_ms is not None and not self._fresh:
                p = self._counted_prefix(batch, k, min(hi, k + _COUNT_ON_ROWS))
            if p == 0:
                blocks += self._place_loop(batch, k, k + 1, received_s)
                k += 1
                continue
            data = _joined([batch.acc_g[i] for i in range(k, k + p)])  # type: ignore[misc]
            ends = self.track.frontier - 1 + np.cumsum((batch.lengths[k:k + p] - 6) // 12)
            blocks += self.track.place(self.track.frontier, data,
                                       packets=(ends, received_s[k:k + p]))
            k += p
        return blocks

    def _counted_prefix(self, batch: MovesenseBatch, lo: int, hi: int) -> int:
        """How many of rows ``lo .. hi-1`` :meth:`_place` would count on in a row; the clock
        state (unwrap, origin mean) is advanced over them as :meth:`_place` would, with the
        same operations in the same order (sequential sums), so bit for bit."""
        ms = np.asarray(batch.timestamp_ms[lo:hi], dtype=np.int64)
        prev = np.empty_like(ms)
        prev[0] = self._last_ms
        prev[1:] = ms[:-1]
        wraps = self._wraps + np.cumsum(ms < prev - _WRAP_MS // 2)
        t_ms = ms + wraps * _WRAP_MS
        n = (batch.lengths[lo:hi] - 6) // 12
        first = self.track.frontier + np.concatenate(([0], np.cumsum(n)[:-1]))
        sums = np.add.accumulate(np.concatenate(([self._residual_sum_ms],
                                                 t_ms - first * (1000.0 / self.fs))))
        origin = sums[:-1] / (self._residual_n + np.arange(hi - lo))
        by_time = np.rint((t_ms - origin) * self.fs / 1000.0)
        close = np.abs(by_time - first) <= self._tolerance
        p = int(close.size if close.all() else np.argmin(close))
        if p:
            self._wraps, self._last_ms = int(wraps[p - 1]), int(ms[p - 1])
            self._residual_sum_ms = float(sums[p])
            self._residual_n += p
        return p

    def _place_loop(self, batch: MovesenseBatch, lo: int, hi: int,
                    received_s: list[float]) -> Blocks:
        """:meth:`_place` of the simple rows ``lo .. hi-1``, contiguous ones placed at once."""
        blocks: Blocks = []
        seg: list[np.ndarray] = []
        seg_lasts: list[int] = []
        seg_received: list[float] = []
        seg_first = seg_end = 0
        counted = self.track.frontier
        step_ms = 1000.0 / self.fs
        for k in range(lo, hi):
            data = batch.acc_g[k]
            assert data is not None
            n = data.shape[0]
            t_ms = self._unwrap(batch.timestamp_ms[k])
            if self._t0_ms is None:
                self._t0_ms = t_ms
                self.start_unix_s = received_s[k] - n / self.fs
            by_time = round((t_ms - self._origin_ms()) * self.fs / 1000.0)
            close = abs(by_time - counted) <= self._tolerance
            first = counted if (not self._fresh and close) else by_time
            self._fresh = False
            self._residual_sum_ms += t_ms - first * step_ms
            self._residual_n += 1
            if seg and first == seg_end == counted:
                seg.append(data)
                seg_end += n
                seg_lasts.append(seg_end - 1)
                seg_received.append(received_s[k])
                counted += n
                continue
            if seg:
                blocks += self.track.place(seg_first, _joined(seg),
                                           packets=(np.asarray(seg_lasts), seg_received))
                seg = []
            if first < counted:  # duplicates: the track trims them
                blocks += self.track.place(first, data, received_s=received_s[k])
                counted = self.track.frontier
                continue
            seg, seg_first, seg_end = [data], first, first + n
            seg_lasts, seg_received = [seg_end - 1], [received_s[k]]
            counted = seg_end
        if seg:
            blocks += self.track.place(seg_first, _joined(seg),
                                       packets=(np.asarray(seg_lasts), seg_received))
        return blocks

    def _place_carried(self) -> Blocks:
        carried, self._carried = self._carried, []
        blocks: Blocks = []
        for whole, first_received in carried:
            blocks += self._place(whole.payload, first_received, fresh=False)
        return blocks

    def _place(self, payload: bytes, received_s: float, *, fresh: bool) -> Blocks:
        data = decode_imu_data(payload, fs=self.fs)
        t_ms = self._unwrap(data.timestamp_ms)
        if self._t0_ms is None:
            self._t0_ms = t_ms
            self.start_unix_s = received_s - data.n_samples / self.fs
        by_time = round((t_ms - self._origin_ms()) * self.fs / 1000.0)
        counted = self.track.frontier
        close = abs(by_time - counted) <= self._tolerance
        first = counted if (not fresh and close) else by_time
        # the ms stamps are rounded: the clock's origin is the mean over the placed packets
        self._residual_sum_ms += t_ms - first * 1000.0 / self.fs
        self._residual_n += 1
        return self.track.place(first, acc_g(data), received_s=received_s)

    def _origin_ms(self) -> float:
        assert self._t0_ms is not None
        return self._residual_sum_ms / self._residual_n if self._residual_n else self._t0_ms

    def flush(self) -> Blocks:
        """Release what is held (a message waiting for a second part is taken as whole)."""
        self._carried.extend(self._joiner.flush())
        try:
            blocks = self._place_carried()
        except CrampInputError:  # an undecodable last message: the samples before it stay
            blocks = []
        return blocks + self.track.flush()


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def movesense_assembler(session: dict[str, object], *, where: str) -> MovesenseAssembler:
    """The assembler a Movesense capture's metadata describes (``movesense.fs_hz``, ``role``).

    Raises
    ------
    CrampInputError
        Missing or invalid ``movesense`` metadata.
    """
    meta = session.get("movesense")
    if not isinstance(meta, dict):
        raise CrampInputError(where, "session metadata has no 'movesense' settings")
    fs, role = meta.get("fs_hz"), meta.get("role", "shank_acc")
    if not isinstance(fs, int) or isinstance(fs, bool) or role not in ("shank_acc",
                                                                        "foot_acc"):
        raise CrampInputError(where, "session 'movesense' needs an integer fs_hz and a role "
                              "of shank_acc or foot_acc")
    return MovesenseAssembler(fs=fs, role=str(role))
