"""Simulated Polar / Myo bands, a stepped clock and a session wired together for BLE tests."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ble_helpers import Collector

from detector.ble.other_bands import MyoSession, PolarSession
from detector.ble.session_types import SessionConfig, SessionSummary, observers
from detector.config import DetectorConfig
from firmware_sim.firmware import ManualClock
from firmware_sim.sim_peripheral import SimPeripheral
from firmware_sim.stepped_band import ManualTimebase, SteppedDriver

ORIGIN_UNIX_S = 1_705_357_800.0  # 2024-01-15 22:30 UTC


@dataclass(repr=False)  # asyncio.run reprs a big result when it restores SIGINT
class Run:
    """What :func:`record` saw."""

    summary: SessionSummary
    collector: Collector
    session: PolarSession | MyoSession
    band: SimPeripheral


async def record(band_factory: Any, session_cls: type, tmp: Path, *, duration_s: float,
                 outages: tuple[tuple[float, float], ...] = (), step_s: float = 0.1,
                 **session_kwargs: Any) -> Run:
    """Run ``duration_s`` of a simulated band through the real BleakClient path."""
    logging.getLogger("bumble").setLevel(logging.ERROR)
    clock = ManualClock()
    band: SimPeripheral = band_factory(clock)
    await band.start()
    for start, length in outages:
        band.outage(start_s=start, duration_s=length)
    timebase = ManualTimebase(clock, origin_unix_s=ORIGIN_UNIX_S)
    collector = Collector(now=clock)
    session = session_cls(band.ble_device, capture_path=tmp / "night.cramp", timebase=timebase,
                          config=SessionConfig(), detector_config=DetectorConfig(),
                          client_kwargs={"backend": band.client_backend},
                          until_s=ORIGIN_UNIX_S + duration_s, **session_kwargs)
    session.observer = observers(collector)
    driver = SteppedDriver(band, clock, timebase, step_s=step_s)
    task = asyncio.ensure_future(session.run())
    await driver.run(keep_going=lambda: not task.done(), hold=lambda: session.connect_pending)
    return Run(summary=task.result(), collector=collector, session=session, band=band)
