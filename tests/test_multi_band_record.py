"""Multi-band nights through every band's real BleakClient path: one time base, gaps per band."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from bumble.link import LocalLink
from multi_band_helpers import record_night

from detector.ble.ganglion_session import GanglionSession
from detector.ble.other_bands import PolarSession
from detector.ble.polar_negotiated import NegotiatedPolarSession
from detector.capture.multi_band import BandEntry, MultiBandRecording
from detector.config import DetectorConfig
from detector.profiles.ganglion import GANGLION
from detector.profiles.polar_pmd import AccSettings
from detector.profiles.polar_settings import AccWish
from detector.replay import run_source
from firmware_sim.ganglion_sim import GanglionPeripheral
from firmware_sim.night import random_scenario, synthesize
from firmware_sim.polar_sim import PolarPeripheral


def _night(seed: int, duration_s: float):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    scenario = random_scenario(duration_s=duration_s, rng=rng, fs_emg=1000.0, fs_acc=50.0,
                               n_cramps=1, leg="left", rest_emg_uv_rms=12.0)
    return scenario, synthesize(scenario, rng=np.random.default_rng(seed + 1))


def test_ganglion_plus_polar_pair_one_time_base_gaps_per_band(tmp_path: Path) -> None:
    scenario, night = _night(4, 240.0)
    origin = scenario.start_utc.timestamp()
    from scipy.signal import resample_poly

    counts = np.rint(resample_poly(night.emg_uv, 1, 5) / GANGLION.uv_per_count)
    specs = [
        (lambda c: GanglionPeripheral.on_link(LocalLink(), emg_counts=np.repeat(
            counts[:, None], 4, axis=1), clock=c), GanglionSession,
         BandEntry(capture="emg.cramp", band="ganglion", leg="left", roles=("emg",)), {}),
        (lambda c: PolarPeripheral.on_link(LocalLink(), acc_g=night.shank_acc_g, fs=50,
                                           clock=c, origin_unix_s=origin,
                                           address="D0:5B:A4:00:01:02"),
         NegotiatedPolarSession,
         BandEntry(capture="shank.cramp", band="polar_pmd", leg="left", roles=("shank_acc",)),
         {"wish": AccWish(fs_hz=50, min_fs_hz=25, range_g=8), "role": "shank_acc"}),
        (lambda c: PolarPeripheral.on_link(LocalLink(), acc_g=night.foot_acc_g, fs=50,
                                           clock=c, origin_unix_s=origin,
                                           address="D0:5B:A4:00:01:03"),
         PolarSession,
         BandEntry(capture="foot.cramp", band="polar_pmd", leg="left", roles=("foot_acc",)),
         {"acc": AccSettings(sample_rate_hz=50, resolution_bits=16, range_g=8)}),
    ]
    summary, collector, _bands = asyncio.run(record_night(
        specs, tmp_path, origin_unix_s=origin, duration_s=130.0,
        outages={2: ((60.0, 5.0),)}))
    emg_s, shank_s, foot_s = summary.bands
    # the foot's dropout did not stop the others
    assert (emg_s.dropouts, shank_s.dropouts, foot_s.dropouts) == (0, 0, 1)
    assert foot_s.counts["foot_acc"].lost >= 5 * 50 and shank_s.counts["shank_acc"].lost == 0
    # one time base: the Polar shank samples sit at the index of their true time
    for b in collector.blocks["shank_acc"]:
        np.testing.assert_allclose(b.data, night.shank_acc_g[b.start_sample:b.end_sample],
                                   atol=0.0005 + 1e-12)
    for b in collector.blocks["foot_acc"]:
        np.testing.assert_allclose(b.data, night.foot_acc_g[b.start_sample:b.end_sample],
                                   atol=0.0005 + 1e-12)
    result = summary.results["left"]
    assert result.mode == "emg+acc"
    foot_gaps = [g for g in result.gaps if g.role == "foot_acc" and g.start_s > 5.0]
    assert len(foot_gaps) == 1 and foot_gaps[0].samples_missing == foot_s.counts["foot_acc"].lost
    assert not [g for g in result.gaps if g.role == "shank_acc" and g.start_s > 5.0]
    # the night's manifest replays to the same episodes
    with MultiBandRecording(tmp_path / "night.night.json", min_emg_fs_hz=200.0) as rec:
        assert set(rec.info.channels) == {"emg", "shank_acc", "foot_acc"}
        replayed = run_source(rec, config=DetectorConfig())
    live = [(e.onset_s, e.duration_s) for e in result.episodes]
    truth = [(ev.onset_s, ev.duration_s) for ev in scenario.events if ev.kind == "cramp"]
    assert len(live) == len(truth) == 1  # the simulated cramp is found
    assert abs(live[0][0] - truth[0][0]) < 10.0
    assert [(e.onset_s, e.duration_s) for e in replayed.episodes] == live
