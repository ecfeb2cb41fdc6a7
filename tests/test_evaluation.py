"""Tests of event-level matching and scoring (detector.evaluation)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.episode import Episode
from detector.errors import CrampInputError
from detector.evaluation import (
    as_intervals,
    match_events,
    pool_scores,
    score_events,
)
from detector.evaluation_types import Interval


@dataclass(frozen=True)
class _Label:
    onset_s: float
    duration_s: float
    description: str = "cramp"


def _episode(onset_s: float, offset_s: float) -> Episode:
    return Episode(
        onset_s=onset_s, offset_s=offset_s, onset_utc=datetime(2024, 1, 1, tzinfo=UTC),
        leg="left", in_bed=True, peak_emg_uv=50.0, mean_emg_uv=30.0,
        plantar_flexion_deg=25.0, confidence=0.9, evidence=("sustained_emg",),
    )


def test_exact_matches_score_perfectly() -> None:
    events = [(10.0, 20.0), (300.0, 45.0), (1200.0, 12.0)]
    s = score_events(events, events)
    assert (s.n_truth, s.n_detected, s.tp, s.fp, s.fn) == (3, 3, 3, 0, 0)
    assert s.precision == 1.0 and s.recall == 1.0 and s.f1 == 1.0
    assert s.onset_error_s is not None and s.onset_error_s.max_abs == 0.0
    assert s.duration_error_s is not None and s.duration_error_s.mean_abs == 0.0
    assert [p.iou for p in s.pairs] == [1.0, 1.0, 1.0]


def test_detection_spanning_two_truths_matches_only_one() -> None:
    # IoU with (10, 20) is 20/100, with (50, 30) is 30/100: the second is chosen.
    m = match_events([(0.0, 100.0)], [(10.0, 20.0), (50.0, 30.0)])
    assert len(m.pairs) == 1
    assert m.pairs[0].truth_index == 1
    assert m.pairs[0].overlap_s == pytest.approx(30.0)
    assert m.pairs[0].iou == pytest.approx(0.3)
    assert m.unmatched_truth == (0,)
    assert m.unmatched_detected == ()
    s = score_events([(0.0, 100.0)], [(10.0, 20.0), (50.0, 30.0)])
    assert (s.tp, s.fp, s.fn) == (1, 0, 1)
    assert s.recall == 0.5 and s.precision == 1.0
    assert s.f1 == pytest.approx(1 / (1 + 0.5))
    assert s.onset_error_s is not None and s.onset_error_s.mean_signed == -50.0
    assert s.unmatched_truth == (Interval(10.0, 20.0),)


def test_two_detections_inside_one_truth_give_one_tp_one_fp() -> None:
    s = score_events([(0.0, 15.0), (20.0, 15.0)], [(0.0, 40.0)])
    assert (s.tp, s.fp, s.fn) == (1, 1, 0)
    assert s.precision == 0.5


def test_pair_count_is_maximised_before_iou() -> None:
    # Greedy by IoU would take A-T1 (IoU 0.9) and leave B and T2 unmatched.
    det = [(0.0, 100.0), (80.0, 5.0)]  # A, B
    truth = [(0.0, 90.0), (95.0, 10.0)]  # T1, T2
    m = match_events(det, truth)
    assert {(p.detected_index, p.truth_index) for p in m.pairs} == {(0, 1), (1, 0)}


def test_detection_overlapping_nothing() -> None:
    s = score_events([(500.0, 20.0)], [(0.0, 20.0)])
    assert (s.tp, s.fp, s.fn) == (0, 1, 1)
    assert s.precision == 0.0 and s.recall == 0.0 and s.f1 == 0.0
    assert s.onset_error_s is None and s.duration_error_rel is None
    assert s.unmatched_detected == (Interval(500.0, 20.0),)


def test_empty_inputs_give_undefined_ratios() -> None:
    none = score_events([], [])
    assert (none.tp, none.fp, none.fn) == (0, 0, 0)
    assert none.precision is None and none.recall is None and none.f1 is None
    missed = score_events([], [(5.0, 30.0)])
    assert missed.precision is None and missed.recall == 0.0 and missed.f1 == 0.0
    assert missed.fn == 1
    false_alarm = score_events([(5.0, 30.0)], [])
    assert false_alarm.recall is None and false_alarm.precision == 0.0
    assert false_alarm.f1 == 0.0 and false_alarm.fp == 1


def test_min_overlap_edge() -> None:
    # Onsets 19 s apart (beyond the tolerance); overlap exactly 1.0 s, then 0.5 s.
    assert len(match_events([(0.0, 20.0)], [(19.0, 20.0)], min_overlap_s=1.0,
                            onset_tolerance_s=5.0).pairs) == 1
    assert len(match_events([(0.0, 20.0)], [(19.5, 20.0)], min_overlap_s=1.0,
                            onset_tolerance_s=5.0).pairs) == 0
    # With a zero minimum any positive overlap counts, but touching does not.
    assert len(match_events([(0.0, 20.0)], [(19.5, 20.0)], min_overlap_s=0.0,
                            onset_tolerance_s=5.0).pairs) == 1
    assert len(match_events([(0.0, 10.0)], [(10.0, 10.0)], min_overlap_s=0.0,
                            onset_tolerance_s=5.0).pairs) == 0


def test_onset_tolerance_edge() -> None:
    # Point events (no duration) can only pair by onset.
    m = match_events([(100.0, 0.0)], [(105.0, 0.0)], onset_tolerance_s=5.0)
    assert len(m.pairs) == 1 and m.pairs[0].overlap_s == 0.0 and m.pairs[0].iou == 0.0
    assert match_events([(100.0, 0.0)], [(105.25, 0.0)], onset_tolerance_s=5.0).pairs == ()
    # Onset tolerance admits a pair whose overlap is below the minimum.
    m = match_events([(0.0, 3.0)], [(2.5, 30.0)], min_overlap_s=1.0, onset_tolerance_s=3.0)
    assert len(m.pairs) == 1 and m.pairs[0].overlap_s == pytest.approx(0.5)
    assert match_events([(0.0, 3.0)], [(2.5, 30.0)], min_overlap_s=1.0,
                        onset_tolerance_s=2.0).pairs == ()


def test_onset_pairs_prefer_closest_onset() -> None:
    m = match_events([(100.0, 0.0)], [(96.0, 0.0), (101.0, 0.0)], onset_tolerance_s=5.0)
    assert [p.truth_index for p in m.pairs] == [1]


def test_error_statistics() -> None:
    s = score_events([(2.0, 20.0), (98.0, 30.0)], [(0.0, 20.0), (100.0, 25.0)])
    on, off, dur, rel = s.onset_error_s, s.offset_error_s, s.duration_error_s, \
        s.duration_error_rel
    assert on is not None and off is not None and dur is not None and rel is not None
    assert (on.mean_signed, on.mean_abs, on.median_abs, on.max_abs, on.n) == (0, 2, 2, 2, 2)
    assert (off.mean_signed, off.mean_abs, off.median_abs, off.max_abs) == (2.5, 2.5, 2.5, 3)
    assert (dur.mean_signed, dur.mean_abs, dur.max_abs) == (2.5, 2.5, 5.0)
    assert rel.mean_signed == pytest.approx(0.1) and rel.max_abs == pytest.approx(0.2)


def test_relative_duration_error_skips_zero_length_truth() -> None:
    s = score_events([(0.0, 12.0), (50.0, 4.0)], [(1.0, 0.0), (50.0, 8.0)])
    assert s.tp == 2
    assert s.duration_error_rel is not None and s.duration_error_rel.n == 1
    assert s.duration_error_rel.mean_signed == pytest.approx(-0.5)


def test_pooling_micro_averages_and_counts() -> None:
    rec1 = score_events([(0.0, 20.0), (100.0, 20.0)], [(0.0, 20.0), (101.0, 20.0)])
    rec2 = score_events([(0.0, 30.0)], [(0.0, 30.0), (200.0, 15.0), (400.0, 15.0)])
    rec3 = score_events([(10.0, 15.0), (60.0, 15.0)], [])
    p = pool_scores([rec1, rec2, rec3])
    assert p.n_recordings == 3
    s = p.scores
    assert (s.n_truth, s.n_detected, s.tp, s.fp, s.fn) == (5, 5, 3, 2, 2)
    assert s.precision == pytest.approx(0.6) and s.recall == pytest.approx(0.6)
    assert s.f1 == pytest.approx(0.6)
    assert s.onset_error_s is not None and s.onset_error_s.n == 3
    assert s.onset_error_s.mean_signed == pytest.approx(-1 / 3)
    assert p.count_error_mean == 0.0
    assert p.count_error_mean_abs == pytest.approx(4 / 3)
    assert p.count_exact_fraction == pytest.approx(1 / 3)
    d = p.to_dict()
    assert d["tp"] == 3 and d["n_recordings"] == 3 and "pairs" not in d


def test_pooling_nothing() -> None:
    p = pool_scores([])
    assert p.n_recordings == 0 and p.count_error_mean_abs is None
    assert p.scores.f1 is None and p.scores.tp == 0


def test_accepts_episodes_labels_and_pairs() -> None:
    det = [_episode(10.0, 40.0)]
    truth = [_Label(12.0, 25.0)]
    s = score_events(det, truth)
    assert s.tp == 1
    assert s.pairs[0].detected == Interval(10.0, 30.0)
    assert s.pairs[0].truth == Interval(12.0, 25.0)
    assert as_intervals([[1, 2], (3.5, 0)], where="x") == (Interval(1.0, 2.0), Interval(3.5, 0.0))


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ([(0.0, 10.0), (5.0, -1.0)], "truth[1]"),
        ([(math.nan, 10.0)], "truth[0]"),
        ([(0.0, math.inf)], "truth[0]"),
        (["abc"], "truth[0]"),
        ([(0.0, "x")], "truth[0]"),
        ([(1.0, 2.0, 3.0)], "truth[0]"),
    ],
)
def test_bad_events_raise_input_error(bad: list[object], fragment: str) -> None:
    with pytest.raises(CrampInputError, match=fragment.replace("[", r"\[")):
        score_events([], bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["min_overlap_s", "onset_tolerance_s"])
@pytest.mark.parametrize("value", [-1.0, math.nan])
def test_bad_tolerances_raise_input_error(name: str, value: float) -> None:
    with pytest.raises(CrampInputError, match=name):
        match_events([], [], **{name: value})


def _admissible(a: Interval, b: Interval, min_overlap_s: float, tol_s: float) -> bool:
    overlap = min(a.offset_s, b.offset_s) - max(a.onset_s, b.onset_s)
    return (overlap > 0 and overlap >= min_overlap_s) or abs(a.onset_s - b.onset_s) <= tol_s


def _max_pairs(det: tuple[Interval, ...], tru: tuple[Interval, ...], mo: float,
               tol: float) -> int:
    """Brute-force maximum number of disjoint admissible pairs."""
    if not det:
        return 0
    first, rest = det[0], det[1:]
    best = _max_pairs(rest, tru, mo, tol)
    for j, t in enumerate(tru):
        if _admissible(first, t, mo, tol):
            best = max(best, 1 + _max_pairs(rest, tru[:j] + tru[j + 1:], mo, tol))
    return best


_event = st.tuples(
    st.integers(min_value=0, max_value=200).map(float),
    st.integers(min_value=0, max_value=40).map(float),
)


@settings(max_examples=200, deadline=None)
@given(
    det=st.lists(_event, max_size=6),
    truth=st.lists(_event, max_size=6),
    min_overlap_s=st.sampled_from([0.0, 1.0, 5.0]),
    tol_s=st.sampled_from([0.0, 2.0, 10.0]),
)
def test_matching_properties(
    det: list[tuple[float, float]], truth: list[tuple[float, float]],
    min_overlap_s: float, tol_s: float,
) -> None:
    m = match_events(det, truth, min_overlap_s=min_overlap_s, onset_tolerance_s=tol_s)
    s = score_events(det, truth, min_overlap_s=min_overlap_s, onset_tolerance_s=tol_s)
    assert s.tp + s.fn == len(truth)
    assert s.tp + s.fp == len(det)
    assert s.f1 is None or 0.0 <= s.f1 <= 1.0
    assert (s.f1 is None) == (not det and not truth)
    # One to one, and every pair admissible.
    assert len({p.detected_index for p in m.pairs}) == len(m.pairs)
    assert len({p.truth_index for p in m.pairs}) == len(m.pairs)
    for p in m.pairs:
        assert _admissible(p.detected, p.truth, min_overlap_s, tol_s)
        assert 0.0 <= p.iou <= 1.0
    # Maximum cardinality, checked against brute force, and symmetric under swapping.
    expected = _max_pairs(m.detected, m.truth, min_overlap_s, tol_s)
    assert len(m.pairs) == expected
    swapped = match_events(truth, det, min_overlap_s=min_overlap_s, onset_tolerance_s=tol_s)
    assert len(swapped.pairs) == len(m.pairs)
    assert sorted(m.unmatched_detected + tuple(p.detected_index for p in m.pairs)) == list(
        range(len(det))
    )
