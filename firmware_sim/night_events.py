"""Lay out a plausible random night: when the sleeper lies down, sleeps, moves and cramps.

Structure of a night of ``D`` seconds (rates per hour are of the in-bed or sleep period):

- nights of half an hour or more start and end upright: 5-20 min before going to bed and
  5-15 min after getting up (capped at 5 % / 4 % of ``D``), standing still (with the
  scenario's standing tonic calf activity), pottering about (0-3 short walks of 8-25 s) and
  walking to and from bed; shorter nights are in bed throughout;
- sleep starts 5-30 min after lying down (capped at 10 % of the in-bed time), possibly with
  a hypnic jerk (p = 0.6), and ends 2-15 min before getting up;
- 0-6 cramps (unless ``n_cramps`` is given), 10 s to 15 min (log-normal, median 90 s),
  15-300 uV RMS (down to just above the detection threshold: the band may sit over the head
  of the gastrocnemius that is not cramping), foot held at 30-50 deg, calf tremor 0.002-0.1 g;
  each followed with p = 0.6 by getting up to stretch (8-90 s, foot dorsiflexed 5-30 deg,
  10-120 uV), then with p = 0.5 by standing still (5-180 s) and with p = 0.5 by walking
  (8-120 s) and standing again (p = 0.5);
- periodic limb movement series (mean 2 per 7 h of sleep): 4-40 movements of 0.5-10 s
  (median 1.8 s), 20-150 uV RMS, at 5-90 s intervals (median 28 s), foot dorsiflexed 8-15 deg;
- isolated leg movements (3/h), twitches (8/h), rollovers (2.5/h; 3-45 s, median 8 s, phasic
  EMG bursts 20-150 uV, 0.1-0.5 g), bathroom trips (0.12/h: stand-walk-stand-walk-stand,
  standing 5-180 s at the sink, 5-30 s beside the bed; walks of 8-25 s or 15-60 s);
- walks are brisk or (30 %) a slow, irregular shuffle with weak push-off bursts, half of them
  with a turn;
- with ``artefacts``: electrode lift (0.5 per 8 h; 10 s-10 min, flat or at the rail; never
  over a cramp), mains hum (0.6 per 8 h; 2-30 min, 2-80 uV at 50 or 60 Hz), motion spikes
  (1/h, and at 30 % of rollovers).

Per night: resting EMG 0.8-4 uV (8-20 uV on a noisy ``lofi`` front end), contraction scale
0.5-1.2, standing tonic activity 2-90 uV
(sway cv 0.05-0.8 at 0.1-1 Hz, weight shifts between legs of depth 0-0.8; see
:data:`STANDING_TONIC_UV`), tremor band 4-12 to 15-60 Hz, a side posture 0-35 deg off pure
side, and the surface-EMG spectrum's corners (``NightScenario.emg_spectrum_hz``: 50-80 Hz and
110-320 Hz, median frequencies of about 85-180 Hz; the real calf recordings of ../shared/data/real
have 94-186 Hz).

``family`` changes the mix (see :data:`FAMILIES`): ``quiet`` (few events, 0-2 cramps), ``plm``
(many PLM series, short 12-20 s cramps inside them), ``busy`` (rollovers, hypnic jerks,
bathroom trips, stretching after cramps), ``artefact`` (electrode lift flat and at the rail,
strong mains hum), ``lofi`` (an 8-bit-like front end: coarse steps of 4-20 uV, rails at
0.8-3 mV so strong cramps clip; meant for 200 Hz EMG; on half of these nights a noisy front end
whose resting floor is 8-20 uV RMS, see :data:`NOISY_FLOOR_UV`; short 12-20 s cramps inside
PLM series as in ``plm``) and ``daytime`` (an afternoon out of
bed: sitting with fidgets, standing, walking, tip-toe standing, a cramp while sitting).

Contraction and movement events do not overlap one another (margins of 3-30 s); artefacts may
overlap anything except that electrode lift and motion spikes keep clear of cramps. What each
event is (its draws) is :mod:`firmware_sim.night_event_draws`; this module decides when.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from detector.errors import CrampInputError
from firmware_sim.night_event_draws import (
    TakenSpans,
    artefact_events,
    bathroom_trip,
    clipped_lognormal,
    cramp_group,
    cramp_in_series,
    draw_seed,
    leg_movement,
    plm_series,
    shifted,
    spike_event,
    twitch_event,
    walk_event,
)
from firmware_sim.night_posture import GET_UP_S, LIE_DOWN_S
from firmware_sim.night_types import LYING_POSTURES, Leg, NightEvent, NightScenario

STANDING_TONIC_UV = (2.0, 90.0)
"""Range of the standing calf's tonic EMG across people (uV RMS over 20-450 Hz, log-uniform).

Quiet standing holds the body's centre of mass in front of the ankles, so the soleus (and,
in many people, the medial gastrocnemius in bursts) works continuously at roughly 2-15 % of
its maximal voluntary activity; with calf MVC surface EMG of about 100-600 uV that is from a
few uV (a lean person standing upright, the band over a quiet head) to 60-90 uV (a forward
lean, heavier body, older people who stand with more co-contraction). The lower end is near
the lying resting level, the upper one above a weak cramp's (15-300 uV nominal)."""
NOISY_FLOOR_UV = (8.0, 20.0)
"""Range of the resting EMG noise (uV RMS) of a ``lofi`` night with a noisy front end (half
of them): dry or worn electrodes and int8 bands whose step is set near their own noise (the
Myo: about 10 uV a count, about 12 uV RMS at rest), against 0.8-4 uV for gel electrodes on
a fine front end."""
NOISY_FLOOR_P = 0.5
"""Share of ``lofi`` nights with that noisy front end; the others read a quiet calf as zeros
and single-step flicker."""
SHORT_CRAMP_FAMILIES = ("plm", "lofi")
"""Families whose cramps are mostly short (12-20 s) ones inside PLM series."""
STANDING_SWAY_CV = (0.05, 0.8)
"""Range of the depth (coefficient of variation) of the sway modulation of that tonus."""
STANDING_SHIFT_DEPTH = (0.0, 0.8)
"""Range of the depth of the weight shifts between legs (see ``standing_shift_depth``)."""
_ROLL_WEIGHTS = {"supine": 0.4, "left_side": 0.25, "right_side": 0.25, "prone": 0.1}
FAMILIES: tuple[str, ...] = ("mixed", "quiet", "plm", "busy", "artefact", "lofi", "daytime")
"""Scenario families :func:`random_scenario` can draw."""
_RATES = {  # per hour: PLM series, lm, twitch, rollover, bathroom trip; artefact multiplier
    "mixed": (2.0 / 7, 3.0, 8.0, 2.5, 0.12, 1.0),
    "quiet": (0.0, 1.0, 4.0, 1.5, 0.0, 0.5),
    "plm": (1.5, 3.0, 8.0, 2.5, 0.12, 1.0),
    "busy": (2.0 / 7, 4.0, 10.0, 6.0, 0.5, 1.0),
    "artefact": (2.0 / 7, 3.0, 8.0, 2.5, 0.12, 6.0),
    "lofi": (2.0 / 7, 3.0, 8.0, 2.5, 0.12, 1.0),
}


def random_scenario(
    *,
    duration_s: float,
    rng: np.random.Generator,
    fs_emg: float,
    fs_acc: float,
    start_utc: datetime | None = None,
    leg: Leg | None = None,
    n_cramps: int | None = None,
    artefacts: bool = True,
    rest_emg_uv_rms: float | None = None,
    contraction_scale: float | None = None,
    hum_scale: float = 1.0,
    family: str = "mixed",
) -> NightScenario:
    """Draw a random night (see the module docstring for what is placed and how often).

    Parameters
    ----------
    duration_s : float
        Length of the night (s), at least 60.
    rng : numpy.random.Generator
        Source of every random choice.
    fs_emg, fs_acc : float
        EMG (200, 500, 1000 or 2000 Hz) and accelerometer (25-100 Hz) sampling rates.
    start_utc : datetime, optional
        Start of the night; by default 2024-01-15 between 21:30 and 23:00 UTC (a daytime
        recording: between 13:00 and 16:00 UTC).
    leg : {"left", "right"}, optional
        Leg the band is on; random by default.
    n_cramps : int, optional
        Exact number of cramps; 0-6 at random by default (0-2 quiet, 1 daytime).
    artefacts : bool
        Whether to add electrode lift, mains hum and motion spikes.
    rest_emg_uv_rms, contraction_scale : float, optional
        Resting EMG noise (uV RMS; random 0.8-4 by default, 8-20 on half the ``lofi``
        nights) and contraction scale (random
        0.5-1.2 by default).
    hum_scale : float
        Multiplier of hum amplitudes.
    family : str
        One of :data:`FAMILIES`.

    Returns
    -------
    NightScenario

    Raises
    ------
    CrampInputError
        If the night is shorter than 60 s, ``n_cramps`` cramps do not fit in it, or the
        family is unknown.
    """
    if not (np.isfinite(duration_s) and duration_s >= 60.0):
        raise CrampInputError("duration_s", "expected a night of at least 60 s")
    if n_cramps is not None and n_cramps < 0:
        raise CrampInputError("n_cramps", "expected a count >= 0")
    if family not in FAMILIES:
        raise CrampInputError("family", f"expected one of {', '.join(FAMILIES)}, got {family!r}")
    d = float(duration_s)
    if start_utc is None:
        hour = 13 if family == "daytime" else 21
        start_utc = datetime(2024, 1, 15, hour, 30, tzinfo=UTC) + timedelta(
            seconds=int(rng.integers(0, 5400)))
    leg = leg if leg is not None else ("left" if rng.random() < 0.5 else "right")
    physiology = {
        "rest_emg_uv_rms": rng.uniform(0.8, 4.0) if rest_emg_uv_rms is None else rest_emg_uv_rms,
        "contraction_scale": (rng.uniform(0.5, 1.2) if contraction_scale is None
                              else contraction_scale),
        "standing_tonic_uv": float(np.exp(rng.uniform(np.log(STANDING_TONIC_UV[0]),
                                                      np.log(STANDING_TONIC_UV[1])))),
        "standing_sway_cv": rng.uniform(*STANDING_SWAY_CV),
        "tremor_band_hz": (rng.uniform(4.0, 12.0), rng.uniform(15.0, 60.0)),
        "side_roll_offset_deg": rng.uniform(0.0, 35.0),
    }
    if family == "lofi":
        physiology["emg_step_uv"] = rng.uniform(4.0, 20.0)
        physiology["emg_rails_uv"] = rng.uniform(800.0, 3000.0)
    if family == "daytime":
        events = _daytime(rng, d, n_cramps)
    else:
        events = _night(rng, d, n_cramps, family, artefacts)
    # drawn last so that the layout of a seed's night does not depend on it
    physiology["emg_spectrum_hz"] = (rng.uniform(50.0, 80.0),
                                     float(np.exp(rng.uniform(np.log(110.0), np.log(320.0)))))
    physiology["standing_shift_depth"] = rng.uniform(*STANDING_SHIFT_DEPTH)
    if family == "lofi" and rng.random() < NOISY_FLOOR_P and rest_emg_uv_rms is None:
        physiology["rest_emg_uv_rms"] = rng.uniform(*NOISY_FLOOR_UV)
    return NightScenario(
        duration_s=d, fs_emg=fs_emg, fs_acc=fs_acc, start_utc=start_utc,
        events=tuple(sorted(events, key=lambda e: (e.onset_s, e.kind))), leg=leg,
        hum_scale=hum_scale, rest_ankle_deg=10.0, **physiology,
    )


def _night(rng: np.random.Generator, d: float, n_cramps: int | None, family: str,
           artefacts: bool) -> list[NightEvent]:
    plm_rate, lm_rate, twitch_rate, roll_rate, trip_rate, art = _RATES[family]
    rest_ankle = 10.0
    events: list[NightEvent] = []
    busy = TakenSpans()

    upright = d >= 1800.0
    evening = min(rng.uniform(300, 1200), 0.05 * d) if upright else 0.0
    morning = min(rng.uniform(300, 900), 0.04 * d) if upright else 0.0
    bed0, bed1 = evening, d - morning
    posture0 = str(rng.choice(["supine", "left_side", "right_side"], p=[0.5, 0.25, 0.25]))
    events.append(NightEvent(kind="in_bed", onset_s=bed0, duration_s=bed1 - bed0,
                             posture=posture0, seed=draw_seed(rng)))
    busy.spans += [(bed0, bed0 + LIE_DOWN_S + 2), (bed1 - GET_UP_S - 2, bed1)]
    if evening >= 60:
        length = rng.uniform(20, min(120, evening - 30))
        w = evening - length - rng.uniform(5, 20)
        events.append(walk_event(rng, w, length))
        events += _pottering(rng, busy, 5.0, w - 5.0)
    if morning >= 60:
        length = rng.uniform(20, min(120, morning - 30))
        w = bed1 + rng.uniform(5, 20)
        events.append(walk_event(rng, w, length))
        events += _pottering(rng, busy, w + length + 5.0, d - 5.0)
    bed_len = bed1 - bed0
    sleep0 = bed0 + LIE_DOWN_S + min(rng.uniform(300, 1800), 0.1 * bed_len)
    sleep1 = bed1 - GET_UP_S - min(rng.uniform(120, 900), 0.05 * bed_len)
    events.append(NightEvent(kind="sleep", onset_s=sleep0, duration_s=sleep1 - sleep0))
    sleep_h, bed_h = (sleep1 - sleep0) / 3600, bed_len / 3600

    for _ in range(1 + int(family == "busy") * int(rng.integers(0, 3))):
        if rng.random() < 0.6 or family == "busy":
            length = rng.uniform(0.2, 1.0)
            t = busy.place(rng, length, max(bed0 + LIE_DOWN_S + 5, sleep0 - 60),
                           sleep0 + (600 if family == "busy" else 60), 5.0)
            if t is not None:
                events.append(NightEvent(kind="hypnic_jerk", onset_s=t, duration_s=length,
                                         emg_uv=rng.uniform(100, 400),
                                         acc_g=rng.uniform(0.3, 1.5), seed=draw_seed(rng)))

    cramp_busy = TakenSpans()
    default_n = int(rng.integers(0, 3)) if family == "quiet" else int(rng.integers(0, 7))
    wanted = default_n if n_cramps is None else n_cramps
    placed = 0
    after_p = 0.9 if family == "busy" else 0.6
    series_members: list[list[NightEvent]] = []
    short_in_series = family in SHORT_CRAMP_FAMILIES
    if short_in_series:
        for series in range(max(1, int(rng.poisson(plm_rate * sleep_h)))):
            members = plm_series(rng, series, rest_ankle)
            t = busy.place(rng, max(e.end_s for e in members), sleep0, sleep1, 30.0)
            if t is not None:
                series_members.append([shifted(e, t) for e in members])
    for _ in range(wanted):
        if short_in_series and series_members and rng.random() < 0.7:
            cramp = cramp_in_series(rng, series_members, cramp_busy)
            if cramp is not None:
                cramp_busy.spans.append((cramp.onset_s, cramp.end_s))
                events.append(cramp)
                placed += 1
                continue
        group = cramp_group(rng, max_s=max(10.0, 0.25 * (sleep1 - sleep0)), after_p=after_p)
        t = busy.place(rng, max(e.end_s for e in group), sleep0, sleep1, 30.0)
        if t is None:  # short night: no getting up after it, tighter margin
            group = group[:1]
            t = busy.place(rng, group[0].duration_s, sleep0, sleep1, 10.0)
        if t is None:
            continue
        cramp_busy.spans.append((t, t + group[0].duration_s))
        events += [shifted(e, t) for e in group]
        placed += 1
    if n_cramps is not None and placed < n_cramps:
        raise CrampInputError("n_cramps", f"only {placed} of {n_cramps} cramps fit in a "
                                          f"{d:g}-s night")
    for members in series_members:
        events += members

    if not short_in_series:
        for series in range(int(rng.poisson(plm_rate * sleep_h))):
            members = plm_series(rng, series, rest_ankle)
            t = busy.place(rng, max(e.end_s for e in members), sleep0, sleep1, 30.0)
            if t is not None:
                events += [shifted(e, t) for e in members]

    for _ in range(int(rng.poisson(trip_rate * bed_h))):
        trip = bathroom_trip(rng)
        t = busy.place(rng, max(e.end_s for e in trip), bed0 + 120, bed1 - 120, 30.0)
        if t is not None:
            events += [shifted(e, t) for e in trip]

    rollovers = []
    for _ in range(int(rng.poisson(roll_rate * bed_h))):
        length = clipped_lognormal(rng, 8.0, 0.7, 3.0, 45.0)
        t = busy.place(rng, length, bed0 + 60, bed1 - 60, 10.0)
        if t is not None:
            rollovers.append((t, length))
    posture = posture0
    for t, length in sorted(rollovers):
        options = [p for p in LYING_POSTURES if p != posture]
        weights = np.array([_ROLL_WEIGHTS[p] for p in options])
        posture = str(rng.choice(options, p=weights / weights.sum()))
        events.append(NightEvent(kind="rollover", onset_s=t, duration_s=length,
                                 emg_uv=rng.uniform(20, 150), acc_g=rng.uniform(0.1, 0.5),
                                 posture=posture, seed=draw_seed(rng)))
        if artefacts and rng.random() < 0.3:
            events.append(spike_event(rng, t + rng.uniform(0, length)))

    for kind, rate, margin in (("lm", lm_rate, 15.0), ("twitch", twitch_rate, 3.0)):
        for _ in range(int(rng.poisson(rate * sleep_h))):
            length = (clipped_lognormal(rng, 1.8, 0.5, 0.5, 10.0) if kind == "lm"
                      else rng.uniform(0.1, 0.45))
            t = busy.place(rng, length, sleep0, sleep1, margin)
            if t is None:
                continue
            if kind == "lm":
                events.append(leg_movement(rng, "lm", t, length, rest_ankle, -1))
            else:
                events.append(twitch_event(rng, t, length))
    if artefacts:
        events += artefact_events(rng, d, cramp_busy, art)
    return events


def _pottering(rng: np.random.Generator, busy: TakenSpans, lo: float,
               hi: float) -> list[NightEvent]:
    """0-3 short walks (8-25 s, a few steps about the room) in the upright time ``[lo, hi]``
    before bed or after getting up, standing still between them: stand-walk-stand."""
    out = []
    for _ in range(int(rng.integers(0, 4))):
        length = float(rng.uniform(8.0, 25.0))
        t = busy.place(rng, length, lo, hi, 5.0)
        if t is not None:
            out.append(walk_event(rng, t, length))
    return out


def _daytime(rng: np.random.Generator, d: float, n_cramps: int | None) -> list[NightEvent]:
    """An afternoon out of bed: sitting bouts with fidgets, standing, walks, tip-toe, a cramp
    while sitting."""
    events: list[NightEvent] = []
    busy = TakenSpans()
    sits: list[tuple[float, float]] = []
    t = rng.uniform(60, 300)
    while t < d - 400:
        length = min(rng.uniform(600, 2400), d - t - 120)
        events.append(NightEvent(kind="sitting", onset_s=t, duration_s=length,
                                 seed=draw_seed(rng)))
        sits.append((t, t + length))
        busy.spans += [(t - 5, t + GET_UP_S + 5), (t + length - GET_UP_S - 5, t + length + 5)]
        t += length + rng.uniform(120, 600)
    standing = [(0.0, sits[0][0] if sits else d)] + [
        (a[1], b[0]) for a, b in zip(sits, [*sits[1:], (d, d)], strict=True)]
    for a, b in standing:
        if b - a > 80:
            length = rng.uniform(20, min(120, b - a - 40))
            w = busy.place(rng, length, a + 10, b - 10, 5.0)
            if w is not None:
                events.append(walk_event(rng, w, length))
        for _ in range(int(rng.poisson(max(b - a, 0) / 200.0))):
            events += _tiptoe_bouts(rng, busy, a + 5, b - 5)
    wanted = 1 if n_cramps is None else n_cramps
    placed = 0
    for _ in range(wanted):
        if not sits:
            break
        a, b = sits[int(rng.integers(0, len(sits)))]
        group = cramp_group(rng, max_s=max(10.0, 0.3 * (b - a)), after_p=0.0)
        c = busy.place(rng, group[0].duration_s, a + 60, b - 60, 30.0)
        if c is not None:
            events.append(shifted(group[0], c))
            placed += 1
    if n_cramps is not None and placed < n_cramps:
        raise CrampInputError("n_cramps", f"only {placed} of {n_cramps} cramps fit in a "
                                          f"{d:g}-s recording")
    for a, b in sits:
        for _ in range(int(rng.poisson((b - a) / 3600.0 * 20.0))):  # fidgets
            length = clipped_lognormal(rng, 1.5, 0.6, 0.3, 8.0)
            f = busy.place(rng, length, a + 10, b - 10, 5.0)
            if f is not None:
                events.append(leg_movement(rng, "lm", f, length, 0.0, -1))
    return events


def _tiptoe_bouts(rng: np.random.Generator, busy: TakenSpans, lo: float,
                  hi: float) -> list[NightEvent]:
    """One to four tip-toe bouts (3-30 s each, 2-10 s flat-footed between them, as when
    reaching for a shelf), placed together in ``[lo, hi]``; none when they do not fit."""
    lengths = [clipped_lognormal(rng, 8.0, 0.6, 3.0, 30.0)
               for _ in range(1 + min(3, int(rng.poisson(0.8))))]
    gaps = [float(rng.uniform(2.0, 10.0)) for _ in lengths[1:]]
    w = busy.place(rng, sum(lengths) + sum(gaps), lo, hi, 5.0)
    if w is None:
        return []
    emg_uv, angle_deg = rng.uniform(40, 250), rng.uniform(15, 45)
    out = []
    for length, gap in zip(lengths, [*gaps, 0.0], strict=True):
        out.append(NightEvent(kind="tiptoe", onset_s=w, duration_s=length,
                              emg_uv=emg_uv * rng.uniform(0.8, 1.2),
                              angle_deg=float(np.clip(angle_deg + rng.normal(0, 4), 10, 50)),
                              seed=draw_seed(rng)))
        w += length + gap
    return out
