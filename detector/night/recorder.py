"""The one night recorder: live sessions and replay both feed this object.

:class:`NightRecorder` owns what turns a band's data into a night: the packet assembly (for a
LegBand, :class:`~detector.night.legband.LegBandRuns`; the other bands' assemblers hand it
blocks), the clock, the :class:`~detector.pipeline.chain.NightPipeline` (built here and
nowhere else), the count of samples on the night's timeline, and the observers (live blocks
and episodes). A BLE session hands it packets and events; ``cramp replay`` hands it a
recording's blocks. Live and in replay the pipeline runs on the band's own sample grid (its
nominal rates: the same epochs both times), and every episode time the observers and the
result see is placed by a clock (:mod:`detector.night.timeline`): the online estimate
(:class:`~detector.night.clock.OnlineClock`) live, the morning fit in replay, so the live
night agrees with the stored one up to how far the online estimate is from the final fit.

Not here (yet): the capture file is written by the BLE session (its guarded writer in
:mod:`detector.ble.link`), the backfill bookkeeping (:class:`~detector.ble.tracker.StreamTracker`)
stays with the LegBand session, and a capture's replay assembles its packets in
:class:`~detector.capture.recording.CaptureRecording` (the same ``StreamAssembler`` and
offsets) before its blocks come here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from detector.config import DetectorConfig
from detector.episode import EpisodeEnded, EpisodeEvent, EpisodeWithdrawn
from detector.night.timeline import SampleClock, clock_time, map_result
from detector.pipeline.chain import NightPipeline
from detector.pipeline.result import NightResult
from detector.signals import ChannelSpec, RecordingInfo, SignalBlock

if TYPE_CHECKING:  # the LegBand assembly is imported when a LegBand is used (not for an EDF)
    from detector.night.legband import Blocks, LegBandRuns
    from detector.profiles.legband import LegBandProfile
    from detector.profiles.legband_codec import DataPacket

LIVE_BATCH_S = 1.0
"""Seconds of contiguous samples gathered per role before they go to the pipeline. A
notification holds a few tens of milliseconds of samples and the pipeline's cost is mostly
per call; results do not depend on the block size (see ``tests/test_chunking.py``), and the
live display still gets every block at once."""


class NightRecorder:
    """Assembly, clock, pipeline and observers of one leg's night.

    Parameters
    ----------
    channels : mapping of role to ChannelSpec
        The channels the night has, at the band's nominal rates (its sample grid).
    config : DetectorConfig
        Thresholds.
    start_utc : datetime
        Sample 0 of every channel (aware).
    leg : str
        ``"left"``, ``"right"`` or ``"unknown"``.
    on_block : callable, optional
        ``on_block(role, block)`` for every block on the night's timeline (live display).
    on_episode : callable, optional
        ``on_episode(event, start_utc=...)`` for every episode event, its times converted
        with the clock estimate when there is one.
    clock : SampleClock, optional
        Places night samples in host time (replay: the morning fit). A LegBand assembled
        here (:meth:`use_legband`) brings its own online clock.
    background : collection of str, optional
        Roles conditioned on a worker thread (replay of long blocks; see
        :class:`~detector.pipeline.chain.NightPipeline`): the same result, on two cores.

    Raises
    ------
    CrampInputError
        The channels allow no detection (e.g. a foot accelerometer alone).
    """

    def __init__(self, channels: Mapping[str, ChannelSpec], *, config: DetectorConfig,
                 start_utc: datetime, leg: str = "unknown",
                 on_block: Callable[[str, SignalBlock], None] | None = None,
                 on_episode: Callable[..., None] | None = None,
                 batch_s: float = LIVE_BATCH_S, clock: SampleClock | None = None,
                 background: Collection[str] = ()) -> None:
        self.channels = dict(channels)
        self.clock = clock
        self.pipeline = NightPipeline(self.channels, config=config, start_utc=start_utc,
                                      leg=leg, background=background)
        self.on_block = on_block
        self.on_episode = on_episode
        self.legband: LegBandRuns | None = None
        self.role_end: dict[str, int] = {}
        """Night sample index after the last sample released, per role (the one count)."""
        self.episodes = 0
        self.in_cramp = False
        self._batches = {r: _Batch(max(1, round(batch_s * c.fs))) for r, c in
                         self.channels.items()}

    @property
    def start_utc(self) -> datetime:
        """Sample 0 of the night."""
        return self.pipeline.start_utc

    # ------------------------------------------------------------------------- LegBand
    def use_legband(self, *, profile: LegBandProfile, hold_s: float) -> LegBandRuns:
        """Assemble LegBand packets here (live), with the online clock."""
        from detector.night.legband import LegBandRuns

        self.legband = LegBandRuns(profile=profile, channels=self.channels, hold_s=hold_s)
        return self.legband

    def start_run(self, *, run_start_ticks: int, elapsed_s: float = 0.0,
                  offsets: Mapping[str, int] | None = None) -> dict[str, int]:
        """The band STARTed (first time, or after a restart): begin a new run.

        Parameters
        ----------
        run_start_ticks : int
            Band RTC ticks at START (from its answer).
        elapsed_s : float
            Host seconds since the night's first START (a restart is placed by host time:
            the band's counters started again and say nothing about the time between).
        offsets : mapping of role to int, optional
            Night sample index of the new run's sample 0 per role, when known (replay of a
            logged ``config`` event); by default from ``elapsed_s``.

        Returns
        -------
        dict of str to int
            The offsets used: log them in the capture's ``config`` event, where replay reads
            them. The previous run is released first, so a new run never overlaps it.
        """
        assert self.legband is not None
        first = self.legband.current is None
        self.finish_assembly()
        if offsets is None:
            offsets = {r: 0 if first else max(self.role_end.get(r, 0), round(elapsed_s * c.fs))
                       for r, c in self.channels.items()}
        self.push_blocks(self.legband.start_run(run_start_ticks=run_start_ticks,
                                                offsets=offsets))
        return dict(offsets)

    def packet(self, packet: DataPacket, *, received_s: float) -> None:
        """One decoded LegBand data packet (decoded once, by the session).

        Raises
        ------
        CrampInputError
            The assembler refuses the packet.
        """
        assert self.legband is not None
        self.push_blocks(self.legband.push(packet, received_s=received_s))

    # -------------------------------------------------------------------------- blocks
    def push_blocks(self, blocks: Blocks) -> None:
        """Blocks on the night's timeline (from any assembler, or a recording)."""
        for role, block in blocks:
            self.push(role, block)

    def push(self, role: str, block: SignalBlock) -> None:
        """One block on the night's timeline."""
        end = block.end_sample
        if end > self.role_end.get(role, 0):
            self.role_end[role] = end
        if self.on_block is not None:
            self.on_block(role, block)
        batch = self._batches.get(role)
        if batch is None:
            raise ValueError(f"channel {role!r} was not declared")
        for ready in batch.add(block):
            self._to_pipeline(role, ready)

    def _to_pipeline(self, role: str, block: SignalBlock) -> None:
        for ev in self.pipeline.push(role, block):
            self._emit(ev)

    def drain(self) -> None:
        """Push every gathered sample into the pipeline now (before a result is taken)."""
        for role, batch in self._batches.items():
            ready = batch.take()
            if ready is not None:
                self._to_pipeline(role, ready)

    def finish_assembly(self) -> None:
        """Release what the LegBand assembly still holds (its holes become gaps)."""
        if self.legband is not None:
            self.push_blocks(self.legband.flush())

    def finish(self, *, end_s: float | None = None) -> None:
        """End of the night: release what assembly holds, flush the pipeline."""
        self.finish_assembly()
        self.drain()
        for ev in self.pipeline.flush(end_s=end_s):
            self._emit(ev)

    def duration_s(self) -> float:
        """Seconds of signal on the night's timeline so far."""
        return max((n / self.channels[r].fs for r, n in self.role_end.items()), default=0.0)

    def result(self, info: RecordingInfo) -> NightResult:
        """The night (so far), its times placed by the clock (gathered samples pushed first).

        Without a clock (a band that has none, or no packet timed yet) the times are the
        sample grid's, from ``info.start_utc``.
        """
        self.drain()
        result = self.pipeline.result(info)
        if self._clock() is None:
            return result
        return map_result(result, self.live_time)

    # --------------------------------------------------------------------------- clock
    def _clock(self) -> SampleClock | None:
        return self.clock if self.clock is not None else self.legband

    def live_time(self, onset_s: float) -> datetime:
        """Host time of night second ``onset_s`` (the sample grid), by the clock.

        Without a clock estimate (no clock, or no packet timed yet) it is the nominal
        ``start_utc + onset_s``.
        """
        clock = self._clock()
        at = None if clock is None else clock_time(
            clock, {r: c.fs for r, c in self.channels.items()}, onset_s)
        return at if at is not None else self.start_utc + timedelta(seconds=onset_s)

    def _emit(self, event: EpisodeEvent) -> None:
        if isinstance(event, EpisodeEnded):
            self.episodes += 1
            self.in_cramp = False
            onset_s = event.episode.onset_s
        elif isinstance(event, EpisodeWithdrawn):  # announced, then shown not to be a cramp
            self.in_cramp = False
            onset_s = event.onset_s
        else:
            self.in_cramp = True
            onset_s = event.onset_s
        if self.on_episode is None:
            return
        at = self.live_time(onset_s)
        start = at - timedelta(seconds=onset_s)
        if isinstance(event, EpisodeEnded):
            event = EpisodeEnded(episode=dataclasses.replace(event.episode, onset_utc=at))
        self.on_episode(event, start_utc=start)


class _Batch:
    """Contiguous samples of one role gathered into blocks of at least ``target`` samples."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.parts: list[SignalBlock] = []
        self.n = 0

    def add(self, block: SignalBlock) -> list[SignalBlock]:
        out: list[SignalBlock] = []
        if self.parts and block.start_sample != self.parts[-1].end_sample:
            ready = self.take()
            if ready is not None:
                out.append(ready)
        self.parts.append(block)
        self.n += block.n_samples
        if self.n >= self.target:
            ready = self.take()
            if ready is not None:
                out.append(ready)
        return out

    def take(self) -> SignalBlock | None:
        if not self.parts:
            return None
        first = self.parts[0]
        data = first.data if len(self.parts) == 1 else np.concatenate(
            [p.data for p in self.parts])
        self.parts, self.n = [], 0
        return SignalBlock(data=data, fs=first.fs, start_sample=first.start_sample)
