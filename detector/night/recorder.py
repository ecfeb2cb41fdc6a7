"""The one night recorder: live sessions and replay both feed this object.

:class:`NightRecorder` owns what turns a band's data into a night: the packet assembly (for a
LegBand, :class:`~detector.night.legband.LegBandRuns`; the other bands' assemblers hand it
blocks), the clock, the :class:`~detector.pipeline.chain.NightPipeline` (built here and
nowhere else), the count of samples on the night's timeline, and the observers (live blocks
and episodes). A BLE session hands it packets and events; ``cramp replay`` hands it a
recording's blocks. Live, the pipeline runs at the band's nominal rates and every episode time
the observers see is converted with the online clock estimate
(:class:`~detector.night.clock.OnlineClock`), so it agrees with the stored night: the same
samples replayed in the morning with the final clock fit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from detector.config import DetectorConfig
from detector.episode import EpisodeEnded, EpisodeEvent, EpisodeStarted
from detector.night.legband import Blocks, LegBandRuns
from detector.pipeline.chain import NightPipeline
from detector.pipeline.result import NightResult
from detector.profiles.legband import LegBandProfile
from detector.profiles.legband_codec import DataPacket
from detector.signals import ChannelSpec, RecordingInfo, SignalBlock


class NightRecorder:
    """Assembly, clock, pipeline and observers of one leg's night.

    Parameters
    ----------
    channels : mapping of role to ChannelSpec
        The channels the night has (nominal rates live, fitted ones in replay).
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

    Raises
    ------
    CrampInputError
        The channels allow no detection (e.g. a foot accelerometer alone).
    """

    def __init__(self, channels: Mapping[str, ChannelSpec], *, config: DetectorConfig,
                 start_utc: datetime, leg: str = "unknown",
                 on_block: Callable[[str, SignalBlock], None] | None = None,
                 on_episode: Callable[..., None] | None = None) -> None:
        self.channels = dict(channels)
        self.pipeline = NightPipeline(self.channels, config=config, start_utc=start_utc,
                                      leg=leg)
        self.on_block = on_block
        self.on_episode = on_episode
        self.legband: LegBandRuns | None = None
        self.role_end: dict[str, int] = {}
        """Night sample index after the last sample released, per role (the one count)."""
        self.episodes = 0
        self.in_cramp = False

    @property
    def start_utc(self) -> datetime:
        """Sample 0 of the night."""
        return self.pipeline.start_utc

    # ------------------------------------------------------------------------- LegBand
    def use_legband(self, *, profile: LegBandProfile, hold_s: float) -> LegBandRuns:
        """Assemble LegBand packets here (live), with the online clock."""
        self.legband = LegBandRuns(profile=profile, channels=self.channels, hold_s=hold_s)
        return self.legband

    def start_run(self, *, run_start_ticks: int, offsets: Mapping[str, int]) -> None:
        """The band STARTed (first time, or after a restart): a new run at ``offsets``."""
        assert self.legband is not None
        self.push_blocks(self.legband.start_run(run_start_ticks=run_start_ticks,
                                                offsets=offsets))

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
        for ev in self.pipeline.push(role, block):
            self._emit(ev)

    def finish(self, *, end_s: float | None = None) -> None:
        """End of the night: release what assembly holds, flush the pipeline."""
        if self.legband is not None:
            self.push_blocks(self.legband.flush())
        for ev in self.pipeline.flush(end_s=end_s):
            self._emit(ev)

    def duration_s(self) -> float:
        """Seconds of signal on the night's timeline so far."""
        return max((n / self.channels[r].fs for r, n in self.role_end.items()), default=0.0)

    def result(self, info: RecordingInfo) -> NightResult:
        """The night (so far) as the pipeline sees it."""
        return self.pipeline.result(info)

    # --------------------------------------------------------------------------- clock
    def live_time(self, onset_s: float) -> datetime:
        """Wall-clock time of night second ``onset_s`` (nominal rates), by the clock estimate.

        Without a clock estimate (not a LegBand, or no packet timed yet) it is the nominal
        ``start_utc + onset_s``.
        """
        nominal = self.start_utc + timedelta(seconds=onset_s)
        if self.legband is None:
            return nominal
        for role, spec in self.channels.items():
            t = self.legband.host_time_s(role, onset_s * spec.fs)
            if t is not None:
                return datetime.fromtimestamp(t, UTC)
        return nominal

    def _emit(self, event: EpisodeEvent) -> None:
        if isinstance(event, EpisodeEnded):
            self.episodes += 1
            self.in_cramp = False
            onset_s = event.episode.onset_s
        else:
            self.in_cramp = True
            onset_s = event.onset_s
        if self.on_episode is None:
            return
        at = self.live_time(onset_s)
        start = at - timedelta(seconds=onset_s)
        if isinstance(event, EpisodeEnded):
            event = EpisodeEnded(episode=dataclasses.replace(event.episode, onset_utc=at))
        elif isinstance(event, EpisodeStarted):
            pass
        self.on_episode(event, start_utc=start)
