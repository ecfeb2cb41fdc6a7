"""The simulated Polar sensor encodes a block of ACC frames in one pass, byte for byte as the
one-frame encoder does (the sensor sends what it did before, only built faster)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from bumble.link import LocalLink

from firmware_sim.polar_sim import (
    PolarPeripheral,
    acc_g_to_mg_counts,
    encode_acc_frame,
    encode_acc_frames,
)


@pytest.mark.parametrize("per", [1, 2, 39])
def test_a_block_of_frames_is_the_frames_one_by_one(per: int) -> None:
    rng = np.random.default_rng(per)
    n = 7
    acc = rng.integers(-32768, 32768, size=(n * per, 3))
    stamps = [int(v) for v in np.cumsum(rng.integers(1, 10**9, size=n)) + 8 * 10**17]
    got = encode_acc_frames(acc, per=per, timestamps_ns=stamps)
    want = [encode_acc_frame(acc[k * per:(k + 1) * per], timestamp_ns=stamps[k])
            for k in range(n)]
    assert got == want
    assert encode_acc_frames(acc[:0], per=per, timestamps_ns=[]) == []


def test_a_block_of_frames_checks_what_one_frame_checks() -> None:
    acc = np.zeros((4, 3), dtype=np.int64)
    encode_acc_frames(acc, per=2, timestamps_ns=[1, 2])  # positive control: accepted
    with pytest.raises(ValueError, match="shape"):
        encode_acc_frames(acc, per=3, timestamps_ns=[1, 2])
    with pytest.raises(ValueError, match="int16"):
        encode_acc_frames(acc + 40000, per=2, timestamps_ns=[1, 2])
    with pytest.raises(ValueError, match="timestamp"):
        encode_acc_frames(acc, per=2, timestamps_ns=[-1, 2])


def test_the_sensor_sends_the_frames_the_one_frame_encoder_makes() -> None:
    fs = 52
    acc_g = np.random.default_rng(3).normal(0.0, 2.0, size=(fs * 20, 3))

    async def make() -> PolarPeripheral:
        return PolarPeripheral.on_link(LocalLink(), acc_g=acc_g, fs=fs, clock=lambda: 0.0,
                                       origin_unix_s=1.7e9, clock_ppm=150.0)

    band = asyncio.run(make())
    band.streaming, band.next_sample = True, 0
    per = band._frame_samples()
    sent = [payload for _char, payload in band.produce(7.3)] + \
        [payload for _char, payload in band.produce(19.0)]
    counts = acc_g_to_mg_counts(acc_g, range_g=band.range_g)
    want = [encode_acc_frame(counts[i:i + per], timestamp_ns=band.timestamp_ns(i + per - 1))
            for i in range(0, band.next_sample, per)]
    assert sent == want and band.frames_sent == len(want)
    assert band.next_sample == len(want) * per >= 19 * fs * (1 + 150e-6) - per
