"""One night from several bands at once: one pipeline per leg, one time base across bands.

:class:`MultiBandNight` runs one band session per band concurrently (each with its own
connection supervisor, reconnect loop, dropouts and crash-safe capture: a dropout of one band
does not stop the others). The sessions run without their own pipeline: their blocks come
here, are placed on the night's time base with
:func:`~detector.capture.multi_band.band_offset_samples` (each band's first-sample time less
the night's origin, in samples of its own rate) and, for a band indexed by its own clock, its
drift against the host fitted to the arrivals (:mod:`detector.night.band_drift`), and go into the
:class:`~detector.night.recorder.NightRecorder` of the band's leg. The night manifest
(:mod:`detector.capture.multi_band`) names the captures, so the night replays as one.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detector.ble.link_errors import describe_error
from detector.ble.session_types import NullObserver, SessionObserver, SessionSummary
from detector.capture.multi_band import (
    BandEntry,
    band_offset_samples,
    split_role,
    write_manifest,
)
from detector.config import DetectorConfig
from detector.episode import EpisodeEnded, EpisodeEvent, EpisodeWithdrawn
from detector.errors import CrampInputError
from detector.night.band_drift import DriftGrid, drift_grid
from detector.night.recorder import NightRecorder
from detector.pipeline.result import NightResult
from detector.signals import ChannelSpec, RecordingInfo, SignalBlock


def pipeline_less(cls: type) -> type:
    """A subclass of the band session ``cls`` whose blocks go to its observer only."""

    class _Feeder(cls):  # type: ignore[misc, valid-type]
        def _feed(self, blocks: list[tuple[str, SignalBlock]]) -> None:
            if self._start_utc is None and self.assembler.start_unix_s is not None:
                self._start_utc = datetime.fromtimestamp(self.assembler.start_unix_s, UTC)
            for role, block in blocks:
                self.observer.on_block(role, block)

    _Feeder.__name__ = f"PipelineLess{cls.__name__}"
    return _Feeder


@dataclass
class BandRun:
    """One band of the night: its manifest entry and its (pipeline-less) session."""

    entry: BandEntry
    session: Any


@dataclass(frozen=True, kw_only=True)
class MultiBandSummary:
    """The night as the multi-band recorder saw it.

    Attributes
    ----------
    bands : list of SessionSummary
        Each band's own summary (counts, connections, dropouts, capture), in band order.
    results : dict of str to NightResult
        The live result of each leg's pipeline.
    manifest_path : Path
        The night manifest.
    """

    bands: list[SessionSummary]
    results: dict[str, NightResult]
    manifest_path: Path


class _BandTap:
    """Observer of one band session: blocks to the night, notes prefixed with the band."""

    def __init__(self, night: MultiBandNight, index: int) -> None:
        self.night = night
        self.index = index

    def on_block(self, role: str, block: SignalBlock) -> None:
        self.night.take(self.index, role, block)

    def on_episode(self, event: EpisodeEvent, *, start_utc: datetime) -> None:
        self.night.observer.on_episode(event, start_utc=start_utc)

    def on_status(self, snapshot: Any) -> None:
        # the band's session has no pipeline: the night's cramps come from the legs' pipelines
        self.night.observer.on_status(dataclasses.replace(
            snapshot, episodes=self.night.episodes_ended,
            in_cramp=bool(self.night.legs_in_cramp)))

    def on_note(self, text: str) -> None:
        entry = self.night.bands[self.index].entry
        self.night.observer.on_note(f"{entry.label}: {text}")


class MultiBandNight:
    """Record one night from several bands.

    Parameters
    ----------
    bands : sequence of BandRun
        The bands, each with a pipeline-less session (see :func:`pipeline_less`) writing its
        own capture into ``manifest_path``'s directory.
    manifest_path : Path
        Where the night manifest goes.
    night_start_unix_s : float
        The night's time origin (host time; before any band streams).
    detector_config : DetectorConfig
    observer : SessionObserver, optional

    Raises
    ------
    CrampInputError
        Two bands feeding one role of a leg, or a leg with neither EMG nor a shank
        accelerometer.
    """

    def __init__(self, bands: Sequence[BandRun], *, manifest_path: Path,
                 night_start_unix_s: float, detector_config: DetectorConfig,
                 observer: SessionObserver | None = None) -> None:
        self.bands = list(bands)
        self.manifest_path = manifest_path
        self.night_start_unix_s = night_start_unix_s
        self.config = detector_config
        self.observer: SessionObserver = observer or NullObserver()
        self.channels: dict[str, dict[str, ChannelSpec]] = {}
        self._routes: list[dict[str, tuple[str, str]]] = []
        """Per band: its role -> (leg, the leg's role); ``emg@left`` of a band on both legs
        goes to the left leg's ``emg``."""
        for run in self.bands:
            routes = {}
            for role, spec in run.session.channels.items():
                base, role_leg = split_role(role)
                leg = role_leg or run.entry.leg
                leg_channels = self.channels.setdefault(leg, {})
                if base in leg_channels:
                    raise CrampInputError("--band", f"two bands feed {base} of the {leg} leg")
                leg_channels[base] = spec
                routes[role] = (leg, base)
            self._routes.append(routes)
        start = datetime.fromtimestamp(night_start_unix_s, UTC)
        self.recorders = {
            leg: NightRecorder(ch, config=detector_config, start_utc=start, leg=leg,
                               on_block=lambda role, block: self.observer.on_block(role, block),
                               on_episode=self._on_episode(leg))
            for leg, ch in self.channels.items()}
        """One night recorder (pipeline, observers) per leg."""
        self._offsets: list[dict[str, int] | None] = [None] * len(self.bands)
        self._drift: list[dict[str, DriftGrid | None]] = [{} for _ in self.bands]
        self.episodes_ended = 0
        """Cramp episodes that have ended so far, over every leg (the status line's count)."""
        self.legs_in_cramp: set[str] = set()
        """Legs with a cramp going on now."""
        self.failures: list[tuple[int, Exception]] = []
        """Bands whose session failed (band index, error); the others recorded on."""

    @property
    def start_utc(self) -> datetime:
        """The night's time origin."""
        return datetime.fromtimestamp(self.night_start_unix_s, UTC)

    def take(self, index: int, role: str, block: SignalBlock) -> None:
        """A block from band ``index``: onto the night's time base, into its leg's pipeline."""
        run = self.bands[index]
        offsets = self._offsets[index]
        if offsets is None:
            start = run.session.assembler.start_unix_s
            offsets = {r: band_offset_samples(start, fs=spec.fs,
                                              night_start_unix_s=self.night_start_unix_s)
                       for r, spec in run.session.channels.items()}
            self._offsets[index] = offsets
        drifts = self._drift[index]
        if role not in drifts:
            drifts[role] = drift_grid(run.entry.band, run.session.assembler, role,
                                       fs_hz=block.fs,
                                       segment_s=self.config.band_drift_segment_s)
        grid = drifts[role]
        if grid is not None:
            placed = grid.place(block)
            if placed is None:
                return
            block = placed
        shifted = SignalBlock(data=block.data, fs=block.fs,
                              start_sample=block.start_sample + offsets[role])
        leg, base = self._routes[index][role]
        self.recorders[leg].push(base, shifted)

    async def _run_band(self, index: int) -> SessionSummary:
        """One band's night; a failure of its own ends it alone (one line, summary kept)."""
        run = self.bands[index]
        try:
            return await run.session.run()  # type: ignore[no-any-return]
        except Exception as exc:
            summary: SessionSummary | None = run.session.last_summary
            self.failures.append((index, exc))
            entry = run.entry
            cause = getattr(run.session, "write_error", None) or exc
            others = len(self.bands) - len(self.failures)
            self.observer.on_note(
                f"{entry.label}: its recording stopped ({describe_error(cause)}); "
                "its capture keeps what was recorded until then"
                + (f"; {others} other band(s) record on" if others else ""))
            if summary is None:  # a session that could not even finish: nothing recorded
                now = datetime.fromtimestamp(run.session.timebase.now_s(), UTC)
                summary = SessionSummary(reason="failed", start_utc=None, end_utc=now,
                                         capture_path=None, counts={}, connections=0,
                                         dropouts=0, result=None, corrupt_packets=0)
            return summary

    def _on_episode(self, leg: str) -> Callable[..., None]:
        """The episode observer of one leg's recorder: counts, then tells the observer."""
        def handle(event: EpisodeEvent, *, start_utc: datetime) -> None:
            self._count(leg, event)
            self.observer.on_episode(event, start_utc=start_utc)
        return handle

    def _count(self, leg: str, event: EpisodeEvent) -> None:
        if isinstance(event, EpisodeEnded):
            self.episodes_ended += 1
            self.legs_in_cramp.discard(leg)
        elif isinstance(event, EpisodeWithdrawn):  # announced, then shown not to be a cramp
            self.legs_in_cramp.discard(leg)
        else:
            self.legs_in_cramp.add(leg)

    def request_stop(self) -> None:
        """Stop every band (Ctrl-C)."""
        for run in self.bands:
            run.session.request_stop()

    async def run(self) -> MultiBandSummary:
        """Record until the morning or a stop; return every band's summary and the results.

        A band whose session fails (its capture cannot be written, a device that is not the
        band asked for) ends its own night only: its capture is closed with what it holds,
        one line says so, and the other bands record on. Each band is finished whatever the
        others do; our own cancellation (Ctrl-C) still goes through, every capture closed.
        """
        write_manifest(self.manifest_path, night_start_unix_s=self.night_start_unix_s,
                       entries=[r.entry for r in self.bands],
                       drift_segment_s=self.config.band_drift_segment_s)
        for k, run in enumerate(self.bands):
            run.session.observer = _BandTap(self, k)
            run.session.one_of_several = True
        summaries = list(await asyncio.gather(*(self._run_band(k)
                                                for k in range(len(self.bands)))))
        results = {}
        for leg, rec in self.recorders.items():
            rec.finish()
            ends = [s.end_utc.timestamp() for s in summaries]
            info = RecordingInfo(path=str(self.manifest_path), start_utc=self.start_utc,
                                 duration_s=max(ends) - self.night_start_unix_s,
                                 channels=self.channels[leg],
                                 leg=leg if leg in ("left", "right") else "unknown",
                                 file_format="multi-band capture")
            results[leg] = rec.result(info)
        return MultiBandSummary(bands=summaries, results=results,
                                manifest_path=self.manifest_path)
