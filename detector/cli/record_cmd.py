"""``cramp record``: record a night from a band over Bluetooth LE, detecting cramps live.

``cramp record --simulate`` runs the same client against an in-process simulated band (a
night model behind the band's firmware and a real GATT stack), sped up, then stores the night
and writes the morning report: the whole product path in a minute or two.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from detector.bands.registry import BANDS
from detector.cli.argtypes import SEED, bounded_float, bounded_int
from detector.cli.store_options import add_store_choice, db_path_from_args
from detector.config import DetectorConfig, load_config, parse_night_window
from detector.errors import CrampError, CrampInputError
from detector.pipeline.night_window import resolve_timezone
from detector.safe_files import ensure_private_dir, file_sha256
from detector.store.db import default_db_path

if TYPE_CHECKING:  # bleak and the BLE session are imported when a night is recorded
    from detector.ble.live import LiveDisplay
    from detector.ble.scan import FoundBand
    from detector.ble.session import LegBandSession, SessionConfig, SessionSummary
    from detector.pipeline.result import NightResult

APP_NAME = "night-cramp-detector"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``record`` subcommand."""
    p = sub.add_parser(
        "record", help="record a night from a band, detecting cramps live",
        description="Connect to a LegBand (the first one found unless --device is given), "
                    "stream all night through dropouts, write a crash-safe capture, show "
                    "cramps as they start, and store the night in the morning.")
    p.add_argument("--device", metavar="ADDRESS|NAME", help="band to use (address or name)")
    p.add_argument("--out", metavar="DIR", type=Path,
                   help="directory for the capture (and report) files (default: the user "
                        "data directory's captures/)")
    p.add_argument("--until", metavar="HH:MM",
                   help="morning time to stop at (local; default: end of the night window)")
    store = p.add_argument_group(
        "where the night goes", "A recorded night goes to your personal store; a simulated "
        "one to the demo store, kept apart from your nights (unless --store or --db).")
    add_store_choice(store, default="personal", verb="write")
    store.add_argument("--no-store", action="store_true", help="do not store the night")
    p.add_argument("--report", action="store_true",
                   help="write the morning report when the night ends (always with --simulate)")
    p.add_argument("--mtu", type=bounded_int(23, 247), default=247,
                   help="ATT MTU to ask for (23-247)")
    p.add_argument("--config", metavar="TOML", help="detector thresholds (TOML) over defaults")
    p.add_argument("--tz", metavar="ZONE", help="IANA time zone for local times")
    p.add_argument("--leg", choices=("left", "right"), help="leg the band is on")
    from detector.cli.record_kits import register_options

    register_options(p)
    sim = p.add_argument_group("simulation")
    sim.add_argument("--simulate", action="store_true",
                     help="record a simulated band (night model + firmware over in-process BLE)")
    sim.add_argument("--simulate-band", choices=tuple(b.simulate_choice for b in BANDS),
                     default="legband",
                     help="simulated band: our LegBand, a Polar PMD on the foot, a Myo on "
                          "the calf, a Movesense on the shank or a Ganglion's calf EMG "
                          "(default legband)")
    sim.add_argument("--speed", type=bounded_float(0.0, 3600.0, lo_open=True), default=60.0,
                     metavar="N",
                     help="simulated seconds per real second (default 60)")
    sim.add_argument("--hours", type=bounded_float(1 / 60, 24.0, unit="h"), default=1.0,
                     metavar="H",
                     help="length of the simulated night (default 1)")
    sim.add_argument("--seed", type=SEED, default=1, metavar="S", help="simulation seed")
    sim.add_argument("--dropouts", type=bounded_int(0, 100), default=3, metavar="N",
                     help="radio dropouts of 2-40 s to simulate, on each band of a kit "
                          "(default 3; the recorder backfills a LegBand's from its buffer; "
                          "the other bands keep none, so their samples are lost and "
                          "recorded as gaps)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Record one night; store it; print the summary (and the report's path)."""
    config = load_config(args.config) if args.config else DetectorConfig()
    if args.tz:
        config = config.replace(in_bed__timezone=args.tz)
    if not 23 <= args.mtu <= 247:
        raise CrampInputError("--mtu", f"expected 23 to 247, got {args.mtu}")
    if args.no_store and (args.db is not None or args.store is not None):
        raise CrampInputError("--no-store", "cannot be combined with --db or --store")
    if args.simulate and args.db is None and args.store is None:
        args.store = "demo"  # a simulated night is not one of the sleeper's nights
    args.db = db_path_from_args(args)
    if args.out is not None:
        out_dir = ensure_private_dir(args.out, tighten=False)
    else:
        data_dir = ensure_private_dir(platformdirs.user_data_path(APP_NAME, appauthor=False),
                                      tighten=True)
        out_dir = ensure_private_dir(data_dir / "captures", tighten=True)
    if getattr(args, "band", None) or getattr(args, "kit", None):
        from detector.cli.record_multi import run_multi

        return run_multi(args, config, out_dir)
    import asyncio  # loaded when a night is recorded, not for --help

    summary, display = asyncio.run(_record(args, config, out_dir))
    display.summary(summary)
    if summary.result is None:
        return 0
    if not args.no_store:
        night_date = _store(summary, args, config)
        if args.report or args.simulate:
            path = _report(args, config, night_date, out_dir)
            print(f"morning report: {path}")
    return 0


async def _record(args: argparse.Namespace, config: DetectorConfig,
                  out_dir: Path) -> tuple[SessionSummary, LiveDisplay]:
    from detector.ble.scan import LEGBAND_PROFILE
    from detector.ble.session import LegBandSession, SessionConfig
    from detector.ble.timebase import WallTimebase

    tz = resolve_timezone(config.in_bed.timezone)
    session_config = SessionConfig(mtu=args.mtu)
    if not args.simulate:
        band = await _find_band(args.device)
        timebase = WallTimebase()
        start = timebase.now_s()
        if band.profile != LEGBAND_PROFILE:
            from detector.cli.record_other import single_band_session

            cls, kwargs = single_band_session(band.profile)
            other = cls(
                band.device if band.device is not None else _no_device(band),
                capture_path=_capture_path(out_dir, band.address), timebase=timebase,
                config=session_config, detector_config=config, leg=args.leg or "unknown",
                until_s=_until(args.until, config, start, tz), **kwargs)
            return await _run_session(other, tz, args)  # type: ignore[arg-type]
        session = LegBandSession(
            band.device if band.device is not None else _no_device(band),
            capture_path=_capture_path(out_dir, band.address), timebase=timebase,
            config=session_config, detector_config=config, leg=args.leg or "unknown",
            until_s=_until(args.until, config, start, tz))
        return await _run_session(session, tz, args)
    if getattr(args, "simulate_band", "legband") != "legband":
        from detector.cli.record_other import record_simulated_other

        return await record_simulated_other(  # type: ignore[no-any-return]
            args, config, _capture_path(out_dir, f"simulated{args.simulate_band}"),
            lambda session: _run_session(session, tz, args))
    return await _record_simulated(args, config, out_dir, session_config, tz)


async def _record_simulated(args: argparse.Namespace, config: DetectorConfig, out_dir: Path,
                            session_config: SessionConfig,
                            tz: object) -> tuple[SessionSummary, LiveDisplay]:
    import logging

    import numpy as np

    from detector.ble.scan import LEGBAND_PROFILE, scan_bands
    from detector.ble.session import LegBandSession
    from detector.cli.record_other import simulate_dropouts
    from firmware_sim.firmware import ManualClock
    from firmware_sim.night import random_scenario
    from firmware_sim.stepped_band import (
        ManualTimebase,
        NightFeed,
        SimulatedBand,
        drive_paced,
        paced_session_config,
    )

    if not 0 < args.speed <= 10_000 or not 1 / 60 <= args.hours <= 24:
        raise CrampInputError("--speed/--hours", "expected --speed from above 0 to 10000 and "
                              "--hours from 0.017 (a minute) to 24")
    if args.dropouts < 0:
        raise CrampInputError("--dropouts", f"expected 0 or more, got {args.dropouts}")
    # the in-process link's virtual controllers warn about packets for links just closed
    logging.getLogger("bumble").setLevel(logging.ERROR)
    seeds = np.random.SeedSequence(args.seed).spawn(3)
    scenario = random_scenario(duration_s=max(60.0, args.hours * 3600.0),
                               rng=np.random.default_rng(seeds[0]), fs_emg=1000.0, fs_acc=50.0,
                               n_cramps=max(1, round(args.hours)) if args.hours >= 0.25 else 0,
                               leg=args.leg,  # type: ignore[arg-type]
                               start_utc=simulated_start_utc(
                                   datetime.now(UTC), config,
                                   duration_s=max(60.0, args.hours * 3600.0)))
    feed = NightFeed(scenario, rng=np.random.default_rng(seeds[1]))
    clock = ManualClock()
    band = await SimulatedBand.create(feed, clock=clock, rng=np.random.default_rng(seeds[2]))
    drop_rng = np.random.default_rng(seeds[2].spawn(1)[0])
    simulate_dropouts([band], args.dropouts, duration_s=scenario.duration_s, rng=drop_rng)
    found = await scan_bands(timeout_s=0.3, backend=band.scanner_backend)
    device = next((b.device for b in found if b.profile == LEGBAND_PROFILE), None)
    if device is None:
        device = band.ble_device
    origin = scenario.start_utc.timestamp()
    timebase = ManualTimebase(clock, origin_unix_s=origin)
    until = (_until(args.until, config, origin, tz) if args.until
             else origin + scenario.duration_s)
    session = LegBandSession(
        device, capture_path=_capture_path(out_dir, "simulated"), timebase=timebase,
        config=paced_session_config(mtu=session_config.mtu, speed=args.speed),
        detector_config=config, client_kwargs={"backend": band.client_backend},
        leg=scenario.leg, until_s=until,
        session_info={"simulated": {"seed": args.seed, "speed": args.speed,
                                    "hours": args.hours}})
    print(f"simulated night of {args.hours:g} h at {args.speed:g}x "
          f"(about {scenario.duration_s / args.speed:.0f} s; longer on a busy machine); "
          "Ctrl-C stops it")
    return await drive_paced(band, clock, timebase, _run_session(session, tz, args),
                             speed=args.speed, connect_pending=lambda: session.connect_pending)


async def _run_session(session: LegBandSession, tz: object,
                       args: argparse.Namespace) -> tuple[SessionSummary, LiveDisplay]:
    from detector.ble.live import LiveDisplay
    from detector.ble.live_store import LiveStore
    from detector.ble.session import observers

    display = LiveDisplay(session.channels, tz=tz,  # type: ignore[arg-type]
                          now_s=session.timebase.now_s)
    session.observer = display
    if not args.no_store:  # each episode goes to the store as soon as it ends
        db = args.db or default_db_path()
        session.observer = observers(display, LiveStore(session, db_path=db,
                                                        timezone=session.detector_config
                                                        .in_bed.timezone))
    import asyncio

    from detector.cli.stop_signals import stop_on_signals

    loop = asyncio.get_running_loop()
    old_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: _stack_error(display, context))
    try:
        with stop_on_signals(session.request_stop):
            return await session.run(), display
    finally:
        loop.set_exception_handler(old_handler)


def _stack_error(display: LiveDisplay, context: dict[str, Any]) -> None:
    """An error inside the BLE stack's own callbacks (bleak, D-Bus, bumble): one line.

    Such errors never reach the recorder (the stack calls itself from the event loop), and
    asyncio would print a traceback; the night goes on either way.
    """
    from detector.ble.link_errors import describe_error

    exc = context.get("exception")
    what = describe_error(exc) if isinstance(exc, BaseException) else str(
        context.get("message", "error"))
    display.on_note(f"Bluetooth stack error (the night goes on): {what}")


async def _find_band(wanted: str | None) -> FoundBand:
    from detector.ble.scan import LEGBAND_PROFILE, matches, scan_bands

    print("scanning for bands...", file=sys.stderr)
    bands = await scan_bands(timeout_s=10.0)
    if wanted is not None:
        bands = [b for b in bands if matches(b, wanted)]
    if not bands:
        where = "--device" if wanted else "scan"
        raise CrampInputError(where, "no supported band found nearby"
                              + (f" matching {wanted!r}" if wanted else ""))
    legbands = [b for b in bands if b.profile == LEGBAND_PROFILE]
    return legbands[0] if legbands else bands[0]


def _no_device(band: FoundBand) -> object:
    raise CrampInputError(band.address, "the scan gave no connectable device handle")


def _capture_path(out_dir: Path, label: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(ch for ch in label if ch.isalnum()) or "band"
    for k in range(1000):
        path = out_dir / f"night-{stamp}-{safe}{'' if k == 0 else f'-{k}'}.cramp"
        if not path.exists():
            return path
    raise CrampInputError(str(out_dir), "too many capture files with the same time stamp")


def _until(text: str | None, config: DetectorConfig, start_s: float, tz: object) -> float | None:
    """Session time (UNIX s) of the next HH:MM after ``start_s`` (local), or None."""
    if text is None:
        window = config.in_bed.night_window
        if window is None:
            return None
        text = window.split("-")[1]
        where = "in_bed.night_window"
    else:
        where = "--until"
        parse_night_window(f"00:00-{text}", where=where)
    hh, mm = (int(v) for v in text.split(":"))
    start = datetime.fromtimestamp(start_s, UTC).astimezone(tz)  # type: ignore[arg-type]
    target = start.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if target <= start:
        target += timedelta(days=1)
    return target.timestamp()


def _store(summary: SessionSummary, args: argparse.Namespace, config: DetectorConfig) -> date:
    from detector.store import connect, default_db_path, load_night, save_night

    assert summary.result is not None and summary.capture_path is not None
    db = args.db or default_db_path()
    digest = file_sha256(summary.capture_path)
    night_id = save_night(_morning_result(summary, config), db_path=db,
                          recording_sha256=digest, timezone=config.in_bed.timezone)
    conn = connect(db, create=False)
    try:
        night_date = load_night(conn, night_id, with_trace=False).night_date
    finally:
        conn.close()
    kind = getattr(args, "store", None)
    note = (f" (the {kind} store: `cramp report --store {kind}` shows it)"
            if kind and kind != "personal" else "")
    print(f"stored the night in {db}{note}")
    return night_date


def _morning_result(summary: SessionSummary, config: DetectorConfig) -> NightResult:
    """The night as stored: the closed capture replayed through the same pipeline.

    Replay runs the pipeline on the band's sample grid, as live, and places the episodes with
    the clock fitted to the whole night (the live run only had the estimate so far); so the
    stored night is exactly what ``cramp replay CAPTURE`` gives. If the capture cannot be
    replayed, the live result (placed by the online estimate) is stored instead, with a
    remark.
    """
    from detector.capture.recording import open_capture
    from detector.replay import default_threads, run_source

    assert summary.result is not None and summary.capture_path is not None
    try:
        with open_capture(summary.capture_path,
                              min_emg_fs_hz=config.emg.min_fs_hz) as source:
            return run_source(source, config=config, leg=summary.result.info.leg,
                              threads=default_threads())
    except CrampError as exc:
        print(f"cramp: could not replay the capture ({exc}); storing the live result",
              file=sys.stderr)
        return summary.result


def _report(args: argparse.Namespace, config: DetectorConfig, night_date: date,
            out_dir: Path) -> Path:
    from detector.export import write_new_report
    from detector.report import collect_report, render_html
    from detector.store import connect, default_db_path, resolve_zone

    db = args.db or default_db_path()
    local = resolve_zone(config.in_bed.timezone, where="--tz")
    conn = connect(db, create=False)
    try:
        data = collect_report(conn, [night_date], local=local, generated_utc=datetime.now(UTC),
                              store_kind=getattr(args, "store", None))
    finally:
        conn.close()
    return write_new_report(report_dir(args), f"cramp-report-{night_date}", render_html(data))


def report_dir(args: argparse.Namespace) -> Path:
    """Where record writes its morning report: ``--out``, else the data folder's reports/."""
    if args.out is not None:
        return Path(args.out)
    path = platformdirs.user_data_path(APP_NAME, appauthor=False) / "reports"
    return ensure_private_dir(path, tighten=True)


def simulated_start_utc(now_utc: datetime, config: DetectorConfig, *,
                        duration_s: float) -> datetime:
    """When a simulated night starts: now if that is inside the night window, else 22:30
    local on the evening of the night being recorded (this evening, or last evening before
    noon). So a demo night is dated by the night it is recorded on.

    Parameters
    ----------
    now_utc : datetime
        Aware current time.
    duration_s : float
        Length of the simulated night (s): now is used only if it all fits in the window.
    config : DetectorConfig
        Its night window and zone.
    """
    from detector.pipeline.night_window import NightWindow

    tz = resolve_timezone(config.in_bed.timezone)
    window = NightWindow(config.in_bed.night_window, tz=tz)
    if window.contains(now_utc) and window.contains(now_utc + timedelta(seconds=duration_s)):
        return now_utc.replace(microsecond=0)
    here = now_utc.astimezone(tz)  # type: ignore[arg-type]
    evening = here.date() - timedelta(days=1) if here.hour < 12 else here.date()
    start = datetime(evening.year, evening.month, evening.day, 22, 30,
                     tzinfo=tz)  # type: ignore[arg-type]
    return start.astimezone(UTC)
