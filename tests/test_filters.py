"""The DSP layer against scipy.signal: designs, the section loop, streaming, epoch reductions.

The pipeline designs its filters with numpy and runs scipy's compiled section loop without
importing scipy.signal (start-up); these tests hold both to scipy.signal itself, and hold the
EMG and accelerometer processors to exact chunk independence on both epoch paths (a whole
number of samples per epoch, strided; a fractional one, ``reduceat``).
"""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from detector.config import EmgConfig
from detector.pipeline import sos_kernel
from detector.pipeline.emg import EmgEpochs, EmgProcessor
from detector.pipeline.epochs import EpochCut, count_per_epoch, sum_squares_per_epoch
from detector.pipeline.filters import (
    ScratchBuffer,
    StreamingSos,
    design_bandpass,
    design_highpass,
    design_mains_notches,
    sos_steady_state,
)
from detector.pipeline.motion import AccEpochs, AccProcessor
from detector.signals import SignalBlock

BANDS = [(fs, lo, min(hi, 0.45 * fs)) for fs, lo, hi in (
    (1000.0, 20.0, 450.0), (512.0, 20.0, 450.0), (200.0, 20.0, 450.0), (2000.0, 20.0, 450.0),
    (4000.0, 10.0, 1200.0), (1000.0 / 3.0, 20.0, 140.0), (256.0, 0.5, 5.0))]


def test_bandpass_designs_are_scipys() -> None:
    for (fs, low, high), order in itertools.product(BANDS, [1, 2, 3, 4, 5, 6, 8]):
        ours = design_bandpass(fs=fs, low_hz=low, high_hz=high, order=order)
        ref = signal.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
        assert ours.shape == ref.shape == (order, 6), (fs, low, high, order)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9,
                                   err_msg=f"{fs} Hz, {low}-{high} Hz, order {order}")


def test_highpass_designs_are_scipys() -> None:
    for (fs, cutoff), order in itertools.product(
            [(100.0, 0.5), (100.0, 5.0), (50.0, 0.5), (64.0, 5.0), (25.0, 10.0), (1000.0, 20.0)],
            [1, 2, 3, 4, 5]):
        ours = design_highpass(fs=fs, cutoff_hz=cutoff, order=order)
        ref = signal.butter(order, cutoff, btype="highpass", fs=fs, output="sos")
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9,
                                   err_msg=f"{fs} Hz, {cutoff} Hz, order {order}")


def test_symmetric_band_ties_give_the_same_filter() -> None:
    """A band centred on fs/4 has pole pairs equally near the unit circle: the grouping into
    sections may differ from scipy's by rounding, the filter may not."""
    ours = design_bandpass(fs=200.0, low_hz=47.5, high_hz=52.5, order=4)
    ref = signal.butter(4, [47.5, 52.5], btype="bandpass", fs=200.0, output="sos")
    w = np.linspace(0, np.pi, 512)
    _, h_ours = signal.sosfreqz(ours, worN=w)
    _, h_ref = signal.sosfreqz(ref, worN=w)
    np.testing.assert_allclose(h_ours, h_ref, rtol=0, atol=1e-9)
    impulse = np.zeros(400)
    impulse[0] = 1.0
    np.testing.assert_allclose(signal.sosfilt(ours, impulse), signal.sosfilt(ref, impulse),
                               rtol=0, atol=1e-12)


def test_notches_are_scipys_iirnotch() -> None:
    for fs in (200.0, 500.0, 1000.0, 2000.0, 101.0):
        ours = design_mains_notches(fs=fs, mains_hz=(50.0, 60.0), q=30.0)
        ref = [np.concatenate(signal.iirnotch(f0, 30.0, fs=fs)) for f0 in (50.0, 60.0)
               if f0 < 0.48 * fs]
        assert ours.shape == (len(ref), 6)
        np.testing.assert_allclose(ours, np.array(ref).reshape(-1, 6), rtol=0, atol=1e-14)


def test_no_notch_below_nyquist_gives_no_section() -> None:
    assert design_mains_notches(fs=100.0, mains_hz=(50.0, 60.0), q=30.0).shape == (0, 6)
    assert design_mains_notches(fs=110.0, mains_hz=(50.0, 60.0), q=30.0).shape == (1, 6)


def test_steady_state_is_sosfilt_zi() -> None:
    for sos in (design_bandpass(fs=1000.0, low_hz=20.0, high_hz=450.0, order=4),
                design_highpass(fs=100.0, cutoff_hz=0.5, order=2),
                design_mains_notches(fs=1000.0, mains_hz=(50.0, 60.0), q=30.0)):
        np.testing.assert_allclose(sos_steady_state(sos), signal.sosfilt_zi(sos), rtol=1e-12,
                                   atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_section_loop_is_scipys_sample_for_sample(dtype: type[np.floating]) -> None:
    rng = np.random.default_rng(5)
    sos = np.vstack([design_bandpass(fs=1000.0, low_hz=20.0, high_hz=450.0, order=4),
                     design_mains_notches(fs=1000.0, mains_hz=(50.0, 60.0), q=30.0)])
    x = (rng.standard_normal((3, 5000)) * 40 + 300).astype(dtype)
    zi = rng.standard_normal((3, sos.shape[0], 2)).astype(dtype)
    y_ref, zf_ref = signal.sosfilt(sos.astype(dtype), x, axis=-1, zi=np.moveaxis(zi, 0, 1))
    for kernel in (sos_kernel.sosfilt_inplace, sos_kernel._scipy_fallback):
        y, z = x.copy(), zi.copy()
        kernel(np.ascontiguousarray(sos, dtype=dtype), y, z)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(z, np.moveaxis(zf_ref, 1, 0))


def test_section_loop_checks_its_arguments() -> None:
    sos = design_highpass(fs=100.0, cutoff_hz=0.5, order=2)
    x = np.ones((1, 10))
    sos_kernel.sosfilt_inplace(sos, x, np.zeros((1, 1, 2)))  # positive control: accepted
    assert abs(x[0, -1]) < 1.0
    with pytest.raises(TypeError, match="share one float or complex dtype"):
        sos_kernel.sosfilt_inplace(sos, np.ones((1, 10), np.float32), np.zeros((1, 1, 2)))
    with pytest.raises(ValueError, match="shapes do not fit"):
        sos_kernel.sosfilt_inplace(sos, np.ones((1, 10)), np.zeros((2, 1, 2)))
    with pytest.raises(ValueError, match="C-contiguous"):
        sos_kernel.sosfilt_inplace(sos, np.ones((1, 20))[:, ::2], np.zeros((1, 1, 2)))


def test_pipeline_filters_without_importing_scipy_signal() -> None:
    code = ("import sys, numpy as np\n"
            "from detector.pipeline import sos_kernel\n"
            "from detector.pipeline.filters import StreamingSos, design_bandpass\n"
            "y = StreamingSos(design_bandpass(fs=1000.0, low_hz=20.0, high_hz=450.0, order=4))"
            ".push(np.arange(200.0) % 7)\n"
            "print(sos_kernel.KERNEL_NAME, 'scipy.signal' in sys.modules, y.shape)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out == "scipy.signal._sosfilt (loaded directly) False (200,)"
    # (scipy.signal imported after the pipeline, as most test modules do, reuses that loop)


def test_section_loop_loads_without_running_scipys_init() -> None:
    """The loop's extension loads its Cython helpers (positive control: they are there) but
    not the scipy package itself; scipy imported afterwards is the real one and reuses both."""
    code = ("import sys, numpy as np\n"
            "from detector.pipeline import sos_kernel\n"
            "before = ['scipy' in sys.modules, 'scipy._cyutility' in sys.modules]\n"
            "import scipy, scipy.signal\n"
            "sos = scipy.signal.butter(2, 5.0, fs=100.0, output='sos')\n"
            "x = np.cos(np.arange(300.0))[None, :]\n"
            "y = x.copy()\n"
            "sos_kernel.sosfilt_inplace(sos, y, np.zeros((1, 1, 2)))\n"
            "print(before, scipy.__version__ == scipy.version.version,\n"
            "      scipy.signal._signaltools._sosfilt is sos_kernel._KERNEL,\n"
            "      bool(np.array_equal(y, scipy.signal.sosfilt(sos, x))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out == "[False, True] True True True"


@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(1, 2999), max_size=12))
def test_streaming_filter_in_chunks_is_one_pass(cuts: list[int]) -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 3000)) + 1.0
    original = x.copy()
    sos = design_highpass(fs=100.0, cutoff_hz=0.5, order=2)
    whole = StreamingSos(sos).push(x)
    parts = StreamingSos(sos)
    buf = ScratchBuffer(rows=3, dtype=np.float64)
    pieces = [parts.push(x[:, a:b], out=buf.take(b - a)).copy()
              for a, b in itertools.pairwise(sorted({0, 3000, *cuts}))]
    np.testing.assert_array_equal(np.concatenate(pieces, axis=1), whole)
    np.testing.assert_array_equal(x, original)  # the caller's samples are left alone
    # and the steady-state start: a constant input through a high-pass gives zeros at once
    assert np.abs(StreamingSos(sos).push(np.full(50, 7.0))).max() < 1e-12


def test_epoch_reductions_are_the_plain_sums() -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal(1000)
    uniform = EpochCut(np.arange(0, 1001, 100), 100)
    ragged = EpochCut(np.array([0, 26, 51, 77, 102]), None)
    np.testing.assert_allclose(sum_squares_per_epoch(x, uniform),
                               [np.sum(x[a:a + 100] ** 2) for a in range(0, 1000, 100)])
    np.testing.assert_allclose(sum_squares_per_epoch(x[:102], ragged),
                               [np.sum(x[a:b] ** 2) for a, b in itertools.pairwise(
                                   ragged.bounds)])
    mask = x > 1.0
    assert count_per_epoch(mask, uniform).tolist() == [
        int(mask[a:a + 100].sum()) for a in range(0, 1000, 100)]
    assert count_per_epoch(mask[:102], ragged).tolist() == [
        int(mask[a:b].sum()) for a, b in itertools.pairwise(ragged.bounds)]


def _emg(fs: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal(round(fs * seconds)) * 3.0 + 250.0  # a DC offset, as electrodes do
    x[round(fs * 4):round(fs * 6)] += 80.0 * np.sin(np.arange(round(fs * 2)) * 0.7)
    x[round(fs * 9):round(fs * 9.5)] = 5000.0  # at the rail: saturated
    return x


def _feed_emg(x: np.ndarray, fs: float, cuts: list[int],
              gap: tuple[int, int]) -> list[EmgEpochs]:
    proc = EmgProcessor(fs=fs, config=EmgConfig(), epochs_per_s=10, rails_uv=(-5000.0, 5000.0))
    out = []
    bounds = sorted({0, x.shape[0], *gap, *(c % x.shape[0] for c in cuts)})
    for a, b in itertools.pairwise(bounds):
        if gap[0] <= a < gap[1]:
            continue
        out += proc.push(SignalBlock(data=x[a:b], fs=fs, start_sample=a))
    return out + proc.flush(end_sample=x.shape[0])


def _cat(epochs: list[EmgEpochs] | list[AccEpochs], name: str) -> np.ndarray:
    return np.concatenate([getattr(e, name) for e in epochs])


@settings(max_examples=20, deadline=None)
@given(cuts=st.lists(st.integers(1, 10**7), max_size=15), fs=st.sampled_from([1000.0, 512.0]))
def test_emg_epochs_do_not_depend_on_chunking(cuts: list[int], fs: float) -> None:
    x = _emg(fs, 12.0, np.random.default_rng(8))
    gap = (round(fs * 7.03), round(fs * 7.61))
    ref = _feed_emg(x, fs, [], gap)
    got = _feed_emg(x, fs, cuts, gap)
    for name in ("envelope_uv", "flat", "saturated", "hum", "missing"):
        np.testing.assert_array_equal(_cat(got, name), _cat(ref, name))
    missing = _cat(ref, "missing")
    assert missing.sum() == 7 and not missing[:70].any()  # epochs 70..76 touch the gap
    assert _cat(ref, "saturated")[90:95].all() and not _cat(ref, "saturated")[:40].any()


def _feed_acc(x: np.ndarray, fs: float, cuts: list[int], tremor: float | None) -> list[AccEpochs]:
    proc = AccProcessor(fs=fs, epochs_per_s=10, tremor_highpass_hz=tremor)
    out = []
    for a, b in itertools.pairwise(sorted({0, x.shape[0], *(c % x.shape[0] for c in cuts)})):
        out += proc.push(SignalBlock(data=x[a:b], fs=fs, start_sample=a))
    return out + proc.flush(end_sample=x.shape[0])


@settings(max_examples=20, deadline=None)
@given(cuts=st.lists(st.integers(1, 10**7), max_size=15), fs=st.sampled_from([100.0, 64.0]),
       tremor=st.sampled_from([5.0, None]))
def test_accelerometer_epochs_do_not_depend_on_chunking(cuts: list[int], fs: float,
                                                        tremor: float | None) -> None:
    rng = np.random.default_rng(9)
    n = round(fs * 30)
    x = np.tile([0.1, 0.0, 0.99], (n, 1)) + rng.normal(0, 0.01, (n, 3))
    x[n // 2:n // 2 + round(fs * 2)] += np.sin(np.arange(round(fs * 2)) * 0.9)[:, None] * 0.3
    ref = _feed_acc(x, fs, [], tremor)
    got = _feed_acc(x, fs, cuts, tremor)
    for name in ("gravity_g", "movement_g", "tremor_g"):
        np.testing.assert_array_equal(_cat(got, name), _cat(ref, name))
    gravity = _cat(ref, "gravity_g")
    np.testing.assert_allclose(gravity[:100].mean(axis=0), [0.1, 0.0, 0.99], atol=0.01)
    movement = _cat(ref, "movement_g")
    assert movement[150:170].min() > 10 * movement[:100].max()  # the shaking stands out
    assert np.isnan(_cat(ref, "tremor_g")).all() == (tremor is None)


def test_accelerometer_blocks_in_either_memory_layout_give_the_same_epochs() -> None:
    # readers hand over (3, n) rows as their (n, 3) transpose, which the processor filters
    # without copying; a C-ordered (n, 3) block is copied into rows first
    rng = np.random.default_rng(4)
    n = 3000
    x = np.tile([0.1, 0.0, 0.99], (n, 1)) + rng.normal(0, 0.01, (n, 3))
    x[1000:1200] += np.sin(np.arange(200) * 0.9)[:, None] * 0.3
    rows = np.ascontiguousarray(x.T)
    before = rows.copy()
    proc = AccProcessor(fs=100.0, epochs_per_s=10, tremor_highpass_hz=5.0)
    got = []
    for a in range(0, n, 700):
        block = rows[:, a:a + 700].copy().T  # a reader's block: C-contiguous rows, transposed
        assert block.T.flags.c_contiguous
        got += proc.push(SignalBlock(data=block, fs=100.0, start_sample=a))
    got += proc.flush(end_sample=n)
    ref = _feed_acc(x, 100.0, [700 * k for k in range(1, 5)], 5.0)
    for name in ("gravity_g", "movement_g", "tremor_g"):
        np.testing.assert_array_equal(_cat(got, name), _cat(ref, name))
    np.testing.assert_array_equal(rows, before)  # the input is only read
    movement = _cat(ref, "movement_g")
    assert movement[105:115].min() > 10 * movement[:90].max()  # the shaking stands out
