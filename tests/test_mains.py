"""The EMG's one filter pass and the hum measured from the raw samples (pipeline/mains.py).

The band-pass and the notches run as one cascade; the band-passed power the quality flags need
is the notched power plus the hum's, which is fitted per epoch from the raw samples.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from filter_spy import spy_on_filter_kernel
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.config import EmgConfig
from detector.pipeline.emg import EmgProcessor
from detector.pipeline.epochs import EpochCut, epoch_boundary
from detector.pipeline.filters import design_bandpass
from detector.pipeline.mains import MainsEnergy, sos_gain
from detector.signals import SignalBlock


def _cut(fs: float, n_epochs: int) -> EpochCut:
    bounds = epoch_boundary(np.arange(n_epochs + 1), fs=fs, epochs_per_s=10)
    length = round(fs / 10) if float(fs / 10).is_integer() else None
    return EpochCut(bounds, length)


@pytest.mark.parametrize("fs", [1000.0, 512.0, 200.0])
def test_hum_energy_is_the_tone_power_not_offset_drift_or_a_slow_swing(fs: float) -> None:
    high = min(450.0, 0.45 * fs)
    bandpass = design_bandpass(fs=fs, low_hz=20.0, high_hz=high, order=4)
    hum = MainsEnergy(fs=fs, mains_hz=(50.0, 60.0), low_edge_hz=20.0,
                      gains=(sos_gain(bandpass, 50.0, fs), sos_gain(bandpass, 60.0, fs)))
    cut = _cut(fs, 50)
    t = np.arange(int(cut.bounds[-1])) / fs
    # an electrode offset, a drift and a motion swing of 8 Hz, 200 uV: all below the band
    slow = 300.0 + 40.0 * t + 200.0 * np.exp(-t) * np.sin(2 * np.pi * 8.0 * t)
    counts = np.diff(cut.bounds)
    for f0 in (50.0, 60.0):
        tone = 20.0 * np.sin(2 * np.pi * f0 * t + 0.3)
        expected = 0.5 * 20.0 ** 2 * counts * sos_gain(bandpass, f0, fs) ** 2
        got = hum.per_epoch(slow + tone, cut)  # positive control: the tone is found
        np.testing.assert_allclose(got, expected, rtol=0.06, err_msg=f"{fs} Hz, {f0} Hz")
    # the slow content alone is no hum (under 1 % of that tone's power)
    assert hum.per_epoch(slow, cut).max() < 0.01 * 0.5 * 20.0 ** 2 * counts.min()


def test_emg_is_filtered_in_one_pass_and_its_flags_keep_their_meaning(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = spy_on_filter_kernel(monkeypatch)
    fs = 1000.0
    rng = np.random.default_rng(21)
    t = np.arange(int(fs * 6)) / fs
    x = 250.0 + 3.0 * rng.standard_normal(t.shape[0])  # resting EMG on an electrode offset
    x[(t >= 2) & (t < 4)] += 40.0 * np.sin(2 * np.pi * 50.0 * t[(t >= 2) & (t < 4)])
    x[t >= 5] = 250.0  # input shorted: a flat trace at the offset
    proc = EmgProcessor(fs=fs, config=EmgConfig(), epochs_per_s=10, rails_uv=None)
    epochs = proc.push(SignalBlock(data=x, fs=fs, start_sample=0))
    # one call: the 4 band-pass and 2 notch sections cascaded
    assert [c.sections for c in calls] == [6]
    hum = np.concatenate([e.hum for e in epochs])
    flat = np.concatenate([e.flat for e in epochs])
    envelope = np.concatenate([e.envelope_uv for e in epochs])
    assert hum[22:40].all() and not hum[:19].any() and not hum[43:].any()
    assert flat[52:].all() and not flat[:49].any()
    # the notched envelope does not see the hum: the same level with it as without
    assert abs(np.median(envelope[22:40]) / np.median(envelope[:19]) - 1.0) < 0.1


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(1, 10**7), max_size=12), fs=st.sampled_from([1000.0, 512.0]))
def test_hum_flags_do_not_depend_on_chunking(cuts: list[int], fs: float) -> None:
    rng = np.random.default_rng(22)
    t = np.arange(round(fs * 8)) / fs
    # hum rising from nothing to twice the EMG's power: epochs on both sides of the threshold
    x = 250.0 + 3.0 * rng.standard_normal(t.shape[0]) \
        + (t / 8.0) * 12.0 * np.sin(2 * np.pi * 60.0 * t)
    x[round(fs * 6.5):] = 250.0  # and a flat end

    def feed(bounds: list[int]) -> np.ndarray:
        proc = EmgProcessor(fs=fs, config=EmgConfig(), epochs_per_s=10, rails_uv=None)
        out = []
        for a, b in itertools.pairwise(bounds):
            out += proc.push(SignalBlock(data=x[a:b], fs=fs, start_sample=a))
        out += proc.flush(end_sample=x.shape[0])
        return np.concatenate([e.hum for e in out])

    n = x.shape[0]
    ref = feed([0, n])
    got = feed(sorted({0, n, *(c % n for c in cuts)}))
    np.testing.assert_array_equal(got, ref)
    assert ref[:20].sum() == 0 and ref[50:64].all() and not ref[66:].any()
