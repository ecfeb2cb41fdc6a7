"""A capture as a pipeline recording: packets replayed through the live assembler.

Opening a capture scans it (:func:`~detector.capture.reader.read_capture`), decodes every
LegBand data packet once to fit the device clock to the host clock
(:func:`~detector.capture.clockfit.fit_clock`), and from that fixes the recording's
``start_utc``, each channel's rate and each stream's sample index 0. ``blocks`` then feeds the
packets, in the order they were received, through the same
:class:`~detector.capture.assembler.StreamAssembler` the recorder uses live, so a replayed
capture gives the pipeline exactly the samples, order and gaps the live run had.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from detector.capture.other_sources import OtherBandCapture

from detector.capture.assembler import (
    DEFAULT_HOLD_S,
    DEFAULT_STREAMS,
    StreamAssembler,
    StreamStats,
    legband_channels,
)
from detector.capture.clockfit import ClockFit, PacketTimes, fit_clock, unwrap
from detector.capture.format import PacketRecord
from detector.capture.legband_runs import COMMAND_SOURCE, DATA_SOURCE, run_layout
from detector.capture.reader import Capture, read_capture, scan_then
from detector.errors import CrampInputError
from detector.night.tick_grid import packet_grids
from detector.night.timeline import FittedClock
from detector.profiles.legband import LEGBAND, LegBandProfile
from detector.profiles.legband_batch import DataBatch, decode_data_batch
from detector.signals import Gap, RecordingInfo, SignalBlock

__all__ = ["COMMAND_SOURCE", "DATA_SOURCE", "CaptureRecording", "open_capture"]
BATCH_PACKETS = 32768
"""Data packets pushed to the assembler at a time (about 40 min of a night at MTU 247, some
25 MB of samples): replay blocks are then mostly views of one decoded batch."""
PROFILE_NAMES = ("legband",)


class CaptureRecording:
    """A LegBand capture file, streamed like any other recording.

    Parameters
    ----------
    path : str or Path
        The capture.
    min_emg_fs_hz : float, optional
        Slowest EMG rate accepted (Hz); a slower EMG stream is refused.
    start_utc : datetime, optional
        Overrides the fitted start time (timezone-aware).
    hold_s : float
        Backfill hold of the assembler (s), as live.
    profile : LegBandProfile
        The band's profile.

    Attributes
    ----------
    info : RecordingInfo
        Channels at the band's nominal rates: the pipeline runs on the band's own sample
        grid, as live (see :mod:`detector.night.timeline`).
    clock : FittedClock
        Host time of each night sample, from the first run's fit: replay places the
        episodes found on the grid with it.
    capture : Capture
        The scanned file (session, damage).
    fit : ClockFit
        Device-to-host clock fit.
    counter_origins : dict of str to int
        Counter value of sample index 0 per role.
    gaps : list of Gap
        Gaps of the replay (computed by a pass over the file on first use).
    stats : dict of str to StreamStats
        Assembler counts per role after a pass (empty before).

    Raises
    ------
    CrampInputError
        Not a capture, not a LegBand capture, or no usable data packets.
    """

    def __init__(self, path: str | Path, *, min_emg_fs_hz: float | None = None,
                 start_utc: datetime | None = None,
                 hold_s: float = DEFAULT_HOLD_S, profile: LegBandProfile = LEGBAND,
                 capture: Capture | None = None) -> None:
        self.path = Path(path)
        where = self.path.name
        self.capture: Capture = capture if capture is not None else read_capture(self.path)
        self.profile = profile
        self.hold_s = hold_s
        session = self.capture.session
        name = str(session.get("profile", "legband")).lower()
        if name not in PROFILE_NAMES:
            raise CrampInputError(where, f"capture of a {name!r} band; only LegBand captures "
                                  "can be replayed")
        runs, first = self._scan_packets()
        if not any(runs):
            raise CrampInputError(where, "the capture holds no LegBand data packets")
        nominal = {sid: float(first[sid][0]) for sid in first}
        self.fits: list[ClockFit | None] = []
        for times in runs:
            if not times:
                self.fits.append(None)
                continue
            try:
                self.fits.append(fit_clock(times, tick_hz=profile.data.tick_hz,
                                           nominal_rates_hz=nominal))
            except ValueError as exc:
                raise CrampInputError(where, f"cannot place the packets in time: {exc}"
                                      ) from None
        k0 = next(k for k, f in enumerate(self.fits) if f is not None)
        self.fit: ClockFit = self.fits[k0]  # type: ignore[assignment]
        times = runs[k0]
        rates: dict[str, float] = {}
        scales: dict[str, float] = {}
        ends: dict[str, int] = {}
        stream_ids: dict[str, int] = {}
        self.counter_origins: dict[str, int] = {}
        self.run_origins: list[dict[str, int]] = []
        for role, stream_name in DEFAULT_STREAMS.items():
            sid = profile.stream_named(stream_name).stream_id
            if sid not in first:
                continue
            timing = self.fit.streams.get(sid)
            if timing is None:
                continue
            rates[role] = nominal[sid]
            stream_ids[role] = sid
            scales[role] = first[sid][1]
            self.counter_origins[role] = timing.origin
        for k, (run_times, fit) in enumerate(zip(runs, self.fits, strict=True)):
            origins: dict[str, int] = {}
            for role in rates:
                sid = profile.stream_named(DEFAULT_STREAMS[role]).stream_id
                if fit is None or sid not in fit.streams:
                    continue
                origins[role] = fit.streams[sid].origin
                pt = run_times[sid]
                end = self._offsets[k].get(role, 0) + int((pt.counter + pt.n_samples).max()) \
                    - origins[role]
                ends[role] = max(ends.get(role, 0), end)
            self.run_origins.append(origins)
        if not rates:
            raise CrampInputError(where, "the capture has no raw EMG or accelerometer stream")
        channels = legband_channels(rates_hz=rates, full_scales=scales, profile=profile)
        if min_emg_fs_hz is not None and "emg" in channels and channels["emg"].fs < min_emg_fs_hz:
            raise CrampInputError(where, f"EMG is sampled at {channels['emg'].fs:g} Hz; the EMG "
                                  f"band needs at least {min_emg_fs_hz:g} Hz")
        duration = max(ends.get(r, 0) / channels[r].fs for r in channels)
        notes = self._notes(times, rates)
        if len(runs) > 1:
            notes.append(f"the band restarted {len(runs) - 1} time(s); each new run is placed "
                         "at the sample offsets the recorder logged")
        shift = 0.0 if start_utc is None else start_utc.timestamp() - self.fit.start_s
        self._grids = packet_grids(runs, channels, profile=profile)
        self.clock = FittedClock(self.fit, stream_ids=stream_ids, shift_s=shift, grids={
            role: (grid, self.run_origins[k0][role]) for role, grid in self._grids[k0].items()
            if role in self.run_origins[k0]})
        start = start_utc if start_utc is not None else datetime.fromtimestamp(
            self.fit.start_s, UTC)
        leg = session.get("leg")
        self.info = RecordingInfo(
            path=str(self.path), start_utc=start, duration_s=duration, channels=channels,
            leg=leg if leg in ("left", "right") else "unknown", file_format="capture",
            notes=tuple(notes),
        )
        self._gaps: list[Gap] | None = None
        self.stats: dict[str, StreamStats] = {}

    # --------------------------------------------------------------------------- streaming
    def assembler(self) -> StreamAssembler:
        """A fresh assembler set up exactly as replay uses it for the first run."""
        return self._run_assembler(0)

    def packets(self) -> Iterator[PacketRecord]:
        """The capture's LegBand data packets, in the order they were received."""
        for rec in self.capture.records:
            if isinstance(rec, PacketRecord) and rec.source == DATA_SOURCE:
                yield rec

    def blocks(self, chunk_s: float) -> Iterator[tuple[str, SignalBlock]]:
        """Yield ``(role, block)`` pairs of about ``chunk_s`` seconds, ascending per role.

        Parameters
        ----------
        chunk_s : float
            Seconds of samples per block (blocks end early at gaps and at the end).
        """
        if not chunk_s > 0:
            raise ValueError("chunk_s must be positive")
        pending: dict[str, _Pending] = {
            role: _Pending(role, max(1, round(chunk_s * spec.fs)))
            for role, spec in self.info.channels.items()
        }
        assemblers = [self._run_assembler(k) for k in range(len(self.fits))]
        self._placing = [{r: g.fresh() for r, g in run.items()} for run in self._grids]
        gaps: list[Gap] = []
        stats: dict[str, StreamStats] = {}
        current = -1
        for k, batch, rows in self._batches():
            if k != current:  # a run ended (the band restarted): release all it held
                if current >= 0:
                    yield from self._release(current, assemblers[current].flush(), pending)
                current = k
            # refused packets are counted in info.notes by the scan
            yield from self._release(k, assemblers[k].push_batch(batch, rows), pending)
        if current >= 0:
            yield from self._release(current, assemblers[current].flush(), pending)
        for p in pending.values():
            yield from p.drain()
        for k, asm in enumerate(assemblers):
            for g in asm.gaps:
                fs = self.info.channels[g.role].fs
                off = self._offsets[k].get(g.role, 0) / fs
                start_s, end_s = g.start_s, g.end_s
                grid = self._grids[k].get(g.role)
                if grid is not None:  # on the RTC's grid: moved by its neighbours' shifts
                    origin = self.run_origins[k].get(g.role, 0)
                    a, b = round(start_s * fs) + origin, round(end_s * fs) + origin
                    d = grid.shift_at(np.array([a - 1, b]))
                    start_s, end_s = (a - origin + d[0]) / fs, (b - origin + d[1]) / fs
                gaps.append(Gap(role=g.role, start_s=start_s + off, end_s=end_s + off,
                                samples_missing=g.samples_missing))
            for role, st in asm.stats.items():
                if role in stats:
                    for name in vars(st):
                        setattr(stats[role], name, getattr(stats[role], name) + getattr(st, name))
                else:
                    stats[role] = st
        self._gaps = sorted(gaps, key=lambda g: (g.start_s, g.role))
        self.stats = stats

    def _run_assembler(self, k: int) -> StreamAssembler:
        return StreamAssembler(profile=self.profile, channels=self.info.channels,
                               hold_s=self.hold_s, counter_origin=self.run_origins[k])

    def _release(self, k: int, released: list[tuple[str, SignalBlock]],
                 pending: dict[str, _Pending]) -> Iterator[tuple[str, SignalBlock]]:
        offsets = self._offsets[k]
        grids = self._placing[k]
        for role, block in released:
            grid = grids.get(role)
            if grid is not None:
                placed = grid.place(block, origin=self.run_origins[k].get(role, 0))
                if placed is None:
                    continue
                block = placed
            off = offsets.get(role, 0)
            if off:
                block = SignalBlock(data=block.data, fs=block.fs,
                                    start_sample=block.start_sample + off)
            yield from pending[role].add(block)

    @property
    def gaps(self) -> list[Gap]:
        """Gaps of the replay: exact start, end and samples missing per role."""
        if self._gaps is None:  # a full pass over the blocks establishes them
            collections.deque(self.blocks(3600.0), maxlen=0)
        assert self._gaps is not None
        return list(self._gaps)

    def close(self) -> None:
        """Drop the scan's map of the file, if it was kept (:func:`open_capture`); nothing
        else stays open between passes."""
        self.capture.records.release()

    def __enter__(self) -> CaptureRecording:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ---------------------------------------------------------------------------- internals
    def _batches(self) -> Iterator[tuple[int, DataBatch, np.ndarray]]:
        """``(run, batch, rows)``: the data packets of every run, in the order received.

        The packets are decoded in bulk straight from the mapped file, a slice of
        :data:`BATCH_PACKETS` rows at a time, with the headers read when the file was opened
        (read again if the file's size or time changed since; if its packets then differ
        from those the scan placed, :class:`CrampInputError`).
        """
        layout = self._layout
        records = self.capture.records
        buf = records.open_buffer()
        a = np.frombuffer(buf, dtype=np.uint8)
        if records.unchanged():
            batch = replace(self._heads, buffer=a, source=buf)
        else:
            batch = self._decode(buf, layout.rows)
            same = all(np.array_equal(getattr(batch, f), getattr(self._heads, f))
                       for f in ("ok", "stream_id", "first_sample", "n_samples",
                                 "sample_offset"))
            if not same:
                raise CrampInputError(self.path.name, "data packets changed since the capture "
                                      "was checked")
        run = layout.run
        cuts = np.flatnonzero(np.diff(run)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, run.size], strict=True):
            for c0 in range(int(lo), int(hi), BATCH_PACKETS):
                yield int(run[lo]), batch, np.arange(c0, min(c0 + BATCH_PACKETS, int(hi)))

    def _decode(self, buf: Any, rows: np.ndarray, *, scanned: bool = False) -> DataBatch:
        """Headers of data packets ``rows``: from the scan's bytes, or read again."""
        table = self.capture.records.table
        assert table is not None
        every = _every_row(rows, table.offset.shape[0])
        start = table.payload_start if every else table.payload_start[rows]
        end = table.body_end if every else table.body_end[rows]
        heads = None
        if scanned:
            heads = table.payload_head if every else table.payload_head[rows]
        return decode_data_batch(buf, start, end - start, profile=self.profile, heads=heads)

    def _scan_packets(self) -> tuple[list[dict[int, PacketTimes]], dict[int, tuple[int, float]]]:
        buf = self.capture.records.open_buffer()
        a = np.frombuffer(buf, dtype=np.uint8)
        layout = run_layout(self.capture, a, buf)
        self._layout = layout
        self._run_starts = layout.run_starts
        self._offsets = layout.offsets
        batch = self._decode(buf, layout.rows, scanned=True)
        self._heads = replace(batch, buffer=np.zeros(0, dtype=np.uint8), source=None)
        del a, batch
        heads = self._heads
        ok = heads.ok
        self._bad_packets = int(ok.size - np.count_nonzero(ok))
        first: dict[int, tuple[int, float]] = {}
        use = ok.copy()
        self._rate_changes = 0
        every = bool(ok.all())
        valid = np.flatnonzero(ok)
        sids = heads.stream_id if every else heads.stream_id[valid]
        rows_of: dict[int, np.ndarray] = {}  # every packet's row by stream, when all are ok
        for sid in pd_unique(sids):
            spec = self.profile.stream(sid)
            mine = np.flatnonzero(sids == sid) if every else valid[sids == sid]
            if every:
                rows_of[sid] = mine
            rates = np.asarray(spec.rates_hz, dtype=np.int64)[heads.rate_code[mine]]
            i0 = int(mine[0])
            first[sid] = (int(rates[0]), float(spec.full_scales[int(heads.range_code[i0])]))
            changed = mine[rates != rates[0]]
            self._rate_changes += int(changed.size)
            use[changed] = False
        data = self.profile.data
        table = self.capture.records.table
        assert table is not None
        received = table.time_s if _every_row(layout.rows, table.offset.shape[0]) \
            else table.time_s[layout.rows]
        runs: list[dict[int, PacketTimes]] = []
        for k in range(len(self._offsets)):
            in_run = use & (layout.run == k)
            times: dict[int, PacketTimes] = {}
            everything = bool(in_run.all())  # one run, every packet used: the streams' rows
            for sid in pd_unique(heads.stream_id if everything else heads.stream_id[in_run]):
                m = rows_of[sid] if everything and sid in rows_of \
                    else np.flatnonzero(in_run & (heads.stream_id == sid))
                times[sid] = PacketTimes(
                    counter=unwrap(heads.first_sample[m], modulus=data.counter_modulus),
                    n_samples=heads.n_samples[m],  # a fancy index: a copy already
                    ticks=unwrap(heads.device_ticks[m], modulus=1 << 32),
                    received_s=received[m], live=~heads.backfill[m],
                )
            runs.append(times)
        return runs, first

    def _notes(self, times: dict[int, PacketTimes], rates: dict[str, float]) -> list[str]:
        notes = list(self.capture.damage.describe())
        notes.append(f"times from {self.fit.n_points} packets fitted to the host clock "
                     f"(device clock drift {self.fit.drift_ppm:+.1f} ppm)")
        used = {self.profile.stream_named(DEFAULT_STREAMS[r]).stream_id for r in rates}
        for sid in sorted(set(times) - used):
            notes.append(f"stream {self.profile.stream(sid).name} recorded but not analysed")
        if self._bad_packets:
            notes.append(f"{self._bad_packets} undecodable data packet(s) skipped")
        if self._rate_changes:
            notes.append(f"{self._rate_changes} packet(s) at a changed rate skipped")
        return notes


def _every_row(rows: np.ndarray, n: int) -> bool:
    """Whether ``rows`` (ascending, distinct) is ``arange(n)``: then a table's columns are
    used as they are, not gathered."""
    return int(rows.shape[0]) == n and (n == 0 or (int(rows[0]) == 0 and int(rows[-1]) == n - 1))


def pd_unique(values: np.ndarray) -> list[int]:
    """Distinct values in order of first appearance (stream ids: counted, not sorted)."""
    if values.size and 0 <= int(values.min()) and int(values.max()) < 256:
        first = [int(np.argmax(values == v)) for v in np.flatnonzero(np.bincount(values))]
    else:
        first = np.unique(values, return_index=True)[1].tolist()
    return [int(values[i]) for i in sorted(first)]


class _Pending:
    """Contiguous samples of one role, given out in blocks of exactly the wanted size.

    A block ends early only at a discontinuity (a gap) and at the end (:meth:`drain`).
    """

    def __init__(self, role: str, target: int) -> None:
        self.role = role
        self.target = target
        self.parts: list[np.ndarray] = []
        self.start = 0
        self.n = 0
        self.fs = 0.0

    def add(self, block: SignalBlock) -> Iterator[tuple[str, SignalBlock]]:
        if self.n and block.start_sample != self.start + self.n:
            yield from self.drain()
        if not self.n:
            self.start = block.start_sample
            self.fs = block.fs
        data = block.data
        while self.n + data.shape[0] >= self.target:
            take = self.target - self.n
            self.parts.append(data[:take])
            self.n = self.target
            data = data[take:]
            start = self.start
            yield from self.drain()
            self.start = start + self.target
        if data.shape[0]:
            self.parts.append(data)
            self.n += data.shape[0]

    def drain(self) -> Iterator[tuple[str, SignalBlock]]:
        if self.n:
            data = self.parts[0] if len(self.parts) == 1 else np.concatenate(self.parts)
            yield self.role, SignalBlock(data=data, fs=self.fs, start_sample=self.start)
        self.parts, self.n = [], 0


def open_capture(path: str | Path, *, min_emg_fs_hz: float | None = None,
                 start_utc: datetime | None = None,
                 threads: int = 1) -> CaptureRecording | OtherBandCapture:
    """Open any capture for replay, by the band its header names (read once).

    The replay class comes from the band registry (:data:`detector.bands.registry.BANDS`);
    a capture without a profile is a LegBand one. ``threads=2`` scans the file on two
    threads and builds the replay class while the scan's CRC32 check finishes
    (:func:`~detector.capture.reader.scan_then`; the same result).

    Raises
    ------
    CrampInputError
        Not a capture, a band the registry does not know, or no usable data in it.
    """
    from detector.bands.registry import band_named

    def replayable(capture: Capture) -> CaptureRecording | OtherBandCapture:
        name = str(capture.session.get("profile", "legband")).lower()
        try:
            band = band_named(name)
        except CrampInputError:
            raise CrampInputError(Path(path).name, f"capture of a {name!r} band, which this "
                                  "version cannot replay") from None
        source: CaptureRecording | OtherBandCapture = band.load("capture_source")(
            Path(path), capture=capture, min_emg_fs_hz=min_emg_fs_hz, start_utc=start_utc)
        return source

    # with two threads, the replay's set-up runs while the scan's CRC32 check finishes
    return scan_then(Path(path), replayable, threads=threads, keep_mapped=True)
