"""A simulated cramp in each band kit: event F1 per kit over a few seeds, end to end.

    python benchmarks/kits.py [--kits polar-pair,...] [--seeds 3] [--hours 0.1]

Each run is ``cramp record --simulate --kit KIT --seed S --hours H`` done in process: the
night model of every leg, every band a bumble peripheral reached through the real
``BleakClient``, one multi-band night, its manifest replayed per leg (what is stored), and
the detected episodes of each leg scored against the truth the recorder wrote beside the
manifest (``<night>.night[-LEG].truth.tsv``: the night actually simulated, whose start, and
so whose scenario, is set from the clock) with ``detector.evaluation`` (pooled per kit).
Speeds are the CLI defaults (a Ganglion caps it). Nothing is stored.

    python benchmarks/kits.py --direct [--seeds 12]

``--direct`` feeds the same nights straight to the pipeline, no BLE: each band's signal as
its simulated peripheral sends it (the rate its session negotiates, the sensor noise over
that band, Ganglion counts), one pipeline per leg. It is seconds per night, so many seeds
can be scored; BLE changes nothing in what is detected (the recorded samples equal these).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from detector.capture.multi_band import read_manifest
from detector.cli.record_multi import KITS, record_multi, simulate_legs
from detector.config import DetectorConfig
from detector.evaluation import pool_scores, score_events
from detector.signals import ChannelSpec


def _written_truth(manifest: Path, *, legs: list[str]) -> dict[str, list[tuple[float, float]]]:
    """The cramps (onset_s, duration_s) of each leg, from the truth files of the night."""
    base = manifest.name.removesuffix(".json")
    out = {}
    for leg in legs:
        name = f"{base}.truth.tsv" if len(legs) == 1 else f"{base}-{leg}.truth.tsv"
        rows = (manifest.parent / name).read_text(encoding="utf-8").splitlines()[1:]
        out[leg] = [(float(r.split("\t")[0]), float(r.split("\t")[1])) for r in rows
                    if r.split("\t")[2] == "cramp"]
    return out


def _band_signals(kit_name: str, k: int, nights: dict[str, tuple[Any, Any]], *, seed: int
                  ) -> dict[str, tuple[ChannelSpec, np.ndarray]]:
    """``leg/role -> (spec, samples)`` of band ``k`` of the kit, as its peripheral sends it."""
    from scipy.signal import resample_poly

    from detector.bands.registry import band_named
    from detector.cli.record_other import session_for
    from detector.profiles.ganglion import GANGLION, emg_channel_spec
    from firmware_sim.polar_verity_sim import NATIVE_FS
    from firmware_sim.resample_sim import acc_at_rate

    kb = KITS[kit_name][k]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xACC, k]))  # as the recorder
    if kb.band == "ganglion":
        out = {}
        for leg in kb.legs:
            counts = np.rint(resample_poly(nights[leg][1].emg_uv, 1, 5) / GANGLION.uv_per_count)
            out[f"{leg}/emg"] = (emg_channel_spec(channel=0), counts * GANGLION.uv_per_count)
        return out
    scenario, night = nights[kb.leg]
    acc = night.shank_acc_g if kb.role == "shank" else night.foot_acc_g
    _cls, kwargs = session_for(band_named(kb.band), kb.role)
    fs_in = round(night.fs_acc)
    if kb.band == "polar_pmd":  # the Verity Sense's 416 Hz, low-passed and decimated
        native = acc_at_rate(acc, fs_in=fs_in, fs_out=NATIVE_FS, noise_g=scenario.acc_noise_g,
                             rng=rng)
        rate = int(kwargs["wish"].fs_hz)
        x = native if rate == NATIVE_FS else resample_poly(native, 1, NATIVE_FS // rate, axis=0)
    else:
        rate = int(kwargs["fs"])
        x = acc_at_rate(acc, fs_in=fs_in, fs_out=rate, noise_g=scenario.acc_noise_g, rng=rng)
    role = f"{kb.role}_acc"
    return {f"{kb.leg}/{role}": (ChannelSpec(role=role, fs=float(rate), unit="g"), x)}


def _direct(kit_name: str, *, seed: int, hours: float, config: DetectorConfig
            ) -> dict[str, tuple[Any, list[tuple[float, float]]]]:
    """Each leg's result and truth for one kit night fed straight to the pipeline."""
    from detector.cli.record_cmd import simulated_start_utc
    from detector.replay import ArrayRecording, make_info, run_source

    kit = KITS[kit_name]
    start = simulated_start_utc(datetime.now(UTC), config, duration_s=hours * 3600.0 + 60)
    nights = simulate_legs(kit, hours=hours, seed=seed, start_utc=start)
    signals: dict[str, tuple[ChannelSpec, np.ndarray]] = {}
    for k in range(len(kit)):
        signals.update(_band_signals(kit_name, k, nights, seed=seed))
    out = {}
    for leg, (scenario, _night) in nights.items():
        mine = {key.split("/")[1]: v for key, v in signals.items() if key.startswith(leg + "/")}
        info = make_info(path=f"{kit_name}-{seed}-{leg}", start_utc=scenario.start_utc,
                         duration_s=scenario.duration_s,
                         channels={r: spec for r, (spec, _x) in mine.items()}, leg=leg)
        result = run_source(ArrayRecording(info=info, data={r: x for r, (_s, x) in mine.items()}),
                            config=config, leg=leg)
        truth = [(e.onset_s, e.duration_s) for e in scenario.events if e.kind == "cramp"]
        out[leg] = (result, truth)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Record every kit over the seeds; print per-night and pooled scores."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kits", default=",".join(KITS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--hours", type=float, default=0.1)
    p.add_argument("--speed", type=float, default=20.0)
    p.add_argument("--direct", action="store_true",
                   help="the same nights straight to the pipeline, no BLE")
    args = p.parse_args(argv)
    config = DetectorConfig()
    for kit in args.kits.split(","):
        scores = []
        t0 = time.perf_counter()
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            if args.direct:
                for leg, (result, truth) in _direct(kit, seed=seed, hours=args.hours,
                                                    config=config).items():
                    s = score_events(result.episodes, truth)
                    scores.append(s)
                    print(f"{kit:15s} seed {seed} {leg:5s} truth {s.n_truth} detected "
                          f"{s.n_detected} tp {s.tp} (direct)", file=sys.stderr)
                continue
            with tempfile.TemporaryDirectory() as tmp:
                ns = argparse.Namespace(simulate=True, kit=kit, band=None, hours=args.hours,
                                        speed=args.speed, seed=seed, mtu=247)
                summary, results = asyncio.run(record_multi(ns, config, Path(tmp)))
                truth = _written_truth(summary.manifest_path, legs=list(results))
                origin = read_manifest(summary.manifest_path)[0]
            # the bands stream only once connected: at --speed, seconds of connecting are
            # minutes of the simulated night that no band saw (more on a loaded machine)
            lead_s = max((b.start_utc.timestamp() - origin for b in summary.bands
                          if b.start_utc is not None), default=float("nan"))
            for leg, result in results.items():
                s = score_events(result.episodes, truth[leg])
                scores.append(s)
                lost = sum(c.lost for b in summary.bands for c in b.counts.values())
                print(f"{kit:15s} seed {seed} {leg:5s} truth {s.n_truth} detected "
                      f"{s.n_detected} tp {s.tp} (samples lost {lost}, first {lead_s:.0f} s "
                      "of the night not streamed)", file=sys.stderr)
        pooled = pool_scores(scores).scores
        f1 = "n/a" if pooled.f1 is None else f"{pooled.f1:.3f}"
        print(f"{kit:15s} nights {args.seeds} truth {pooled.n_truth} tp {pooled.tp} "
              f"fp {pooled.fp} fn {pooled.fn} F1 {f1} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
