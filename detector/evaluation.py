"""Event-level scoring of detected cramp episodes against labelled ones.

Every function here is pure and works on lists of intervals in seconds from the recording
start. Detected episodes and labelled events are given as objects with ``onset_s`` and
``duration_s`` attributes (:class:`~detector.episode.Episode`, ``LabelEvent``) or as
``(onset_s, duration_s)`` pairs. The results (:class:`~detector.evaluation_types.Matching`,
:class:`~detector.evaluation_types.EventScores`, ...) are :mod:`detector.evaluation_types`.

Matching rule
-------------
A detection and a labelled event form an *admissible* pair when the two intervals overlap by
at least ``min_overlap_s`` seconds (and by more than zero), or when their onsets differ by at
most ``onset_tolerance_s`` seconds. Among admissible pairs a one-to-one matching is chosen
that

1. has as many pairs as possible (so a detection spanning two labelled cramps matches one of
   them, and the other counts as missed), then
2. has the largest total intersection-over-union (IoU) of the paired intervals, then
3. has the closest onsets.

The three levels are folded into one weight per pair and solved exactly with
:func:`scipy.optimize.linear_sum_assignment` (the Hungarian method). This is the same spirit
as sed_eval's event-based metrics (onset collar, one-to-one assignment) and YASA's
``compare_detection`` (onset distance), with overlap as a second way to qualify because cramp
onsets are gradual and a labeller's onset can differ from the detector's by several seconds.
The number of pairs does not depend on which side is called "detected": swapping the two
lists gives the same true-positive count.

Counts follow the usual event-detection definitions: a matched pair is a true positive (TP),
an unmatched detection a false positive (FP), an unmatched labelled event a false negative
(FN); precision = TP / (TP + FP), recall = TP / (TP + FN) and F1 = TP / (TP + (FP + FN) / 2).
A ratio whose denominator is zero (no detections, no labels, or neither) is reported as
``None``: it is undefined, not zero. With no labels and some detections F1 is 0; with neither
it is ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from detector.errors import CrampInputError
from detector.evaluation_types import (
    ErrorStats,
    EventScores,
    Interval,
    MatchedPair,
    Matching,
    PooledScores,
)

DEFAULT_MIN_OVERLAP_S: float = 1.0
"""Default overlap (s) that makes a detection and a labelled cramp an admissible pair."""
DEFAULT_ONSET_TOLERANCE_S: float = 5.0
"""Default onset difference (s) up to which a pair is admissible even without overlap."""

_ONSET_TIE_WEIGHT = 1e-3


class _HasOnsetDuration(Protocol):
    @property
    def onset_s(self) -> float: ...

    @property
    def duration_s(self) -> float: ...


EventLike = _HasOnsetDuration | tuple[float, float]
"""An object with ``onset_s`` and ``duration_s`` (seconds), or an ``(onset_s, duration_s)``."""



def as_intervals(events: Sequence[EventLike], *, where: str) -> tuple[Interval, ...]:
    """Normalise events to :class:`Interval` values.

    Parameters
    ----------
    events : sequence
        Objects with ``onset_s`` and ``duration_s`` (s), or ``(onset_s, duration_s)`` pairs.
    where : str
        Name of the list, used in error messages (e.g. ``"truth"``).

    Returns
    -------
    tuple of Interval
        One interval per event, in the order given.

    Raises
    ------
    CrampInputError
        If an event has no onset/duration, a non-finite value or a negative duration.
    """
    out: list[Interval] = []
    for i, event in enumerate(events):
        if hasattr(event, "onset_s") and hasattr(event, "duration_s"):
            raw_onset, raw_duration = event.onset_s, event.duration_s
        elif isinstance(event, tuple | list) and len(event) == 2:
            raw_onset, raw_duration = event
        else:
            raise CrampInputError(
                f"{where}[{i}]", "expected an object with onset_s and duration_s or a pair"
            )
        try:
            onset_s, duration_s = float(raw_onset), float(raw_duration)
        except (TypeError, ValueError):
            raise CrampInputError(
                f"{where}[{i}]", "onset and duration must be numbers (seconds)"
            ) from None
        if not (math.isfinite(onset_s) and math.isfinite(duration_s)):
            raise CrampInputError(f"{where}[{i}]", "onset and duration must be finite")
        if duration_s < 0:
            raise CrampInputError(
                f"{where}[{i}]", f"duration must be >= 0 s, got {duration_s:g}"
            )
        out.append(Interval(onset_s, duration_s))
    return tuple(out)


def match_events(
    detected: Sequence[EventLike],
    truth: Sequence[EventLike],
    *,
    min_overlap_s: float = DEFAULT_MIN_OVERLAP_S,
    onset_tolerance_s: float = DEFAULT_ONSET_TOLERANCE_S,
) -> Matching:
    """Pair detections with labelled events one to one (see the module notes for the rule).

    Parameters
    ----------
    detected, truth : sequence
        Events as objects with ``onset_s``/``duration_s`` or ``(onset_s, duration_s)`` pairs.
    min_overlap_s : float
        Overlap (s, >= 0) from which a pair is admissible; any positive overlap if 0.
    onset_tolerance_s : float
        Onset difference (s, >= 0) up to which a pair is admissible without overlap.

    Returns
    -------
    Matching
        The pairs (most pairs, then largest total IoU, then closest onsets) and the rest.
    """
    _check_tolerance("min_overlap_s", min_overlap_s)
    _check_tolerance("onset_tolerance_s", onset_tolerance_s)
    det = as_intervals(detected, where="detected")
    tru = as_intervals(truth, where="truth")
    pairs: list[MatchedPair] = []
    if det and tru:
        d_on = np.array([e.onset_s for e in det])[:, None]
        d_off = np.array([e.offset_s for e in det])[:, None]
        t_on = np.array([e.onset_s for e in tru])[None, :]
        t_off = np.array([e.offset_s for e in tru])[None, :]
        overlap = np.maximum(np.minimum(d_off, t_off) - np.maximum(d_on, t_on), 0.0)
        union = np.maximum(d_off, t_off) - np.minimum(d_on, t_on)
        iou = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)
        onset_diff = np.abs(d_on - t_on)
        admissible = ((overlap > 0) & (overlap >= min_overlap_s)) | (
            onset_diff <= onset_tolerance_s
        )
        # Per-pair tie-breaker in [0, 1 + 1e-3]; the constant on admissible pairs exceeds the
        # largest possible sum of tie-breakers, so the pair count is maximised first.
        tie = iou + _ONSET_TIE_WEIGHT / (1.0 + onset_diff)
        big = 2.0 * (min(len(det), len(tru)) + 1)
        weight = np.where(admissible, big + tie, 0.0)
        from scipy.optimize import linear_sum_assignment  # on use: slow to import

        rows, cols = linear_sum_assignment(weight, maximize=True)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if admissible[r, c]:
                pairs.append(MatchedPair(
                    detected_index=r, truth_index=c, detected=det[r], truth=tru[c],
                    overlap_s=float(overlap[r, c]), iou=float(iou[r, c]),
                ))
    pairs.sort(key=lambda p: (p.truth.onset_s, p.truth_index))
    used_det = {p.detected_index for p in pairs}
    used_tru = {p.truth_index for p in pairs}
    return Matching(
        detected=det,
        truth=tru,
        pairs=tuple(pairs),
        unmatched_detected=tuple(i for i in range(len(det)) if i not in used_det),
        unmatched_truth=tuple(i for i in range(len(tru)) if i not in used_tru),
    )


def score_events(
    detected: Sequence[EventLike],
    truth: Sequence[EventLike],
    *,
    min_overlap_s: float = DEFAULT_MIN_OVERLAP_S,
    onset_tolerance_s: float = DEFAULT_ONSET_TOLERANCE_S,
) -> EventScores:
    """Match detections to labelled events and score them.

    Parameters
    ----------
    detected, truth : sequence
        Events as objects with ``onset_s``/``duration_s`` or ``(onset_s, duration_s)`` pairs.
    min_overlap_s, onset_tolerance_s : float
        Matching tolerances in seconds, as in :func:`match_events`.

    Returns
    -------
    EventScores
        Counts, precision/recall/F1 and timing errors of one recording.
    """
    m = match_events(detected, truth, min_overlap_s=min_overlap_s,
                     onset_tolerance_s=onset_tolerance_s)
    return _scores_from(
        n_truth=len(m.truth),
        n_detected=len(m.detected),
        pairs=m.pairs,
        unmatched_detected=tuple(m.detected[i] for i in m.unmatched_detected),
        unmatched_truth=tuple(m.truth[i] for i in m.unmatched_truth),
    )


def pool_scores(scores: Sequence[EventScores]) -> PooledScores:
    """Micro-average per-recording scores and measure per-night count agreement.

    Parameters
    ----------
    scores : sequence of EventScores
        One entry per recording.

    Returns
    -------
    PooledScores
        Summed counts with ratios from the sums, error statistics over all pairs, and the
        mean (absolute) difference between detected and labelled counts per recording.
    """
    pooled = _scores_from(
        n_truth=sum(s.n_truth for s in scores),
        n_detected=sum(s.n_detected for s in scores),
        pairs=tuple(p for s in scores for p in s.pairs),
        unmatched_detected=tuple(e for s in scores for e in s.unmatched_detected),
        unmatched_truth=tuple(e for s in scores for e in s.unmatched_truth),
    )
    count_err = np.array([s.n_detected - s.n_truth for s in scores], dtype=float)
    if count_err.size == 0:
        return PooledScores(scores=pooled, n_recordings=0, count_error_mean=None,
                            count_error_mean_abs=None, count_exact_fraction=None)
    return PooledScores(
        scores=pooled,
        n_recordings=int(count_err.size),
        count_error_mean=float(np.mean(count_err)),
        count_error_mean_abs=float(np.mean(np.abs(count_err))),
        count_exact_fraction=float(np.mean(count_err == 0)),
    )


def _scores_from(
    *,
    n_truth: int,
    n_detected: int,
    pairs: tuple[MatchedPair, ...],
    unmatched_detected: tuple[Interval, ...],
    unmatched_truth: tuple[Interval, ...],
) -> EventScores:
    tp = len(pairs)
    fp = n_detected - tp
    fn = n_truth - tp
    rel = [p.duration_error_s / p.truth.duration_s for p in pairs if p.truth.duration_s > 0]
    return EventScores(
        n_truth=n_truth,
        n_detected=n_detected,
        tp=tp,
        fp=fp,
        fn=fn,
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        f1=_ratio(tp, tp + (fp + fn) / 2),
        onset_error_s=_error_stats([p.onset_error_s for p in pairs]),
        offset_error_s=_error_stats([p.offset_error_s for p in pairs]),
        duration_error_s=_error_stats([p.duration_error_s for p in pairs]),
        duration_error_rel=_error_stats(rel),
        pairs=pairs,
        unmatched_detected=unmatched_detected,
        unmatched_truth=unmatched_truth,
    )


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else float(num) / float(den)


def _error_stats(errors: Sequence[float]) -> ErrorStats | None:
    if not errors:
        return None
    e = np.asarray(errors, dtype=float)
    a = np.abs(e)
    return ErrorStats(mean_signed=float(np.mean(e)), mean_abs=float(np.mean(a)),
                      median_abs=float(np.median(a)), max_abs=float(np.max(a)), n=int(e.size))




def _check_tolerance(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise CrampInputError(name, f"expected a finite number of seconds >= 0, got {value!r}")

