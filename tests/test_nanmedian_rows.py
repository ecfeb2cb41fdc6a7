"""The replay's NaN-ignoring row median equals ``np.nanmedian``, value for value."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from detector.pipeline.nanmedian import nanmedian_rows

VALUES = st.one_of(st.floats(-1e6, 1e6, allow_nan=False, width=64), st.just(np.nan),
                   st.sampled_from([0.0, -0.0, 1.5, 1.5000000000000002]))


def _numpy(rows: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        return np.nanmedian(rows, axis=1)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 12).flatmap(
    lambda k: arrays(np.float64, st.tuples(st.integers(0, 30), st.just(k)), elements=VALUES)))
def test_equals_numpy_nanmedian_bit_for_bit(rows: np.ndarray) -> None:
    got = nanmedian_rows(rows)
    want = _numpy(rows)
    assert got.shape == want.shape == (rows.shape[0],)
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_known_rows_and_all_nan() -> None:
    rows = np.array([[1.0, np.nan, 3.0, 2.0], [np.nan] * 4, [4.0, 1.0, np.nan, np.nan],
                     [5.0, 5.0, 5.0, 7.0]])
    np.testing.assert_array_equal(nanmedian_rows(rows), [2.0, np.nan, 2.5, 5.0])
    # positive control: a plain median over the NaN would not give these
    assert np.isnan(np.median(rows[0]))
