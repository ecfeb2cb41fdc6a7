"""A Polar Verity Sense at 416 Hz (SDK mode, negotiated) through the real BleakClient path."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from bumble.link import LocalLink
from other_band_helpers import ORIGIN_UNIX_S, record

from detector.ble.polar_negotiated import NegotiatedPolarSession
from detector.capture.reader import read_capture
from detector.capture.recording import open_capture
from detector.profiles.polar_settings import FOOT_WISH
from firmware_sim.firmware import ManualClock
from firmware_sim.polar_sim import PolarPeripheral
from firmware_sim.polar_verity_sim import VeritySensePeripheral

FS = 416


def test_verity_sense_streams_416_hz_in_sdk_mode_through_a_dropout(tmp_path: Path) -> None:
    acc = np.random.default_rng(11).normal(0.0, 0.6, (60 * FS, 3))

    def factory(clock: ManualClock) -> VeritySensePeripheral:
        return VeritySensePeripheral.on_link(LocalLink(), acc_g=acc, clock=clock,
                                             origin_unix_s=ORIGIN_UNIX_S)

    run = asyncio.run(record(factory, NegotiatedPolarSession, tmp_path, duration_s=40.0,
                             outages=((18.0, 3.0),)))
    s = run.summary
    assert s.reason == "morning" and s.connections == 2 and s.dropouts == 1
    assert "Polar accelerometer at 416 Hz, +-8 g (SDK mode)" in run.collector.notes
    # SDK mode enabled on each connection, before the accelerometer started at 416 Hz
    cmds = run.band.commands
    assert cmds.count(bytes([2, 9])) == 2
    starts = [c for c in cmds if c[:2] == bytes([2, 2])]
    assert len(starts) == 2 and all(c[4:6] == (416).to_bytes(2, "little") for c in starts)
    assert s.start_utc is not None
    offset = round((s.start_utc.timestamp() - ORIGIN_UNIX_S) * FS)
    blocks = run.collector.blocks["shank_acc"]
    for b in blocks:  # every sample at the index rebuilt from the frame timestamps
        np.testing.assert_allclose(b.data, acc[offset + b.start_sample:offset + b.end_sample],
                                   atol=0.0005 + 1e-12)
    counts = s.counts["shank_acc"]
    received = sum(b.n_samples for b in blocks)
    assert counts.received == received and counts.duplicates == 0
    assert 3.0 * FS <= counts.lost <= 7.0 * FS
    header = read_capture(tmp_path / "night.cramp").session["polar"]
    assert header == {"fs_hz": 416, "range_g": 8, "resolution_bits": 16, "role": "shank_acc",
                      "sdk_mode": True, "clock_trust_s": 5.0}
    with open_capture(tmp_path / "night.cramp") as rec:
        assert rec.info.channels["shank_acc"].fs == FS
        replayed = [b for role, b in rec.blocks(3600.0) if role == "shank_acc"]
        assert sum(g.samples_missing for g in rec.gaps) == counts.lost
    assert sum(b.n_samples for b in replayed) == received
    joined = np.concatenate([b.data for b in blocks])
    np.testing.assert_array_equal(np.concatenate([b.data for b in replayed]), joined)


def test_a_sensor_without_sdk_mode_is_started_at_what_it_offers(tmp_path: Path) -> None:
    acc = np.random.default_rng(12).normal(0.0, 0.6, (40 * 52, 3))

    def factory(clock: ManualClock) -> PolarPeripheral:
        return PolarPeripheral.on_link(LocalLink(), acc_g=acc, fs=52, clock=clock,
                                       origin_unix_s=ORIGIN_UNIX_S)

    run = asyncio.run(record(factory, NegotiatedPolarSession, tmp_path, duration_s=20.0,
                             wish=FOOT_WISH, role="foot_acc"))
    assert "Polar accelerometer at 52 Hz, +-8 g" in run.collector.notes
    assert bytes([2, 9]) not in run.band.commands
    assert run.summary.counts["foot_acc"].received > 15 * 52
