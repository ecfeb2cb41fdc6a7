"""Rail hits per epoch: samples within 0.1 % of the ADC span from a rail, counted exactly as
``|x - mid| >= half`` in float64, whatever the block's dtype."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.config import DetectorConfig
from detector.pipeline.emg import EmgProcessor
from detector.pipeline.epochs import EpochCut

RAILS_UV = (-3000.0, 3300.0)


def processor() -> EmgProcessor:
    return EmgProcessor(fs=1000.0, config=DetectorConfig().emg, epochs_per_s=10,
                        rails_uv=RAILS_UV)


def reference(p: EmgProcessor, raw: np.ndarray, length: int) -> np.ndarray:
    """Per epoch of ``length`` samples: the count, one sample at a time."""
    mid, half = p._rail_mid, p._rail_half
    hits = [abs(float(v) - mid) >= half for v in raw.tolist()]
    return np.array([sum(hits[i:i + length]) for i in range(0, len(hits), length)], dtype=float)


def near_rails(p: EmgProcessor) -> st.SearchStrategy[float]:
    """Values at, just inside and just outside each threshold, and ordinary ones."""
    edges = [p._rail_mid + s * p._rail_half for s in (-1.0, 1.0)]
    close = [float(x) for e in edges
             for x in (np.nextafter(e, -np.inf), e, np.nextafter(e, np.inf))]
    return st.one_of(st.sampled_from(close + list(RAILS_UV)), st.floats(-3500.0, 3500.0))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n_epochs=st.integers(1, 6), as_int=st.booleans())
def test_rail_hits_equal_a_sample_by_sample_count(data: st.DataObject, n_epochs: int,
                                                  as_int: bool) -> None:
    p = processor()
    length = 10
    values = data.draw(st.lists(near_rails(p), min_size=n_epochs * length,
                                max_size=n_epochs * length))
    raw = np.array(values, dtype=np.float64)
    if as_int:
        raw = np.round(raw).astype(np.int16)
    cut = EpochCut(bounds=np.arange(0, n_epochs * length + 1, length), length=length)
    np.testing.assert_array_equal(p._rail_hits(raw, cut), reference(p, raw, length))


def test_positive_control_hits_at_the_rails_only() -> None:
    p = processor()
    raw = np.zeros(30)
    raw[3], raw[4], raw[25] = RAILS_UV[1], RAILS_UV[0], RAILS_UV[1] - 1.0
    cut = EpochCut(bounds=np.array([0, 10, 20, 30]), length=10)
    np.testing.assert_array_equal(p._rail_hits(raw, cut), [2, 0, 1])
    np.testing.assert_array_equal(p._rail_hits(np.zeros(30), cut), [0, 0, 0])
