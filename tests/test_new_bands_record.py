"""Movesense and Ganglion nights through the real BleakClient path and bumble peripherals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from bumble.link import LocalLink
from other_band_helpers import Run, record

from detector.ble.ganglion_session import GanglionSession
from detector.ble.movesense_session import MovesenseSession
from detector.capture.reader import read_capture
from detector.capture.recording import open_capture
from detector.profiles.ganglion import GANGLION
from firmware_sim.firmware import ManualClock
from firmware_sim.ganglion_sim import GanglionPeripheral
from firmware_sim.movesense_sim import MovesensePeripheral


def _joined(blocks: list) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    for b in blocks:
        for j in range(b.n_samples):
            out[b.start_sample + j] = np.asarray(b.data[j])
    return out


def _offset(first: np.ndarray, truth: np.ndarray) -> int:
    """Index of ``truth`` where the first received sample was measured (unique noise)."""
    err = np.abs(truth.reshape(len(truth), -1) - first.reshape(1, -1)).max(axis=1)
    return int(np.argmin(err))


def test_movesense_416_hz_through_a_dropout_and_its_capture_replays(tmp_path: Path) -> None:
    fs = 416
    acc = np.random.default_rng(8).normal(0.0, 0.5, (70 * fs, 3))

    def factory(clock: ManualClock) -> MovesensePeripheral:
        return MovesensePeripheral.on_link(LocalLink(), acc_g=acc, fs=fs, clock=clock)

    run: Run = asyncio.run(record(factory, MovesenseSession, tmp_path, duration_s=40.0,
                                  outages=((15.0, 4.0),), fs=fs, role="shank_acc"))
    s = run.summary
    assert s.reason == "morning" and s.connections == 2 and s.dropouts == 1
    got = _joined(run.collector.blocks["shank_acc"])
    k0 = _offset(got[min(got)], acc)
    for i, v in got.items():  # every sample at the index rebuilt from the sensor clock
        np.testing.assert_allclose(v, acc[k0 + i], atol=1e-5)
    missing = set(range(max(got) + 1)) - set(got)
    counts = s.counts["shank_acc"]
    assert counts.lost == len(missing) and counts.duplicates == 0
    assert 4.0 * fs <= len(missing) <= 8.0 * fs
    assert run.band.commands[-1] == bytes([2, 1])  # UNSUBSCRIBE in the morning
    capture = read_capture(tmp_path / "night.cramp")
    assert capture.session["profile"] == "movesense"
    with open_capture(tmp_path / "night.cramp") as rec:
        replayed = _joined([b for role, b in rec.blocks(5.0) if role == "shank_acc"])
        assert sum(g.samples_missing for g in rec.gaps) == len(missing)
    assert replayed.keys() == got.keys()
    assert all(np.array_equal(replayed[i], got[i]) for i in got)


def test_movesense_messages_split_over_two_notifications_rebuild_exactly(
        tmp_path: Path) -> None:
    fs = 208
    acc = np.random.default_rng(9).normal(0.0, 0.5, (50 * fs, 3))

    def factory(clock: ManualClock) -> MovesensePeripheral:
        # 24 samples: 294 bytes, more than one 244-byte notification -> DATA + DATA_PART2
        return MovesensePeripheral.on_link(LocalLink(), acc_g=acc, fs=fs, clock=clock,
                                           samples_per_message=24)

    run: Run = asyncio.run(record(factory, MovesenseSession, tmp_path, duration_s=30.0,
                                  outages=((12.0, 3.0),), fs=fs, role="shank_acc"))
    s = run.summary
    assert s.reason == "morning" and s.connections == 2 and run.session.corrupt_packets == 0
    capture = read_capture(tmp_path / "night.cramp")
    kinds = {r.payload[0] for r in capture.records
             if getattr(r, "source", None) == "movesense:data"}
    assert kinds == {2, 3}  # both parts were sent and recorded
    got = _joined(run.collector.blocks["shank_acc"])
    k0 = _offset(got[min(got)], acc)
    for i, v in got.items():
        np.testing.assert_allclose(v, acc[k0 + i], atol=1e-5)
    missing = set(range(max(got) + 1)) - set(got)
    assert s.counts["shank_acc"].lost == len(missing)
    assert 3.0 * fs <= len(missing) <= 6.0 * fs
    assert len(got) >= 20 * fs
    with open_capture(tmp_path / "night.cramp") as rec:
        replayed = _joined([b for role, b in rec.blocks(5.0) if role == "shank_acc"])
    assert replayed.keys() == got.keys()


def test_ganglion_emg_through_a_dropout_and_its_capture_replays(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    counts = np.cumsum(rng.integers(-4000, 4000, (60 * 200, 4)), axis=0)
    bands: list[GanglionPeripheral] = []

    def factory(clock: ManualClock) -> GanglionPeripheral:
        band = GanglionPeripheral.on_link(LocalLink(), emg_counts=counts, clock=clock)
        band.drop_packets = {500, 1501}  # two packets lost on the air
        bands.append(band)
        return band

    run = asyncio.run(record(factory, GanglionSession, tmp_path, duration_s=40.0,
                             outages=((20.0, 3.0),), channel=1))
    s = run.summary
    assert s.reason == "morning" and s.connections == 2 and s.dropouts == 1
    got = _joined(run.collector.blocks["emg"])
    sent = bands[0].sent_counts
    truth = np.stack([sent[i][1] for i in sorted(sent)]) * GANGLION.uv_per_count
    (gap_after_reconnection,) = [g for g in run.session.assembler.tracks["emg"].gaps
                                 if g.samples_missing > 300]
    cut = round(gap_after_reconnection.end_s * GANGLION.fs_hz)
    offsets = set()
    for part in ([i for i in got if i < cut], [i for i in got if i >= cut]):
        k0 = sorted(sent)[_offset(got[part[0]], truth)] - part[0]
        assert all(got[i] == sent[k0 + i][1] * GANGLION.uv_per_count for i in part)  # exact
        offsets.add(k0)
    # the board restarts its IDs on reconnecting: the gap timed by the arrivals is exact too
    assert len(offsets) == 1
    missing = set(range(max(got) + 1)) - set(got)
    assert s.counts["emg"].lost == len(missing)
    # the two lost packets: each an exact gap up to the next anchor, not estimated
    assert run.session.assembler.lost_packets == 2
    assert run.session.assembler.estimated_gaps == 1  # only the reconnection
    with open_capture(tmp_path / "night.cramp") as rec:
        replayed = _joined([b for role, b in rec.blocks(5.0) if role == "emg"])
        assert sum(g.samples_missing for g in rec.gaps) == len(missing)
    assert replayed.keys() == got.keys()
    assert all(replayed[i] == got[i] for i in got)
