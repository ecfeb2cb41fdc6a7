"""How far a sustained median of the EMG envelope rises over the resting level: on the quiet
floor asleep, and under each labelled event (EMG-only nights of the sweep).

    python benchmarks/sustain_floor.py --seed 1 --nights 84 --window-s 5 --families lofi

Nights are drawn as in ``benchmarks/accuracy.py --sweep``; only the EMG-only nights of the
chosen families are run, as replay runs them. For each night it prints the median, 99th and
99.9th percentile and the highest value of ``median(envelope over window) / resting level``
on epochs asleep and at least one window away from any labelled event (after the first
2 min), and the highest value under each walk, stand, stretch, rollover, hum and cramp.
It asks whether a sustained-elevation criterion could find the cramps that the per-epoch
threshold misses on a noisy floor. Use it on dev seeds only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from accuracy import MODES, emg_only_night  # benchmarks/accuracy.py, beside this script
from numpy.lib.stride_tricks import sliding_window_view

from detector.config import DetectorConfig
from detector.pipeline import episodes
from detector.pipeline.activity import EmgLevel
from detector.pipeline.nanmedian import nanmedian_rows
from detector.replay import run_source
from firmware_sim.night_events import FAMILIES

_EPOCHS: list[tuple[np.ndarray, np.ndarray]] = []
_push = episodes.EpisodeDetector.push
_SHOWN = ("walk", "stand", "stretch", "rollover", "hum", "cramp")


def _rec_push(self: episodes.EpisodeDetector, f: Any) -> list:
    out = _push(self, f)
    _EPOCHS.append((EmgLevel.resting_envelope(f), self.history.chunks[-1].rest_uv))
    return out


def _night(seed: int, i: int, w: int, config: DetectorConfig) -> str:
    night, recording = emg_only_night(seed=seed, i=i, hours=1.0)
    _EPOCHS.clear()
    run_source(recording, config=config)
    env = np.concatenate([e[0] for e in _EPOCHS])
    base = np.concatenate([e[1] for e in _EPOCHS])
    n = env.shape[0]
    med = np.full(n, np.nan)
    med[w - 1:] = nanmedian_rows(sliding_window_view(env, w))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(base > config.emg.flat_uv, med / base, np.nan)
    busy, asleep = np.zeros(n, bool), np.zeros(n, bool)
    under: dict[str, list[float]] = {}
    for ev in night.truth.itertuples():
        a, b = int(ev.onset_s * 10), min(int((ev.onset_s + ev.duration_s) * 10), n)
        if ev.kind == "sleep":
            asleep[a:b] = True
            continue
        if ev.kind == "in_bed":
            continue
        busy[max(a - w, 0):b + w] = True
        if ev.kind in _SHOWN and b - a > w and np.any(~np.isnan(ratio[a + w:b])):
            under.setdefault(ev.kind, []).append(float(np.nanmax(ratio[a + w:b])))
    quiet = ratio[~busy & asleep & (np.arange(n) > 1200)]
    quiet = quiet[~np.isnan(quiet)]
    head = f"seed {seed:5d} {FAMILIES[i % len(FAMILIES)]:<8} {night.fs_emg:4.0f} Hz"
    if quiet.size == 0:
        return head + "  no quiet epochs with a resting level above the resolution"
    q = np.quantile(quiet, [0.5, 0.99, 0.999])
    return (head + f"  quiet q50 {q[0]:.3f} q99 {q[1]:.3f} q999 {q[2]:.3f} max "
            f"{quiet.max():.3f} |" + "".join(
                f" {k} " + ",".join(f"{x:.2f}" for x in v) for k, v in under.items()))


def main(argv: Sequence[str] | None = None) -> int:
    """Print the sustained median's rise over the resting level, night by night."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nights", type=int, default=84)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--window-s", type=float, default=5.0)
    p.add_argument("--families", default=",".join(FAMILIES))
    args = p.parse_args(argv)
    config = DetectorConfig().replace(in_bed__night_window=None)
    w = max(1, round(args.window_s / config.epoch_s))
    families = set(args.families.split(","))
    episodes.EpisodeDetector.push = _rec_push  # type: ignore[method-assign]
    try:
        for i in range(args.nights):
            if MODES[(i // len(FAMILIES)) % len(MODES)] == "emg" \
                    and FAMILIES[i % len(FAMILIES)] in families:
                print(_night(args.seed + i, i, w, config), flush=True)
    finally:
        episodes.EpisodeDetector.push = _push  # type: ignore[method-assign]
    return 0


if __name__ == "__main__":
    sys.exit(main())
