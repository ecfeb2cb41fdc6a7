"""Epoch cutting and the resting baseline: exact, chunk-independent, gap-aware."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.config import EmgConfig
from detector.pipeline.baseline import RestingBaseline
from detector.pipeline.epochs import EpochSummer, epoch_boundary, epoch_of_sample


@pytest.mark.parametrize("fs", [200.0, 256.0, 1000.0 / 3.0, 25.0, 2048.0])
def test_boundaries_cover_every_sample_once(fs: float) -> None:
    b = epoch_boundary(np.arange(0, 1001), fs=fs, epochs_per_s=10)
    assert b[0] == 0
    assert np.all(np.diff(b) >= 1)
    assert b[-1] == int(np.ceil(100 * fs - 1e-9))  # 100 s
    for s in (0, 1, 17, 255, 2499):
        k = epoch_of_sample(s, fs=fs, epochs_per_s=10)
        assert b[k] <= s < b[k + 1]


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(1, 4999), max_size=40), fs=st.sampled_from([200.0, 256.0, 333.3]))
def test_summer_is_chunk_independent(cuts: list[int], fs: float) -> None:
    x = np.random.default_rng(0).standard_normal((2, 5000))
    whole = EpochSummer(fs=fs, epochs_per_s=10, n_columns=2)
    ref = whole.push(x, start_sample=0) + whole.flush(end_sample=5000)
    parts = EpochSummer(fs=fs, epochs_per_s=10, n_columns=2)
    got = []
    bounds = sorted({0, 5000, *cuts})
    for a, b in itertools.pairwise(bounds):
        got += parts.push(x[:, a:b], start_sample=a)
    got += parts.flush(end_sample=5000)
    cat = lambda chunks: np.concatenate([c.sums for c in chunks])  # noqa: E731
    np.testing.assert_array_equal(cat(got), cat(ref))
    # the sums are the plain sums of each epoch's samples
    bnd = epoch_boundary(np.arange(0, 200), fs=fs, epochs_per_s=10)
    full = cat(ref)
    for k in (0, 7, 50):
        np.testing.assert_allclose(full[k], x[:, bnd[k]:bnd[k + 1]].sum(axis=1))


def test_summer_marks_epochs_touched_by_a_gap_invalid() -> None:
    s = EpochSummer(fs=100.0, epochs_per_s=10, n_columns=1)
    out = s.push(np.ones((1, 250)), start_sample=0)          # epochs 0..24 complete
    out += s.push(np.ones((1, 300)), start_sample=305)       # samples 250..304 missing
    out += s.flush(end_sample=605)
    sums = np.concatenate([o.sums[:, 0] for o in out])
    assert np.all(sums[:25] == 10.0)
    assert np.all(np.isnan(sums[25:31]))                     # epochs 25..30 lost samples
    assert np.all(sums[31:60] == 10.0)
    assert np.isnan(sums[60])                                # trailing partial epoch


def test_baseline_tracks_rest_and_ignores_a_long_contraction() -> None:
    cfg = EmgConfig()
    rng = np.random.default_rng(1)
    env = np.abs(rng.normal(2.0, 0.3, 30_000))               # 50 min at 10 epochs/s
    env[12_000:21_000] = 80.0                                # a 15-minute contraction
    base = RestingBaseline(config=cfg, epochs_per_s=10).push(env)
    assert np.all(np.abs(base[600:] - 1.75) < 0.5)
    assert base[20_900] < 3.0


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(1, 5999), max_size=30))
def test_baseline_is_chunk_independent(cuts: list[int]) -> None:
    cfg = EmgConfig()
    rng = np.random.default_rng(2)
    env = np.abs(rng.normal(3.0, 1.0, 6000))
    env[rng.integers(0, 6000, 300)] = np.nan
    ref = RestingBaseline(config=cfg, epochs_per_s=10).push(env)
    b = RestingBaseline(config=cfg, epochs_per_s=10)
    bounds = sorted({0, 6000, *cuts})
    got = np.concatenate([b.push(env[a:c]) for a, c in itertools.pairwise(bounds)])
    np.testing.assert_array_equal(got, ref)
