"""EMG-only missed cramps, one by one: how strong each was and what became of it.

    python benchmarks/emg_misses.py --seed 1 --nights 84

Nights are drawn as in ``benchmarks/accuracy.py --sweep`` (night ``i`` has seed ``seed + i``,
family ``FAMILIES[i % 7]``); only the EMG-only nights of the mix are run, as replay runs them.
For every cramp of the truth table that no episode matched it prints the family, the cramp's
synthesised level against the night's resting level and standing tonus (scenario) and against
what the detector saw (median envelope over the cramp, resting level and standing reference at
its onset, fraction of its epochs above the activity threshold), and the fate of every
contraction run that overlapped it: never judged (shorter than the minimum), rejected (each
failed condition of the verdict named), withdrawn (the reason) or kept (an episode that did
not match, e.g. its onset more than the tolerance away). No run at all: never active. Use it
on dev seeds only.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from accuracy import (  # benchmarks/accuracy.py, beside this script
    emg_only_draws,
    emg_only_night,
    run_fate,
    score_cramps,
)

from detector.config import DetectorConfig
from detector.pipeline import episodes
from detector.pipeline.activity import EmgLevel
from detector.replay import run_source

_RUNS: list[dict[str, Any]] = []
_EPOCHS: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
_push = episodes.EpisodeDetector.push
_confirm = episodes.EpisodeDetector._maybe_confirm
_close = episodes.EpisodeDetector._close_run


def _verdict(det: episodes.EpisodeDetector) -> list[str]:
    """The conditions of the verdict (``_maybe_confirm`` and ``EmgRule.plausible``) that the
    open run failed, named with their figures."""
    assert det._run_start is not None
    v, p = det.config.evidence, det.config.episode
    stop = det._judge_from + det.min_epochs
    ev = det._evidence(det._judge_from, stop)
    rule = det.rule
    failed = []
    if det._run_start - det._last_episode_end < det.aftermath:
        failed.append("aftermath")
    if ev.duty < p.min_duty or ev.duty < v.emg_only_min_duty:
        failed.append(f"duty {ev.duty:.2f}")
    if not ev.rested_before:
        failed.append("not rested since last judged run")
    if not rule._clear_of_standing(ev):  # type: ignore[attr-defined]
        mod = "-" if ev.shape is None else f"{ev.shape.fast_modulation:.2f}"
        tr = "-" if ev.tonic_ratio is None else f"{ev.tonic_ratio:.2f}"
        failed.append(f"weak (strong duty {ev.strong_duty:.2f}, tonic ratio {tr}, "
                      f"fast mod {mod}, at {ev.recorded_s:.0f} s)")
    if ev.shape is not None:
        s = ev.shape
        if rule._rhythmic(ev):  # type: ignore[attr-defined]
            failed.append(f"rhythm {s.rhythm:.2f}")
        if s.lull_fraction > v.max_lull_fraction:
            failed.append(f"lulls {s.lull_fraction:.2f}")
        if s.burst_excess > v.max_burst_excess:
            failed.append(f"burst excess {s.burst_excess:.2f}")
    conf = rule.confidence(ev, det.min_epochs / det.eps)
    if conf < p.min_confidence:
        failed.append(f"confidence {conf:.2f}")
    return failed


def _rec_push(self: episodes.EpisodeDetector, f: Any) -> list:
    out = _push(self, f)
    h = self.history.chunks[-1]
    _EPOCHS.append((EmgLevel.resting_envelope(h.features), h.rest_uv, h.tonic_ref_uv, h.strong))
    return out


def _rec_confirm(self: episodes.EpisodeDetector, **kw: bool) -> list:
    judging = (self._state == "none" and self._decay_end(self._run_end) - self._judge_from
               >= self.min_epochs)
    failed = _verdict(self) if judging else []
    out = _confirm(self, **kw)
    if judging:
        self._diag_failed = failed  # type: ignore[attr-defined]
    return out


def _rec_close(self: episodes.EpisodeDetector, *, at_stream_end: bool = False) -> list:
    assert self._run_start is not None
    start, end, state = self._run_start, self._decay_end(self._run_end), self._state
    n_withdrawn = len(self.withdrawn)
    out = _close(self, at_stream_end=at_stream_end)
    fate = run_fate(self, state=state, n_withdrawn=n_withdrawn, onset_epoch=start,
                    rejected_why=", ".join(getattr(self, "_diag_failed", [])))
    _RUNS.append({"start_s": start / self.eps, "end_s": end / self.eps, "fate": fate})
    return out


def _night(seed: int, i: int, family: str, hours: float,
           config: DetectorConfig) -> list[dict[str, Any]]:
    night, recording = emg_only_night(seed=seed, i=i, hours=hours)
    sc, fs_emg = night.scenario, night.fs_emg
    _RUNS.clear()
    _EPOCHS.clear()
    result = run_source(recording, config=config)
    env, base, ref, strong = (np.concatenate([e[j] for e in _EPOCHS]) for j in range(4))
    eps = round(1.0 / config.epoch_s)
    cramps, s = score_cramps(night, result)
    found = {p.truth_index for p in s.pairs}
    rows = []
    for i_c, c in cramps.iterrows():
        if i_c in found:
            continue
        a, b = c.onset_s, c.onset_s + c.duration_s
        ka, kb = int(a * eps), min(int(b * eps), env.shape[0])
        runs = [r for r in _RUNS if r["start_s"] < b and r["end_s"] > a]
        fates = [f"{r['start_s'] - a:+.1f} s +{r['end_s'] - r['start_s']:.1f} s {r['fate']}"
                 for r in runs]
        rows.append({
            "seed": seed, "family": family, "fs": fs_emg, "onset_s": a, "dur_s": c.duration_s,
            "posture": c.posture, "emg_uv": c.emg_uv, "rest_uv": sc.rest_emg_uv_rms,
            "tonus_uv": sc.standing_tonic_uv, "env_uv": float(np.nanmedian(env[ka:kb])),
            "base_uv": float(base[ka]), "ref_uv": float(ref[ka]),
            "strong": float(np.mean(strong[ka:kb])),
            "fates": fates or ["never active"],
            "cause": runs[0]["fate"].split(":")[0].split(" (")[0] if runs else "never active"})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Print every missed cramp of the sweep's EMG-only nights and what became of it."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nights", type=int, default=84)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hours", type=float, default=1.0)
    args = p.parse_args(argv)
    config = DetectorConfig().replace(in_bed__night_window=None)
    D = episodes.EpisodeDetector
    D.push, D._maybe_confirm, D._close_run = (  # type: ignore[method-assign]
        _rec_push, _rec_confirm, _rec_close)
    causes: Counter[str] = Counter()
    try:
        for i, family in emg_only_draws(args.nights):
            for r in _night(args.seed + i, i, family, args.hours, config):
                causes[f"{r['family']}: {r['cause']}"] += 1
                print(f"seed {r['seed']:5d} {r['family']:<8} {r['fs']:4.0f} Hz "
                      f"{r['onset_s']:7.1f} s +{r['dur_s']:5.1f} s {r['posture']:<10} "
                      f"cramp {r['emg_uv']:6.1f} uV (rest {r['rest_uv']:.1f}, tonus "
                      f"{r['tonus_uv']:.1f}) | seen {r['env_uv']:6.1f} uV, base "
                      f"{r['base_uv']:.1f}, ref {r['ref_uv']:.1f}, above thr "
                      f"{r['strong']:.2f}", flush=True)
                for fate in r["fates"]:
                    print(f"        {fate}", flush=True)
    finally:
        D.push, D._maybe_confirm, D._close_run = (  # type: ignore[method-assign]
            _push, _confirm, _close)
    print("causes: " + (", ".join(f"{k} {n}" for k, n in causes.most_common()) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
