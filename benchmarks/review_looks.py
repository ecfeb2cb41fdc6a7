"""EMG-only later looks, run by run: what each confirmed run overlapped, what became of it, and
the rhythm and stride correlation of each of its looks.

    python benchmarks/review_looks.py --seed 1 --nights 84

Nights are drawn as in ``benchmarks/accuracy.py --sweep`` (night ``i`` has seed ``seed + i``,
family ``FAMILIES[i % 7]``); only the EMG-only nights of the mix are run. For every run the
detector confirmed, it prints its onset and length, what it overlapped in the truth table
(``cramp`` first, as the accuracy sweep files false episodes), its fate (kept, or the reason
it was withdrawn) and, per later look (``evidence.review_*``), the rhythm
(:func:`detector.pipeline.emg_shape.emg_shape`) and the stride correlation
(:func:`detector.pipeline.stride.stride_correlation`) with its bounds. Use it on dev seeds to
see how far cramps and false episodes lie apart.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from accuracy import _OVERLAP_ORDER, emg_only_draws  # benchmarks/accuracy.py, beside this script

from detector.config import DetectorConfig
from detector.episode import EpisodeWithdrawn
from detector.pipeline import episodes
from detector.pipeline.activity import EmgLevel
from detector.pipeline.emg_shape import emg_shape
from detector.pipeline.review import RunReview
from detector.pipeline.stride import stride_correlation
from detector.replay import ArrayRecording, make_info, run_source
from detector.signals import ChannelSpec
from firmware_sim.night import random_scenario, synthesize

_RUNS: list[dict[str, Any]] = []
_close_run = episodes.EpisodeDetector._close_run


def _recording_close(self: episodes.EpisodeDetector, *, at_stream_end: bool = False) -> list:
    """``EpisodeDetector._close_run`` that first keeps a confirmed run's envelope."""
    start, state = self._run_start, self._state
    kept: dict[str, Any] | None = None
    if start is not None and state in ("confirmed", "reviewed", "withdrawn"):
        end = self._decay_end(self._run_end)
        f, _, _ = self.history.window(start, end)
        kept = {"start": start, "end": end, "eps": self.eps,
                "env": EmgLevel.resting_envelope(f)}
    out = _close_run(self, at_stream_end=at_stream_end)
    if kept is not None:
        why = [e.reason for e in out if isinstance(e, EpisodeWithdrawn)]
        kept["fate"] = why[0] if why else ("withdrawn (look)" if state == "withdrawn"
                                           else "kept")
        _RUNS.append(kept)
    return out


def _looks(run: dict[str, Any], config: DetectorConfig) -> str:
    eps, env = run["eps"], run["env"]
    review = RunReview(config=config, eps=eps)
    v = config.evidence
    out = []
    for look in range(review.n_looks):
        a, b = review.window(0, look)
        if b > env.shape[0]:
            break
        w = env[a:b]
        ok = ~np.isnan(w)
        shape = emg_shape(w, ok, eps=eps, smooth_s=v.smooth_s, lull_ratio=v.lull_ratio)
        corr = stride_correlation(w, ok, eps=eps, smooth_s=v.review_stride_smooth_s)
        rhythm = "-" if shape is None else f"{shape.rhythm:.2f}"
        out.append(f"look {look}: rhythm {rhythm} stride {'-' if corr is None else f'{corr:.2f}'}")
    return "; ".join(out) or "no look"


def main(argv: Sequence[str] | None = None) -> int:
    """Print every confirmed EMG-only run of the sweep's EMG-only nights."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nights", type=int, default=84)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hours", type=float, default=1.0)
    args = p.parse_args(argv)
    config = DetectorConfig().replace(in_bed__night_window=None)
    v = config.evidence
    print(f"bounds: rhythm {v.review_max_rhythm} / later {v.review_later_max_rhythm}, "
          f"stride {v.review_max_stride_corr}")
    episodes.EpisodeDetector._close_run = _recording_close  # type: ignore[method-assign]
    try:
        for i, family in emg_only_draws(args.nights):
            seed = args.seed + i
            fs_emg = 200.0 if family == "lofi" else (500.0, 1000.0, 2000.0)[i % 3]
            fs_acc = (25.0, 50.0, 100.0)[(i // 3) % 3]  # as the sweep: the same draws
            rng = np.random.default_rng(seed)
            scenario = random_scenario(duration_s=args.hours * 3600.0, rng=rng, fs_emg=fs_emg,
                                       fs_acc=fs_acc, family=family)
            night = synthesize(scenario, rng=rng)
            spec = ChannelSpec(role="emg", fs=fs_emg, unit="uV",
                               rails=(-scenario.emg_rails_uv, scenario.emg_rails_uv))
            info = make_info(path=f"seed{seed}", start_utc=scenario.start_utc,
                             duration_s=scenario.duration_s, channels={"emg": spec})
            _RUNS.clear()
            run_source(ArrayRecording(info=info, data={"emg": night.emg_uv}), config=config)
            truth = night.truth
            for run in _RUNS:
                a_s, b_s = run["start"] / run["eps"], run["end"] / run["eps"]
                over = set(truth.kind[(truth.onset_s < b_s)
                                      & (truth.onset_s + truth.duration_s > a_s)])
                what = next((k for k in _OVERLAP_ORDER if k in over), "other")
                print(f"seed {seed:5d} {family:<8} {a_s:7.1f} s +{b_s - a_s:6.1f} s {what:<8} "
                      f"{run['fate'][:40]:<40} {_looks(run, config)}", flush=True)
    finally:
        episodes.EpisodeDetector._close_run = _close_run  # type: ignore[method-assign]
    return 0


if __name__ == "__main__":
    sys.exit(main())
