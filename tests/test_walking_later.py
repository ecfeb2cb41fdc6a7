"""EMG-only: a run that stands still past the regular later looks and only then walks is a
person up and about (issue 9), withdrawn at its end; a long cramp beside it is kept.

A bathroom trip can begin with a long stand (at the bedside, at the sink) before any stride:
the three regular looks (15-45 s after the onset) then see standing only. The windows after
them, back to back up to the run's end, see the walk.
"""

from __future__ import annotations

import numpy as np
import pytest

from detector.pipeline.review import RunReview
from firmware_sim.night import NightEvent
from tests.test_detection_classes import NO_WINDOW, _cramp, _detect, _night

WITHOUT = NO_WINDOW.replace(evidence__review_run_min_walks=100)  # the rule out of reach
UP_S = 500.0


def _trip_night(stand_s: float, seed: int):  # type: ignore[no-untyped-def]
    """In bed all along: a 40-s cramp at 200 s and a 150-s one at 1000 s; up at 500 s,
    standing still ``stand_s``, a 40-s brisk walk, 10 s of standing, back to bed."""
    events = [_cramp(200.0, 40.0, emg_uv=60.0), _cramp(1000.0, 150.0, emg_uv=60.0, seed=6),
              NightEvent(kind="stand", onset_s=UP_S, duration_s=stand_s),
              NightEvent(kind="walk", onset_s=UP_S + stand_s + 1.0, duration_s=40.0,
                         emg_uv=150.0, acc_g=0.3, freq_hz=1.8, seed=seed),
              NightEvent(kind="stand", onset_s=UP_S + stand_s + 42.0, duration_s=10.0)]
    return _night(events, duration_s=1400.0, in_bed=(0.0, 1400.0))


@pytest.mark.parametrize(("stand_s", "seed"), [(50.0, 7), (70.0, 8)])
def test_a_long_stand_then_a_walk_is_withdrawn_and_the_cramps_kept(stand_s: float,
                                                                    seed: int) -> None:
    scenario = _trip_night(stand_s, seed)
    review = RunReview(config=NO_WINDOW, eps=10)
    a, _ = review.window(0, review.n_looks - 1)
    assert UP_S + a / 10 + 10.0 <= UP_S + stand_s  # the regular looks see standing only
    onsets = [round(e.onset_s) for e in _detect(scenario, "emg").episodes]
    # positive controls: both cramps found, the 150-s one despite its many windows
    assert len(onsets) == 2
    assert abs(onsets[0] - 200) <= 2 and abs(onsets[1] - 1000) <= 2
    # without the rule, the trip is logged as a cramp from the moment of getting up
    without = [round(e.onset_s) for e in _detect(scenario, "emg", config=WITHOUT).episodes]
    assert len(without) == 3 and abs(without[1] - UP_S) <= 5


def test_walks_later_counts_walking_windows_that_do_not_overlap() -> None:
    review = RunReview(config=NO_WINDOW, eps=10)
    a, b = review.window(0, review.n_looks)
    n = b - a  # one window (epochs)
    stride = ([150.0] * 3 + [20.0] * 8) * (3 * n // 11 + 1)  # a push-off burst every 1.1 s
    steady = [30.0] * (a + 4 * n)
    short = np.array(steady[:a + n] + stride[:n] + steady[:2 * n])  # one window's walk
    long = np.array(steady[:a + n] + stride[:3 * n])  # three windows' walk
    assert review.walks_later(long) is not None
    assert review.walks_later(np.array(steady)) is None  # control: standing, no stride
    counts = {k: RunReview(config=NO_WINDOW.replace(evidence__review_run_min_walks=k), eps=10)
              for k in (1, 3, 100)}
    assert counts[1].walks_later(short) is not None
    assert counts[3].walks_later(short) is None  # at most two windows see one window's walk
    assert counts[100].walks_later(long) is None
    # the regular looks' span is left to them: a walk only there is not counted again
    early = np.array(steady[:a - 3 * n] + stride[:3 * n] + steady[:2 * n])
    assert counts[1].walks_later(early) is None
