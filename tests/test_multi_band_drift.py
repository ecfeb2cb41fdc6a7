"""A Polar pair drifting apart (shank fast, foot slow): both on the host's clock, live = replay.

Each band samples and stamps on its own oscillator (``clock_ppm``), so placed by its stamps
alone a moment at true time ``t`` sits at night index ``t fs (1 + ppm 1e-6)``: the shank's
and the foot's evidence of one cramp drift apart. Both bands carry one step (a cramp's jolt)
at the same true time; on the night's grid it must sit at that time in both.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import numpy as np
import pytest
from bumble.link import LocalLink
from multi_band_helpers import joined, record_night, step_index

from detector.ble.polar_negotiated import NegotiatedPolarSession
from detector.capture.multi_band import BandEntry, MultiBandRecording
from detector.profiles.polar_settings import AccWish
from firmware_sim.polar_sim import PolarPeripheral

FS = 52
PPM = 900.0  # shank +900, foot -900 ppm: 0.94 s apart by the step (49 samples)
STEP_S = 520.0  # true time of the step (s into the night)
SPAN_S = 560.0
ORIGIN = 1.7e9


def _acc() -> np.ndarray:
    acc = np.zeros((round((SPAN_S + 20.0) * FS), 3))
    acc[:, 2] = 1.0
    acc[round(STEP_S * FS):, 0] = 2.0
    return acc


def _spec(role: str, ppm: float, address: str):  # type: ignore[no-untyped-def]
    return (lambda c: PolarPeripheral.on_link(LocalLink(), acc_g=_acc(), fs=FS, clock=c,
                                              origin_unix_s=ORIGIN, address=address,
                                              clock_ppm=ppm),
            NegotiatedPolarSession,
            BandEntry(capture=f"{role}.cramp", band="polar_pmd", leg="left", roles=(role,)),
            {"wish": AccWish(fs_hz=FS, min_fs_hz=25, range_g=8), "role": role})


@pytest.mark.parametrize("ppm", [PPM, 0.0])
def test_a_drifting_polar_pair_lines_up_on_the_host_clock(tmp_path: Path, ppm: float) -> None:
    specs = [_spec("shank_acc", ppm, "D0:5B:A4:00:02:01"),
             _spec("foot_acc", -ppm, "D0:5B:A4:00:02:02")]
    summary, collector, _bands = asyncio.run(record_night(
        specs, tmp_path, origin_unix_s=ORIGIN, duration_s=SPAN_S, outages={1: ((300.0, 5.0),)}))
    shank = collector.blocks["shank_acc"]
    foot = collector.blocks["foot_acc"]
    want = STEP_S * FS
    # placed by its own stamps the step would be at want * (1 +- ppm 1e-6): 24 samples off
    at_shank, at_foot = step_index(shank), step_index(foot)
    assert abs(at_shank - want) <= 2, (at_shank, want)
    assert abs(at_foot - want) <= 2, (at_foot, want)
    assert abs(at_shank - at_foot) <= 2
    # the shank's samples all there, none invented; the foot's dropout exactly accounted
    assert summary.bands[0].counts["shank_acc"].lost == 0
    lost = summary.bands[1].counts["foot_acc"].lost
    assert lost >= 5 * FS
    live_gaps = [(g.start_s, g.samples_missing) for g in summary.results["left"].gaps
                 if g.role == "foot_acc" and g.start_s > 5.0]
    assert [m for _s, m in live_gaps] == [lost]
    holes = [b.start_sample - a.end_sample for a, b in itertools.pairwise(foot)
             if b.start_sample != a.end_sample]
    assert holes == [lost]
    # the night's capture replays onto the same grid, sample for sample
    with MultiBandRecording(tmp_path / "night.night.json") as rec:
        replayed: dict[str, list] = {"shank_acc": [], "foot_acc": []}  # type: ignore[type-arg]
        for role, block in rec.blocks(7.3):
            replayed[role].append(block)
        assert [(g.start_s, g.samples_missing) for g in rec.gaps
                if g.role == "foot_acc" and g.start_s > 5.0] == live_gaps
    for role, live in (("shank_acc", shank), ("foot_acc", foot)):
        s_live, d_live = joined(live)
        s_rep, d_rep = joined(replayed[role])
        assert s_live == s_rep
        np.testing.assert_array_equal(d_live, d_rep)
