"""The accelerometer axes filtered two to a complex row (pipeline/motion.py).

The section loop runs rows one after the other, each bound by its own sample recurrence; a
complex row carries two real signals through the same real sections for about 1.2 times the
time of one. The three axes therefore run as two complex rows, with the samples of three real
ones.
"""

from __future__ import annotations

import numpy as np
import pytest
from filter_spy import spy_on_filter_kernel

from detector.pipeline.filters import StreamingSos, design_highpass
from detector.pipeline.motion import AccProcessor
from detector.signals import SignalBlock


def test_a_complex_row_filters_its_two_parts_as_two_real_rows() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 0.05, (2, 4000)) + np.array([[0.2], [0.97]])
    sos = design_highpass(fs=100.0, cutoff_hz=0.5, order=2)
    real = StreamingSos(sos).push(x)
    packed = StreamingSos(sos, dtype=np.complex128).push(x[0] + 1j * x[1])
    np.testing.assert_array_equal(packed.real, real[0])
    np.testing.assert_array_equal(packed.imag, real[1])
    assert np.abs(real[:, 500:]).max() < 0.5  # the gravity offset is gone: it filtered


def test_accelerometer_axes_take_two_row_passes_per_filter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = spy_on_filter_kernel(monkeypatch)
    fs = 100.0
    rng = np.random.default_rng(4)
    n = round(fs * 20)
    x = np.tile([0.1, 0.0, 0.99], (n, 1)) + rng.normal(0, 0.002, (n, 3))
    x[1000:1200, 1] += 0.2 * np.sin(np.arange(200) * 0.8)  # the leg moves, on y only
    epochs = AccProcessor(fs=fs, epochs_per_s=10, tremor_highpass_hz=5.0).push(
        SignalBlock(data=x, fs=fs, start_sample=0))
    # movement and tremor: x + iy and z each, not three rows each
    assert [c.rows for c in calls] == [2, 2]
    movement = np.concatenate([e.movement_g for e in epochs])
    # each axis is still its own signal: y's movement is seen, and only there
    assert movement[102:118].min() > 20 * movement[20:90].max()
    hp = StreamingSos(design_highpass(fs=fs, cutoff_hz=0.5, order=2)).push(
        np.ascontiguousarray(x.T))
    ref = np.sqrt((hp * hp).sum(axis=0).reshape(-1, 10).mean(axis=1))
    np.testing.assert_allclose(movement, ref, rtol=1e-12)
