"""The simulated Polar and Movesense sensors build a block of notifications in one pass, byte
for byte what they built one frame (one sample) at a time: they send what they did before,
only built faster."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from bumble.link import LocalLink

from firmware_sim.movesense_sim import (
    STANDARD_GRAVITY_MS2,
    MovesensePeripheral,
    encode_acc_data,
    split_message,
)
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


def _one_by_one(band: MovesensePeripheral, now_s: float) -> list[bytes]:
    """What the sensor sent before: each message's samples taken one ``_sample`` at a time."""
    out = []
    for ref, rate in band.subscriptions.items():
        per = band._per_notification(rate)
        last = int(np.floor(band.acc_g.shape[0] * rate / band.fs))
        due = min(last, int(np.floor(band.device_s(now_s) * rate + 1e-9)) + 1)
        while due - band.next_sample[ref] >= per:
            k = band.next_sample[ref]
            acc = np.stack([band._sample(rate, k + j) for j in range(per)])
            message = encode_acc_data(ref, timestamp_ms=band.boot_ms + round(k * 1000.0 / rate),
                                      acc_ms2=acc * STANDARD_GRAVITY_MS2)
            out.extend(split_message(message, max_bytes=band._notification_bytes()))
            band.next_sample[ref] = k + per
    return out


def test_the_movesense_sends_the_messages_it_built_sample_by_sample() -> None:
    fs = 104
    acc_g = np.random.default_rng(4).normal(0.0, 2.0, size=(fs * 20, 3))

    async def make() -> MovesensePeripheral:
        return MovesensePeripheral.on_link(LocalLink(), acc_g=acc_g, fs=fs, clock=lambda: 0.0,
                                           clock_ppm=-150.0)

    bulk, reference = asyncio.run(make()), asyncio.run(make())
    for band in (bulk, reference):
        band.subscriptions[7], band.next_sample[7] = 52, 0  # decimated from its 104 Hz
        band.subscriptions[9], band.next_sample[9] = fs, 0
    for now_s in (7.3, 19.0, 25.0):  # the last one past the end of its samples
        sent = [payload for _char, payload in bulk.produce(now_s)]
        assert sent == _one_by_one(reference, now_s) and sent
        assert bulk.next_sample == reference.next_sample
    assert bulk._per_notification(fs) == 1  # unconnected (MTU 23): a sample a message
