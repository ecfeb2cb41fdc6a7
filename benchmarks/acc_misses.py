"""Missed cramps of the sweep's accelerometer-carrying nights (``acc`` and ``emg+acc``), each
with the stage of the detector that dropped it.

    python benchmarks/acc_misses.py --seed 1 --nights 84 [--all] [--only acc]

Nights are drawn as in ``benchmarks/accuracy.py --sweep`` (:func:`accuracy.sweep_draw`: night
``i`` has seed ``seed + i``, its family, mode and rates); only the nights whose mode carries
accelerometers are run. For every missed cramp it prints what was synthesised (duration,
posture, EMG and tremor strength), the fraction of the cramp's epochs that passed each part
of the active decision (EMG over the activity / corroborated threshold, calf tremor over its
full / corroborated criterion, foot seen pointed, ankle pull, lying on a side with the angle
unseen, gross movement, upright, the EMG rest veto of the accelerometer case, the rule's
active flag, the run flag with the tremor hold), then every contraction run over it and its
fate, with the stage that dropped it and the values against their thresholds:

- ``never active``: no run; the part fractions say which evidence was missing;
- ``too short``: the run closed before its judged window reached ``episode.min_duration_s``
  (the run's extent from its first active epoch and from its refined onset are printed, and
  the lull that closed it against ``episode.max_dip_s``, or ``episode.held_max_dip_s`` where
  the foot stayed held, ``episode.confirmed_held_dip_s`` once the run was confirmed: a lull
  just over it is a *merge* failure, the cramp cut in two);
- ``rejected``: the verdict on its first ``min_duration_s``: duty against
  ``episode.min_duty``, plausibility (walking rhythm, tip-toe sway, the EMG-only judgement of
  an upright run without tremor) and confidence (its parts) against
  ``episode.min_confidence``;
- ``withdrawn``: a later look's reason;
- ``kept``: an episode that the one-to-one matching gave to another cramp or did not match.

Use it on dev seeds only.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from accuracy import (  # benchmarks/accuracy.py, beside this script
    night_recording,
    run_fate,
    score_cramps,
    sweep_draw,
)

from detector.config import DetectorConfig
from detector.pipeline import episodes, evidence
from detector.pipeline.evidence import EmgAccRule, RunEvidence
from detector.replay import run_source

_COLS = ("strong", "weak", "tremor", "tremor_corr", "pointed", "pulled", "side_unseen",
         "moving", "upright", "veto", "active", "runs")
_EPOCHS: list[dict[str, np.ndarray]] = []
_RUNS: list[dict[str, Any]] = []
_push = episodes.EpisodeDetector.push
_close = episodes.EpisodeDetector._close_run
_confirm = episodes.EpisodeDetector._maybe_confirm
_held = episodes.EpisodeDetector._held


def _parts(rule: Any, f: Any, levels: evidence.Levels, active: np.ndarray) -> dict[str, Any]:
    """Each part of the active decision, per epoch, shape (n,) each (NaN: not in the mode)."""
    c = rule.config
    m = c.motion
    nan = np.full(len(active), np.nan)
    with np.errstate(invalid="ignore"):
        out: dict[str, Any] = {
            "active": active,
            "tremor": evidence.tremor_on(f, levels, c),
            "tremor_corr": evidence.tremor_corroborated(f, levels, c),
            "pointed": f.plantar_flexion_deg >= m.plantar_flexion_deg,
            "pulled": nan if f.pull_deg is None else f.pull_deg >= m.pull_deg,
            "side_unseen": np.isnan(f.plantar_flexion_deg) & (f.lying == 1),
            "moving": f.movement_g > m.movement_g,
            "upright": f.lying == 0}
    if rule.uses_emg:
        out["strong"] = evidence.emg_above(f, levels, ratio=c.emg.active_ratio,
                                           rise_uv=rule.active_rise_uv)
        out["weak"] = evidence.emg_above(f, levels, ratio=c.evidence.corroborated_ratio,
                                         rise_uv=c.evidence.corroborated_rise_uv
                                         * rule.rise_scale)
        out["veto"] = evidence.emg_at_rest(
            f, levels, ratio=c.evidence.emg_rest_veto_ratio,
            rise_uv=c.evidence.emg_rest_veto_rise_uv * rule.rise_scale)
    return {k: out.get(k, nan) for k in _COLS if k != "runs"}


def _rec_push(self: episodes.EpisodeDetector, f: Any) -> list:
    decide = self.rule.decide
    row: dict[str, Any] = {}

    def spy(f: Any, levels: evidence.Levels) -> Any:
        active, tremor_case = decide(f, levels)
        row.update(_parts(self.rule, f, levels, active))
        row["runs"] = active.copy()
        return active, tremor_case

    def held_spy(f: Any, act: np.ndarray, base: np.ndarray) -> np.ndarray:
        out = _held(self, f, act, base)
        row["runs"] = row["runs"] | out
        return out

    self.rule.decide = spy  # type: ignore[method-assign]
    self._held = held_spy  # type: ignore[method-assign]
    try:
        return _push(self, f)
    finally:
        del self.rule.decide
        del self._held
        _EPOCHS.append(row)


def _plausibility(rule: Any, ev: RunEvidence) -> list[str]:
    """Why the rule finds the run implausible (empty: plausible)."""
    v = rule.config.evidence
    out: list[str] = []
    upright = ev.lying_fraction is not None and ev.lying_fraction < 0.5
    sway = "-" if ev.sway_deg is None else f"{ev.sway_deg:.2f}"
    pf = "-" if ev.plantar_flexion_deg is None else f"{ev.plantar_flexion_deg:.0f}"
    if rule._on_toes(ev):
        out.append(f"on toes (upright, pf {pf} deg, sway {sway} >= {v.balance_sway_deg} deg)")
    if isinstance(rule, EmgAccRule):
        if upright and rule._rhythmic(ev):
            out.append(f"walking rhythm {ev.shape.rhythm:.2f} > {v.max_rhythm}")
        if upright and not rule._tremor(ev) and not rule.emg.plausible(ev):
            s = ev.shape
            detail = [] if ev.rested_before else ["not rested before"]
            if ev.duty < v.emg_only_min_duty:
                detail.append(f"duty {ev.duty:.2f} < {v.emg_only_min_duty}")
            if not rule.emg._clear_of_standing(ev):
                tr = "-" if ev.tonic_ratio is None else f"{ev.tonic_ratio:.2f}"
                detail.append(f"weak: strong duty {ev.strong_duty:.2f}, tonic {tr}")
            if s is not None:
                detail.append(f"lulls {s.lull_fraction:.2f}/{v.max_lull_fraction}, burst "
                              f"excess {s.burst_excess:.2f}/{v.max_burst_excess}")
            out.append(f"upright without tremor ({ev.tremor_fraction:.2f} < "
                       f"{v.tremor_fraction}), EMG-only judgement fails: {'; '.join(detail)}")
    return out


def _verdict(det: episodes.EpisodeDetector, ev: RunEvidence, start: int, stop: int) -> str:
    """The values of the verdict on the judged window ``[start, stop)`` (its evidence ``ev``)
    against their thresholds."""
    p = det.config.episode
    conf = det.rule.confidence(ev, det.min_epochs / det.eps)
    failed = []
    if ev.duty < p.min_duty:
        failed.append(f"duty {ev.duty:.2f} < {p.min_duty}")
    failed += _plausibility(det.rule, ev)
    if conf < p.min_confidence:
        pf = "-" if ev.plantar_flexion_deg is None else f"{ev.plantar_flexion_deg:.0f}"
        failed.append(f"confidence {conf:.2f} < {p.min_confidence} (pf {pf} deg, tremor "
                      f"{ev.tremor_fraction:.2f}, moving {ev.moving_fraction:.2f}, valid "
                      f"{ev.valid_fraction:.2f}, hum {ev.hum_fraction:.2f})")
    if det._run_start - det._last_episode_end < det.aftermath:
        failed.append("aftermath of an episode")
    window = (f"window from {(start - det._run_start) / det.eps:+.1f} s, "
              f"{(stop - start) / det.eps:.1f} s long")
    return (window + ": " + ("; ".join(failed)
                             or f"passed (duty {ev.duty:.2f}, confidence {conf:.2f})"))


def _rec_confirm(self: episodes.EpisodeDetector, **kw: bool) -> list:
    """``_maybe_confirm``, recording the verdict on every window it judges (a run that was
    not sustained is judged again from its next rise: all its verdicts are kept)."""
    evidence_of = self._evidence
    verdicts: list[str] = []

    def spy(start: int, stop: int) -> RunEvidence:
        ev = evidence_of(start, stop)
        verdicts.append(_verdict(self, ev, start, stop))
        return ev

    self._evidence = spy  # type: ignore[method-assign]
    try:
        return _confirm(self, **kw)
    finally:
        del self._evidence
        if verdicts:
            self._diag = " | ".join(  # type: ignore[attr-defined]
                [*filter(None, [getattr(self, "_diag", None)]), *verdicts])


def _rec_close(self: episodes.EpisodeDetector, *, at_stream_end: bool = False) -> list:
    assert self._run_start is not None
    start, end, state = self._run_start, self._decay_end(self._run_end), self._state
    judge_from = self._judge_from
    n_withdrawn = len(self.withdrawn)
    out = _close(self, at_stream_end=at_stream_end)
    diag = getattr(self, "_diag", None) or ""
    fate = run_fate(self, state=state, n_withdrawn=n_withdrawn, onset_epoch=start,
                    rejected_why=diag)
    if state == "none":
        fate = (f"too short: {(end - judge_from) / self.eps:.1f} s from its first active "
                f"epoch ({(end - start) / self.eps:.1f} s from its onset) < "
                f"{self.min_duration_s:g} s" + (f" (judged before: {diag})" if diag else ""))
    elif state != "rejected" and diag:
        fate += f" ({diag})"
    _RUNS.append({"start_s": start / self.eps, "judge_s": judge_from / self.eps,
                  "end_s": end / self.eps, "fate": fate})
    self._diag = None  # type: ignore[attr-defined]
    return out


def _first_active(active: np.ndarray, run: dict[str, Any], eps: int) -> float:
    """Time of the first active epoch of ``run`` (s; its onset if none)."""
    a, b = round(run["start_s"] * eps), round(run["end_s"] * eps)
    hits = np.flatnonzero(active[a:b] > 0)
    return (a + int(hits[0])) / eps if hits.size else run["start_s"]


def _mean(x: np.ndarray) -> float:
    """Mean of the known values of ``x``; NaN when none is known."""
    known = x[~np.isnan(x)]
    return float(known.mean()) if known.size else float("nan")


def _stage(runs: list[dict[str, Any]], kept_elsewhere: bool) -> str:
    """The stage that dropped a cramp, from the fates of the runs over it."""
    if not runs:
        return "never active"
    fates = [r["fate"] for r in runs]
    if any(f == "kept" for f in fates):
        return "kept, matched elsewhere" if kept_elsewhere else "kept, not matched"
    for key in ("rejected", "withdrawn", "too short"):
        hits = [f for f in fates if f.startswith(key)]
        if hits:
            if key == "rejected":
                first = hits[0].split(": ", 1)[1].split(" ")[0]
                return f"rejected ({first})"
            return key + (" (split)" if key == "too short" and len(runs) > 1 else "")
    return fates[0]


def _night(seed: int, i: int, hours: float, config: DetectorConfig) -> list[dict[str, Any]]:
    family, mode, fs_emg, fs_acc = sweep_draw(i)
    night, recording = night_recording(seed=seed, family=family, mode=mode, hours=hours,
                                       fs_emg=fs_emg, fs_acc=fs_acc)
    _EPOCHS.clear()
    _RUNS.clear()
    result = run_source(recording, config=config)
    cols = {k: np.concatenate([np.asarray(e[k], dtype=float) for e in _EPOCHS]) for k in _COLS}
    eps = round(1.0 / config.epoch_s)
    cramps, s = score_cramps(night, result)
    found = {p.truth_index for p in s.pairs}
    rows = []
    for i_c, c in cramps.iterrows():
        a, b = c.onset_s, c.onset_s + c.duration_s
        ka, kb = int(a * eps), min(int(b * eps), len(cols["active"]))
        runs = [r for r in _RUNS if r["start_s"] < b and r["end_s"] > a]
        gaps = [r2["start_s"] - r1["end_s"] for r1, r2 in itertools.pairwise(runs)]
        kept_elsewhere = any(e.onset_s < b and e.onset_s + e.duration_s > a
                             for e in result.episodes)
        rows.append({
            "seed": seed, "family": family, "mode": mode, "fs": (fs_emg, fs_acc),
            "found": i_c in found, "onset_s": a, "dur_s": c.duration_s, "posture": c.posture,
            "emg_uv": c.emg_uv, "acc_g": c.acc_g,
            "parts": {k: _mean(cols[k][ka:kb]) for k in _COLS},
            "runs": [f"{r['start_s'] - a:+.1f} s (first active "
                     f"{_first_active(cols['active'], r, eps) - a:+.1f} s) "
                     f"+{r['end_s'] - r['start_s']:.1f} s: {r['fate']}" for r in runs],
            "gaps": gaps, "stage": _stage(runs, kept_elsewhere)})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Print every missed cramp (``--all``: every cramp) of the sweep's accelerometer-carrying
    nights with the stage that dropped it; then the count per stage."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nights", type=int, default=84)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--all", action="store_true", help="found cramps too")
    p.add_argument("--only", choices=("acc", "emg+acc"), action="append", metavar="MODE",
                   help="only the nights of this mode (repeatable)")
    p.add_argument("--night", type=int, action="append", metavar="I",
                   help="only the sweep's night I (seed + I; repeatable)")
    args = p.parse_args(argv)
    config = DetectorConfig().replace(in_bed__night_window=None)
    modes = args.only or ["acc", "emg+acc"]
    D = episodes.EpisodeDetector
    D.push, D._maybe_confirm, D._close_run = (  # type: ignore[method-assign]
        _rec_push, _rec_confirm, _rec_close)
    stages: Counter[str] = Counter()
    n_cramps = n_missed = 0
    max_dip_s = config.episode.max_dip_s
    try:
        for i in args.night or range(args.nights):
            if sweep_draw(i)[1] not in modes:
                continue
            for r in _night(args.seed + i, i, args.hours, config):
                n_cramps += 1
                if not r["found"]:
                    n_missed += 1
                    stages[f"{r['mode']}: {r['stage']}"] += 1
                elif not args.all:
                    continue
                q = r["parts"]
                print(f"seed {r['seed']:5d} {r['family']:<8} {r['mode']:<7} "
                      f"{r['fs'][0]:4.0f}/{r['fs'][1]:3.0f} Hz "
                      f"{'found' if r['found'] else 'MISS '} {r['onset_s']:7.1f} s "
                      f"+{r['dur_s']:5.1f} s {r['posture']:<10} {r['emg_uv']:5.1f} uV "
                      f"{r['acc_g']:.3f} g"
                      + ("" if r["found"] else f" [{r['stage']}]"), flush=True)
                print("        " + " ".join(f"{k} {q[k]:.2f}" for k in _COLS
                                            if not np.isnan(q[k])), flush=True)
                for line in r["runs"] or ["never active"]:
                    print(f"        {line}", flush=True)
                if any(g > max_dip_s for g in r["gaps"]):
                    print("        lulls between runs over it: "
                          + ", ".join(f"{g:.1f} s" for g in r["gaps"])
                          + f" (max_dip_s {max_dip_s:g}; held_max_dip_s "
                          f"{config.episode.held_max_dip_s:g} while the foot stays held, "
                          f"confirmed_held_dip_s {config.episode.confirmed_held_dip_s:g} "
                          "once confirmed)",
                          flush=True)
    finally:
        D.push, D._maybe_confirm, D._close_run = (  # type: ignore[method-assign]
            _push, _confirm, _close)
    print(f"\n{n_missed} of {n_cramps} cramps missed; by stage: "
          + (", ".join(f"{k} {n}" for k, n in stages.most_common()) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
