"""Lay out a plausible random night: when the sleeper lies down, sleeps, moves and cramps.

Structure of a night of ``D`` seconds (rates per hour are of the in-bed or sleep period):

- nights of an hour or more start and end upright: 5-20 min before going to bed (ending with
  a walk to bed) and 5-15 min after getting up (starting with a walk), capped at 5 % / 4 % of
  ``D``; shorter nights are in bed throughout;
- sleep starts 5-30 min after lying down (capped at 10 % of the in-bed time), possibly with
  a hypnic jerk (p = 0.6), and ends 2-15 min before getting up;
- 0-6 cramps (unless ``n_cramps`` is given), 10 s to 15 min (log-normal, median 90 s),
  30-300 uV RMS, foot held at 30-50 deg; each followed with p = 0.6 by getting up to stretch
  (15-60 s, foot dorsiflexed 15-25 deg), then with p = 0.5 by walking (20-120 s);
- periodic limb movement series (mean 2 per 7 h of sleep): 4-40 movements of 0.5-10 s
  (median 1.8 s), 20-150 uV RMS, at 5-90 s intervals (median 28 s), foot dorsiflexed 8-15 deg;
- isolated leg movements (3/h), twitches (8/h), rollovers (2.5/h; 3-15 s, 0.1-0.5 g);
- with ``artefacts``: electrode lift (0.5 per 8 h; 10 s-10 min, flat or at the rail; never
  over a cramp), mains hum (0.6 per 8 h; 2-30 min, 5-50 uV at 50 or 60 Hz), motion spikes
  (1/h, and at 30 % of rollovers).

Contraction and movement events do not overlap one another (margins of 3-30 s); artefacts may
overlap anything except that electrode lift and motion spikes keep clear of cramps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from detector.errors import CrampInputError
from firmware_sim.night_posture import GET_UP_S, LIE_DOWN_S
from firmware_sim.night_types import LYING_POSTURES, Leg, NightEvent, NightScenario

_ROLL_WEIGHTS = {"supine": 0.4, "left_side": 0.25, "right_side": 0.25, "prone": 0.1}
_NIGHT_S = 8 * 3600.0


class _Busy:
    """Time spans already taken by events."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []

    def free(self, start: float, stop: float) -> bool:
        return all(stop <= a or start >= b for a, b in self.spans)

    def place(self, rng: np.random.Generator, length: float, lo: float, hi: float,
              margin: float, tries: int = 60) -> float | None:
        """Find a free start in ``[lo, hi - length]`` with ``margin`` s around; take it."""
        if hi - lo < length:
            return None
        for _ in range(tries):
            t = float(rng.uniform(lo, hi - length))
            if self.free(t - margin, t + length + margin):
                self.spans.append((t, t + length))
                return t
        return None


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**63))


def _lognormal(rng: np.random.Generator, median: float, sigma: float, lo: float,
               hi: float) -> float:
    return float(np.clip(rng.lognormal(np.log(median), sigma), lo, hi))


def _walk(rng: np.random.Generator, onset_s: float, duration_s: float) -> NightEvent:
    return NightEvent(kind="walk", onset_s=onset_s, duration_s=duration_s,
                      emg_uv=rng.uniform(100, 300), acc_g=rng.uniform(0.2, 0.5),
                      freq_hz=rng.uniform(1.6, 2.0), seed=_seed(rng))


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
) -> NightScenario:
    """Draw a random night (see the module docstring for what is placed and how often).

    Parameters
    ----------
    duration_s : float
        Length of the night (s), at least 60.
    rng : numpy.random.Generator
        Source of every random choice.
    fs_emg, fs_acc : float
        EMG (500, 1000 or 2000 Hz) and accelerometer (25-100 Hz) sampling rates.
    start_utc : datetime, optional
        Start of the night; by default 2024-01-15 between 21:30 and 23:00 UTC.
    leg : {"left", "right"}, optional
        Leg the band is on; random by default.
    n_cramps : int, optional
        Exact number of cramps; 0-6 at random by default.
    artefacts : bool
        Whether to add electrode lift, mains hum and motion spikes.
    rest_emg_uv_rms, contraction_scale : float, optional
        Resting EMG noise (uV RMS; random 1-3 by default) and contraction scale (random
        0.6-1.2 by default).
    hum_scale : float
        Multiplier of hum amplitudes.

    Returns
    -------
    NightScenario

    Raises
    ------
    CrampInputError
        If the night is shorter than 60 s, or ``n_cramps`` cramps do not fit in it.
    """
    if not (np.isfinite(duration_s) and duration_s >= 60.0):
        raise CrampInputError("duration_s", "expected a night of at least 60 s")
    if n_cramps is not None and n_cramps < 0:
        raise CrampInputError("n_cramps", "expected a count >= 0")
    d = float(duration_s)
    if start_utc is None:
        start_utc = datetime(2024, 1, 15, 21, 30, tzinfo=UTC) + timedelta(
            seconds=int(rng.integers(0, 5400)))
    leg = leg if leg is not None else ("left" if rng.random() < 0.5 else "right")
    rest_ankle = 10.0
    events: list[NightEvent] = []
    busy = _Busy()

    upright = d >= 3600.0
    evening = min(rng.uniform(300, 1200), 0.05 * d) if upright else 0.0
    morning = min(rng.uniform(300, 900), 0.04 * d) if upright else 0.0
    bed0, bed1 = evening, d - morning
    posture0 = str(rng.choice(["supine", "left_side", "right_side"], p=[0.5, 0.25, 0.25]))
    events.append(NightEvent(kind="in_bed", onset_s=bed0, duration_s=bed1 - bed0,
                             posture=posture0, seed=_seed(rng)))
    busy.spans += [(bed0, bed0 + LIE_DOWN_S + 2), (bed1 - GET_UP_S - 2, bed1)]
    if evening >= 60:
        length = rng.uniform(20, min(120, evening - 30))
        events.append(_walk(rng, evening - length - rng.uniform(5, 20), length))
    if morning >= 60:
        length = rng.uniform(20, min(120, morning - 30))
        events.append(_walk(rng, bed1 + rng.uniform(5, 20), length))
    bed_len = bed1 - bed0
    sleep0 = bed0 + LIE_DOWN_S + min(rng.uniform(300, 1800), 0.1 * bed_len)
    sleep1 = bed1 - GET_UP_S - min(rng.uniform(120, 900), 0.05 * bed_len)
    events.append(NightEvent(kind="sleep", onset_s=sleep0, duration_s=sleep1 - sleep0))
    sleep_h, bed_h = (sleep1 - sleep0) / 3600, bed_len / 3600

    if rng.random() < 0.6:
        length = rng.uniform(0.2, 1.0)
        t = busy.place(rng, length, max(bed0 + LIE_DOWN_S + 5, sleep0 - 60), sleep0 + 60, 5.0)
        if t is not None:
            events.append(NightEvent(kind="hypnic_jerk", onset_s=t, duration_s=length,
                                     emg_uv=rng.uniform(100, 400), acc_g=rng.uniform(0.3, 1.5),
                                     seed=_seed(rng)))

    cramp_busy = _Busy()
    wanted = int(rng.integers(0, 7)) if n_cramps is None else n_cramps
    placed = 0
    for _ in range(wanted):
        group = _cramp_group(rng, max_s=max(10.0, 0.25 * (sleep1 - sleep0)))
        t = busy.place(rng, max(e.end_s for e in group), sleep0, sleep1, 30.0)
        if t is None:  # short night: no getting up after it, tighter margin
            group = group[:1]
            t = busy.place(rng, group[0].duration_s, sleep0, sleep1, 10.0)
        if t is None:
            continue
        cramp_busy.spans.append((t, t + group[0].duration_s))
        events += [_shift(e, t) for e in group]
        placed += 1
    if n_cramps is not None and placed < n_cramps:
        raise CrampInputError("n_cramps", f"only {placed} of {n_cramps} cramps fit in a "
                                          f"{d:g}-s night")

    for series in range(int(rng.poisson(2.0 * sleep_h / 7))):
        members = _plm_series(rng, series, rest_ankle)
        t = busy.place(rng, max(e.end_s for e in members), sleep0, sleep1, 30.0)
        if t is not None:
            events += [_shift(e, t) for e in members]

    rollovers = []
    for _ in range(int(rng.poisson(2.5 * bed_h))):
        length = rng.uniform(3, 15)
        t = busy.place(rng, length, bed0 + 60, bed1 - 60, 10.0)
        if t is not None:
            rollovers.append((t, length))
    posture = posture0
    for t, length in sorted(rollovers):
        options = [p for p in LYING_POSTURES if p != posture]
        weights = np.array([_ROLL_WEIGHTS[p] for p in options])
        posture = str(rng.choice(options, p=weights / weights.sum()))
        events.append(NightEvent(kind="rollover", onset_s=t, duration_s=length,
                                 emg_uv=rng.uniform(20, 80), acc_g=rng.uniform(0.1, 0.5),
                                 posture=posture, seed=_seed(rng)))
        if artefacts and rng.random() < 0.3:
            events.append(_spike(rng, t + rng.uniform(0, length)))

    for kind, rate, margin in (("lm", 3.0, 15.0), ("twitch", 8.0, 3.0)):
        for _ in range(int(rng.poisson(rate * sleep_h))):
            length = (_lognormal(rng, 1.8, 0.5, 0.5, 10.0) if kind == "lm"
                      else rng.uniform(0.1, 0.45))
            t = busy.place(rng, length, sleep0, sleep1, margin)
            if t is None:
                continue
            if kind == "lm":
                events.append(_leg_movement(rng, "lm", t, length, rest_ankle, -1))
            else:
                events.append(NightEvent(kind="twitch", onset_s=t, duration_s=length,
                                         emg_uv=rng.uniform(15, 60),
                                         acc_g=rng.uniform(0.005, 0.02), seed=_seed(rng)))
    if artefacts:
        events += _artefacts(rng, d, cramp_busy)
    return NightScenario(
        duration_s=d, fs_emg=fs_emg, fs_acc=fs_acc, start_utc=start_utc,
        events=tuple(sorted(events, key=lambda e: (e.onset_s, e.kind))), leg=leg,
        rest_emg_uv_rms=rng.uniform(1.0, 3.0) if rest_emg_uv_rms is None else rest_emg_uv_rms,
        contraction_scale=(rng.uniform(0.6, 1.2) if contraction_scale is None
                           else contraction_scale),
        hum_scale=hum_scale, rest_ankle_deg=rest_ankle,
    )


def _shift(event: NightEvent, by_s: float) -> NightEvent:
    return NightEvent(kind=event.kind, onset_s=event.onset_s + by_s,
                      duration_s=event.duration_s, emg_uv=event.emg_uv, acc_g=event.acc_g,
                      angle_deg=event.angle_deg, freq_hz=event.freq_hz, posture=event.posture,
                      series=event.series, seed=event.seed)


def _cramp_group(rng: np.random.Generator, *, max_s: float) -> list[NightEvent]:
    """A cramp at time 0 and the getting up that may follow it."""
    length = min(_lognormal(rng, 90.0, 0.9, 10.0, 900.0), max_s)
    group = [NightEvent(kind="cramp", onset_s=0.0, duration_s=length,
                        emg_uv=float(np.exp(rng.uniform(np.log(30), np.log(300)))),
                        acc_g=rng.uniform(0.005, 0.02), angle_deg=rng.uniform(30, 50),
                        seed=_seed(rng))]
    if rng.random() < 0.6:
        t = length + rng.uniform(1, 5)
        stretch = rng.uniform(15, 60)
        group.append(NightEvent(kind="stretch", onset_s=t, duration_s=stretch,
                                emg_uv=rng.uniform(20, 60), angle_deg=-rng.uniform(15, 25),
                                seed=_seed(rng)))
        if rng.random() < 0.5:
            group.append(_walk(rng, t + stretch + rng.uniform(0, 3), rng.uniform(20, 120)))
    return group


def _leg_movement(rng: np.random.Generator, kind: str, onset_s: float, length: float,
                  rest_ankle: float, series: int) -> NightEvent:
    return NightEvent(kind=kind, onset_s=onset_s, duration_s=length,
                      emg_uv=rng.uniform(20, 150), acc_g=rng.uniform(0.02, 0.08),
                      angle_deg=rest_ankle - rng.uniform(8, 15), series=series,
                      seed=_seed(rng))


def _plm_series(rng: np.random.Generator, series: int, rest_ankle: float) -> list[NightEvent]:
    """4-40 periodic limb movements starting at time 0."""
    n = int(rng.integers(4, 41))
    gaps = np.clip(rng.lognormal(np.log(28.0), 0.35, n - 1), 5.0, 90.0)
    onsets = np.concatenate([[0.0], np.cumsum(gaps)])
    out = []
    for i, t in enumerate(onsets):
        length = _lognormal(rng, 1.8, 0.5, 0.5, 10.0)
        if i < n - 1:
            length = min(length, gaps[i] - 1.0)
        out.append(_leg_movement(rng, "plm", float(t), length, rest_ankle, series))
    return out


def _spike(rng: np.random.Generator, onset_s: float) -> NightEvent:
    return NightEvent(kind="motion_spike", onset_s=onset_s, duration_s=rng.uniform(0.05, 0.3),
                      emg_uv=rng.uniform(300, 3000), acc_g=rng.uniform(0.5, 2.0),
                      seed=_seed(rng))


def _artefacts(rng: np.random.Generator, d: float, cramps: _Busy) -> list[NightEvent]:
    out = []
    for _ in range(int(rng.poisson(0.5 * d / _NIGHT_S))):
        length = float(np.exp(rng.uniform(np.log(10), np.log(600))))
        t = cramps.place(rng, min(length, 0.1 * d), 0.0, d, 5.0)
        if t is not None:
            rail = 0.0 if rng.random() < 0.5 else 5000.0
            out.append(NightEvent(kind="electrode_lift", onset_s=t,
                                  duration_s=min(length, 0.1 * d), emg_uv=rail, seed=_seed(rng)))
    for _ in range(int(rng.poisson(0.6 * d / _NIGHT_S))):
        length = min(rng.uniform(120, 1800), 0.2 * d)
        t = rng.uniform(0, d - length)
        out.append(NightEvent(kind="hum", onset_s=t, duration_s=length,
                              emg_uv=rng.uniform(5, 50), freq_hz=float(rng.choice([50.0, 60.0])),
                              seed=_seed(rng)))
    for _ in range(int(rng.poisson(d / 3600))):
        t = cramps.place(rng, 0.3, 0.0, d, 5.0)
        if t is not None:
            out.append(_spike(rng, t))
    return out
