"""EMG-only later look: weak push-off bursts on a swaying standing floor are walking by their
stride correlation, though their rhythm (the autocorrelation's comeback) stays under the
review's bound; a cramp's irregular waxing and waning is kept (issue 9)."""

from __future__ import annotations

import numpy as np

from detector.config import DetectorConfig
from detector.pipeline.emg_shape import emg_shape
from detector.pipeline.review import RunReview
from detector.pipeline.stride import stride_correlation

EPS = 10
CONFIG = DetectorConfig()


def _weak_walk(seed: int) -> np.ndarray:
    """10 s of a weak walk (uV): 40-uV push-off bursts, one per stride at 0.85 Hz, each of its
    own strength, on a 20-uV standing floor that sways slowly (0.2 Hz)."""
    rng = np.random.default_rng(seed)
    t = np.arange(10 * EPS) / EPS
    strength = np.exp(0.3 * rng.standard_normal(9))[np.floor(0.85 * t).astype(int)]
    sway = np.exp(0.3 * np.sin(2 * np.pi * 0.2 * t + rng.uniform(0.0, 6.0)))
    bursts = np.clip(np.sin(2 * np.pi * 0.85 * t), 0.0, None) ** 6
    return (20.0 * sway + 40.0 * strength * bursts) * np.exp(0.15 * rng.standard_normal(t.size))


def _waxing(seed: int) -> np.ndarray:
    """10 s of a cramp (uV): log-normal waxing and waning, 0.3-s correlation, no period."""
    rng = np.random.default_rng(seed)
    noise = np.convolve(rng.standard_normal(10 * EPS + 2), np.ones(3) / np.sqrt(3), "valid")
    return 60.0 * np.exp(0.4 * noise)


def test_weak_stride_bursts_are_withdrawn_by_their_stride_correlation() -> None:
    review = RunReview(config=CONFIG, eps=EPS)
    walk = _weak_walk(1)
    ok = np.ones(walk.size, dtype=bool)
    shape = emg_shape(walk, ok, eps=EPS, smooth_s=CONFIG.evidence.smooth_s,
                      lull_ratio=CONFIG.evidence.lull_ratio)
    assert shape is not None
    # the case: the comeback of the autocorrelation alone would keep this walk
    assert shape.rhythm <= CONFIG.evidence.review_max_rhythm
    corr = stride_correlation(walk, ok, eps=EPS,
                              smooth_s=CONFIG.evidence.review_stride_smooth_s)
    assert corr is not None and corr > CONFIG.evidence.review_max_stride_corr
    reason = review.withdraw(walk)
    assert reason is not None and "walking" in reason
    assert review.withdraw(walk, look=2) is not None  # every look
    # positive control: a cramp's waxing and waning is kept, in every look
    for seed in (7, 8, 9):
        assert review.withdraw(_waxing(seed)) is None
        assert review.withdraw(_waxing(seed), look=2) is None


def test_stride_correlation_needs_a_usable_window() -> None:
    walk = _weak_walk(1)
    ok = np.ones(walk.size, dtype=bool)
    assert stride_correlation(walk, ok, eps=EPS, smooth_s=0.2) is not None  # control
    assert stride_correlation(walk[: 2 * EPS], ok[: 2 * EPS], eps=EPS, smooth_s=0.2) is None
    half = ok.copy()
    half[: 6 * EPS] = False
    assert stride_correlation(walk, half, eps=EPS, smooth_s=0.2) is None
