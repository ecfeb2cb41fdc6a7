"""The acquisition runs of a LegBand: assembly, sample offsets and clock, one run at a time.

A run goes from a START to the next one (a band restart begins a new run: its counters and
sequence numbers start again). Each run has its own
:class:`~detector.capture.assembler.StreamAssembler` and :class:`~detector.night.clock.OnlineClock`;
its samples are placed on the night's timeline at the ``sample_offsets`` the recorder logs in
the capture's ``config`` event, which is where replay places them too. The accelerometers'
samples (their own oscillator) are first placed on the RTC's (= the EMG's) grid by their
packets' ticks (:class:`~detector.night.tick_grid.TickGrid`), as replay places them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from detector.capture.assembler import StreamAssembler, StreamStats, stream_for
from detector.night.clock import OnlineClock
from detector.night.tick_grid import TickGrid, placed_streams
from detector.profiles.legband import LegBandProfile
from detector.profiles.legband_codec import DataPacket
from detector.signals import ChannelSpec, SignalBlock

Blocks = list[tuple[str, SignalBlock]]


@dataclass
class _Unwrap:
    """Unwraps one wrapping field of a stream's packets, in arrival order."""

    modulus: int
    last_raw: int | None = None
    last_full: int = 0

    def __call__(self, raw: int) -> int:
        if self.last_raw is None:
            full = raw
        else:
            half = self.modulus // 2
            full = self.last_full + (raw - self.last_raw + half) % self.modulus - half
        self.last_raw, self.last_full = raw, full
        return full


@dataclass
class LegBandRun:
    """One acquisition run.

    Attributes
    ----------
    run_start_ticks : int
        Band RTC ticks at START.
    offsets : dict of str to int
        Night sample index of the run's sample 0, per role.
    assembler : StreamAssembler
    clock : OnlineClock
    grids : dict of int to TickGrid
        Per accelerometer stream id: its placement on the RTC's grid.
    """

    run_start_ticks: int
    offsets: dict[str, int]
    assembler: StreamAssembler
    clock: OnlineClock
    grids: dict[int, TickGrid] = field(default_factory=dict)
    counters: dict[int, _Unwrap] = field(default_factory=dict)
    ticks: dict[int, _Unwrap] = field(default_factory=dict)


class LegBandRuns:
    """Every run of one LegBand during a night (live) or in a capture (replay).

    Parameters
    ----------
    profile : LegBandProfile
    channels : mapping of role to ChannelSpec
        Pipeline channels (nominal rates live).
    hold_s : float
        Backfill hold of the assembler (s).
    """

    def __init__(self, *, profile: LegBandProfile, channels: Mapping[str, ChannelSpec],
                 hold_s: float) -> None:
        self.profile = profile
        self.channels = dict(channels)
        self.hold_s = hold_s
        self.runs: list[LegBandRun] = []
        self._sid = {role: stream_for(c, profile=profile).stream_id
                     for role, c in self.channels.items()}
        self._placed = placed_streams(self.channels, profile=profile)

    @property
    def current(self) -> LegBandRun | None:
        """The run packets go to now."""
        return self.runs[-1] if self.runs else None

    def start_run(self, *, run_start_ticks: int, offsets: Mapping[str, int]) -> Blocks:
        """Begin a new run; return what the previous one still held (its holes become gaps)."""
        held = self.current.assembler.flush() if self.current is not None else []
        out = self._shift(self.current, held) if self.current is not None else []
        assembler = StreamAssembler(profile=self.profile, channels=self.channels,
                                    hold_s=self.hold_s, counter_origin=0)
        clock = OnlineClock(tick_hz=self.profile.data.tick_hz,
                            nominal_rates_hz={self._sid[r]: c.fs
                                              for r, c in self.channels.items()})
        grids = {sid: TickGrid(fs_hz=self.channels[role].fs, tick_hz=self.profile.data.tick_hz)
                 for role, sid in self._placed.items()}
        self.runs.append(LegBandRun(run_start_ticks=run_start_ticks, offsets=dict(offsets),
                                    assembler=assembler, clock=clock, grids=grids))
        return out

    def push(self, packet: DataPacket, *, received_s: float) -> Blocks:
        """One decoded data packet of the current run: its timing to the clock, its samples
        to the assembler; return the blocks released, on the night's timeline.

        Raises
        ------
        CrampInputError
            The assembler refuses the packet (e.g. a stream changed rate in the run).
        """
        run = self.current
        if run is None:
            return []
        data = self.profile.data
        sid = packet.stream_id
        counter = run.counters.setdefault(sid, _Unwrap(data.counter_modulus))
        ticks = run.ticks.setdefault(sid, _Unwrap(1 << 32))
        full_counter, full_ticks = counter(packet.first_sample), ticks(packet.device_ticks)
        blocks = run.assembler.push_packet(packet)  # refused: raises, nothing else sees it
        grid = run.grids.get(sid)
        if grid is not None:  # before its blocks are placed (as replay: every packet first)
            grid.observe(full_counter, packet.n_samples, full_ticks)
        run.clock.observe(sid, counter=full_counter, n_samples=packet.n_samples,
                          ticks=full_ticks, received_s=received_s, live=not packet.backfill)
        return self._shift(run, blocks)

    def flush(self) -> Blocks:
        """End of the night: release what the current run holds."""
        run = self.current
        return self._shift(run, run.assembler.flush()) if run is not None else []

    def stats(self) -> dict[str, StreamStats]:
        """Sample counts per role over every run (the assembler's: what the pipeline got)."""
        out: dict[str, StreamStats] = {}
        for run in self.runs:
            for role, st in run.assembler.stats.items():
                if role not in out:
                    out[role] = st
                    continue
                total = out[role]
                for name in vars(st):
                    setattr(total, name, getattr(total, name) + getattr(st, name))
        return out

    def host_time_s(self, role: str, index: float) -> float | None:
        """Host time (UNIX s) of night sample ``index`` of ``role``, from the online clock.

        As in replay, the night's timeline is the first run's clock: a later run sits at its
        logged sample offsets on that timeline (its own counters restarted from 0 and say
        nothing about the time between runs).
        """
        sid = self._sid.get(role)
        if sid is None or not self.runs:
            return None
        first = self.runs[0]
        origin = first.assembler.origins.get(role) or 0
        grid = first.grids.get(sid)
        if grid is None:
            return first.clock.host_time_s(sid, origin + index)
        ticks = grid.ticks_of(index, origin=origin)  # on the RTC's grid: through the RTC
        return None if ticks is None else first.clock.host_time_at_ticks(ticks)

    def _shift(self, run: LegBandRun, blocks: Blocks) -> Blocks:
        out: Blocks = []
        origins = run.assembler.origins
        for role, block in blocks:
            grid = run.grids.get(self._sid[role])
            if grid is not None:
                placed = grid.place(block, origin=origins.get(role) or 0)
                if placed is None:
                    continue
                block = placed
            off = run.offsets.get(role, 0)
            if off:
                block = SignalBlock(data=block.data, fs=block.fs,
                                    start_sample=block.start_sample + off)
            out.append((role, block))
        return out

