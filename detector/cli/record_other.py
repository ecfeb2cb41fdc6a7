"""``cramp record`` for the consumer bands: the session for a profile, and their simulation.

``--simulate --simulate-band polar|myo|movesense|ganglion`` streams a simulated night
(firmware_sim's night model) from a bumble peripheral of that band on an in-process link,
paced like the LegBand one (:func:`~firmware_sim.stepped_band.drive_paced`: the band's clock is
stepped from the event loop, so a busy machine slows the night down instead of losing data).
The session class comes from the band registry and its arguments from :func:`session_for`,
the one table single-band and multi-band nights share (a Polar negotiates its PMD settings in
both).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from detector.config import DetectorConfig
from detector.errors import CrampInputError

if TYPE_CHECKING:
    from detector.bands.registry import BandKind


def session_for(kind: BandKind, role: str) -> tuple[type, dict[str, Any]]:
    """The session class and its arguments for a band of ``kind`` in ``role``.

    One table for single-band and multi-band nights: a Polar negotiates its accelerometer
    settings (as fast as it goes on the shank, posture rates on the foot), a Movesense is
    subscribed at 208 Hz on the shank and 52 Hz on the foot.

    Raises
    ------
    CrampInputError
        The band cannot fill the role.
    """
    from detector.bands.registry import ROLE_CHANNELS

    if role not in kind.roles:
        raise CrampInputError("--band", f"a {kind.label} cannot be the {role} band (it can "
                              f"be: {', '.join(kind.roles)})")
    channel_role = ROLE_CHANNELS[role]
    if kind.name == "polar_pmd":
        from detector.profiles.polar_settings import CALF_MMG_WISH, FOOT_WISH

        return kind.load("session"), {"role": channel_role,
                                      "wish": CALF_MMG_WISH if role == "shank" else FOOT_WISH}
    if kind.name == "movesense":
        return kind.load("session"), {"role": channel_role,
                                      "fs": 208 if role == "shank" else 52}
    return kind.load("session"), {}


DROPOUT_S = (2.0, 40.0)
"""Shortest and longest simulated radio dropout (s), as the LegBand night's (``--dropouts``)."""
DROPOUT_MARGIN_S = 60.0
"""No dropout in the night's first or last minute (s), as the LegBand night's."""
REJOIN_S = 20.0
"""Simulated time (s) left after each dropout before the next one may start: enough for the
session to reconnect, so that every scheduled dropout is a dropout of its own."""


def schedule_dropouts(n: int, *, duration_s: float,
                      rng: np.random.Generator) -> list[tuple[float, float]]:
    """``n`` disjoint radio dropouts (start s, length s) inside a night of ``duration_s``.

    The night between its first and last minute is cut into ``n`` equal slots, one dropout
    in the first half of each, at most 40 s long and ending :data:`REJOIN_S` before the next
    slot, so two dropouts never merge into one. A night too short for ``n`` such slots (each
    at least 2 * (2 s + :data:`REJOIN_S`)) gets as many as fit; the caller says so.

    Parameters
    ----------
    n : int
        Dropouts wanted (0 or more).
    duration_s : float
        Length of the night (s).
    rng : numpy.random.Generator
        Draws the starts and lengths.

    Returns
    -------
    list of (float, float)
        Start (s since the night began) and length (s) of each dropout, in time order.
    """
    window_s = duration_s - 2 * DROPOUT_MARGIN_S
    min_slot_s = 2 * (DROPOUT_S[0] + REJOIN_S)
    n_fit = min(n, int(window_s // min_slot_s)) if window_s > 0 else 0
    out = []
    for k in range(n_fit):
        slot_s = window_s / n_fit
        a = DROPOUT_MARGIN_S + k * slot_s
        longest = min(DROPOUT_S[1], slot_s / 2 - REJOIN_S)
        out.append((float(rng.uniform(a, a + slot_s / 2)),
                    float(rng.uniform(DROPOUT_S[0], longest))))
    return out


def simulate_dropouts(bands: list[Any], n: int, *, duration_s: float,
                      rng: np.random.Generator) -> list[int]:
    """Schedule ``n`` radio dropouts on each simulated band (see :func:`schedule_dropouts`).

    The bands of a kit take turns: ``n * len(bands)`` disjoint dropouts are drawn and dealt
    out in time order, so one band drops while the others stream and two never reconnect at
    once (the in-process bumble stack loses a connection when two do). Prints a line when the
    night has room for fewer; returns the number scheduled on each band.
    """
    plan = schedule_dropouts(n * len(bands), duration_s=duration_s, rng=rng)
    for k, (start_s, length_s) in enumerate(plan):
        bands[k % len(bands)].outage(start_s=start_s, duration_s=length_s)
    got = [len(plan[k::len(bands)]) for k in range(len(bands))]
    if min(got, default=n) < n:
        print(f"a night of {duration_s:.0f} s has room for {len(plan)} of the "
              f"{n * len(bands)} dropouts asked for")
    return got


def single_band_session(profile: str) -> tuple[type, dict[str, Any]]:
    """The session and its arguments for one band of ``profile`` alone (its default role)."""
    from detector.bands.registry import band_named

    kind = band_named(profile)
    return session_for(kind, kind.default_roles[0])


async def record_simulated_other(args: argparse.Namespace, config: DetectorConfig,
                                 capture_path: Path,
                                 run_session: Callable[[Any], Awaitable[Any]]) -> Any:
    """Simulate a Polar (foot) or Myo (calf) night and record it; return ``run_session``'s."""
    from bumble.link import LocalLink
    from scipy.signal import resample_poly

    from detector.profiles.myo import MYO_EMG_UV_PER_COUNT_ASSUMED
    from firmware_sim.firmware import ManualClock
    from firmware_sim.myo_sim import MyoPeripheral, emg_uv_to_counts
    from firmware_sim.night import random_scenario, synthesize
    from firmware_sim.polar_sim import PolarPeripheral
    from firmware_sim.stepped_band import ManualTimebase, drive_paced, paced_session_config

    if not args.speed > 0 or not 1 / 60 <= args.hours <= 2:
        raise CrampInputError("--speed/--hours", "expected --speed > 0 and --hours from 0.017 "
                              "to 2 for a simulated Polar or Myo night")
    logging.getLogger("bumble").setLevel(logging.ERROR)
    seeds = np.random.SeedSequence(args.seed).spawn(2)
    duration_s = max(60.0, args.hours * 3600.0)
    scenario = random_scenario(duration_s=duration_s + 60.0, rng=np.random.default_rng(seeds[0]),
                               fs_emg=1000.0, fs_acc=50.0, n_cramps=max(1, round(args.hours)),
                               leg=args.leg, rest_emg_uv_rms=12.0)  # type: ignore[arg-type]
    night = synthesize(scenario, rng=np.random.default_rng(seeds[1]))
    clock = ManualClock()  # stepped from the event loop (drive_paced), as the LegBand's
    origin = scenario.start_utc.timestamp()
    link = LocalLink()
    kwargs: dict[str, Any] = {}
    band: Any
    if args.simulate_band == "polar":
        band = PolarPeripheral.on_link(link, acc_g=night.foot_acc_g, fs=50, clock=clock,
                                       origin_unix_s=origin)
    elif args.simulate_band == "movesense":  # on the shank, at the 52 Hz it offers
        from firmware_sim.movesense_sim import MovesensePeripheral

        band = MovesensePeripheral.on_link(link, acc_g=resample_poly(night.shank_acc_g, 26, 25,
                                                                     axis=0),
                                           fs=52, clock=clock)
        kwargs.update(fs=52, role="shank_acc")
    elif args.simulate_band == "ganglion":  # channel 1 over the calf, at 200 Hz
        from detector.profiles.ganglion import GANGLION
        from firmware_sim.ganglion_sim import GanglionPeripheral

        counts = np.rint(resample_poly(night.emg_uv, 1, 5) / GANGLION.uv_per_count)
        band = GanglionPeripheral.on_link(link, emg_counts=np.repeat(counts[:, None], 4, axis=1),
                                          clock=clock)
        kwargs["channel"] = 0
    else:
        counts = emg_uv_to_counts(resample_poly(night.emg_uv, 1, 5),
                                  uv_per_count=MYO_EMG_UV_PER_COUNT_ASSUMED)
        band = MyoPeripheral.on_link(link, emg_counts=np.repeat(counts[:, None], 8, axis=1),
                                     imu_accel_g=night.shank_acc_g, clock=clock)
    simulate_dropouts([band], args.dropouts, duration_s=duration_s,
                      rng=np.random.default_rng(seeds[0].spawn(1)[0]))
    await band.start()
    from detector.bands.registry import band_for_simulate_choice

    cls, defaults = single_band_session(band_for_simulate_choice(args.simulate_band).name)
    kwargs = {**defaults, **kwargs}
    timebase = ManualTimebase(clock, origin_unix_s=origin)
    session = cls(band.ble_device, capture_path=capture_path, timebase=timebase,
                  config=paced_session_config(mtu=args.mtu, speed=args.speed),
                  detector_config=config, client_kwargs={"backend": band.client_backend},
                  leg=scenario.leg, until_s=origin + duration_s,
                  session_info={"simulated": {"seed": args.seed, "speed": args.speed,
                                              "hours": args.hours,
                                              "band": args.simulate_band}}, **kwargs)
    print(f"simulated {args.simulate_band} night of {args.hours:g} h at {args.speed:g}x "
          f"(about {duration_s / args.speed:.0f} s; longer on a busy machine); Ctrl-C stops it")
    return await drive_paced(band, clock, timebase, run_session(session), speed=args.speed,
                             connect_pending=lambda: session.connect_pending)
