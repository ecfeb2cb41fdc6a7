"""One Ganglion on both calves: explicit channel -> leg, one pipeline per leg, exact samples."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from bumble.link import LocalLink
from multi_band_helpers import record_night

from detector.ble.ganglion_session import GanglionSession
from detector.capture.ganglion_source import GanglionAssembler, ganglion_assembler
from detector.capture.multi_band import BandEntry, MultiBandRecording, entry_legs
from detector.cli.main import main
from detector.cli.record_multi import _channel_legs, morning_results, parse_band_option
from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.profiles.ganglion import GANGLION
from firmware_sim.ganglion_sim import GanglionPeripheral

ORIGIN_UNIX_S = 1_780_000_000.0


def _leg_samples(manifest: Path, leg: str) -> tuple[dict[int, float], list[int]]:
    with MultiBandRecording(manifest, leg=leg) as rec:
        assert rec.info.leg == leg and set(rec.info.channels) == {"emg"}
        got = {}
        for role, block in rec.blocks(5.0):
            assert role == "emg"
            for j in range(block.n_samples):
                got[block.start_sample + j] = float(block.data[j])
        return got, [g.samples_missing for g in rec.gaps]


def test_one_ganglion_feeds_each_leg_from_its_own_channel(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    counts = rng.integers(-4000, 4000, size=(40 * 200, 4))  # a different signal per channel
    entry = BandEntry(capture="ganglion.cramp", band="ganglion", leg="both",
                      roles=("emg@left", "emg@right"))
    assert entry_legs(entry) == ("left", "right")
    specs = [(lambda clock: GanglionPeripheral.on_link(LocalLink(), emg_counts=counts,
                                                       clock=clock),
              GanglionSession, entry, {"channel_legs": {0: "left", 2: "right"}})]
    summary, _collector, bands = asyncio.run(record_night(
        specs, tmp_path, origin_unix_s=ORIGIN_UNIX_S, duration_s=30.0,
        outages={0: ((12.0, 3.0),)}))
    assert set(summary.results) == {"left", "right"}  # one pipeline per leg, live
    assert summary.bands[0].dropouts == 1
    manifest = summary.manifest_path
    results = morning_results(manifest, DetectorConfig())
    assert {leg: r.info.leg for leg, r in results.items()} == {"left": "left", "right": "right"}
    left, left_gaps = _leg_samples(manifest, "left")
    right, right_gaps = _leg_samples(manifest, "right")
    assert left.keys() == right.keys() and len(left) > 20 * 200
    assert left_gaps == right_gaps and sum(left_gaps) > 0  # the same packets: the same gaps
    sent = bands[0].sent_counts  # sample index -> the counts (4,) the board sent
    u = GANGLION.uv_per_count
    idx = sorted(left)
    cut = idx[int(np.argmax(np.diff(idx))) + 1]  # after the reconnection (placed by the clock)
    for part in ([i for i in idx if i < cut], [i for i in idx if i >= cut]):
        (k0,) = [j - part[0] for j in sent if sent[j][0] * u == left[part[0]]
                 and sent[j][2] * u == right[part[0]]]
        for i in part:  # every sample from its own channel, exactly, both legs aligned
            assert left[i] == sent[k0 + i][0] * u and right[i] == sent[k0 + i][2] * u
    assert not np.allclose([left[i] for i in left], [right[i] for i in left])
    meta = json.loads(manifest.read_text())["bands"]
    assert meta == [{"capture": "ganglion.cramp", "band": "ganglion", "leg": "both",
                     "roles": ["emg@left", "emg@right"]}]
    with pytest.raises(CrampInputError, match="both legs"):
        MultiBandRecording(manifest)  # a leg must be chosen


def test_the_channel_to_leg_assignment_is_explicit_and_checked() -> None:
    asm = GanglionAssembler(channel_legs={1: "right", 3: "left"})
    assert asm.inputs == {"emg@right": 1, "emg@left": 3}
    assert set(asm.tracks) == {"emg@left", "emg@right"}
    assert ganglion_assembler({"ganglion": {"channel": 1, "channel_legs": {"1": "right",
                                                                          "3": "left"}}},
                              where="x").inputs == asm.inputs
    assert ganglion_assembler({"ganglion": {"channel": 2}}, where="x").inputs == {"emg": 2}
    for bad in ({0: "left"}, {0: "left", 1: "left"}, {0: "left", 5: "right"}):
        with pytest.raises(CrampInputError, match="ganglion channels"):
            GanglionAssembler(channel_legs=bad)
    with pytest.raises(CrampInputError, match="channel_legs"):
        ganglion_assembler({"ganglion": {"channel_legs": {"a": "left"}}}, where="x")
    assert parse_band_option("emg@both=AA:BB").leg == "both"
    with pytest.raises(CrampInputError, match="only an EMG band"):
        parse_band_option("shank@both=AA:BB")
    assert _channel_legs("ganglion", 2, "1=left,3=right") == {0: "left", 2: "right"}
    for band, legs, text, match in (("movesense", 1, "1=left,3=right", "one leg only"),
                                    ("ganglion", 2, None, "--ganglion-channels"),
                                    ("ganglion", 2, "1=left", "one channel on the left")):
        with pytest.raises(CrampInputError, match=match):
            _channel_legs(band, legs, text)


def test_record_simulate_kit_with_one_ganglion_on_both_legs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the Ganglion alone: no other band's link to starve, so the night is not slowed to 10x
    code = main(["record", "--simulate", "--kit", "ganglion-both-legs", "--hours", "0.02",
                 "--no-store", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "left leg (" in out and "right leg (" in out
    (manifest,) = tmp_path.glob("night-*.night.json")
    (band,) = json.loads(manifest.read_text())["bands"]
    assert band["leg"] == "both" and band["roles"] == ["emg@left", "emg@right"]
    assert sorted(p.name.rsplit("-", 1)[-1] for p in tmp_path.glob("*.truth.tsv")) == \
        ["left.truth.tsv", "right.truth.tsv"]
