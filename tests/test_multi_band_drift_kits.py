"""Drifting Movesense and Ganglion bands on the host's clock, live = replay.

A Movesense indexes its samples by its own ms stamps and a Ganglion by its packet IDs, so a
band fast by ``ppm`` puts a moment at true time ``t`` at index ``t fs (1 + ppm 1e-6)``.
Their drift against the host is fitted to the packets' arrivals as a Polar band's is
(``own_clock`` in the band registry): a step at one true time lands at that time on every
band, a dropout is a gap of exactly the samples missing, and the night's captures replay onto
the same grid, sample for sample.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bumble.link import LocalLink
from multi_band_helpers import joined, record_night, step_index

from detector.ble.ganglion_session import GanglionSession
from detector.ble.movesense_session import MovesenseSession
from detector.ble.polar_negotiated import NegotiatedPolarSession
from detector.capture.multi_band import (
    BandEntry,
    MultiBandRecording,
    read_night_manifest,
    write_manifest,
)
from detector.capture.recording import open_capture
from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.profiles.ganglion import GANGLION
from detector.profiles.polar_settings import AccWish
from firmware_sim.ganglion_sim import GanglionPeripheral
from firmware_sim.movesense_sim import MovesensePeripheral
from firmware_sim.polar_sim import PolarPeripheral

PPM = 900.0
STEP_S = 200.0  # true time of the step (s into the night)
SPAN_S = 215.0
OUTAGE = (120.0, 5.0)  # (start s, length s) of one band's dropout
ORIGIN = 1.7e9
ACC_FS = 52
EMG_FS = 200


def _acc(fs: int) -> np.ndarray:
    acc = np.zeros((round((SPAN_S + 20.0) * fs), 3))
    acc[:, 1] = 0.5 * np.sin(0.37 * np.arange(acc.shape[0]))  # each sample told apart
    acc[:, 2] = 1.0
    acc[round(STEP_S * fs):, 0] = 2.0
    return acc


def _movesense(role: str, ppm: float, address: str) -> Any:
    return (lambda c: MovesensePeripheral.on_link(LocalLink(), acc_g=_acc(ACC_FS), fs=ACC_FS,
                                                  clock=c, address=address, clock_ppm=ppm),
            MovesenseSession,
            BandEntry(capture=f"{role}.cramp", band="movesense", leg="left", roles=(role,)),
            {"fs": ACC_FS, "role": role})


def _polar(role: str, ppm: float, address: str, clock_off_s: float = 0.0) -> Any:
    return (lambda c: PolarPeripheral.on_link(LocalLink(), acc_g=_acc(ACC_FS), fs=ACC_FS,
                                              clock=c, origin_unix_s=ORIGIN + clock_off_s,
                                              address=address, clock_ppm=ppm),
            NegotiatedPolarSession,
            BandEntry(capture=f"{role}.cramp", band="polar_pmd", leg="left", roles=(role,)),
            {"wish": AccWish(fs_hz=ACC_FS, min_fs_hz=25, range_g=8), "role": role})


def _ganglion(ppm: float) -> Any:
    counts = np.zeros((round((SPAN_S + 20.0) * EMG_FS), 4), dtype=np.int64)
    counts[round(STEP_S * EMG_FS):, 0] = 5000
    return (lambda c: GanglionPeripheral.on_link(LocalLink(), emg_counts=counts, clock=c,
                                                 clock_ppm=ppm),
            GanglionSession,
            BandEntry(capture="emg.cramp", band="ganglion", leg="left", roles=("emg",)), {})


def _check_night(tmp_path: Path, specs: list[Any], dropped: int, fs: dict[str, int],
                 config: DetectorConfig | None = None) -> list[Any]:
    """Every role's step at its true index, the dropped band's gap exact, replay = live;
    return the simulated bands."""
    summary, collector, bands = asyncio.run(record_night(
        specs, tmp_path, origin_unix_s=ORIGIN, duration_s=SPAN_S, outages={dropped: (OUTAGE,)},
        config=config))
    for role, rate in fs.items():
        at = step_index(collector.blocks[role])
        # placed by its own clock alone the step would be STEP_S rate ppm 1e-6 off (9-36)
        assert abs(at - STEP_S * rate) <= 2, (role, at, STEP_S * rate)
    lost_role = specs[dropped][2].roles[0]
    for k, spec in enumerate(specs):
        role = spec[2].roles[0]
        lost = summary.bands[k].counts[role].lost
        holes = [b.start_sample - a.end_sample for a, b in
                 itertools.pairwise(collector.blocks[role]) if b.start_sample != a.end_sample]
        live_gaps = [g.samples_missing for g in summary.results["left"].gaps
                     if g.role == role and g.start_s > 5.0]
        if role == lost_role:
            assert lost >= OUTAGE[1] * fs[role]
            assert holes == [lost] and live_gaps == [lost]
        else:
            assert lost == 0 and holes == [] and live_gaps == []
    live_gaps_s = sorted((g.role, g.start_s, g.samples_missing)
                         for g in summary.results["left"].gaps if g.start_s > 5.0)
    with MultiBandRecording(tmp_path / "night.night.json", min_emg_fs_hz=EMG_FS) as rec:
        replayed: dict[str, list] = {role: [] for role in fs}  # type: ignore[type-arg]
        for role, block in rec.blocks(7.3):
            replayed[role].append(block)
        assert sorted((g.role, g.start_s, g.samples_missing) for g in rec.gaps
                      if g.start_s > 5.0) == live_gaps_s
    for role in fs:
        s_live, d_live = joined(collector.blocks[role])
        s_rep, d_rep = joined(replayed[role])
        assert s_live == s_rep, role
        np.testing.assert_array_equal(d_live, d_rep)
    return bands


@pytest.mark.parametrize(("ppm", "segment_s"), [(PPM, 4.0), (0.0, 10.0)])
def test_a_drifting_movesense_pair_lines_up_on_the_host_clock(
        tmp_path: Path, ppm: float, segment_s: float) -> None:
    # the drifting night recorded with 4-s segments: the manifest says so, and the replay
    # (given no config) holds and leaves out samples where the live run did
    specs = [_movesense("shank_acc", ppm, "D0:5B:A4:00:05:01"),
             _movesense("foot_acc", -ppm, "D0:5B:A4:00:05:02")]
    _check_night(tmp_path, specs, 1, {"shank_acc": ACC_FS, "foot_acc": ACC_FS},
                 config=DetectorConfig().replace(band_drift_segment_s=segment_s))
    assert read_night_manifest(tmp_path / "night.night.json")[2] == segment_s


@pytest.mark.parametrize(("ppm", "dropped"), [(PPM, 0), (0.0, 2)])
def test_a_drifting_ganglion_with_a_polar_pair_lines_up_on_the_host_clock(
        tmp_path: Path, ppm: float, dropped: int) -> None:
    # the drifting Ganglion's own dropout (its IDs restart on reconnecting: the gap is timed
    # by its arrivals against the envelope of those before it), then the foot Polar's
    specs = [_ganglion(ppm), _polar("shank_acc", -ppm, "D0:5B:A4:00:06:01"),
             _polar("foot_acc", ppm / 2, "D0:5B:A4:00:06:02")]
    bands = _check_night(tmp_path, specs, dropped,
                         {"emg": EMG_FS, "shank_acc": ACC_FS, "foot_acc": ACC_FS})
    sent = bands[0].sent_counts  # the board's own sample index -> the counts it sent
    step = min(i for i in sent if sent[i][0] * GANGLION.uv_per_count > 1.0) - min(sent)
    with open_capture(tmp_path / "emg.cramp") as rec:  # on the band's own index line
        own = [b for role, b in rec.blocks(5.0) if role == "emg"]
    # the restarted stream timed by its first second of arrivals: delivered at 0.1-s steps,
    # its least delayed packet is late by under one packet (2 samples) of those before the gap
    # (placed by the anchors' receive times alone it was 16-19 samples late)
    assert 0 <= step_index(own) - step <= 2


def test_a_polar_whose_clock_no_phone_set_is_placed_by_its_arrivals(tmp_path: Path) -> None:
    # the foot band's clock 5 h behind (never synced): its start by its first frame's
    # arrival, its dropout still exact by its stamps; the shank's clock set (the control)
    specs = [_polar("shank_acc", PPM, "D0:5B:A4:00:07:01"),
             _polar("foot_acc", -PPM, "D0:5B:A4:00:07:02", clock_off_s=-5 * 3600.0)]
    _check_night(tmp_path, specs, 1, {"shank_acc": ACC_FS, "foot_acc": ACC_FS})
    with open_capture(tmp_path / "foot_acc.cramp") as rec:
        assert any("clock was 5.00 h behind" in n for n in rec.info.notes), rec.info.notes
    with open_capture(tmp_path / "shank_acc.cramp") as rec:
        assert not any("clock was" in n for n in rec.info.notes)


def test_the_manifest_keeps_the_drift_segment(tmp_path: Path) -> None:
    entries = [BandEntry(capture="a.cramp", band="movesense", leg="left", roles=("shank_acc",))]
    path = tmp_path / "n.night.json"
    write_manifest(path, night_start_unix_s=5.0, entries=entries, drift_segment_s=2.5)
    assert read_night_manifest(path) == (5.0, entries, 2.5)
    doc = json.loads(path.read_text())
    del doc["drift_segment_s"]  # a manifest from before the field: the 10 s then fixed
    path.write_text(json.dumps(doc))
    assert read_night_manifest(path)[2] == 10.0
    for bad in (0, -1.0, "4", True):
        path.write_text(json.dumps({**doc, "drift_segment_s": bad}))
        with pytest.raises(CrampInputError, match="drift_segment_s"):
            read_night_manifest(path)
