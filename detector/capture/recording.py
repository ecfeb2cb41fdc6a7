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
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

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
from detector.capture.format import EventRecord, PacketRecord
from detector.capture.reader import Capture, read_capture
from detector.errors import CrampInputError
from detector.profiles.legband import LEGBAND, LegBandProfile, Opcode
from detector.profiles.legband_codec import decode_data_header
from detector.signals import Gap, RecordingInfo, SignalBlock

DATA_SOURCE = "legband:data"
"""Source name of LegBand data notifications in a capture."""
COMMAND_SOURCE = "legband:command"
"""Source name of the control-point commands the recorder wrote."""
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
    nominal_rates : bool
        Use the band's nominal rates as the channels' ``fs`` instead of the fitted ones
        (what a live run that cannot fit yet uses).
    hold_s : float
        Backfill hold of the assembler (s), as live.
    profile : LegBandProfile
        The band's profile.

    Attributes
    ----------
    info : RecordingInfo
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
                 start_utc: datetime | None = None, nominal_rates: bool = False,
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
        self.counter_origins: dict[str, int] = {}
        self.run_origins: list[dict[str, int]] = []
        for role, stream_name in DEFAULT_STREAMS.items():
            sid = profile.stream_named(stream_name).stream_id
            if sid not in first:
                continue
            timing = self.fit.streams.get(sid)
            if timing is None:
                continue
            rates[role] = nominal[sid] if nominal_rates else timing.rate_hz
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
        gaps: list[Gap] = []
        stats: dict[str, StreamStats] = {}
        current = -1
        for k, rec in self._packets_by_run():
            if k != current:  # a run ended (the band restarted): release all it held
                if current >= 0:
                    yield from self._release(current, assemblers[current].flush(), pending)
                current = k
            try:
                released = assemblers[k].push(rec.payload, received_s=rec.received_s)
            except CrampInputError:
                continue  # counted in info.notes by the scan
            yield from self._release(k, released, pending)
        if current >= 0:
            yield from self._release(current, assemblers[current].flush(), pending)
        for p in pending.values():
            yield from p.drain()
        for k, asm in enumerate(assemblers):
            for g in asm.gaps:
                off = self._offsets[k].get(g.role, 0) / self.info.channels[g.role].fs
                gaps.append(Gap(role=g.role, start_s=g.start_s + off, end_s=g.end_s + off,
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
        for role, block in released:
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
        """Nothing stays open between passes."""

    def __enter__(self) -> CaptureRecording:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ---------------------------------------------------------------------------- internals
    def _packets_by_run(self) -> Iterator[tuple[int, PacketRecord]]:
        """``(run index, packet)`` for every data packet of a run, in the order received.

        As live: a run starts with the START command; packets received while START is
        answered (before its ``config`` event) belong to the new run when stamped at or
        after its start, and are dropped otherwise; packets before the first START (stale
        ones) belong to no run. A capture without ``config`` events is one run.
        """
        runs = self._run_starts
        if not runs:
            for rec in self.packets():
                yield 0, rec
            return
        k = -1
        starting = False
        half = 1 << 31
        for rec in self.capture.records:
            if isinstance(rec, EventRecord):
                if rec.kind == "config" and k + 1 < len(runs):
                    k += 1
                    starting = False
                continue
            if not isinstance(rec, PacketRecord):
                continue
            if rec.source == COMMAND_SOURCE:
                starting = bool(rec.payload) and rec.payload[0] == Opcode.START \
                    and k + 1 < len(runs)
                continue
            if rec.source != DATA_SOURCE:
                continue
            if starting:
                ticks = int.from_bytes(rec.payload[8:12], "little") \
                    if len(rec.payload) >= 12 else 0
                if (ticks - runs[k + 1]) % (1 << 32) < half:
                    yield k + 1, rec
            elif k >= 0:
                yield k, rec

    def _scan_packets(self) -> tuple[list[dict[int, PacketTimes]], dict[int, tuple[int, float]]]:
        self._run_starts: list[int] = []
        self._offsets: list[dict[str, int]] = []
        for rec in self.capture.records:
            if isinstance(rec, EventRecord) and rec.kind == "config":
                ticks = rec.fields.get("run_start_ticks")
                offsets = rec.fields.get("sample_offsets") or {}
                if not isinstance(ticks, int) or not isinstance(offsets, dict):
                    continue
                self._run_starts.append(ticks % (1 << 32))
                self._offsets.append({str(r): int(v) for r, v in offsets.items()
                                      if isinstance(v, int) and v >= 0})
        if not self._run_starts:
            self._offsets = [{}]
        cols: list[dict[int, list[list[float]]]] = [{} for _ in self._offsets]
        first: dict[int, tuple[int, float]] = {}
        self._bad_packets = 0
        self._rate_changes = 0
        for k, rec in self._packets_by_run():
            try:
                pkt = decode_data_header(rec.payload, profile=self.profile)
            except CrampInputError:
                self._bad_packets += 1
                continue
            spec = self.profile.stream(pkt.stream_id)
            rate = spec.rates_hz[pkt.rate_code]
            if pkt.stream_id not in first:
                first[pkt.stream_id] = (rate, float(spec.full_scales[pkt.range_code]))
            elif first[pkt.stream_id][0] != rate:
                self._rate_changes += 1
                continue
            cols[k].setdefault(pkt.stream_id, []).append(
                [pkt.first_sample, pkt.n_samples, pkt.device_ticks, rec.received_s,
                 0.0 if pkt.backfill else 1.0])
        data = self.profile.data
        runs: list[dict[int, PacketTimes]] = []
        for run_cols in cols:
            times: dict[int, PacketTimes] = {}
            for sid, rows in run_cols.items():
                a = np.asarray(rows, dtype=np.float64)
                times[sid] = PacketTimes(
                    counter=unwrap(a[:, 0].astype(np.int64), modulus=data.counter_modulus),
                    n_samples=a[:, 1].astype(np.int64),
                    ticks=unwrap(a[:, 2].astype(np.int64), modulus=1 << 32),
                    received_s=a[:, 3], live=a[:, 4] > 0,
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


class _Pending:
    """Contiguous samples of one role waiting to make a block of the wanted size."""

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
        self.parts.append(block.data)
        self.n += block.n_samples
        if self.n >= self.target:
            yield from self.drain()

    def drain(self) -> Iterator[tuple[str, SignalBlock]]:
        if self.n:
            data = self.parts[0] if len(self.parts) == 1 else np.concatenate(self.parts)
            yield self.role, SignalBlock(data=data, fs=self.fs, start_sample=self.start)
        self.parts, self.n = [], 0


def open_capture(path: str | Path, *, min_emg_fs_hz: float | None = None,
                 start_utc: datetime | None = None) -> CaptureRecording | OtherBandCapture:
    """Open any capture for replay, by the band its header names (read once).

    The replay class comes from the band registry (:data:`detector.bands.registry.BANDS`);
    a capture without a profile is a LegBand one.

    Raises
    ------
    CrampInputError
        Not a capture, a band the registry does not know, or no usable data in it.
    """
    from detector.bands.registry import band_named

    capture = read_capture(Path(path))
    name = str(capture.session.get("profile", "legband")).lower()
    try:
        band = band_named(name)
    except CrampInputError:
        raise CrampInputError(Path(path).name, f"capture of a {name!r} band, which this "
                              "version cannot replay") from None
    source: CaptureRecording | OtherBandCapture = band.load("capture_source")(
        Path(path), capture=capture, min_emg_fs_hz=min_emg_fs_hz, start_utc=start_utc)
    return source
