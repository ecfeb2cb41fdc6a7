"""A fault-injected night through the real ``BleakClient``, and an exact account of its samples.

:func:`soak_night` records a simulated LegBand night with the recorder's
:class:`~detector.ble.session.LegBandSession` over the in-process BLE link, with:

- radio outages (the band unreachable for seconds to a minute; the band keeps sampling into
  its ring buffer, from which the recorder backfills);
- random faults at every BLE call (:mod:`firmware_sim.faults`): errors, foreign
  cancellations, hangs, links dropped under a call;
- malformed data notifications ahead of real ones;
- host stalls: the clock jumps by seconds to minutes at once while the host does not run.

:func:`check_soak` then accounts for every sample the band took: each sample the pipeline got
equals the band's ADC value at its index, the samples not delivered are exactly the gaps the
night reports, and the capture replays to the same samples and gaps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detector.ble.session import LegBandSession, SessionConfig, SessionSummary
from detector.capture.recording import CaptureRecording
from detector.config import DetectorConfig
from detector.profiles.legband import LEGBAND
from detector.signals import Gap, SignalBlock
from firmware_sim.faults import FaultInjector, faulty_client_backend
from firmware_sim.firmware import ManualClock
from firmware_sim.night import random_scenario
from firmware_sim.stepped_band import ManualTimebase, NightFeed, SimulatedBand, SteppedDriver

ROLES = ("emg", "shank_acc", "foot_acc")
STREAM_OF = {"emg": "emg_raw", "shank_acc": "shank_acc", "foot_acc": "foot_acc"}


class _TruthFeed:
    """Wraps the night feed and keeps every value the firmware sampled, per role, in order."""

    def __init__(self, feed: Callable[[str, np.ndarray], np.ndarray]) -> None:
        self.feed = feed
        self.values: dict[str, list[np.ndarray]] = {r: [] for r in ROLES}

    def __call__(self, role: str, t_s: np.ndarray) -> np.ndarray:
        v = self.feed(role, t_s)
        self.values[role].append(np.array(v, copy=True))
        return v

    def quantised(self, role: str) -> np.ndarray:
        """The band's ADC values (uV or g) of every sample taken, in order."""
        spec = LEGBAND.stream_named(STREAM_OF[role])
        lsb = spec.lsb(spec.default_full_scale)
        x = np.concatenate(self.values[role]) if self.values[role] else np.zeros(0)
        return np.clip(np.rint(x / lsb), -32768, 32767) * lsb


@dataclass(repr=False)
class _Blocks:
    """Observer keeping what reached the pipeline."""

    blocks: dict[str, list[SignalBlock]] = field(default_factory=lambda: {r: [] for r in ROLES})
    notes: list[str] = field(default_factory=list)

    def on_block(self, role: str, block: SignalBlock) -> None:
        self.blocks[role].append(block)

    def on_episode(self, event: object, *, start_utc: object) -> None:
        return None

    def on_status(self, snapshot: object) -> None:
        return None

    def on_note(self, text: str) -> None:
        self.notes.append(text)


@dataclass(repr=False)  # asyncio.run reprs its result when restoring SIGINT (slow)
class SoakNight:
    """What a soak night did and produced (see :func:`soak_night`)."""

    summary: SessionSummary
    faults: dict[str, int]
    """Injected faults by ``call:kind``."""
    survived: dict[str, int]
    """Failures the recorder logged and survived, by where."""
    stalls: list[float]
    """Host stalls injected (s each)."""
    outages: list[tuple[float, float]]
    """Radio outages (start s, length s)."""
    truth: dict[str, np.ndarray]
    blocks: dict[str, list[SignalBlock]]
    notes: list[str]
    capture_path: Path
    wall_s: float


async def soak_night(out_dir: Path, *, duration_s: float, seed: int, call_fault_p: float = 0.03,
                     malformed_p: float = 0.002, outages_per_hour: float = 12.0,
                     longest_outage_s: float = 60.0, stalls_per_hour: float = 6.0,
                     longest_stall_s: float = 90.0, step_s: float = 0.5,
                     hold_limit_s: float = 5.0, cover_faults_every: int = 0) -> SoakNight:
    """Record a fault-injected simulated night; return everything needed to account for it.

    Parameters
    ----------
    out_dir : Path
        Directory for the capture ``soak.cramp``.
    duration_s : float
        Length of the night (s).
    seed : int
        Seed of every random choice (night, faults, outages, stalls).
    call_fault_p, malformed_p : float
        Fault probability per BLE call, malformed-copy probability per data notification.
    outages_per_hour, longest_outage_s : float
        Radio outages (lengths log-uniform from 1 s to the longest).
    stalls_per_hour, longest_stall_s : float
        Host stalls (lengths log-uniform from 2 s to the longest).
    step_s : float
        Clock step of the simulation (s).
    hold_limit_s : float
        Hold of the clock while a connection is made, in seconds' worth of 1-ms event-loop
        pauses (:class:`SteppedDriver`); a connection that takes longer lets the night's
        time run on (a stuck set-up), whatever the host's speed.
    cover_faults_every : int
        Place the first round of BLE faults on every so many calls, so that every kind is
        injected whatever the host's speed (:class:`FaultInjector` ``cover_every``; 0: drawn).
    """
    seeds = np.random.SeedSequence(seed).spawn(5)
    rng = np.random.default_rng(seeds[0])
    scenario = random_scenario(duration_s=duration_s + 120.0, rng=rng, fs_emg=1000.0,
                               fs_acc=50.0, n_cramps=max(1, round(duration_s / 3600.0)),
                               artefacts=False)
    truth = _TruthFeed(NightFeed(scenario, rng=np.random.default_rng(seeds[1])))
    clock = ManualClock()
    band = await SimulatedBand.create(truth, clock=clock, rng=np.random.default_rng(seeds[2]))
    plan = np.random.default_rng(seeds[3])
    outages = _schedule(plan, duration_s=duration_s, per_hour=outages_per_hour, shortest_s=1.0,
                        longest_s=longest_outage_s)
    for start, length in outages:
        band.outage(start_s=start, duration_s=length)
    stalls = dict(_schedule(plan, duration_s=duration_s, per_hour=stalls_per_hour,
                            shortest_s=2.0, longest_s=longest_stall_s))
    injector = FaultInjector(rng=np.random.default_rng(seeds[4]), call_fault_p=call_fault_p,
                             malformed_p=malformed_p, data_uuid=LEGBAND.data_uuid,
                             header_size=LEGBAND.data.header_size,
                             cover_every=cover_faults_every)
    origin = scenario.start_utc.timestamp()
    timebase = ManualTimebase(clock, origin_unix_s=origin)
    observer = _Blocks()
    session = LegBandSession(
        band.ble_device, capture_path=out_dir / "soak.cramp", timebase=timebase,
        config=SessionConfig(mtu=247), detector_config=DetectorConfig(),
        client_kwargs={"backend": faulty_client_backend(band.client_backend, injector)},
        observer=observer, leg=scenario.leg, until_s=origin + duration_s)
    pending = sorted(stalls)
    done_stalls: list[float] = []

    def stall_s(now: float) -> float:
        if pending and now >= pending[0]:
            length = stalls[pending.pop(0)]
            done_stalls.append(length)
            return length
        return 0.0

    def keep_going() -> bool:
        # the last minute without faults, so the night's end (backfill, STOP) is exercised
        injector.enabled = clock() < duration_s - 60.0
        return not task.done()

    driver = SteppedDriver(band, clock, timebase, step_s=step_s, hold_limit_s=hold_limit_s)
    wall0 = time.perf_counter()
    task = asyncio.ensure_future(session.run())
    await driver.run(keep_going=keep_going,
                     hold=lambda: session.connect_pending and injector.hanging == 0,
                     stall_s=stall_s)
    summary = task.result()
    return SoakNight(
        summary=summary, faults={f"{c}:{k}": n for (c, k), n in sorted(injector.counts.items())},
        survived=dict(session.faults), stalls=done_stalls, outages=outages,
        truth={r: truth.quantised(r) for r in ROLES}, blocks=observer.blocks,
        notes=observer.notes, capture_path=out_dir / "soak.cramp",
        wall_s=time.perf_counter() - wall0)


def _schedule(rng: np.random.Generator, *, duration_s: float, per_hour: float,
              shortest_s: float, longest_s: float) -> list[tuple[float, float]]:
    """Non-overlapping (start, length) events, at least 20 s apart, inside the night."""
    n = int(rng.poisson(per_hour * duration_s / 3600.0))
    out: list[tuple[float, float]] = []
    t = 60.0
    for start in np.sort(rng.uniform(60.0, max(61.0, duration_s - 180.0), n)).tolist():
        length = float(np.exp(rng.uniform(np.log(shortest_s), np.log(longest_s))))
        if start >= t and start + length < duration_s - 120.0:
            out.append((start, length))
            t = start + length + 20.0
    return out


@dataclass(frozen=True, kw_only=True)
class SoakAccount:
    """Per role: samples taken, delivered, lost in reported gaps, and the checks' outcome."""

    taken: dict[str, int]
    delivered: dict[str, int]
    lost: dict[str, int]
    gaps: dict[str, list[tuple[int, int]]]
    longest_silence_s: float
    """Longest stretch without any data notification reaching the host (s)."""


def check_soak(night: SoakNight, *, buffer_s: float = 128.0) -> SoakAccount:
    """Account for every sample; raise ``AssertionError`` where anything does not add up.

    Checks, per role: every delivered block equals the band's ADC values at its indices;
    blocks and reported gaps tile ``[0, end)`` without overlap; the gaps' sample counts are
    the session's ``lost`` count; the capture replays to the same samples and gaps. And no
    sample is lost unless the host went without any data for most of the band's buffer
    (``buffer_s``; 30 s are left for the backfill requests that the faults may also hit).
    """
    result = night.summary.result
    if result is None:
        raise AssertionError("the night produced no result")
    taken, delivered, lost, gaps_by_role = {}, {}, {}, {}
    replay = CaptureRecording(night.capture_path)
    replayed: dict[str, list[SignalBlock]] = {r: [] for r in ROLES}
    for role, block in replay.blocks(3600.0):
        replayed[role].append(block)
    for role in ROLES:
        truth = night.truth[role]
        blocks = night.blocks[role]
        fs = blocks[0].fs if blocks else 1.0
        gaps = sorted((round(g.start_s * fs), round(g.end_s * fs)) for g in result.gaps
                      if g.role == role)
        pos, n = 0, 0
        pieces = sorted([(b.start_sample, b.end_sample, b) for b in blocks],
                        key=lambda p: p[0])
        events = sorted([(s, e, None) for s, e in gaps] + pieces, key=lambda p: p[0])
        for s, e, b in events:
            if s != pos:
                raise AssertionError(f"{role}: samples {pos}-{s} neither delivered nor a gap")
            if b is not None:
                if e > truth.shape[0] or not np.array_equal(_values(b), truth[s:e]):
                    raise AssertionError(f"{role}: samples {s}-{e} differ from the band's")
                n += e - s
            pos = e
        counts = night.summary.counts[role]
        if counts.lost != sum(e - s for s, e in gaps):
            raise AssertionError(f"{role}: {counts.lost} lost but gaps hold "
                                 f"{sum(e - s for s, e in gaps)}")
        _same_replay(role, blocks, replayed[role], gaps, replay.gaps, replay.info.channels)
        taken[role], delivered[role] = truth.shape[0], n
        lost[role], gaps_by_role[role] = counts.lost, gaps
    received = np.array([r.received_s for r in replay.packets()])
    silence = float(np.diff(received).max()) if received.size > 1 else 0.0
    if silence < buffer_s - 30.0 and any(lost.values()):
        raise AssertionError(f"samples lost although the host never went {buffer_s - 30:.0f} s "
                             f"without data (longest silence {silence:.0f} s): {lost}")
    return SoakAccount(taken=taken, delivered=delivered, lost=lost, gaps=gaps_by_role,
                       longest_silence_s=silence)


def _values(block: SignalBlock) -> np.ndarray:
    data = np.asarray(block.data)
    return data[:, 0] if data.ndim == 2 and data.shape[1] == 1 else data


def _same_replay(role: str, live: list[SignalBlock], replayed: list[SignalBlock],
                 live_gaps: list[tuple[int, int]], replay_gaps: list[Gap],
                 channels: dict[str, object]) -> None:
    a = np.concatenate([_values(b) for b in live]) if live else np.zeros(0)
    b = np.concatenate([_values(x) for x in replayed]) if replayed else np.zeros(0)
    if not np.array_equal(a, b):
        raise AssertionError(f"{role}: the capture replays to other samples "
                             f"({b.shape[0]} vs {a.shape[0]} live)")
    fs = channels[role].fs  # type: ignore[attr-defined]
    mine = sorted((round(g.start_s * fs), round(g.end_s * fs)) for g in replay_gaps
                  if g.role == role)
    if mine != live_gaps:
        raise AssertionError(f"{role}: the capture replays to other gaps {mine} vs {live_gaps}")
