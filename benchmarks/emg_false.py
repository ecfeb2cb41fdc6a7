"""EMG-only episodes one by one: what the night model made there and the run's evidence.

    python benchmarks/emg_false.py --seed 1 --nights 84 [--all]

Nights are drawn as in ``benchmarks/accuracy.py --sweep`` (night ``i`` has seed ``seed + i``);
only the EMG-only nights of the mix are run, as replay runs them. For every episode the
detector logged it prints whether a cramp of the truth table matched it (``TRUE``) or what the
false one overlapped (rollover, stretch, sitting, walk, tiptoe...), with the evidence its
verdict was taken on: duty, strong duty, the shape of the judged window (rhythm, lull
fraction, burst excess, fast modulation), the tonic ratio, whether the calf rested before,
and of the whole run: its length, its level over the lying rest (``floor``), the run's
own burst excess and lull fraction, and the time since the previous judged run ended
(``gap_s``). ``--all`` also prints the true episodes one by one (a summary of their ranges
is always printed). Use it on dev seeds only.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from accuracy import (  # benchmarks/accuracy.py, beside this
    _overlapped,
    emg_only_draws,
    emg_only_night,
    score_cramps,
)

from detector.config import DetectorConfig
from detector.pipeline import episodes
from detector.pipeline.activity import EmgLevel
from detector.pipeline.emg_shape import emg_shape
from detector.pipeline.episodes import CONTEXT_S
from detector.replay import run_source

_JUDGED: dict[int, dict[str, Any]] = {}
_confirm = episodes.EpisodeDetector._maybe_confirm
_close = episodes.EpisodeDetector._close_run


def _rec_confirm(self: episodes.EpisodeDetector, **kw: bool) -> list:
    judging = (self._state == "none" and self._decay_end(self._run_end) - self._judge_from
               >= self.min_epochs)
    if judging:
        assert self._run_start is not None
        ev = self._evidence(self._judge_from, self._judge_from + self.min_epochs)
        gap = (None if self._last_judged_end is None
               else (self._run_start - self._last_judged_end) / self.eps)
        _JUDGED[self._run_start] = {"ev": ev, "gap_s": gap,
                                    "floor_uv": self.rest_floor.at(self._run_start)}
    return _confirm(self, **kw)


def _rec_close(self: episodes.EpisodeDetector, *, at_stream_end: bool = False) -> list:
    assert self._run_start is not None
    start, end = self._run_start, self._decay_end(self._run_end)
    if start in _JUDGED:
        env = EmgLevel.resting_envelope(self.history.window(start, end)[0])
        v = self.config.evidence
        _JUDGED[start]["run"] = emg_shape(env, ~np.isnan(env), eps=self.eps,
                                          smooth_s=v.smooth_s, lull_ratio=v.lull_ratio)
        _JUDGED[start]["run_med_uv"] = float(np.nanmedian(env)) if np.any(~np.isnan(env)) \
            else float("nan")
        lo = max(start - round(CONTEXT_S * self.eps), self.history.first_epoch)
        _JUDGED[start]["context_uv"] = EmgLevel.resting_envelope(self.history.window(lo, end)[0])
        _JUDGED[start]["context_from"] = start - lo
    return _close(self, at_stream_end=at_stream_end)


def _night(seed: int, i: int, family: str, hours: float,
           config: DetectorConfig) -> list[dict[str, Any]]:
    night, recording = emg_only_night(seed=seed, i=i, hours=hours)
    _JUDGED.clear()
    result = run_source(recording, config=config)
    eps = round(1.0 / config.epoch_s)
    _, s = score_cramps(night, result)
    matched = {p.detected_index for p in s.pairs}
    rows = []
    for k, ep in enumerate(result.episodes):
        info = _JUDGED.get(round(ep.onset_s * eps), {})
        rows.append({"seed": seed, "family": family, "fs": night.fs_emg, "onset_s": ep.onset_s,
                     "dur_s": ep.duration_s,
                     "what": "TRUE" if k in matched else _overlapped(ep, night.truth),
                     **info})
    return rows


def _fmt(r: dict[str, Any]) -> str:
    ev = r.get("ev")
    if ev is None:
        return f"seed {r['seed']:5d} {r['family']:<8} {r['what']:<10} (no verdict recorded)"
    sh, run = ev.shape, r.get("run")
    shape = "-" if sh is None else (f"rhy {sh.rhythm:4.2f} lull {sh.lull_fraction:4.2f} "
                                    f"burst {sh.burst_excess:+5.2f} fast {sh.fast_modulation:4.2f}")
    whole = "-" if run is None else (f"run burst {run.burst_excess:+5.2f} "
                                     f"lull {run.lull_fraction:4.2f}")
    tr = "-" if ev.tonic_ratio is None else f"{ev.tonic_ratio:5.2f}"
    floor = r.get("floor_uv", float("nan"))
    lvl = r.get("run_med_uv", float("nan")) / floor if floor == floor and floor > 0 else np.nan
    gap = "-" if r.get("gap_s") is None else f"{r['gap_s']:6.0f}"
    return (f"seed {r['seed']:5d} {r['family']:<8} {r['fs']:4.0f} Hz {r['onset_s']:7.1f} s "
            f"+{r['dur_s']:6.1f} s {r['what']:<10} duty {ev.duty:4.2f} strong "
            f"{ev.strong_duty:4.2f} {shape} tonic {tr} rested {int(ev.rested_before)} | "
            f"{whole} floor x{lvl:6.1f} gap_s {gap}")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the EMG-only episodes of the sweep's nights and their evidence."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nights", type=int, default=84)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--all", action="store_true", help="print the true episodes too")
    p.add_argument("--dump", metavar="PICKLE", help="write every episode's row, with its "
                   "envelope from 30 s before the onset to the end, to this pickle")
    args = p.parse_args(argv)
    config = DetectorConfig().replace(in_bed__night_window=None)
    D = episodes.EpisodeDetector
    D._maybe_confirm, D._close_run = _rec_confirm, _rec_close  # type: ignore[method-assign]
    rows: list[dict[str, Any]] = []
    try:
        for i, family in emg_only_draws(args.nights):
            for r in _night(args.seed + i, i, family, args.hours, config):
                rows.append(r)
                if args.all or r["what"] != "TRUE":
                    print(_fmt(r), flush=True)
    finally:
        D._maybe_confirm, D._close_run = _confirm, _close  # type: ignore[method-assign]
    if args.dump:
        with open(args.dump, "wb") as fh:
            pickle.dump(rows, fh)
    true = [r for r in rows if r["what"] == "TRUE" and r.get("ev") is not None
            and r["ev"].shape is not None]
    if true:
        def rng(vals: list[float]) -> str:
            return f"{min(vals):+.2f}..{max(vals):+.2f}"
        print(f"true episodes {len(true)}: rhythm {rng([r['ev'].shape.rhythm for r in true])}, "
              f"lull {rng([r['ev'].shape.lull_fraction for r in true])}, burst "
              f"{rng([r['ev'].shape.burst_excess for r in true])}, fast "
              f"{rng([r['ev'].shape.fast_modulation for r in true])}")
    print(f"false episodes {sum(r['what'] != 'TRUE' for r in rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
