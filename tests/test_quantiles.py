"""The pipeline's percentiles and medians give numpy's values bit for bit (without numpy.ma)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from detector.pipeline.quantiles import median, nanmedian, percentile

_FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=64)
_VALUES = arrays(np.float64, st.integers(1, 60), elements=_FINITE)
_WITH_NAN = arrays(np.float64, st.integers(1, 60),
                   elements=st.one_of(_FINITE, st.just(float("nan"))))
_Q = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(values=_VALUES, qs=st.lists(_Q, min_size=1, max_size=4), q=_Q)
def test_percentile_is_numpys(values: np.ndarray, qs: list[float], q: float) -> None:
    assert np.array_equal(percentile(values, qs), np.percentile(values, qs))
    assert percentile(values, q) == np.percentile(values, q)
    assert percentile(values, q).shape == ()


@settings(max_examples=300, deadline=None)
@given(values=_WITH_NAN)
def test_medians_are_numpys(values: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy warns on all-NaN input
        want_nan = float(np.nanmedian(values))
        want = float(np.median(values))
    assert np.array_equal(nanmedian(values), want_nan, equal_nan=True)
    assert np.array_equal(median(values), want, equal_nan=True)


def test_nan_and_ties_and_edges() -> None:
    x = np.array([3.0, 1.0, 2.0, 2.0])
    assert percentile(x, 50) == 2.0
    assert percentile(x, [0, 100]).tolist() == [1.0, 3.0]
    assert percentile(x, 25) == pytest.approx(1.75)
    assert np.isnan(percentile(np.array([1.0, np.nan]), [10, 90])).all()
    assert median(np.array([1.0, np.nan])) != median(np.array([1.0, np.nan]))  # NaN
    assert nanmedian(np.array([1.0, np.nan, 5.0])) == 3.0
    with pytest.raises(ValueError, match="non-empty 1-D"):
        percentile(np.empty(0), 50)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        median(np.ones((2, 2)))
