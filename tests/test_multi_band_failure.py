"""A multi-band night where one band fails: that band is finished, the others record on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from bumble.link import LocalLink
from multi_band_helpers import record_night

from detector.ble.other_bands import PolarSession
from detector.ble.polar_negotiated import NegotiatedPolarSession
from detector.capture.multi_band import BandEntry
from detector.capture.reader import read_capture
from detector.capture.writer import CaptureWriteError, CaptureWriter
from detector.profiles.polar_pmd import AccSettings
from detector.profiles.polar_settings import AccWish
from firmware_sim.night import random_scenario, synthesize
from firmware_sim.polar_sim import PolarPeripheral

NIGHT_S = 120.0
FS = 50
LIMIT_BYTES = 12_000
"""The foot band's capture can hold this much (the disk under it is full then)."""


def _specs(night, origin: float) -> list:  # type: ignore[no-untyped-def]
    acc = AccSettings(sample_rate_hz=FS, resolution_bits=16, range_g=8)
    return [
        (lambda c: PolarPeripheral.on_link(LocalLink(), acc_g=night.shank_acc_g, fs=FS,
                                           clock=c, origin_unix_s=origin,
                                           address="D0:5B:A4:00:02:02"),
         NegotiatedPolarSession,
         BandEntry(capture="shank.cramp", band="polar_pmd", leg="left", roles=("shank_acc",)),
         {"wish": AccWish(fs_hz=FS, min_fs_hz=25, range_g=8), "role": "shank_acc"}),
        (lambda c: PolarPeripheral.on_link(LocalLink(), acc_g=night.foot_acc_g, fs=FS,
                                           clock=c, origin_unix_s=origin,
                                           address="D0:5B:A4:00:02:03"),
         PolarSession,
         BandEntry(capture="foot.cramp", band="polar_pmd", leg="left", roles=("foot_acc",)),
         {"acc": acc}),
    ]


def test_one_bands_full_disk_ends_its_night_only(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real = CaptureWriter._write

    def write(self: CaptureWriter, data: bytes) -> None:
        if self.path.name == "foot.cramp" and self.bytes_written + len(data) > LIMIT_BYTES:
            raise CaptureWriteError(f"{self.path}: cannot write (No space left on device)")
        real(self, data)

    monkeypatch.setattr(CaptureWriter, "_write", write)
    rng = np.random.default_rng(8)
    scenario = random_scenario(duration_s=NIGHT_S + 30.0, rng=rng, fs_emg=1000.0,
                               fs_acc=float(FS), n_cramps=0, leg="left")
    night = synthesize(scenario, rng=np.random.default_rng(9))
    origin = scenario.start_utc.timestamp()
    summary, collector, _bands = asyncio.run(record_night(
        _specs(night, origin), tmp_path, origin_unix_s=origin, duration_s=NIGHT_S,
        outages={}))
    shank, foot = summary.bands
    # the failing band: finished, its capture closed with what it holds, one line
    assert foot.reason == "capture not writable"
    assert foot.capture_path is not None
    capture = read_capture(foot.capture_path)
    packets = sum(1 for r in capture.records if getattr(r, "source", "") == "polar:acc")
    assert packets > 10 and foot.capture_path.stat().st_size <= LIMIT_BYTES
    failed = [n for n in collector.notes if "No space left" in n]
    assert len(failed) == 1, failed
    assert "its recording stopped" in failed[0]
    # the foot band is named apart from the shank band, which shares its kind and leg
    assert failed[0].startswith("polar_pmd (left, foot_acc): ") and "No space left" in failed[0]
    assert "1 other band(s) record on" in failed[0]
    # the other band recorded the whole night (positive control: the failed one did not)
    assert shank.reason == "morning"
    assert shank.counts["shank_acc"].received >= 0.95 * NIGHT_S * FS
    assert shank.counts["shank_acc"].lost == 0
    assert foot.counts["foot_acc"].received < 0.5 * NIGHT_S * FS
    assert summary.results["left"].mode == "acc"
