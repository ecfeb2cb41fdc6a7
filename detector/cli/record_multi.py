"""``cramp record --band ROLE=ADDR ...`` and ``--simulate --kit NAME``: multi-band nights.

Each ``--band`` names one band and the place it takes: ``emg=ADDR``, ``shank=ADDR``,
``foot=ADDR``, with the leg when there are bands on both legs (``shank@right=ADDR``). The
band's kind comes from the scan and the band registry, which also says which roles it can
fill. The night is recorded by :class:`~detector.ble.multi_band.MultiBandNight` (one capture
per band and a night manifest); in the morning each leg's captures are replayed together
(the same pipeline) and stored, one stored recording per leg of the same night date, so that
the morning report counts the night once and the "cramps in both legs" rule sees both legs.

``--simulate --kit`` records one of the kits of :data:`KITS` from firmware_sim's night model,
every band a bumble peripheral on its own in-process link reached through the real
``BleakClient``; the truth is written beside the manifest (``<night>.night.truth.tsv``, or one
per leg) for ``cramp eval``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from detector.bands.registry import ROLE_CHANNELS, band_named
from detector.ble.multi_band import BandRun, MultiBandNight, MultiBandSummary, pipeline_less
from detector.ble.session_types import SessionConfig
from detector.capture.multi_band import MANIFEST_SUFFIX, BandEntry, MultiBandRecording
from detector.cli.record_kits import KIT_ACC_FS_HZ, KITS, KitBand
from detector.cli.record_other import session_for, simulate_dropouts
from detector.config import DetectorConfig
from detector.errors import CrampError, CrampInputError
from detector.pipeline.result import NightResult

GANGLION_MAX_SPEED = 10.0
"""A Ganglion sends 100 packets/s: a kit of ``n`` >= 2 bands with a Ganglion is simulated at
most this / ``n`` times real time, or the in-process radio starves the other bands' links on a
shared 2-core machine (their watchdogs then see dropouts). A kit of the Ganglion alone has no
other link to starve and runs at the asked speed."""


@dataclass(frozen=True, kw_only=True)
class BandAssignment:
    """One ``--band``: the role (``emg``/``shank``/``foot``), the leg and the device."""

    role: str
    leg: str
    device: str


def parse_band_option(text: str) -> BandAssignment:
    """Parse ``ROLE[@LEG]=ADDR``.

    Raises
    ------
    CrampInputError
        Not of that form, an unknown role or leg.
    """
    where = "--band"
    place, sep, device = text.partition("=")
    role, _, leg = place.strip().lower().partition("@")
    if not sep or not device.strip():
        raise CrampInputError(where, f"{text!r}; expected ROLE=ADDRESS, e.g. shank=AA:BB:...")
    if role not in ROLE_CHANNELS:
        raise CrampInputError(where, f"role {role!r}; expected emg, shank or foot")
    if leg not in ("", "left", "right", "both"):
        raise CrampInputError(where, f"leg {leg!r}; expected left, right or both")
    if leg == "both" and role != "emg":
        raise CrampInputError(where, f"{role}@both: only an EMG band (a Ganglion) covers both "
                              "legs")
    return BandAssignment(role=role, leg=leg or "unknown", device=device.strip())


def _night_paths(out_dir: Path, label: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for k in range(1000):
        path = out_dir / f"night-{stamp}-{label}{'' if k == 0 else f'-{k}'}{MANIFEST_SUFFIX}"
        if not path.exists():
            return path
    raise CrampInputError(str(out_dir), "too many nights with the same time stamp")


def morning_results(manifest: Path, config: DetectorConfig) -> dict[str, NightResult]:
    """Each leg's captures replayed together (what is stored)."""
    from detector.capture.multi_band import night_legs, read_manifest
    from detector.replay import run_source

    _start, entries = read_manifest(manifest)
    out = {}
    for leg in night_legs(entries):
        with MultiBandRecording(manifest, leg=leg, min_emg_fs_hz=config.emg.min_fs_hz) as rec:
            out[leg] = run_source(rec, config=config, leg=leg)
    return out


def store_results(results: dict[str, NightResult], manifest: Path, *, db: Path | None,
                  config: DetectorConfig) -> list[int]:
    """Store one recording per leg (identified by the manifest and the leg); their ids."""
    from detector.store import save_night

    digest = hashlib.sha256(manifest.read_bytes())
    ids = []
    for leg, result in results.items():
        sha = hashlib.sha256(digest.digest() + leg.encode()).hexdigest()
        ids.append(save_night(result, db_path=db, recording_sha256=sha,
                              timezone=config.in_bed.timezone))
    return ids


async def record_multi(args: argparse.Namespace, config: DetectorConfig, out_dir: Path
                       ) -> tuple[MultiBandSummary, dict[str, NightResult]]:
    """Record a multi-band night (real bands or a simulated kit); return it and the results."""
    if args.simulate:
        if args.kit is None:
            raise CrampInputError("--band", "with --simulate, choose a kit with --kit")
        summary = await _record_kit(args, config, out_dir)
    else:
        summary = await _record_bands(args, config, out_dir)
    try:
        results = morning_results(summary.manifest_path, config)
    except CrampError as exc:
        print(f"cramp: could not replay the night ({exc}); keeping the live result",
              file=sys.stderr)
        results = summary.results
    return summary, results


def _print_summary(summary: MultiBandSummary, results: dict[str, NightResult],
                   entries: list[BandEntry]) -> None:
    for entry, s in zip(entries, summary.bands, strict=True):
        counts = ", ".join(f"{role} {c.received:,} received, {c.lost:,} lost"
                           for role, c in s.counts.items())
        early = "" if s.reason in ("morning", "stopped") else f"; ended early ({s.reason})"
        print(f"{entry.label}: {s.connections} "
              f"connection(s), {s.dropouts} dropout(s); {counts or 'no samples'}{early}")
    for leg, r in results.items():
        print(f"{leg} leg ({r.mode}): {len(r.episodes)} cramp episode(s)")
    print(f"night manifest: {summary.manifest_path}")


def _display(runs: list[BandRun], config: DetectorConfig, timebase: Any) -> Any:
    """The live display over every band's channels (episodes as they start, notes, status)."""
    from detector.ble.live import LiveDisplay
    from detector.capture.multi_band import split_role
    from detector.pipeline.night_window import resolve_timezone

    channels = {split_role(role)[0]: spec for r in runs
                for role, spec in r.session.channels.items()}
    return LiveDisplay(channels, tz=resolve_timezone(config.in_bed.timezone),
                       now_s=timebase.now_s)


async def _run(night: MultiBandNight) -> MultiBandSummary:
    from detector.cli.stop_signals import stop_on_signals

    with stop_on_signals(night.request_stop):
        return await night.run()


async def _record_bands(args: argparse.Namespace, config: DetectorConfig,
                        out_dir: Path) -> MultiBandSummary:
    from detector.ble.scan import matches, scan_bands
    from detector.ble.timebase import WallTimebase

    wanted = [parse_band_option(t) for t in args.band]
    print("scanning for bands...", file=sys.stderr)
    found = await scan_bands(timeout_s=10.0)
    timebase = WallTimebase()
    start = timebase.now_s()
    manifest = _night_paths(out_dir, "bands")
    runs = []
    for k, w in enumerate(wanted):
        band = next((b for b in found if matches(b, w.device)), None)
        if band is None or band.device is None:
            raise CrampInputError("--band", f"no supported band found matching {w.device!r}")
        kind = band_named(band.profile)
        cls, kwargs = session_for(kind, w.role)
        roles: tuple[str, ...] = (ROLE_CHANNELS[w.role],)
        if w.leg == "both":
            kwargs["channel_legs"] = _channel_legs(kind.name, kind.max_legs,
                                                   args.ganglion_channels)
            roles = tuple(f"emg@{leg}" for leg in sorted(kwargs["channel_legs"].values()))
        entry = BandEntry(capture=f"{manifest.name.removesuffix(MANIFEST_SUFFIX)}-{k}-"
                          f"{w.role}.cramp", band=kind.name, leg=w.leg, roles=roles)
        session = pipeline_less(cls)(band.device, capture_path=out_dir / entry.capture,
                                     timebase=timebase, config=SessionConfig(mtu=args.mtu),
                                     detector_config=config, leg=w.leg, **kwargs)
        runs.append(BandRun(entry=entry, session=session))
    night = MultiBandNight(runs, manifest_path=manifest, night_start_unix_s=start,
                           detector_config=config, observer=_display(runs, config, timebase))
    return await _run(night)


def _channel_legs(band: str, max_legs: int, text: str | None) -> dict[int, str]:
    """The explicit channel -> leg assignment of a band on both legs (``--ganglion-channels``).

    Raises
    ------
    CrampInputError
        Not a band that covers two legs, no assignment, or not one channel per leg.
    """
    from detector.profiles.ganglion import parse_channel_legs

    if max_legs < 2:
        raise CrampInputError("--band", f"a {band} band covers one leg only (emg@both needs a "
                              "Ganglion)")
    if not text:
        raise CrampInputError("--ganglion-channels", "emg@both needs the channel of each calf, "
                              "e.g. --ganglion-channels 1=left,3=right")
    legs = parse_channel_legs(text).channel_legs
    if sorted(legs.values()) != ["left", "right"]:
        raise CrampInputError("--ganglion-channels", f"{text!r}; expected one channel on the "
                              "left and one on the right calf")
    return legs


async def _record_kit(args: argparse.Namespace, config: DetectorConfig,
                      out_dir: Path) -> MultiBandSummary:
    from firmware_sim.band_group import BandGroup
    from firmware_sim.firmware import ManualClock
    from firmware_sim.stepped_band import ManualTimebase, drive_paced, paced_session_config

    kit = KITS[args.kit]
    speed = float(args.speed)
    cap = GANGLION_MAX_SPEED / len(kit)
    if len(kit) > 1 and any(b.band == "ganglion" for b in kit) and speed > cap:
        print(f"a Ganglion sends 100 packets/s: simulating this kit at {cap:.3g}x, not "
              f"{speed:g}x", file=sys.stderr)
        speed = cap
    if not speed > 0 or not 1 / 60 <= args.hours <= 2:
        raise CrampInputError("--speed/--hours", "expected --speed > 0 and --hours from 0.017 "
                              "to 2 for a simulated kit")
    logging.getLogger("bumble").setLevel(logging.ERROR)
    from detector.cli.record_cmd import simulated_start_utc

    nights = simulate_legs(kit, hours=args.hours, seed=args.seed,
                           start_utc=simulated_start_utc(datetime.now(UTC), config,
                                                         duration_s=args.hours * 3600.0 + 60))
    origin = min(n[0].start_utc.timestamp() for n in nights.values())
    clock = ManualClock()  # stepped from the event loop (drive_paced), as a single band's
    timebase = ManualTimebase(clock, origin_unix_s=origin)
    manifest = _night_paths(out_dir, f"kit{args.kit.replace('-', '')}")
    runs, bands = [], []
    for k, kb in enumerate(kit):
        kind = band_named(kb.band)
        cls, kwargs = session_for(kind, kb.role)  # the settings a real band is recorded at
        band = await _peripheral(kb, nights, clock=clock, origin_unix_s=origin, index=k,
                                 fs=kwargs.get("fs"), rng=np.random.default_rng(
                                     np.random.SeedSequence([args.seed, 0xACC, k])))
        roles: tuple[str, ...] = (ROLE_CHANNELS[kb.role],)
        if kb.leg == "both":
            kwargs["channel_legs"] = dict(kb.channel_legs)
            roles = tuple(f"emg@{leg}" for leg in kb.legs)
        entry = BandEntry(capture=f"{manifest.name.removesuffix(MANIFEST_SUFFIX)}-{k}-"
                          f"{kb.role}-{kb.leg}.cramp", band=kind.name, leg=kb.leg,
                          roles=roles)
        session = pipeline_less(cls)(
            band.ble_device, capture_path=out_dir / entry.capture, timebase=timebase,
            config=paced_session_config(mtu=args.mtu, speed=speed),
            detector_config=config, client_kwargs={"backend": band.client_backend},
            leg=kb.leg, until_s=origin + args.hours * 3600.0,
            session_info={"simulated": {"seed": args.seed, "speed": speed, "kit": args.kit}},
            **kwargs)
        runs.append(BandRun(entry=entry, session=session))
        bands.append(band)
        await band.start()
    # --dropouts (absent from a namespace built in code: no dropouts), the bands in turn
    simulate_dropouts(bands, getattr(args, "dropouts", 0), duration_s=args.hours * 3600.0,
                      rng=np.random.default_rng(np.random.SeedSequence([args.seed, 0xD0])))
    _write_truth(nights, manifest)
    night = MultiBandNight(runs, manifest_path=manifest, night_start_unix_s=origin,
                           detector_config=config, observer=_display(runs, config, timebase))
    print(f"simulated {args.kit} night of {args.hours:g} h at {speed:.3g}x (about "
          f"{args.hours * 3600 / speed:.0f} s); Ctrl-C stops it")
    summary: MultiBandSummary = await drive_paced(
        BandGroup(bands), clock, timebase, _run(night), speed=speed,
        connect_pending=lambda: any(r.session.connect_pending for r in runs))
    return summary


def simulate_legs(kit: tuple[KitBand, ...], *, hours: float, seed: int,
                  start_utc: datetime | None = None,
                  fs_acc: float = KIT_ACC_FS_HZ) -> dict[str, tuple[Any, Any]]:
    """One simulated night (scenario, signals) per leg of the kit, cramps on each leg.

    ``start_utc`` (default: the night model's own) is when the night starts; ``fs_acc``
    (Hz) the rate of its accelerometer signals. The calf's resting EMG is the night model's
    own draw (0.8-4 uV RMS, gel electrodes on a relaxed calf): a Ganglion resolves 0.002 uV
    and adds at most about 1.5 uV RMS of its own (1-10 uV peak to peak measured), unlike
    the Myo's int8 samples, whose quantisation the single-band Myo night's 12 uV is for.
    """
    from firmware_sim.night import random_scenario, synthesize

    out = {}
    legs = sorted({leg for b in kit for leg in b.legs})
    seeds = np.random.SeedSequence(seed).spawn(2 * len(legs))
    for k, leg in enumerate(legs):
        scenario = random_scenario(duration_s=hours * 3600.0 + 60.0, fs_emg=1000.0,
                                   fs_acc=float(fs_acc), rng=np.random.default_rng(seeds[2 * k]),
                                   n_cramps=max(1, round(hours)), leg=leg,  # type: ignore[arg-type]
                                   start_utc=start_utc)
        if k:  # both legs: the same night, the second leg's events on its own clock
            scenario = _same_start(scenario, out[legs[0]][0].start_utc)
        out[leg] = (scenario, synthesize(scenario, rng=np.random.default_rng(seeds[2 * k + 1])))
    return out


def _same_start(scenario: Any, start_utc: datetime) -> Any:
    import dataclasses

    return dataclasses.replace(scenario, start_utc=start_utc)


async def _peripheral(kb: KitBand, nights: dict[str, tuple[Any, Any]], *, clock: Any,
                      origin_unix_s: float, index: int, fs: int | None,
                      rng: np.random.Generator) -> Any:
    """The simulated band of ``kb``; ``fs`` (Hz) is the Movesense's subscribed rate, ``rng``
    draws the sensor noise of a band faster than the night model."""
    from bumble.link import LocalLink
    from scipy.signal import resample_poly

    from firmware_sim.resample_sim import acc_at_rate

    scenario, night = nights[kb.legs[0]]
    link = LocalLink()
    address = f"D0:5B:A4:00:02:{index:02X}"
    acc = night.shank_acc_g if kb.role == "shank" else night.foot_acc_g

    def at(rate: int) -> np.ndarray:
        return acc_at_rate(acc, fs_in=round(night.fs_acc), fs_out=rate,
                           noise_g=scenario.acc_noise_g, rng=rng)

    if kb.band == "polar_pmd":  # a Verity Sense: 52 Hz, or up to 416 Hz in SDK mode
        from firmware_sim.polar_verity_sim import NATIVE_FS, VeritySensePeripheral

        return VeritySensePeripheral.on_link(link, acc_g=at(NATIVE_FS), clock=clock,
                                             origin_unix_s=origin_unix_s, address=address)
    if kb.band == "movesense":
        from firmware_sim.movesense_sim import MovesensePeripheral

        rate = int(fs or 52)
        return MovesensePeripheral.on_link(link, acc_g=at(rate), fs=rate, clock=clock,
                                           address=address)
    from detector.profiles.ganglion import GANGLION
    from firmware_sim.ganglion_sim import GanglionPeripheral

    def counts_of(leg_night: Any) -> np.ndarray:
        return np.rint(resample_poly(leg_night.emg_uv, 1, 5) / GANGLION.uv_per_count)

    emg = np.repeat(counts_of(night)[:, None], 4, axis=1)
    for ch, leg in kb.channel_legs:  # one Ganglion on both calves: each leg on its channel
        leg_counts = counts_of(nights[leg][1])
        n = min(emg.shape[0], leg_counts.shape[0])
        emg = emg[:n]
        emg[:, ch] = leg_counts[:n]
    return GanglionPeripheral.on_link(link, emg_counts=emg, clock=clock, address=address)


def _write_truth(nights: dict[str, tuple[Any, Any]], manifest: Path) -> None:
    from detector.safe_files import write_private_text

    base = manifest.name.removesuffix(".json")  # "<night>.night": cramp eval's stem
    for leg, (scenario, _night) in nights.items():
        rows = ["onset\tduration\ttrial_type\tleg"] + [
            f"{e.onset_s:.3f}\t{e.duration_s:.3f}\tcramp\t{leg}"
            for e in scenario.events if e.kind == "cramp"]
        name = f"{base}.truth.tsv" if len(nights) == 1 else f"{base}-{leg}.truth.tsv"
        write_private_text(manifest.parent / name, "\n".join(rows) + "\n")


def run_multi(args: argparse.Namespace, config: DetectorConfig, out_dir: Path) -> int:
    """``cramp record`` with ``--band`` or ``--kit``: record, store, report."""
    summary, results = asyncio.run(record_multi(args, config, out_dir))
    _print_summary(summary, results, [r.entry for r in _entries(summary)])
    if not args.no_store and results:
        from detector.cli.record_cmd import _report
        from detector.store import connect, default_db_path, load_night

        ids = store_results(results, summary.manifest_path, db=args.db, config=config)
        print(f"stored the night ({len(results)} leg(s)) in {args.db or default_db_path()}")
        if args.report or args.simulate:
            conn = connect(args.db or default_db_path(), create=False)
            try:
                night_date = load_night(conn, ids[0], with_trace=False).night_date
            finally:
                conn.close()
            print(f"morning report: {_report(args, config, night_date, out_dir)}")
    return 0


def _entries(summary: MultiBandSummary) -> list[Any]:
    from detector.capture.multi_band import read_manifest

    _start, entries = read_manifest(summary.manifest_path)
    return [BandRun(entry=e, session=None) for e in entries]
