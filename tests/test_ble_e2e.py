"""End to end over the real BleakClient path: a simulated band, dropouts, backfill, gaps.

The band's clock is stepped by hand (no wall-clock waits except the virtual controller's
advertising interval during reconnections); every sample the pipeline received is compared with
what the firmware's ADC sampled.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from ble_helpers import Night, random_outages, record_night

from detector.capture.reader import read_capture

ROLES = ("emg", "shank_acc", "foot_acc")


def assert_every_sample(night: Night) -> None:
    for role in ROLES:
        first, data, jumps = night.collector.joined(role)
        truth = night.truth.quantised(role)
        assert first == 0 and jumps == [], f"{role}: samples missing"
        assert data.shape[0] == truth.shape[0], role
        np.testing.assert_array_equal(data, truth, err_msg=role)
        counts = night.summary.counts[role]
        assert counts.lost == 0 and counts.received == truth.shape[0]
    assert night.summary.result is not None and night.summary.result.gaps == ()


def dropout_night(tmp_path: Path, *, duration_s: float, n: int, step_s: float) -> None:
    rng = np.random.default_rng(2024)
    outages = random_outages(rng, n=n, span=(30.0, duration_s - 30.0))
    assert len(outages) == n and max(d for _, d in outages) <= 60.0
    night = asyncio.run(record_night(tmp_path, duration_s=duration_s, seed=5, outages=outages,
                                     step_s=step_s))
    s = night.summary
    assert s.reason == "morning"
    assert s.dropouts == n and s.connections == n + 1
    assert_every_sample(night)
    assert sum(c.backfilled for c in s.counts.values()) > 0
    assert night.band.firmware.stats.backfill_packets_sent > 0
    capture = read_capture(tmp_path / "night.cramp")
    assert capture.damage.ok
    kinds = [r.kind for r in capture.records if hasattr(r, "kind")]
    assert kinds.count("connected") == n + 1 and kinds.count("disconnected") == n
    assert kinds[-1] == "stop"


def test_100_random_dropouts_lose_no_sample(tmp_path: Path) -> None:
    # the evidence, so it runs in CI: the outages of the hour this test first ran
    # (the same 100 lengths, 0.5-60 s, drawn first from the same seed), packed into 26 min
    # with the same 5 s of link at least between two (less idle streaming between them)
    dropout_night(tmp_path, duration_s=1560.0, n=100, step_s=0.25)


@pytest.mark.parametrize(("mtu", "outages", "duration_s"), [
    # at MTU 23 a packet holds about a tenth of the samples: ten times the notifications
    # through the stack per second of night, so a shorter night with shorter outages
    (23, [(15.0, 0.5), (25.0, 5.0), (40.0, 15.0)], 80.0),
    (247, [(40.0, 0.5), (70.0, 20.0), (120.0, 55.0)], 240.0),
], ids=["mtu23", "mtu247"])
def test_dropouts_at_both_mtus_lose_no_sample(tmp_path: Path, mtu: int,
                                              outages: list[tuple[float, float]],
                                              duration_s: float) -> None:
    night = asyncio.run(record_night(tmp_path, duration_s=duration_s, seed=7, mtu=mtu,
                                     outages=outages))
    assert night.summary.dropouts == 3
    assert_every_sample(night)
    assert night.band.firmware.att_mtu in (23, mtu)
    read_capture(tmp_path / "night.cramp")


def test_an_outage_longer_than_the_band_buffer_is_one_exact_gap(tmp_path: Path) -> None:
    buffer_s = 128.0
    outage = (60.0, 200.0)
    night = asyncio.run(record_night(tmp_path, duration_s=400.0, seed=9, outages=[outage],
                                     step_s=0.25))
    result = night.summary.result
    assert result is not None
    by_role = {g.role: g for g in result.gaps}
    assert sorted(by_role) == sorted(ROLES) and len(result.gaps) == 3
    for role in ROLES:
        first, data, jumps = night.collector.joined(role)
        truth = night.truth.quantised(role)
        gap = by_role[role]
        fs = night.session.channels[role].fs
        a, b = round(gap.start_s * fs), round(gap.end_s * fs)
        assert first == 0 and jumps == [b - a] and gap.samples_missing == b - a
        # everything outside the gap is there, sample by sample
        np.testing.assert_array_equal(data, np.concatenate([truth[:a], truth[b:]]))
        # the band kept the last 128 s: what is lost is the rest of the outage (plus the
        # little that left the buffer while the link came back)
        lost_s = gap.samples_missing / fs
        assert outage[1] - buffer_s <= lost_s <= outage[1] - buffer_s + 6.0, lost_s
        run_start_s = night.summary.start_utc.timestamp() - night.scenario.start_utc.timestamp()
        assert abs(gap.start_s + run_start_s - outage[0]) < 0.5
        assert night.summary.counts[role].lost == gap.samples_missing
