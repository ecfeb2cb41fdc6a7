"""A band on each leg: one pipeline per leg, episodes carry their leg, the red flag fires."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from bumble.link import LocalLink
from multi_band_helpers import record_night
from scipy.signal import resample_poly

from detector.ble.ganglion_session import GanglionSession
from detector.ble.movesense_session import MovesenseSession
from detector.capture.multi_band import BandEntry, MultiBandRecording
from detector.cli.main import main
from detector.cli.record_kits import KIT_ACC_FS_HZ, KitBand
from detector.cli.record_multi import KITS, morning_results, simulate_legs, store_results
from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.profiles.ganglion import GANGLION
from detector.store import connect, load_night
from detector.store.night_queries import night_dates, night_ids_on
from detector.store.sleep import group_sleep_nights
from firmware_sim.ganglion_sim import GanglionPeripheral
from firmware_sim.movesense_sim import MovesensePeripheral


def _ganglion(night, index: int):  # type: ignore[no-untyped-def]
    counts = np.rint(resample_poly(night.emg_uv, 1, 5) / GANGLION.uv_per_count)
    return lambda clock: GanglionPeripheral.on_link(
        LocalLink(), emg_counts=np.repeat(counts[:, None], 4, axis=1), clock=clock,
        address=f"D0:5B:A4:00:03:{index:02X}")


def _causes_doc(db: Path, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    assert main(["causes", "--db", str(db), "--json"]) == 0
    out = capsys.readouterr().out
    doc: dict = json.loads(out[out.index("{"):])  # type: ignore[type-arg]
    return doc


def _causes(db: Path, capsys: pytest.CaptureFixture[str]) -> set[str]:
    return {f["rule_id"] for f in _causes_doc(db, capsys)["findings"]}


def _movesense(acc_g: np.ndarray, index: int):  # type: ignore[no-untyped-def]
    acc = resample_poly(acc_g, 52, KIT_ACC_FS_HZ, axis=0)  # the kit's night -> 52 Hz offered
    return lambda clock: MovesensePeripheral.on_link(
        LocalLink(), acc_g=acc, fs=52, clock=clock, address=f"D0:5B:A4:00:04:{index:02X}")


def test_a_recorded_two_leg_night_is_one_night_and_raises_the_red_flag(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a Movesense pair (shank + foot) on each leg: accelerometer-only detection on each leg
    kit = tuple(KitBand(band="movesense", role=role, leg=leg)
                for leg in ("left", "right") for role in ("shank", "foot"))
    nights = simulate_legs(kit, hours=0.05, seed=1)
    origin = nights["left"][0].start_utc.timestamp()
    specs = []
    for k, kb in enumerate(kit):
        night = nights[kb.leg][1]
        acc = night.shank_acc_g if kb.role == "shank" else night.foot_acc_g
        specs.append((_movesense(acc, k), MovesenseSession,
                      BandEntry(capture=f"{kb.leg}-{kb.role}.cramp", band="movesense",
                                leg=kb.leg, roles=(f"{kb.role}_acc",)),
                      {"fs": 52, "role": f"{kb.role}_acc"}))
    summary, _collector, _bands = asyncio.run(record_night(
        specs, tmp_path, origin_unix_s=origin, duration_s=165.0, outages={}))
    results = morning_results(summary.manifest_path, DetectorConfig())
    for leg in ("left", "right"):
        truth = [e.onset_s for e in nights[leg][0].events if e.kind == "cramp"]
        found = results[leg].episodes
        assert len(found) == len(truth) == 1 and abs(found[0].onset_s - truth[0]) < 5.0
        assert {e.leg for e in found} == {leg}
        assert [e.onset_s for e in summary.results[leg].episodes] == \
            [e.onset_s for e in found]  # live == replay
    db = tmp_path / "store.sqlite"
    store_results(results, summary.manifest_path, db=db, config=DetectorConfig())
    conn = connect(db, create=False)
    try:
        stored = [load_night(conn, i, with_trace=False) for d in night_dates(conn)
                  for i in night_ids_on(conn, d)]
    finally:
        conn.close()
    (sleep_night,) = group_sleep_nights(stored)  # the two legs' recordings: one night
    assert sorted(r.leg for r in sleep_night.recordings) == ["left", "right"]
    doc = _causes_doc(db, capsys)
    assert (doc["n_nights"], doc["n_cramp_nights"]) == (1, 1)
    assert "both_legs" in {f["rule_id"] for f in doc["findings"]}
    # positive control: the same night with the left leg alone raises no such flag
    db_left = tmp_path / "left.sqlite"
    store_results({"left": results["left"]}, summary.manifest_path, db=db_left,
                  config=DetectorConfig())
    assert "both_legs" not in _causes(db_left, capsys)


def test_cramps_on_both_legs_are_one_night_and_raise_the_red_flag(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nights = simulate_legs(KITS["both-legs"], hours=0.05, seed=2)
    origin = nights["left"][0].start_utc.timestamp()
    specs = [(_ganglion(nights[leg][1], k), GanglionSession,
              BandEntry(capture=f"{leg}.cramp", band="ganglion", leg=leg, roles=("emg",)), {})
             for k, leg in enumerate(("left", "right"))]
    summary, _collector, _bands = asyncio.run(record_night(
        specs, tmp_path, origin_unix_s=origin, duration_s=165.0, outages={}))
    manifest = summary.manifest_path
    results = morning_results(manifest, DetectorConfig())
    for leg in ("left", "right"):
        truth = [e.onset_s for e in nights[leg][0].events if e.kind == "cramp"]
        found = results[leg].episodes
        assert len(found) == len(truth) == 1 and abs(found[0].onset_s - truth[0]) < 5.0
        assert {e.leg for e in found} == {leg}
        assert [e.onset_s for e in summary.results[leg].episodes] == \
            [e.onset_s for e in found]  # live == replay
    with pytest.raises(CrampInputError, match="both legs"):
        MultiBandRecording(manifest)
    db = tmp_path / "store.sqlite"
    store_results(results, manifest, db=db, config=DetectorConfig())
    assert "both_legs" in _causes(db, capsys)
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "r.html")]) == 0
    # positive control: the left leg alone is the same night without the red flag
    db_left = tmp_path / "left.sqlite"
    store_results({"left": results["left"]}, manifest, db=db_left, config=DetectorConfig())
    assert "both_legs" not in _causes(db_left, capsys)
