"""A simulated band, a stepped clock and a recording session wired together for BLE tests."""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detector.ble.live import LiveDisplay
from detector.ble.session import LegBandSession, SessionConfig, SessionSummary, observers
from detector.config import DetectorConfig
from detector.profiles.legband import LEGBAND
from detector.signals import SignalBlock
from firmware_sim.firmware import FirmwareConfig, ManualClock
from firmware_sim.night import NightScenario, random_scenario
from firmware_sim.stepped_band import ManualTimebase, NightFeed, SimulatedBand, SteppedDriver

LSB = {"emg": 8192 / 32768, "shank_acc": 4 / 32768, "foot_acc": 4 / 32768}


class TruthFeed:
    """Wraps a feed and keeps every value the firmware sampled, per role, in order."""

    def __init__(self, feed: Callable[[str, np.ndarray], np.ndarray]) -> None:
        self.feed = feed
        self.values: dict[str, list[np.ndarray]] = {"emg": [], "shank_acc": [],
                                                    "foot_acc": []}

    def __call__(self, role: str, t_s: np.ndarray) -> np.ndarray:
        v = self.feed(role, t_s)
        self.values[role].append(np.array(v, copy=True))
        return v

    def quantised(self, role: str) -> np.ndarray:
        """What the band's ADC made of it, in uV or g."""
        x = np.concatenate(self.values[role])
        return np.clip(np.rint(x / LSB[role]), -32768, 32767) * LSB[role]


@dataclass(repr=False)  # asyncio.run reprs a big result when it restores SIGINT
class Collector:
    """Observer keeping the blocks pushed into the pipeline and the episode events."""

    blocks: dict[str, list[SignalBlock]] = field(default_factory=dict)
    events: list[tuple[float, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    now: Callable[[], float] = lambda: 0.0

    def on_block(self, role: str, block: SignalBlock) -> None:
        self.blocks.setdefault(role, []).append(block)

    def on_episode(self, event: object, *, start_utc: object) -> None:
        self.events.append((self.now(), event))

    def on_status(self, snapshot: object) -> None:
        pass

    def on_note(self, text: str) -> None:
        self.notes.append(text)

    def joined(self, role: str) -> tuple[int, np.ndarray, list[int]]:
        """First start sample, data concatenated, start-sample jumps (gap sizes)."""
        bl = self.blocks[role]
        jumps = [b.start_sample - a.end_sample for a, b in itertools.pairwise(bl)
                 if b.start_sample != a.end_sample]
        return bl[0].start_sample, np.concatenate([b.data for b in bl]), jumps


@dataclass(repr=False)
class Night:
    """Result of :func:`record_night`."""

    summary: SessionSummary
    truth: TruthFeed
    collector: Collector
    display: LiveDisplay
    out: io.StringIO
    band: SimulatedBand
    session: LegBandSession
    scenario: NightScenario
    wall_steps: int


def scenario(duration_s: float, *, seed: int, n_cramps: int = 0) -> NightScenario:
    """A random night without electrode lift (so every EMG sample is a plain value)."""
    return random_scenario(duration_s=duration_s, rng=np.random.default_rng(seed),
                           fs_emg=1000.0, fs_acc=50.0, n_cramps=n_cramps, artefacts=False)


async def record_night(tmp: Path, *, duration_s: float, seed: int = 0, mtu: int = 247,
                       n_cramps: int = 0, outages: list[tuple[float, float]] = (),
                       firmware_config: FirmwareConfig | None = None,
                       stop_at_s: float | None = None, step_s: float = 0.1,
                       session_config: SessionConfig | None = None,
                       restarts: tuple[float, ...] = (), hold_setup: bool = True) -> Night:
    """Run a simulated night through the real BleakClient path; return everything seen.

    ``hold_setup=False`` holds the band's clock only while linking, not through the GATT
    set-up after the link (what the driver did before: a positive control).
    """
    sc = scenario(duration_s + 60.0, seed=seed, n_cramps=n_cramps)
    truth = TruthFeed(NightFeed(sc, rng=np.random.default_rng(seed + 1)))
    clock = ManualClock()
    band = await SimulatedBand.create(truth, clock=clock, rng=np.random.default_rng(seed + 2),
                                      config=firmware_config)
    for start, length in outages:
        band.outage(start_s=start, duration_s=length)
    for at_s in restarts:
        band.restart(at_s=at_s)
    origin = sc.start_utc.timestamp()
    timebase = ManualTimebase(clock, origin_unix_s=origin)
    collector = Collector(now=clock)
    out = io.StringIO()
    cfg = session_config or SessionConfig(mtu=mtu)
    session = LegBandSession(band.ble_device, capture_path=tmp / "night.cramp",
                             timebase=timebase, config=cfg, detector_config=DetectorConfig(),
                             client_kwargs={"backend": band.client_backend},
                             leg=sc.leg, until_s=origin + duration_s)
    display = LiveDisplay(session.channels, out=out, live_line=False, log_every_s=60.0)
    session.observer = observers(collector, display)
    driver = SteppedDriver(band, clock, timebase, step_s=step_s)
    task = asyncio.ensure_future(session.run())

    def keep_going() -> bool:
        if stop_at_s is not None and clock() >= stop_at_s:
            session.request_stop()
        return not task.done()

    await driver.run(keep_going=keep_going,
                     hold=(lambda: session.connect_pending) if hold_setup
                     else (lambda: session.linking))
    summary = task.result()
    return Night(summary=summary, truth=truth, collector=collector, display=display, out=out,
                 band=band, session=session, scenario=sc, wall_steps=driver.steps)


def random_outages(rng: np.random.Generator, *, n: int, span: tuple[float, float],
                   shortest_s: float = 0.5, longest_s: float = 60.0,
                   min_link_s: float = 5.0) -> list[tuple[float, float]]:
    """``n`` outages, lengths log-uniform in [shortest, longest], at least ``min_link_s`` apart."""
    lengths = np.exp(rng.uniform(np.log(shortest_s), np.log(longest_s), n))
    room = (span[1] - span[0]) - lengths.sum() - n * min_link_s
    if room <= 0:
        raise ValueError("outages do not fit")
    spare = rng.dirichlet(np.ones(n + 1))[:n] * room
    t = span[0]
    out = []
    for length, extra in zip(lengths, spare, strict=True):
        t += min_link_s + extra
        out.append((float(t), float(length)))
        t += length
    return out


def stream_lsb(role: str) -> float:
    """LSB of the default range of the stream that feeds ``role``."""
    name = {"emg": "emg_raw", "shank_acc": "shank_acc", "foot_acc": "foot_acc"}[role]
    spec = LEGBAND.stream_named(name)
    return spec.lsb(spec.default_full_scale)
