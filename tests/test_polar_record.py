"""Recording a Polar PMD accelerometer through the real BleakClient path and a bumble peripheral."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from bumble.link import LocalLink
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from other_band_helpers import ORIGIN_UNIX_S, Run, record

from detector.ble.other_bands import DETECTION_NEEDS, PolarSession
from detector.capture.reader import read_capture
from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.io.channels import ChannelMap
from detector.io.open import open_recording
from detector.profiles.polar_pmd import AccSettings, ResponseStatus, parse_control_point_message
from detector.profiles.polar_pmd_frames import decode_acc_frame
from detector.replay import run_source
from firmware_sim.firmware import ManualClock
from firmware_sim.polar_sim import PolarPeripheral, encode_acc_frame

FS = 52
ACC = AccSettings(sample_rate_hz=FS, resolution_bits=16, range_g=8)


def _truth(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.normal(0.0, 0.7, (round(seconds * FS), 3)) + np.array([0.0, 0.0, 1.0])


def _record(tmp: Path, *, outages: tuple[tuple[float, float], ...]) -> tuple[Run, np.ndarray]:
    acc = _truth(70.0)

    def factory(clock: ManualClock) -> PolarPeripheral:
        return PolarPeripheral.on_link(LocalLink(), acc_g=acc, fs=FS, clock=clock,
                                       origin_unix_s=ORIGIN_UNIX_S)

    run = asyncio.run(record(factory, PolarSession, tmp, duration_s=60.0, outages=outages,
                             acc=ACC))
    return run, acc


def test_polar_samples_arrive_exactly_through_a_dropout(tmp_path: Path) -> None:
    run, acc = _record(tmp_path, outages=((20.0, 5.0),))
    s = run.summary
    assert s.reason == "morning" and s.connections == 2 and s.dropouts == 1
    assert s.result is None  # a foot accelerometer alone cannot detect cramps
    assert DETECTION_NEEDS in run.collector.notes
    assert run.collector.notes[-1] == DETECTION_NEEDS
    assert s.start_utc is not None
    offset = round((s.start_utc.timestamp() - ORIGIN_UNIX_S) * FS)
    blocks = run.collector.blocks["foot_acc"]
    for b in blocks:  # sample by sample, at the index rebuilt from the frame timestamps
        truth = acc[offset + b.start_sample: offset + b.end_sample]
        np.testing.assert_allclose(b.data, truth, atol=0.0005 + 1e-12)
    _, _, jumps = run.collector.joined("foot_acc")
    assert len(jumps) == 1
    # the outage (5 s) plus reconnecting and restarting the stream, nothing else
    assert 5.0 * FS <= jumps[0] <= 9.0 * FS
    counts = s.counts["foot_acc"]
    assert counts.lost == jumps[0] and counts.duplicates == 0
    assert counts.received == sum(b.n_samples for b in blocks)
    assert run.band.connections == 2
    assert run.band.commands[-1] == bytes([3, 2])  # STOP ACC in the morning


def test_polar_capture_replays_what_the_live_run_saw(tmp_path: Path) -> None:
    run, _ = _record(tmp_path, outages=((30.0, 3.0),))
    path = tmp_path / "night.cramp"
    capture = read_capture(path)
    assert capture.damage.ok and capture.session["profile"] == "polar_pmd"
    assert {"polar:control", "polar:acc"} <= set(capture.sources.values())
    assert path.stat().st_mode & 0o777 == 0o600
    with open_recording(path, channel_map=ChannelMap(), min_emg_fs_hz=200.0) as rec:
        assert set(rec.info.channels) == {"foot_acc"}
        assert rec.info.start_utc == run.summary.start_utc
        replayed = list(rec.blocks(7.0))
        live = run.collector.blocks["foot_acc"]
        np.testing.assert_array_equal(np.concatenate([b.data for _, b in replayed]),
                                      np.concatenate([b.data for b in live]))
        assert [g.samples_missing for g in rec.gaps] == [run.summary.counts["foot_acc"].lost]
        with pytest.raises(CrampInputError, match="shank accelerometer"):
            run_source(rec, config=DetectorConfig(), leg="unknown")


def test_polar_control_point_answers_like_the_device() -> None:
    async def go() -> list[bytes]:
        clock = ManualClock()
        band = PolarPeripheral.on_link(LocalLink(), acc_g=np.zeros((10, 3)), fs=FS, clock=clock,
                                       origin_unix_s=ORIGIN_UNIX_S)
        return [band.handle_command(c) for c in (bytes([1, 2]), bytes([2, 2]), bytes([9, 2]),
                                                   bytes([1, 0]), bytes([3, 2]))]

    answers = [parse_control_point_message(a) for a in asyncio.run(go())]
    assert answers[0].ok and answers[0].opcode == 1  # type: ignore[union-attr]
    statuses = [a.status for a in answers]  # type: ignore[union-attr]
    assert statuses[1:] == [ResponseStatus.INVALID_STATE, ResponseStatus.INVALID_OP_CODE,
                            ResponseStatus.NOT_SUPPORTED, ResponseStatus.ALREADY_IN_STATE]


@settings(max_examples=100, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 40), st.just(3)),
              elements=st.integers(-32768, 32767)),
       st.integers(10**9, 2**60))
def test_acc_frame_encoder_round_trips(mg: np.ndarray, ts_ns: int) -> None:
    frame = decode_acc_frame(encode_acc_frame(mg, timestamp_ns=ts_ns), fs=FS, factor=1.0)
    np.testing.assert_array_equal(frame.acc_mg, mg)
    assert frame.timestamp_ns == ts_ns and frame.sample_times_ns[-1] == ts_ns
