"""The simulated consumer bands can drift: each runs on its own oscillator (``clock_ppm``).

A band fast by ``ppm`` (here +-300 ppm) takes ``fs (1 + ppm 1e-6)`` samples per true second
and stamps them in its own time, so an event at true time ``t`` sits at its sample
``t fs (1 + ppm 1e-6)``; at 0 ppm (the control) nothing moves. Driven through ``produce``
directly (no central).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from bumble.link import LocalLink

from firmware_sim.ganglion_sim import GanglionPeripheral
from firmware_sim.movesense_sim import MovesensePeripheral
from firmware_sim.polar_sim import PolarPeripheral
from firmware_sim.polar_verity_sim import VeritySensePeripheral

SPAN_S = 400.0
STEP_S = 350.0  # the signal steps up at this true time
PPMS = (300.0, -300.0, 0.0)


def _acc(fs: int) -> np.ndarray:
    n = round((SPAN_S + 10.0) * fs)
    acc = np.zeros((n, 3))
    acc[round(STEP_S * fs):, 2] = 1.0
    return acc


def _build(kind: str, ppm: float) -> tuple[object, int, np.ndarray]:
    """(band, rate, its samples as taken) for one kind of simulated band."""
    async def make() -> tuple[object, int, np.ndarray]:
        clock = lambda: 0.0  # noqa: E731 - the stream starts at true time 0
        if kind == "polar":
            p = PolarPeripheral.on_link(LocalLink(), acc_g=_acc(52), fs=52, clock=clock,
                                        origin_unix_s=1.7e9, clock_ppm=ppm)
            return p, 52, p.acc_g[:, 2]
        if kind == "verity":
            v = VeritySensePeripheral.on_link(LocalLink(), acc_g=_acc(416), clock=clock,
                                              origin_unix_s=1.7e9, clock_ppm=ppm)
            v._use_rate(416)  # its native rate (the slower ones are decimated from it)
            return v, 416, v.acc_g[:, 2]
        if kind == "movesense":
            m = MovesensePeripheral.on_link(LocalLink(), acc_g=_acc(104), fs=104, clock=clock,
                                            clock_ppm=ppm)
            return m, 104, m.acc_g[:, 2]
        counts = np.zeros((round((SPAN_S + 10.0) * 200), 4), dtype=np.int64)
        counts[round(STEP_S * 200):, 0] = 1000
        g = GanglionPeripheral.on_link(LocalLink(), emg_counts=counts, clock=clock,
                                       clock_ppm=ppm)
        return g, 200, g.counts[:, 0].astype(float)
    return asyncio.run(make())


@pytest.mark.parametrize("kind", ["polar", "verity", "movesense", "ganglion"])
def test_a_drifting_band_samples_and_stamps_on_its_own_oscillator(kind: str) -> None:
    for ppm in PPMS:
        band, fs, taken = _build(kind, ppm)
        scale = 1.0 + ppm * 1e-6
        # the step at true time STEP_S is at the band's own sample STEP_S * fs * scale
        at = int(np.flatnonzero(taken > 0.5)[0])
        assert abs(at - STEP_S * fs * scale) <= 1.0, (kind, ppm, at)
        # samples measured by true time SPAN_S: fs * scale per true second
        if kind in ("polar", "verity"):
            band.streaming, band.next_sample = True, 0  # type: ignore[attr-defined]
            band.produce(SPAN_S)  # type: ignore[attr-defined]
            per = band._frame_samples()  # type: ignore[attr-defined]
            made = band.next_sample  # type: ignore[attr-defined]
            # and its frames are stamped in its own time: sample k at k / fs device seconds
            stamp = band.timestamp_ns(made - 1) - band.timestamp_ns(0)  # type: ignore[attr-defined]
            assert stamp == pytest.approx((made - 1) / fs * 1e9, abs=1e3)
        elif kind == "movesense":
            band.subscriptions[7], band.next_sample[7] = fs, 0  # type: ignore[attr-defined]
            band.produce(SPAN_S)  # type: ignore[attr-defined]
            per = band._per_notification(fs)  # type: ignore[attr-defined]
            made = band.next_sample[7]  # type: ignore[attr-defined]
        else:
            band.handle_command(b"b")  # type: ignore[attr-defined]
            band.produce(SPAN_S)  # type: ignore[attr-defined]
            per = 2
            made = band.next_sample  # type: ignore[attr-defined]
        want = SPAN_S * fs * scale
        assert want - per - 1 <= made <= want + 1, (kind, ppm, made, want)
    # control: 300 ppm by the step is over 5 samples at the slowest rate, so the step check
    # above tells the three oscillators apart
    assert STEP_S * 52 * 300e-6 > 5
