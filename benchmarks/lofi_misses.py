"""Missed cramps of the sweep's ``lofi`` nights, every mode: how strong each was against the
night's noise floor and what rejected it.

    python benchmarks/lofi_misses.py --seed 1 --nights 84

Nights are drawn as in ``benchmarks/accuracy.py --sweep`` (night ``i`` has seed ``seed + i``,
family ``FAMILIES[i % 7]``, mode ``MODES[(i // 7) % 3]``); only the ``lofi`` nights are run.
For every missed cramp it prints its mode, its synthesised level (nominal x the night's
contraction scale, and the share the 200-Hz band keeps of it) against the night's resting
noise and converter step, what the detector saw over it (median activity level, resting
level), the fraction of its epochs that each part of the active decision passed (EMG over
the activity threshold, EMG over the corroborated threshold, calf tremor, the accelerometer
case, the EMG rest veto of that case, gross movement) and the fate of every run over it.
Use it on dev seeds only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from accuracy import (  # benchmarks/accuracy.py, beside this script
    MODES,
    night_recording,
    run_fate,
    score_cramps,
    sweep_draw,
)

from detector.config import DetectorConfig
from detector.pipeline import episodes, evidence
from detector.replay import run_source
from firmware_sim.night_events import FAMILIES
from firmware_sim.night_spectrum import emg_band_fraction

_COLS = ("level_uv", "rest_uv", "strong", "weak", "tremor", "acc", "veto", "moving", "upright",
         "active")
_EPOCHS: list[dict[str, np.ndarray]] = []
_RUNS: list[dict[str, Any]] = []
_push = episodes.EpisodeDetector.push
_close = episodes.EpisodeDetector._close_run
_confirm = episodes.EpisodeDetector._maybe_confirm


def _parts(rule: Any, f: Any, levels: evidence.Levels, active: np.ndarray) -> dict[str, Any]:
    """Each part of the active decision, per epoch."""
    c = rule.config
    nan = np.full(len(active), np.nan)
    out: dict[str, Any] = {"level_uv": evidence.emg_level(f, levels) if rule.uses_emg else nan,
                           "rest_uv": levels.emg_rest_uv, "active": active}
    if rule.uses_emg:
        out["strong"] = evidence.emg_above(f, levels, ratio=c.emg.active_ratio,
                                           rise_uv=rule.active_rise_uv)
        out["weak"] = evidence.emg_above(f, levels, ratio=c.evidence.corroborated_ratio,
                                         rise_uv=c.evidence.corroborated_rise_uv
                                         * rule.rise_scale)
    if rule.mode != "emg":
        out["tremor"] = evidence.tremor_on(f, levels, c)
        acc = rule.acc if rule.mode == "emg+acc" else rule
        out["acc"] = acc.active(f, levels)
        out["moving"] = f.movement_g > c.motion.movement_g
        out["upright"] = f.lying == 0
    if rule.mode == "emg+acc":
        out["veto"] = evidence.emg_at_rest(
            f, levels, ratio=c.evidence.emg_rest_veto_ratio,
            rise_uv=c.evidence.emg_rest_veto_rise_uv * rule.rise_scale)
    return {k: out.get(k, nan) for k in _COLS}


def _rec_push(self: episodes.EpisodeDetector, f: Any) -> list:
    decide = self.rule.decide

    def spy(f: Any, levels: evidence.Levels) -> Any:
        active, tremor_case = decide(f, levels)
        _EPOCHS.append(_parts(self.rule, f, levels, active))
        return active, tremor_case

    self.rule.decide = spy  # type: ignore[method-assign]
    try:
        return _push(self, f)
    finally:
        del self.rule.decide


def _rec_confirm(self: episodes.EpisodeDetector, **kw: bool) -> list:
    judging = (self._state == "none" and self._decay_end(self._run_end) - self._judge_from
               >= self.min_epochs)
    out = _confirm(self, **kw)
    if judging:
        ev = self._evidence(self._judge_from, self._judge_from + self.min_epochs)
        self._diag = (f"duty {ev.duty:.2f}, plausible {self.rule.plausible(ev)}, conf "  # type: ignore[attr-defined]
                      f"{self.rule.confidence(ev, self.min_epochs / self.eps):.2f}")
    return out


def _rec_close(self: episodes.EpisodeDetector, *, at_stream_end: bool = False) -> list:
    assert self._run_start is not None
    start, end, state = self._run_start, self._decay_end(self._run_end), self._state
    n_withdrawn = len(self.withdrawn)
    out = _close(self, at_stream_end=at_stream_end)
    fate = run_fate(self, state=state, n_withdrawn=n_withdrawn, onset_epoch=start,
                    rejected_why=getattr(self, "_diag", ""))
    _RUNS.append({"start_s": start / self.eps, "end_s": end / self.eps, "fate": fate})
    return out


def _night(seed: int, i: int, mode: str, hours: float,
           config: DetectorConfig) -> list[dict[str, Any]]:
    _, _, fs_emg, fs_acc = sweep_draw(i)  # the sweep's rates for this night
    night, recording = night_recording(seed=seed, family="lofi", mode=mode, hours=hours,
                                       fs_emg=fs_emg, fs_acc=fs_acc)
    sc = night.scenario
    _EPOCHS.clear()
    _RUNS.clear()
    result = run_source(recording, config=config)
    cols = {k: np.concatenate([np.asarray(e[k], dtype=float) for e in _EPOCHS]) for k in _COLS}
    eps = round(1.0 / config.epoch_s)
    band = float(np.sqrt(emg_band_fraction(sc.emg_spectrum_hz, fs=fs_emg)))
    cramps, s = score_cramps(night, result)
    found = {p.truth_index for p in s.pairs}
    matched = {p.detected_index for p in s.pairs}
    print(f"seed {seed:5d} {mode:<7} noise {sc.rest_emg_uv_rms:4.1f} uV: cramps {len(cramps)}, "
          f"found {len(found)}, false episodes {len(result.episodes) - len(matched)}"
          + "".join(f" [{e.onset_s:.0f} s +{e.duration_s:.0f} s]"
                    for k, e in enumerate(result.episodes) if k not in matched), flush=True)
    rows = []
    for i_c, c in cramps.iterrows():
        a, b = c.onset_s, c.onset_s + c.duration_s
        ka, kb = int(a * eps), min(int(b * eps), len(cols["active"]))
        runs = [r for r in _RUNS if r["start_s"] < b and r["end_s"] > a]
        rows.append({
            "seed": seed, "mode": mode, "found": i_c in found, "onset_s": a,
            "dur_s": c.duration_s, "posture": c.posture, "nominal_uv": c.emg_uv,
            "signal_uv": c.emg_uv * sc.contraction_scale * band, "band": band,
            "noise_uv": sc.rest_emg_uv_rms, "step_uv": sc.emg_step_uv, "acc_g": c.acc_g,
            **{k: float(np.nanmedian(cols[k][ka:kb])) for k in ("level_uv", "rest_uv")},
            **{k: float(np.nanmean(cols[k][ka:kb])) for k in _COLS[2:]},
            "fates": [f"{r['start_s'] - a:+.1f} s +{r['end_s'] - r['start_s']:.1f} s "
                      f"{r['fate']}" for r in runs] or ["never active"]})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Print every cramp of the sweep's lofi nights (``--all``) or only the missed ones."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nights", type=int, default=84)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--all", action="store_true", help="found cramps too")
    p.add_argument("--mode", choices=MODES, help="run every lofi night in this mode instead "
                   "of the sweep's (the same nights, other channels given)")
    p.add_argument("--noisy", action="store_true",
                   help="only the nights with a noisy front end (resting noise over 8 uV)")
    args = p.parse_args(argv)
    config = DetectorConfig().replace(in_bed__night_window=None)
    D = episodes.EpisodeDetector
    D.push, D._maybe_confirm, D._close_run = (  # type: ignore[method-assign]
        _rec_push, _rec_confirm, _rec_close)
    try:
        for i in range(args.nights):
            if FAMILIES[i % len(FAMILIES)] != "lofi":
                continue
            mode = args.mode or MODES[(i // len(FAMILIES)) % len(MODES)]
            for r in _night(args.seed + i, i, mode, args.hours, config):
                if (r["found"] and not args.all) or (args.noisy and r["noise_uv"] < 8.0):
                    continue
                print(f"seed {r['seed']:5d} {r['mode']:<7} {'found' if r['found'] else 'MISS '} "
                      f"{r['onset_s']:7.1f} s +{r['dur_s']:5.1f} s {r['posture']:<10} cramp "
                      f"{r['nominal_uv']:6.1f} uV nominal, {r['signal_uv']:6.1f} in band "
                      f"(x{r['band']:.2f}) {r['acc_g']:.3f} g | noise {r['noise_uv']:4.1f} "
                      f"step {r['step_uv']:4.1f} | seen {r['level_uv']:6.1f} rest "
                      f"{r['rest_uv']:5.1f} | strong {r['strong']:.2f} weak {r['weak']:.2f} "
                      f"tremor {r['tremor']:.2f} acc {r['acc']:.2f} veto {r['veto']:.2f} "
                      f"moving {r['moving']:.2f} upright {r['upright']:.2f} "
                      f"active {r['active']:.2f}", flush=True)
                for fate in r["fates"]:
                    print(f"        {fate}", flush=True)
    finally:
        D.push, D._maybe_confirm, D._close_run = (  # type: ignore[method-assign]
            _push, _confirm, _close)
    return 0


if __name__ == "__main__":
    sys.exit(main())
