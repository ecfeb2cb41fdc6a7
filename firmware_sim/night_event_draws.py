"""The random draws of each kind of event in a simulated night, one event (or group) at a time.

:mod:`firmware_sim.night_events` lays the night out (when each event happens, from the rates
of the scenario family); the functions here draw what each event is: a cramp and the getting
up that may follow it, a periodic limb movement series, a twitch, a leg movement, a walk, a
bathroom trip, a motion spike, and the artefacts of a night (electrode lift, mains hum,
spikes). Times are seconds (from the night's start, or from 0 for a group placed later), EMG
in uV RMS, acceleration in g, angles in degrees; every draw comes from the ``rng`` given.
"""

from __future__ import annotations

import itertools

import numpy as np

from firmware_sim.night_types import NightEvent

NIGHT_S = 8 * 3600.0
"""The reference night (s) the artefact rates are given per."""


class TakenSpans:
    """Time spans already taken by events."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []

    def free(self, start: float, stop: float) -> bool:
        """True when ``[start, stop]`` (s) overlaps no taken span."""
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


def draw_seed(rng: np.random.Generator) -> int:
    """A seed for an event's own signal noise (drawn from ``rng``)."""
    return int(rng.integers(2**63))


def clipped_lognormal(rng: np.random.Generator, median: float, sigma: float, lo: float,
                      hi: float) -> float:
    """A log-normal draw around ``median`` (log-sigma ``sigma``), clipped to ``[lo, hi]``."""
    return float(np.clip(rng.lognormal(np.log(median), sigma), lo, hi))


SHUFFLE_P = 0.3
"""Share of walks that are a slow shuffle (half asleep, in the dark, in slippers)."""
SHORT_WALK_P = 0.4
"""Share of walks that are short (8-25 s: a few steps to the window, the door, the light)."""


def walk_length(rng: np.random.Generator, lo: float = 15.0, hi: float = 60.0) -> float:
    """Length of a walk (s): short (8-25 s) with p = :data:`SHORT_WALK_P`, else ``lo``-``hi``."""
    if rng.random() < SHORT_WALK_P:
        return float(rng.uniform(8.0, 25.0))
    return float(rng.uniform(lo, hi))


def walk_event(rng: np.random.Generator, onset_s: float, duration_s: float) -> NightEvent:
    """Walking: a brisk walk or, with p = :data:`SHUFFLE_P`, a slow shuffle.

    Brisk: calf push-off EMG 40-300 uV, 0.1-0.5 g at a 1.2-2.1 Hz step rate. Shuffle: the
    feet barely leave the floor and the push-off is small, so the stride bursts are weak
    (15-80 uV, not much above a standing calf's tonus) and the movement is small (0.03-0.15
    g) and slow (0.6-1.3 steps/s); :func:`firmware_sim.night_profiles.event_profile` makes
    its rhythm irregular.
    """
    if rng.random() < SHUFFLE_P:
        emg, acc, hz = rng.uniform(15, 80), rng.uniform(0.03, 0.15), rng.uniform(0.6, 1.3)
    else:
        emg, acc, hz = rng.uniform(40, 300), rng.uniform(0.1, 0.5), rng.uniform(1.2, 2.1)
    return NightEvent(kind="walk", onset_s=onset_s, duration_s=duration_s, emg_uv=emg,
                      acc_g=acc, freq_hz=hz, seed=draw_seed(rng))


def stand_event(onset_s: float, duration_s: float) -> NightEvent:
    """Standing still (the scenario's standing tonic activity)."""
    return NightEvent(kind="stand", onset_s=onset_s, duration_s=duration_s)


def stand_length(rng: np.random.Generator) -> float:
    """Length of a bout of standing still (s): 5-180 s, log-uniform (a pause to find the light
    switch as often as a long wait at the sink)."""
    return float(np.exp(rng.uniform(np.log(5.0), np.log(180.0))))


def bathroom_trip(rng: np.random.Generator) -> list[NightEvent]:
    """Get up, (stand), walk, stand still (at the toilet or sink), walk back, (stand), from 0.

    A stand-walk-stand sequence: with p = 0.5 the sleeper stands beside the bed for 5-30 s
    before setting off, and with p = 0.5 again before lying back down.
    """
    out: list[NightEvent] = []
    t = 0.0
    if rng.random() < 0.5:
        first = float(rng.uniform(5, 30))
        out.append(stand_event(t, first))
        t += first + 0.5
    there = walk_length(rng)
    out.append(walk_event(rng, t, there))
    t += there + 1.0
    stand = stand_length(rng)
    out.append(stand_event(t, stand))
    t += stand + 1.0
    back = walk_length(rng)
    out.append(walk_event(rng, t, back))
    t += back + 0.5
    if rng.random() < 0.5:
        out.append(stand_event(t, float(rng.uniform(5, 30))))
    return out


def twitch_event(rng: np.random.Generator, onset_s: float, length: float) -> NightEvent:
    """A twitch: 15-60 uV, 0.005-0.02 g."""
    return NightEvent(kind="twitch", onset_s=onset_s, duration_s=length,
                      emg_uv=rng.uniform(15, 60), acc_g=rng.uniform(0.005, 0.02),
                      seed=draw_seed(rng))


def cramp_in_series(rng: np.random.Generator, series: list[list[NightEvent]],
                    taken: TakenSpans) -> NightEvent | None:
    """A short (12-20 s) cramp in the gap between two movements of a PLM series."""
    members = series[int(rng.integers(0, len(series)))]
    length = rng.uniform(12.0, 20.0)
    gaps = [(a.end_s + 2.0, b.onset_s - 2.0) for a, b in itertools.pairwise(members)]
    for lo, hi in sorted(gaps, key=lambda g: g[0] - g[1]):
        if hi - lo >= length and taken.free(lo, hi):
            t = float(rng.uniform(lo, hi - length))
            return NightEvent(kind="cramp", onset_s=t, duration_s=length,
                              emg_uv=float(np.exp(rng.uniform(np.log(15), np.log(300)))),
                              acc_g=float(np.exp(rng.uniform(np.log(0.002), np.log(0.1)))),
                              angle_deg=rng.uniform(30, 50), seed=draw_seed(rng))
    return None  # no gap long enough in this series


def shifted(event: NightEvent, by_s: float) -> NightEvent:
    """The same event ``by_s`` seconds later."""
    return NightEvent(kind=event.kind, onset_s=event.onset_s + by_s,
                      duration_s=event.duration_s, emg_uv=event.emg_uv, acc_g=event.acc_g,
                      angle_deg=event.angle_deg, freq_hz=event.freq_hz, posture=event.posture,
                      series=event.series, seed=event.seed)


def cramp_group(rng: np.random.Generator, *, max_s: float,
                after_p: float = 0.6) -> list[NightEvent]:
    """A cramp at time 0 and the getting up (stretch, stand, walk) that may follow it.

    Getting up after a cramp: standing to stretch the calf (8-90 s; the foot flat and the
    knee leaning forward, dorsiflexing the ankle 5-30 deg; the stretched calf shows 10-120 uV
    from its stretch reflex and the residue of the cramp, on top of the standing tonus), then
    with p = 0.5 standing still (5-180 s), and with p = 0.5 walking it off (8-120 s), then
    with p = 0.5 standing again.
    """
    length = min(clipped_lognormal(rng, 90.0, 0.9, 10.0, 900.0), max_s)
    group = [NightEvent(kind="cramp", onset_s=0.0, duration_s=length,
                        emg_uv=float(np.exp(rng.uniform(np.log(15), np.log(300)))),
                        acc_g=float(np.exp(rng.uniform(np.log(0.002), np.log(0.1)))),
                        angle_deg=rng.uniform(30, 50), seed=draw_seed(rng))]
    if rng.random() < after_p:
        t = length + rng.uniform(1, 5)
        stretch = rng.uniform(8, 90)
        group.append(NightEvent(kind="stretch", onset_s=t, duration_s=stretch,
                                emg_uv=rng.uniform(10, 120), angle_deg=-rng.uniform(5, 30),
                                seed=draw_seed(rng)))
        t += stretch + rng.uniform(0.5, 3)
        if rng.random() < 0.5:
            stand = stand_length(rng)
            group.append(stand_event(t, stand))
            t += stand + rng.uniform(0.5, 3)
        if rng.random() < 0.5:
            walk = walk_length(rng, 20, 120)
            group.append(walk_event(rng, t, walk))
            t += walk + rng.uniform(0.5, 3)
            if rng.random() < 0.5:  # and stands again (walking it off, then waiting)
                group.append(stand_event(t, stand_length(rng)))
    return group


def leg_movement(rng: np.random.Generator, kind: str, onset_s: float, length: float,
                 rest_ankle: float, series: int) -> NightEvent:
    """A leg movement (``kind`` "plm" or "lm"): 20-150 uV, foot dorsiflexed 8-15 deg."""
    return NightEvent(kind=kind, onset_s=onset_s, duration_s=length,
                      emg_uv=rng.uniform(20, 150), acc_g=rng.uniform(0.02, 0.08),
                      angle_deg=rest_ankle - rng.uniform(8, 15), series=series,
                      seed=draw_seed(rng))


def plm_series(rng: np.random.Generator, series: int, rest_ankle: float) -> list[NightEvent]:
    """4-40 periodic limb movements starting at time 0."""
    n = int(rng.integers(4, 41))
    gaps = np.clip(rng.lognormal(np.log(28.0), 0.35, n - 1), 5.0, 90.0)
    onsets = np.concatenate([[0.0], np.cumsum(gaps)])
    out = []
    for i, t in enumerate(onsets):
        length = clipped_lognormal(rng, 1.8, 0.5, 0.5, 10.0)
        if i < n - 1:
            length = min(length, gaps[i] - 1.0)
        out.append(leg_movement(rng, "plm", float(t), length, rest_ankle, series))
    return out


def spike_event(rng: np.random.Generator, onset_s: float) -> NightEvent:
    """A motion spike: 0.05-0.3 s, 300-3000 uV, 0.5-2 g."""
    return NightEvent(kind="motion_spike", onset_s=onset_s, duration_s=rng.uniform(0.05, 0.3),
                      emg_uv=rng.uniform(300, 3000), acc_g=rng.uniform(0.5, 2.0),
                      seed=draw_seed(rng))


def artefact_events(rng: np.random.Generator, d: float, cramps: TakenSpans,
                    rate: float = 1.0) -> list[NightEvent]:
    out = []
    n_lift = int(rng.poisson(rate * 0.5 * d / NIGHT_S))
    for _ in range(max(n_lift, int(rate > 1))):
        length = float(np.exp(rng.uniform(np.log(10), np.log(600))))
        t = cramps.place(rng, min(length, 0.1 * d), 0.0, d, 5.0)
        if t is not None:
            rail = 0.0 if rng.random() < 0.5 else 5000.0
            out.append(NightEvent(kind="electrode_lift", onset_s=t,
                                  duration_s=min(length, 0.1 * d), emg_uv=rail,
                                  seed=draw_seed(rng)))
    n_hum = int(rng.poisson(rate * 0.6 * d / NIGHT_S))
    for _ in range(max(n_hum, int(rate > 1))):
        length = min(rng.uniform(120, 1800), 0.2 * d)
        t = rng.uniform(0, d - length)
        out.append(NightEvent(kind="hum", onset_s=t, duration_s=length,
                              emg_uv=rng.uniform(2, 80), freq_hz=float(rng.choice([50.0, 60.0])),
                              seed=draw_seed(rng)))
    for _ in range(int(rng.poisson(d / 3600))):
        t = cramps.place(rng, 0.3, 0.0, d, 5.0)
        if t is not None:
            out.append(spike_event(rng, t))
    return out
