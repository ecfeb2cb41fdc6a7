"""Event-level scoring of detected cramp episodes against labelled ones.

Every function here is pure and works on lists of intervals in seconds from the recording
start. Detected episodes and labelled events are given as objects with ``onset_s`` and
``duration_s`` attributes (:class:`~detector.episode.Episode`, ``LabelEvent``) or as
``(onset_s, duration_s)`` pairs.

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
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from detector.errors import CrampInputError

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


@dataclass(frozen=True)
class Interval:
    """One event as a time interval.

    Attributes
    ----------
    onset_s : float
        Start, seconds from the recording start.
    duration_s : float
        Length in seconds (>= 0).
    """

    onset_s: float
    duration_s: float

    @property
    def offset_s(self) -> float:
        """End, seconds from the recording start."""
        return self.onset_s + self.duration_s

    def to_dict(self) -> dict[str, float]:
        """Return ``{"onset_s", "duration_s", "offset_s"}`` as plain floats."""
        return {"onset_s": self.onset_s, "duration_s": self.duration_s,
                "offset_s": self.offset_s}


@dataclass(frozen=True, kw_only=True)
class MatchedPair:
    """A detection paired with a labelled event.

    Attributes
    ----------
    detected_index, truth_index : int
        Positions of the two events in the lists given to :func:`match_events`.
    detected, truth : Interval
        The two events.
    overlap_s : float
        Length of their intersection (s), 0 when they were paired by onset only.
    iou : float
        Intersection over union, in [0, 1].
    """

    detected_index: int
    truth_index: int
    detected: Interval
    truth: Interval
    overlap_s: float
    iou: float

    @property
    def onset_error_s(self) -> float:
        """Detected minus labelled onset (s); positive means the detection started late."""
        return self.detected.onset_s - self.truth.onset_s

    @property
    def offset_error_s(self) -> float:
        """Detected minus labelled offset (s); positive means the detection ended late."""
        return self.detected.offset_s - self.truth.offset_s

    @property
    def duration_error_s(self) -> float:
        """Detected minus labelled duration (s)."""
        return self.detected.duration_s - self.truth.duration_s

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the pair."""
        return {
            "detected": self.detected.to_dict(),
            "truth": self.truth.to_dict(),
            "overlap_s": self.overlap_s,
            "iou": self.iou,
            "onset_error_s": self.onset_error_s,
            "duration_error_s": self.duration_error_s,
        }


@dataclass(frozen=True, kw_only=True)
class Matching:
    """Result of :func:`match_events`.

    Attributes
    ----------
    detected, truth : tuple of Interval
        The normalised input events, in the order given.
    pairs : tuple of MatchedPair
        Matched pairs, in truth onset order.
    unmatched_detected, unmatched_truth : tuple of int
        Indices (into ``detected`` / ``truth``) of the events left unpaired, ascending.
    """

    detected: tuple[Interval, ...]
    truth: tuple[Interval, ...]
    pairs: tuple[MatchedPair, ...]
    unmatched_detected: tuple[int, ...]
    unmatched_truth: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class ErrorStats:
    """Summary of signed errors (detected minus labelled) over matched pairs.

    Attributes
    ----------
    mean_signed : float
        Mean error (bias).
    mean_abs : float
        Mean absolute error.
    median_abs : float
        Median absolute error.
    max_abs : float
        Largest absolute error.
    n : int
        Number of pairs summarised.
    """

    mean_signed: float
    mean_abs: float
    median_abs: float
    max_abs: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        """JSON-ready form."""
        return {"mean_signed": self.mean_signed, "mean_abs": self.mean_abs,
                "median_abs": self.median_abs, "max_abs": self.max_abs, "n": self.n}


@dataclass(frozen=True, kw_only=True)
class EventScores:
    """Event-level scores of one recording (or several pooled).

    Attributes
    ----------
    n_truth, n_detected : int
        Number of labelled and detected events.
    tp, fp, fn : int
        Matched pairs, unmatched detections, unmatched labelled events.
    precision, recall, f1 : float or None
        ``None`` where the denominator is zero (see the module notes).
    onset_error_s, offset_error_s, duration_error_s : ErrorStats or None
        Errors in seconds over the matched pairs; ``None`` without pairs.
    duration_error_rel : ErrorStats or None
        Duration error divided by the labelled duration (unitless), over pairs whose labelled
        duration is positive; ``None`` if there are none.
    pairs : tuple of MatchedPair
        The matched pairs.
    unmatched_detected, unmatched_truth : tuple of Interval
        The false-positive detections and the missed labelled events.
    """

    n_truth: int
    n_detected: int
    tp: int
    fp: int
    fn: int
    precision: float | None
    recall: float | None
    f1: float | None
    onset_error_s: ErrorStats | None
    offset_error_s: ErrorStats | None
    duration_error_s: ErrorStats | None
    duration_error_rel: ErrorStats | None
    pairs: tuple[MatchedPair, ...]
    unmatched_detected: tuple[Interval, ...]
    unmatched_truth: tuple[Interval, ...]

    def to_dict(self, *, include_events: bool = True) -> dict[str, Any]:
        """JSON-ready form; ``include_events`` adds the pairs and unmatched events."""
        out: dict[str, Any] = {
            "n_truth": self.n_truth, "n_detected": self.n_detected,
            "tp": self.tp, "fp": self.fp, "fn": self.fn,
            "precision": self.precision, "recall": self.recall, "f1": self.f1,
            "onset_error_s": _stats_dict(self.onset_error_s),
            "offset_error_s": _stats_dict(self.offset_error_s),
            "duration_error_s": _stats_dict(self.duration_error_s),
            "duration_error_rel": _stats_dict(self.duration_error_rel),
        }
        if include_events:
            out["pairs"] = [p.to_dict() for p in self.pairs]
            out["unmatched_detected"] = [e.to_dict() for e in self.unmatched_detected]
            out["unmatched_truth"] = [e.to_dict() for e in self.unmatched_truth]
        return out


@dataclass(frozen=True, kw_only=True)
class PooledScores:
    """Scores micro-averaged over recordings, with per-night count agreement.

    Attributes
    ----------
    scores : EventScores
        Counts summed over recordings; ratios and error statistics computed from the sums and
        from all matched pairs together (micro-average).
    n_recordings : int
        Number of recordings pooled.
    count_error_mean : float or None
        Mean of (detected count - labelled count) per recording; ``None`` for no recordings.
    count_error_mean_abs : float or None
        Mean absolute per-recording count error.
    count_exact_fraction : float or None
        Fraction of recordings whose detected count equals the labelled count.
    """

    scores: EventScores
    n_recordings: int
    count_error_mean: float | None
    count_error_mean_abs: float | None
    count_exact_fraction: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the individual events)."""
        return {
            "n_recordings": self.n_recordings,
            "count_error_mean": self.count_error_mean,
            "count_error_mean_abs": self.count_error_mean_abs,
            "count_exact_fraction": self.count_exact_fraction,
            **self.scores.to_dict(include_events=False),
        }


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


def _stats_dict(stats: ErrorStats | None) -> dict[str, float | int] | None:
    return None if stats is None else stats.to_dict()


def _check_tolerance(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise CrampInputError(name, f"expected a finite number of seconds >= 0, got {value!r}")
