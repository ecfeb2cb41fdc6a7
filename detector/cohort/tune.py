"""``cramp tune``: every (parameter set x night) one task; scored against labels; by night CV.

Nights are split by their content hash (seeded), never by path or order, so the split is the
same wherever the nights live. With a hold-out share, sets are ranked on the tuning nights
and the best one is then scored on the held-out nights beside the starting set: that second
figure is the one to quote. With ``folds`` (cross-validation by night) each fold's nights are
scored with the set chosen on the other folds; the pooled out-of-fold F1 estimates what the
tuning procedure gives on nights it has not seen. Replays go through the same per-night result
files as ``cramp batch`` (OUT/nights/), so an interrupted search resumes; nothing is written to
the sleeper's episode store.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detector.cohort.batch import content_hashes
from detector.cohort.engine import Engine, map_unordered, progress_bar
from detector.cohort.night_task import ReplayOptions, parameter_hash, replay_config_task
from detector.cohort.results import ResultStore
from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.evaluation import pool_scores, score_events
from detector.evaluation_types import EventScores, Interval


@dataclass(frozen=True, kw_only=True)
class LabelledNight:
    """A recording with its labelled cramps."""

    path: str
    truth: tuple[Interval, ...]


@dataclass(frozen=True, kw_only=True)
class SetScore:
    """Pooled scores of one parameter set over some nights."""

    f1: float | None
    precision: float | None
    recall: float | None
    onset_mae_s: float | None
    duration_mae_s: float | None
    false_per_night: float
    tp: int
    fp: int
    fn: int
    nights: int

    def key(self) -> tuple[float, float, float]:
        """Sort key: higher F1, then fewer false episodes, then smaller onset error."""
        return (-(self.f1 if self.f1 is not None else -1.0), self.false_per_night,
                self.onset_mae_s if self.onset_mae_s is not None else math.inf)


@dataclass(kw_only=True)
class TuneResult:
    """Everything ``cramp tune`` reports."""

    sets: list[tuple[dict[str, Any], DetectorConfig]]
    hashes: list[str]
    tuning: list[SetScore]
    heldout: list[SetScore] | None
    order: list[int]
    best: int
    n_tuning_nights: int
    n_heldout_nights: int
    cv_best: SetScore | None = None
    cv_start: SetScore | None = None
    folds: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    replayed: int = 0
    reused: int = 0
    elapsed_s: float = 0.0


def pooled(scores: Sequence[EventScores]) -> SetScore:
    """Pool per-night scores into a :class:`SetScore`."""
    p = pool_scores(list(scores)).scores
    n = len(scores)
    return SetScore(
        f1=p.f1, precision=p.precision, recall=p.recall,
        onset_mae_s=None if p.onset_error_s is None else p.onset_error_s.mean_abs,
        duration_mae_s=None if p.duration_error_s is None else p.duration_error_s.mean_abs,
        false_per_night=p.fp / n if n else 0.0, tp=p.tp, fp=p.fp, fn=p.fn, nights=n)


def split_nights(shas: Sequence[str], *, holdout: float, folds: int, seed: int
                 ) -> list[int]:
    """Fold of each night (by position in ``shas``): 0 = tuning, 1 = held out, or 0..k-1.

    The assignment depends only on the content hashes and the seed.
    """
    order = sorted(range(len(shas)), key=lambda i: shas[i])
    perm = np.random.default_rng(seed).permutation(len(order))
    ranked = [order[j] for j in perm]
    fold = [0] * len(shas)
    if folds >= 2:
        for pos, i in enumerate(ranked):
            fold[i] = pos % folds
        return fold
    n_out = round(holdout * len(shas))
    if holdout > 0:
        n_out = min(max(n_out, 1), len(shas) - 1)
    for i in ranked[:n_out]:
        fold[i] = 1
    return fold


def run_tune(nights: list[LabelledNight], sets: list[tuple[dict[str, Any], DetectorConfig]],
             *, out_dir: Path, options: ReplayOptions, engine: Engine, holdout: float,
             folds: int, seed: int, min_overlap_s: float, onset_tolerance_s: float,
             progress: bool = True) -> TuneResult:
    """Replay every set on every night (resumably), score, rank, cross-validate.

    Raises
    ------
    CrampInputError
        If too few nights remain to tune and hold out.
    """
    t0 = time.perf_counter()
    store = ResultStore(out_dir.absolute())
    failed: dict[str, str] = {}
    shas_by_path = content_hashes([n.path for n in nights], store, engine, failed)
    nights = [n for n in nights if n.path in shas_by_path]
    if len(nights) < 2:
        raise CrampInputError("FILE", f"need at least 2 readable labelled nights, got "
                                      f"{len(nights)}")
    if folds > len(nights):
        raise CrampInputError("--folds", f"{folds} folds for {len(nights)} nights")
    shas = [shas_by_path[n.path] for n in nights]
    hashes = [parameter_hash(cfg, options) for _, cfg in sets]
    detected: dict[tuple[int, int], tuple[Interval, ...]] = {}
    todo = []
    reused = 0
    for s, ph in enumerate(hashes):
        for j, sha in enumerate(shas):
            rec = store.read(sha, ph)
            if rec is None:
                todo.append((s, j))
            else:
                detected[(s, j)] = _intervals(rec)
                reused += 1
    bar = progress_bar(len(todo), desc="tune") if progress and todo else None
    for (s, j), out in map_unordered(engine, replay_config_task, todo,
                                     args_of=lambda t: (nights[t[1]].path, sets[t[0]][1],
                                                        options),
                                     kwargs={}, name="cramp-tune"):
        if "result" in out:
            store.write(shas[j], hashes[s], out["result"])
            detected[(s, j)] = _intervals(out["result"])
        else:
            failed[nights[j].path] = out["error"]
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    # A night that failed under any set is left out of every score (same nights for all).
    keep = [j for j in range(len(nights))
            if nights[j].path not in failed and all((s, j) in detected
                                                    for s in range(len(sets)))]
    if len(keep) < 2:
        raise CrampInputError("FILE", "fewer than 2 nights could be replayed; see failures")
    fold = split_nights([shas[j] for j in keep], holdout=holdout, folds=folds, seed=seed)
    scores = {(s, j): score_events(detected[(s, j)], nights[j].truth,
                                   min_overlap_s=min_overlap_s,
                                   onset_tolerance_s=onset_tolerance_s)
              for s in range(len(sets)) for j in keep}

    def score_on(s: int, members: list[int]) -> SetScore:
        return pooled([scores[(s, keep[m])] for m in members])

    def rank(members: list[int]) -> list[int]:
        return sorted(range(len(sets)), key=lambda s: (*score_on(s, members).key(), s))

    result = TuneResult(sets=sets, hashes=hashes, tuning=[], heldout=None, order=[], best=0,
                        n_tuning_nights=0, n_heldout_nights=0, folds=folds,
                        failures=sorted(failed.items()), replayed=len(todo), reused=reused)
    if folds >= 2:
        members = list(range(len(keep)))
        out_of_fold: dict[str, list[EventScores]] = {"best": [], "start": []}
        for f in range(folds):
            train = [m for m in members if fold[m] != f]
            test = [m for m in members if fold[m] == f]
            chosen = rank(train)[0]
            out_of_fold["best"] += [scores[(chosen, keep[m])] for m in test]
            out_of_fold["start"] += [scores[(0, keep[m])] for m in test]
        result.cv_best = pooled(out_of_fold["best"])
        result.cv_start = pooled(out_of_fold["start"])
        tuning = members
        result.n_tuning_nights = len(members)
    else:
        tuning = [m for m in range(len(keep)) if fold[m] == 0]
        held = [m for m in range(len(keep)) if fold[m] == 1]
        result.n_tuning_nights, result.n_heldout_nights = len(tuning), len(held)
        if held:
            result.heldout = [score_on(s, held) for s in range(len(sets))]
    result.tuning = [score_on(s, tuning) for s in range(len(sets))]
    result.order = rank(tuning)
    result.best = result.order[0]
    result.elapsed_s = time.perf_counter() - t0
    return result


def _intervals(rec: dict[str, Any]) -> tuple[Interval, ...]:
    return tuple(Interval(float(e["onset_s"]), float(e["duration_s"]))
                 for e in rec["episodes"])


TUNE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("rank", "int64"), ("set", "int64"), ("f1", "float64"), ("precision", "float64"),
    ("recall", "float64"), ("onset_mae_s", "float64"), ("duration_mae_s", "float64"),
    ("false_per_night", "float64"), ("tp", "int64"), ("fp", "int64"), ("fn", "int64"),
    ("nights", "int64"), ("heldout_f1", "float64"), ("heldout_precision", "float64"),
    ("heldout_recall", "float64"), ("heldout_false_per_night", "float64"),
    ("parameters", "string"), ("parameter_hash", "string"), ("detector_version", "string"),
)
"""Columns of the tune table (one row per parameter set, best first)."""


def table_rows(res: TuneResult) -> list[dict[str, Any]]:
    """Rows of the tune table, in rank order."""
    from detector import __version__

    rows = []
    for rank_, s in enumerate(res.order, 1):
        t = res.tuning[s]
        h = res.heldout[s] if res.heldout is not None else None
        rows.append({
            "rank": rank_, "set": s, "f1": t.f1, "precision": t.precision, "recall": t.recall,
            "onset_mae_s": t.onset_mae_s, "duration_mae_s": t.duration_mae_s,
            "false_per_night": t.false_per_night, "tp": t.tp, "fp": t.fp, "fn": t.fn,
            "nights": t.nights,
            "heldout_f1": h.f1 if h else None, "heldout_precision": h.precision if h else None,
            "heldout_recall": h.recall if h else None,
            "heldout_false_per_night": h.false_per_night if h else None,
            "parameters": describe(res.sets[s][0]), "parameter_hash": res.hashes[s],
            "detector_version": __version__,
        })
    return rows


def describe(overrides: dict[str, Any]) -> str:
    """``key=value; ...`` or ``(starting set)``."""
    return "; ".join(f"{k}={v}" for k, v in overrides.items()) or "(starting set)"
