"""Result types of event-level scoring: intervals, matched pairs, per-recording and pooled scores.

:mod:`detector.evaluation` matches detected episodes to labelled ones and fills these in; each
has a ``to_dict`` giving its JSON-ready form (what ``cramp eval --json`` writes). Times are
seconds from the recording start; ratios that are undefined (zero denominator) are ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ErrorStats", "EventScores", "Interval", "MatchedPair", "Matching", "PooledScores"]


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


def _stats_dict(stats: ErrorStats | None) -> dict[str, float | int] | None:
    return None if stats is None else stats.to_dict()
