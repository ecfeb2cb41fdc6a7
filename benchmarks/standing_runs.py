"""EMG-only runs steady at the standing level: what tells a standing calf from a cramp.

    python benchmarks/standing_runs.py --seed 1 --nights 84 --without-check

Nights are drawn as in ``benchmarks/accuracy.py --sweep`` (the EMG-only nights of the mix,
as :mod:`emg_misses` draws them). For every contraction run judged by the EMG-only rule whose
judged window is steady and no stronger than the standing reference
(:meth:`~detector.pipeline.review.RunReview.steady_at_standing`), it prints what the night
model put under the window (``CRAMP``, the other events overlapped, ``lying`` in bed with
nothing else, ``up`` out of bed) and candidate measures of standing-like evidence:

- at the verdict, from what the detector holds then: ``ratio`` (median level over the standing
  reference) and ``fast`` (fast modulation), the two figures of the level-only condition;
  ``slow_h``/``slow_w``: spread of the 2-s moving mean of the log envelope over the held part
  / the whole judged window, ``fast_w``: fast modulation over the whole window; ``up_s``: how
  long before the run's start the calf was last at a standing level (a 1-s median envelope at
  or above ``--up-ratio`` x the reference; the whole 30-s look back when never); ``floor``:
  median level over the lowest settled resting level (the lying rest); ``rise_s``: seconds
  from the run's start to its median level;
- at the run's end: ``dur_s``, ``blk_sd`` (scatter of the log of its 5-s block medians after
  the first, as ``RunReview.steady_standing`` takes it), ``run_fast`` (fast modulation over
  the whole run) and ``blk/fast`` (``blk_sd`` over ``run_fast``; the rule divides by ``fast``);
- the verdict and the final fate (``--without-check``: as if runs steady at the standing level
  were kept whatever their end shows), and the night's standing tonus, sway and shift depth.

``--all`` prints every judged run, ``--csv`` writes them all. Use it on dev seeds only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from accuracy import emg_only_draws, emg_only_night  # benchmarks/accuracy.py, beside this script

from detector.config import DetectorConfig
from detector.pipeline import episodes
from detector.pipeline.activity import EmgLevel
from detector.pipeline.emg_shape import emg_shape
from detector.pipeline.review import RunReview
from detector.replay import run_source

_ROWS: list[dict[str, Any]] = []
_confirm = episodes.EpisodeDetector._maybe_confirm
_close = episodes.EpisodeDetector._close_run
_steady_standing = RunReview.steady_standing
_UP_RATIO = [0.5]


def _moving(x: np.ndarray, k: int) -> np.ndarray:
    k = max(1, min(k, x.shape[0]))
    return np.convolve(x, np.ones(k) / k, mode="valid")


def _modulation(env: np.ndarray, eps: int, smooth_s: float) -> tuple[float, float]:
    """``(fast, slow)`` of an envelope: the standard deviation of its smoothed log about its
    2-s moving mean (as :func:`~detector.pipeline.emg_shape.emg_shape`), and that of the
    2-s moving mean itself, both over the whole window."""
    logs = np.log(np.maximum(_moving(env, max(1, round(smooth_s * eps))), 1e-3))
    k2 = 2 * eps
    if logs.shape[0] <= k2:
        return 0.0, 0.0
    trend = _moving(logs, k2)
    lead = (k2 - 1) // 2
    return (float(np.std(logs[lead:lead + trend.shape[0]] - trend)), float(np.std(trend)))


def _features(det: episodes.EpisodeDetector) -> dict[str, Any] | None:
    """Candidate measures of the open run at its verdict (``None`` without a shape)."""
    assert det._run_start is not None
    stop = det._judge_from + det.min_epochs
    ev = det._evidence(det._judge_from, stop)
    if ev.shape is None or ev.tonic_ratio is None:
        return None
    v = det.config.evidence
    assert det.review is not None
    level_only = det.review.steady_at_standing(ev)
    eps = det.eps
    start = det._run_start
    first = det.history.first_epoch
    lo = max(first, start - round(episodes.CONTEXT_S * eps))
    pre = EmgLevel.resting_envelope(det.history.window(lo, start)[0]) if start > lo else np.empty(0)
    ref = det.history.tonic_ref_at(start)
    up_s = (start - lo) / eps
    if pre.size >= eps and ref > 0:
        med = np.array([np.nanmedian(pre[i:i + eps]) if np.any(~np.isnan(pre[i:i + eps]))
                        else np.nan for i in range(pre.size - eps + 1)])
        with np.errstate(invalid="ignore"):
            hits = np.flatnonzero(med >= _UP_RATIO[0] * ref)
        if hits.size:
            up_s = (pre.size - eps + 1 - hits[-1]) / eps
    env = EmgLevel.resting_envelope(det.history.window(det._judge_from, stop)[0])
    good = ~np.isnan(env)
    env = np.interp(np.arange(env.size), np.flatnonzero(good), env[good])
    sm = _moving(env, eps)
    med = float(np.median(env))
    rise = np.flatnonzero(sm >= med)
    fast_w, slow_w = _modulation(env, eps, v.smooth_s)
    held = env[int(0.4 * env.size):]
    _, slow_h = _modulation(held, eps, v.smooth_s)
    floor = det.rest_floor.at(start)
    return {"ratio": ev.tonic_ratio, "fast": ev.shape.fast_modulation, "up_s": up_s,
            "floor": med / floor if floor > 0 else float("nan"), "slow_h": slow_h,
            "fast_w": fast_w, "slow_w": slow_w, "level_only": level_only,
            "rise_s": (int(rise[0]) if rise.size else sm.size) / eps,
            "onset_s": start / eps, "at_s": det._judge_from / eps, "stop_s": stop / eps}


def _rec_confirm(self: episodes.EpisodeDetector, **kw: bool) -> list:
    judging = (self._state == "none" and self._decay_end(self._run_end) - self._judge_from
               >= self.min_epochs)
    row = _features(self) if judging and self.mode == "emg" else None
    out = _confirm(self, **kw)
    if row is not None:
        row["verdict"] = self._state
        _ROWS.append(row)
    return out


def _blocks_sd(run: np.ndarray | None, eps: int, config: DetectorConfig) -> float:
    """Scatter of a whole run's block medians as ``RunReview.shifting`` measures it (its first
    block, the rise, left out; NaN under 2 blocks after it)."""
    k = round(config.evidence.shift_block_s * eps)
    if run is None or run.shape[0] // k < 3:
        return float("nan")
    n = run.shape[0] // k
    blocks = np.nanmedian(run[k:n * k].reshape(-1, k), axis=1)
    blocks = blocks[~np.isnan(blocks)]
    return float(np.std(np.log(np.maximum(blocks, config.emg.baseline_floor_uv))))


def _rec_close(self: episodes.EpisodeDetector, *, at_stream_end: bool = False) -> list:
    assert self._run_start is not None
    start, state, n_withdrawn = self._run_start, self._state, len(self.withdrawn)
    end = self._decay_end(self._run_end)
    run = EmgLevel.resting_envelope(self.history.window(start, end)[0]) if end > start else None
    out = _close(self, at_stream_end=at_stream_end)
    for r in _ROWS:
        if r["onset_s"] == start / self.eps and "fate" not in r:
            r["dur_s"] = (end - start) / self.eps
            r["blocks_sd"] = _blocks_sd(run, self.eps, self.config)
            shape = None if run is None else emg_shape(
                run, ~np.isnan(run), eps=self.eps, smooth_s=self.config.evidence.smooth_s,
                lull_ratio=self.config.evidence.lull_ratio)
            r["run_fast"] = float("nan") if shape is None else shape.fast_modulation
            r["fate"] = ("withdrawn" if state == "withdrawn" or len(self.withdrawn) > n_withdrawn
                         else "kept" if state in ("confirmed", "reviewed") else state)
    return out


def _night(seed: int, i: int, family: str, hours: float,
           config: DetectorConfig) -> list[dict[str, Any]]:
    night, recording = emg_only_night(seed=seed, i=i, hours=hours)
    sc, fs_emg = night.scenario, night.fs_emg
    _ROWS.clear()
    run_source(recording, config=config)
    truth = night.truth
    out = []
    for r in _ROWS:
        a, b = r["at_s"], r["stop_s"]
        over = truth[(truth.onset_s < b) & (truth.onset_s + truth.duration_s > a)]
        kinds = [k for k in over.kind.tolist() if k not in ("in_bed", "sleep")]
        beds = truth[truth.kind == "in_bed"]
        in_bed = ((beds.onset_s <= a) & (beds.onset_s + beds.duration_s > a)).any()
        label = "CRAMP" if "cramp" in kinds else ",".join(
            sorted(set(kinds))) or ("lying" if in_bed else "up")
        out.append({**r, "seed": seed, "family": family, "fs": fs_emg, "label": label,
                    "tonus": sc.standing_tonic_uv, "sway_cv": sc.standing_sway_cv,
                    "shift": sc.standing_shift_depth})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Print the EMG-only runs judged on the sweep's nights with their candidate measures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nights", type=int, default=84)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--up-ratio", type=float, default=0.5,
                   help="standing level, x the standing reference (for up_s)")
    p.add_argument("--without-check", action="store_true",
                   help="keep runs confirmed steady at the standing level whatever their "
                   "end shows (fates as if the level condition were dropped)")
    p.add_argument("--all", action="store_true",
                   help="every judged run, not only those the level-only condition holds for")
    p.add_argument("--csv", help="also write every judged run to this CSV file")
    args = p.parse_args(argv)
    _UP_RATIO[0] = args.up_ratio
    config = DetectorConfig().replace(in_bed__night_window=None)
    D = episodes.EpisodeDetector
    D._maybe_confirm, D._close_run = _rec_confirm, _rec_close  # type: ignore[method-assign]
    if args.without_check:
        RunReview.steady_standing = lambda self, run_uv, fast: None  # type: ignore[method-assign]
    rows: list[dict[str, Any]] = []
    print("seed  family    fs    onset_s label            ratio  fast  slow_h fast_w slow_w "
          "up_s  floor rise_s verdict  fate       dur_s blk_sd run_fast blk/fast tonus sway shift")
    try:
        for i, family in emg_only_draws(args.nights):
            for r in _night(args.seed + i, i, family, args.hours, config):
                rows.append(r)
                if not (args.all or r["level_only"]):
                    continue
                print(f"{r['seed']:5d} {r['family']:<8} {r['fs']:4.0f} {r['onset_s']:8.1f} "
                      f"{r['label'][:16]:<16} {r['ratio']:5.2f} {r['fast']:5.2f} "
                      f"{r['slow_h']:5.2f} {r['fast_w']:5.2f} {r['slow_w']:5.2f} "
                      f"{r['up_s']:5.1f} {r['floor']:6.1f} {r['rise_s']:5.1f} "
                      f"{r['verdict']:<8} {r.get('fate', '-'):<9} {r.get('dur_s', 0):6.1f} "
                      f"{r.get('blocks_sd', 0):5.2f} {r.get('run_fast', 0):5.2f} "
                      f"{r.get('blocks_sd', 0) / r.get('run_fast', 1):5.2f} {r['tonus']:5.1f} "
                      f"{r['sway_cv']:4.2f} {r['shift']:4.2f}", flush=True)
    finally:
        D._maybe_confirm, D._close_run = _confirm, _close  # type: ignore[method-assign]
        RunReview.steady_standing = _steady_standing  # type: ignore[method-assign]
    if args.csv:
        import pandas as pd
        pd.DataFrame(rows).to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
