"""A band that restarts mid-night: live and replay place the new run at the same samples."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from ble_helpers import record_night

from detector.capture.reader import read_capture
from detector.capture.recording import CaptureRecording

ROLES = ("emg", "shank_acc", "foot_acc")


def test_a_band_restart_replays_to_the_live_night(tmp_path: Path) -> None:
    night = asyncio.run(record_night(tmp_path, duration_s=240.0, seed=11, restarts=(120.0,),
                                     step_s=0.25))
    assert night.summary.reason == "morning"
    assert any("restarted" in n for n in night.collector.notes)
    configs = [r for r in read_capture(tmp_path / "night.cramp").records
               if getattr(r, "kind", None) == "config"]
    assert len(configs) == 2
    offsets = configs[1].fields["sample_offsets"]
    assert offsets["emg"] > 100_000  # the new run sits after the first one, by host time
    replay = CaptureRecording(tmp_path / "night.cramp")
    replayed: dict[str, list] = {r: [] for r in ROLES}
    for role, block in replay.blocks(3600.0):
        replayed[role].append(block)
    for role in ROLES:
        live = night.collector.blocks[role]
        live_idx = np.concatenate([np.arange(b.start_sample, b.end_sample) for b in live])
        rep_idx = np.concatenate([np.arange(b.start_sample, b.end_sample)
                                  for b in replayed[role]])
        np.testing.assert_array_equal(rep_idx, live_idx, err_msg=role)
        np.testing.assert_array_equal(np.concatenate([b.data for b in replayed[role]]),
                                      np.concatenate([b.data for b in live]), err_msg=role)
        # the second run starts exactly at the logged offset, in both
        assert offsets[role] in {b.start_sample for b in replayed[role]}
        assert live_idx.max() > offsets[role]
    assert any("restarted" in n for n in replay.info.notes)
