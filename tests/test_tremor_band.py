"""The calf tremor band on a fast shank sensor, and kit bands' sensor noise over their band."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly, welch

from detector.config import ConfigError, DetectorConfig, load_config
from detector.pipeline.motion import AccProcessor
from detector.signals import SignalBlock
from firmware_sim.resample_sim import acc_at_rate

FS = 416


def _tremor_g(x_g: np.ndarray, *, fs: float, lowpass_hz: float | None) -> float:
    proc = AccProcessor(fs=fs, epochs_per_s=10, tremor_highpass_hz=5.0,
                        tremor_lowpass_hz=lowpass_hz)
    epochs = proc.push(SignalBlock(start_sample=0, data=x_g, fs=fs)) + proc.flush()
    tremor = np.concatenate([e.tremor_g for e in epochs])
    return float(np.sqrt(np.nanmean(tremor[20:-20] ** 2)))  # past the filters' settling


def _shank(rng: np.random.Generator, *, seconds: float, tremor_rms_g: float,
           noise_above_hz: float, noise_rms_g: float) -> np.ndarray:
    """Still shank: gravity, a 20 Hz calf tremor and sensor noise only above ``noise_above_hz``."""
    n = round(seconds * FS)
    t = np.arange(n) / FS
    x = np.tile([0.0, 0.0, 1.0], (n, 1))
    x[:, 2] += tremor_rms_g * np.sqrt(2.0) * np.sin(2 * np.pi * 20.0 * t)
    spectrum = np.fft.rfft(rng.standard_normal((n, 3)), axis=0)
    spectrum[np.fft.rfftfreq(n, 1.0 / FS) < noise_above_hz] = 0.0
    noise = np.fft.irfft(spectrum, n=n, axis=0)
    return x + noise * (noise_rms_g / noise.std())


def test_the_tremor_band_leaves_out_a_fast_sensors_noise_above_the_mechanomyogram() -> None:
    rng = np.random.default_rng(3)
    # a weak calf tremor (3 mg) and 2.5 mg per axis of sensor noise spread over 60-208 Hz
    x = _shank(rng, seconds=20.0, tremor_rms_g=0.003, noise_above_hz=60.0, noise_rms_g=0.0025)
    edge = DetectorConfig().motion.tremor_lowpass_hz
    assert _tremor_g(x, fs=FS, lowpass_hz=edge) == pytest.approx(0.003, rel=0.08)
    # without the upper edge the noise of all three axes counts as tremor (what the edge is for)
    unbounded = _tremor_g(x, fs=FS, lowpass_hz=None)
    assert unbounded == pytest.approx(np.hypot(0.003, np.sqrt(3) * 0.0025), rel=0.08)
    # positive control: noise-free, both measure the tremor itself
    clean = _shank(rng, seconds=20.0, tremor_rms_g=0.003, noise_above_hz=60.0, noise_rms_g=0.0)
    assert _tremor_g(clean, fs=FS, lowpass_hz=None) == pytest.approx(0.003, rel=0.08)


def test_up_to_100_hz_the_band_still_runs_to_nyquist() -> None:
    edge = DetectorConfig().motion.tremor_lowpass_hz
    for fs in (25.0, 50.0, 100.0):
        proc = AccProcessor(fs=fs, epochs_per_s=10, tremor_highpass_hz=5.0,
                            tremor_lowpass_hz=edge)
        assert proc.tremor_band_hz == (5.0, fs / 2)
    fast = AccProcessor(fs=FS, epochs_per_s=10, tremor_highpass_hz=5.0, tremor_lowpass_hz=edge)
    assert fast.tremor_band_hz == (5.0, edge)


def test_the_upper_edge_must_lie_above_the_lower(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text("[motion]\ntremor_lowpass_hz = 4\n")
    with pytest.raises(ConfigError, match=r"motion\.tremor_lowpass_hz: must be above"):
        load_config(p)


def test_a_faster_band_carries_the_sensor_noise_over_its_whole_band() -> None:
    rng = np.random.default_rng(5)
    fs_in, noise_g = 100, 0.0007
    acc = np.tile([0.0, 0.0, 1.0], (100 * fs_in, 1)) + noise_g * rng.standard_normal(
        (100 * fs_in, 3))
    out = acc_at_rate(acc, fs_in=fs_in, fs_out=FS, noise_g=noise_g, rng=rng)
    assert out.shape == (100 * FS, 3)
    f, psd = welch(out[:, 0], fs=FS, nperseg=4096)
    below = psd[(f > 5) & (f < 40)].mean()
    above = psd[(f > 60) & (f < 200)].mean()
    assert above == pytest.approx(below, rel=0.15)  # one density over the band
    assert below == pytest.approx(noise_g**2 / (fs_in / 2), rel=0.15)
    # the signal itself is the resampled one; a slower band is only resampled
    np.testing.assert_allclose(out.mean(axis=0), [0.0, 0.0, 1.0], atol=1e-3)
    slow = acc_at_rate(acc, fs_in=fs_in, fs_out=52, noise_g=noise_g, rng=rng)
    np.testing.assert_array_equal(slow, resample_poly(acc, 52, fs_in, axis=0))


def test_the_bounded_band_does_not_depend_on_the_chunk_size() -> None:
    x = _shank(np.random.default_rng(8), seconds=12.0, tremor_rms_g=0.003,
               noise_above_hz=60.0, noise_rms_g=0.0025)
    edge = DetectorConfig().motion.tremor_lowpass_hz

    def tremor(chunk: int) -> np.ndarray:
        proc = AccProcessor(fs=FS, epochs_per_s=10, tremor_highpass_hz=5.0,
                            tremor_lowpass_hz=edge)
        out = []
        for a in range(0, x.shape[0], chunk):
            out += proc.push(SignalBlock(start_sample=a, data=x[a:a + chunk], fs=FS))
        out += proc.flush()
        return np.concatenate([e.tremor_g for e in out])

    whole = tremor(x.shape[0])
    assert whole.shape == (120,) and np.nanmin(whole[10:]) > 0.002
    for chunk in (97, 416, 1001):
        np.testing.assert_allclose(tremor(chunk), whole, rtol=1e-9, atol=1e-12)
