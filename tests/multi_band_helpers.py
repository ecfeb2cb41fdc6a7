"""Several simulated bands and a multi-band night wired together on one stepped clock."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from ble_helpers import Collector

from detector.ble.multi_band import BandRun, MultiBandNight, MultiBandSummary, pipeline_less
from detector.ble.session_types import SessionConfig, observers
from detector.capture.multi_band import BandEntry
from detector.config import DetectorConfig
from firmware_sim.band_group import BandGroup
from firmware_sim.firmware import ManualClock
from firmware_sim.stepped_band import ManualTimebase, SteppedDriver

BandSpec = tuple[Callable[[ManualClock], Any], type, BandEntry, dict[str, Any]]
"""(peripheral factory, session class, manifest entry, session keyword arguments)."""


async def record_night(specs: list[BandSpec], tmp: Path, *, origin_unix_s: float,
                       duration_s: float, outages: dict[int, tuple[tuple[float, float], ...]],
                       config: DetectorConfig | None = None,
                       ) -> tuple[MultiBandSummary, Collector, list[Any]]:
    """Run a multi-band night through the real BleakClient path of every band."""
    logging.getLogger("bumble").setLevel(logging.ERROR)
    clock = ManualClock()
    timebase = ManualTimebase(clock, origin_unix_s=origin_unix_s)
    runs, bands = [], []
    for k, (factory, cls, entry, kwargs) in enumerate(specs):
        band = factory(clock)
        await band.start()
        for start, length in outages.get(k, ()):
            band.outage(start_s=start, duration_s=length)
        session = pipeline_less(cls)(
            band.ble_device, capture_path=tmp / entry.capture, timebase=timebase,
            config=SessionConfig(), detector_config=config or DetectorConfig(),
            client_kwargs={"backend": band.client_backend}, leg=entry.leg,
            until_s=origin_unix_s + duration_s, **kwargs)
        runs.append(BandRun(entry=entry, session=session))
        bands.append(band)
    collector = Collector(now=clock)
    night = MultiBandNight(runs, manifest_path=tmp / "night.night.json",
                           night_start_unix_s=origin_unix_s, detector_config=config
                           or DetectorConfig(), observer=observers(collector))
    driver = SteppedDriver(BandGroup(bands), clock, timebase, step_s=0.1)  # type: ignore[arg-type]
    task = asyncio.ensure_future(night.run())
    await driver.run(keep_going=lambda: not task.done(),
                     hold=lambda: any(r.session.connect_pending for r in runs))
    return task.result(), collector, bands


def step_index(blocks: list) -> int:  # type: ignore[type-arg]
    """Grid index of the first sample above 1.0 on a band's first channel (a placed step)."""
    for b in blocks:
        data = b.data if b.data.ndim == 2 else b.data[:, None]
        hit = np.flatnonzero(np.abs(data[:, 0]) > 1.0)
        if hit.size:
            return int(b.start_sample + hit[0])
    raise AssertionError("no step")


def joined(blocks: list) -> tuple[list[int], np.ndarray]:  # type: ignore[type-arg]
    """(where each contiguous run starts, samples) of ascending blocks."""
    starts = [blocks[0].start_sample] + [b.start_sample for a, b in itertools.pairwise(blocks)
                                         if b.start_sample != a.end_sample]
    return starts, np.concatenate([b.data for b in blocks])
