"""Leg geometry: posture over the night, and what the two accelerometers read in a posture.

The leg's orientation is described by three angles (degrees):

- *elevation* ``elev_deg``: angle of the shank's long axis above horizontal, positive when
  the knee is higher than the ankle (0 lying, 90 standing);
- *roll* ``roll_deg``: rotation of the leg about the shank's long axis (0 supine, +-90 on a
  side, 180 prone); the sign of a side posture depends on the leg, because each sensor's
  +y axis points lateral (away from the body's midline);
- *ankle* ``ankle_deg``: plantar-flexion angle of the foot (0 = neutral, foot at 90 deg to
  the shank; toes pointed positive).

The unit "up" vector in the shank frame is ``u = (-sin e, cos e sin r, cos e cos r)``; the
foot frame is the shank frame turned about the common lateral axis, so that at neutral foot
x = shank z and foot z = -shank x. See :mod:`firmware_sim.night` for the axis convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware_sim.night_types import UPRIGHT_KINDS, NightEvent, NightScenario

LIE_DOWN_S = 4.0
"""Time to lie down at the start of an in-bed period (s)."""
GET_UP_S = 2.5
"""Time to get up from lying, or to lie back down (s)."""
PRONE_FOOT_EXTRA_DEG = (10.0, 35.0)
"""Range of the extra plantar flexion of the relaxed foot lying prone (deg): the foot rests on
its dorsum on the mattress, pointed (about 20-45 deg in all; less with the feet over the
mattress's end), drawn per prone stretch on top of ``scenario.rest_ankle_deg``."""
CRAMP_MIN_PULL_DEG = 10.0
"""Least plantar flexion a cramp adds to the posture's relaxed foot angle (deg): prone, where
the foot already rests pointed, the cramp still forces it further."""
ANKLE_MAX_DEG = 60.0
"""End of the ankle's passive plantar-flexion range (deg); no cramp pulls beyond it."""
STANDING = (90.0, 0.0, 0.0, 1.0)
"""Elevation, roll and ankle angle of a standing leg with the foot flat (deg), and its load
(1: the calf holds the body up)."""


def leg_specific_force(
    elev_deg: np.ndarray, roll_deg: np.ndarray, ankle_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return what the shank and foot accelerometers read for a still leg.

    Parameters
    ----------
    elev_deg, roll_deg, ankle_deg : ndarray, shape (n,)
        Shank elevation, leg roll and foot plantar-flexion angle (deg), see module docstring.

    Returns
    -------
    shank_g, foot_g : ndarray, shape (n, 3)
        Specific force (reaction to gravity, +1 g upward at rest) in each sensor's frame (g).
    """
    e = np.deg2rad(np.asarray(elev_deg, dtype=np.float64))
    r = np.deg2rad(np.asarray(roll_deg, dtype=np.float64))
    a = np.deg2rad(np.asarray(ankle_deg, dtype=np.float64))
    ux = -np.sin(e)
    uy = np.cos(e) * np.sin(r)
    uz = np.cos(e) * np.cos(r)
    cos_a, sin_a = np.cos(a), np.sin(a)
    shank = np.stack([ux, uy, uz], axis=-1)
    foot = np.stack([cos_a * uz + sin_a * ux, uy, sin_a * uz - cos_a * ux], axis=-1)
    return shank, foot


def lying_roll_deg(posture: str, *, leg: str, side_offset_deg: float = 0.0) -> float:
    """Return the roll angle (deg) of a lying posture for the given leg.

    Lying on the left side, world "up" points to the sleeper's right: that is the lateral (+y)
    direction of the right leg's sensors and the medial (-y) direction of the left leg's.
    ``side_offset_deg`` tips a side posture back towards supine by that much (a leg rarely
    rests exactly on its side).
    """
    side = 1.0 if leg == "right" else -1.0
    tip = 90.0 - side_offset_deg
    return {"supine": 0.0, "prone": 180.0, "left_side": tip * side,
            "right_side": -tip * side}[posture]


@dataclass(frozen=True)
class PostureTimeline:
    """Piecewise-linear posture angles over the night, plus the named posture at any time.

    Attributes
    ----------
    times_s : ndarray, shape (k,)
        Key times (s), non-decreasing.
    elev_deg, roll_deg, ankle_deg : ndarray, shape (k,)
        Angles at the key times; linear in between, held beyond the ends.
    load : ndarray, shape (k,)
        1 where the leg carries the body (standing), 0 lying or sitting; linear in between.
    label_times_s : ndarray, shape (j,)
        Times at which the named posture changes (the first is 0).
    labels : tuple of str
        Posture from each of ``label_times_s`` on.
    """

    times_s: np.ndarray
    elev_deg: np.ndarray
    roll_deg: np.ndarray
    ankle_deg: np.ndarray
    load: np.ndarray
    label_times_s: np.ndarray
    labels: tuple[str, ...]

    def angles(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return elevation, roll and resting ankle angle (deg) at times ``t_s`` (s)."""
        return (np.interp(t_s, self.times_s, self.elev_deg),
                np.interp(t_s, self.times_s, self.roll_deg),
                np.interp(t_s, self.times_s, self.ankle_deg))

    def load_at(self, t_s: np.ndarray) -> np.ndarray:
        """Return the leg's load (0..1, 1 = standing on it) at times ``t_s`` (s)."""
        return np.interp(t_s, self.times_s, self.load)

    def posture_at(self, t_s: float) -> str:
        """Return the named posture at time ``t_s`` (s)."""
        i = int(np.searchsorted(self.label_times_s, t_s, side="right")) - 1
        return self.labels[max(i, 0)]


def _upright_bouts(events: list[NightEvent], lo: float, hi: float) -> list[tuple[float, float]]:
    """Merge the walks and stretches inside ``[lo, hi)`` into bouts out of bed."""
    spans = sorted((e.onset_s, e.end_s) for e in events
                   if e.kind in UPRIGHT_KINDS and lo <= e.onset_s < hi)
    bouts: list[tuple[float, float]] = []
    for start, end in spans:
        if bouts and start - bouts[-1][1] < 2 * GET_UP_S + 5.0:
            bouts[-1] = (bouts[-1][0], max(bouts[-1][1], end))
        else:
            bouts.append((start, min(end, hi)))
    return bouts


def build_timeline(scenario: NightScenario) -> PostureTimeline:
    """Build the posture timeline of a scenario from its in-bed periods, rollovers and bouts.

    The sleeper stands outside ``in_bed`` periods (or sits, inside ``sitting`` periods), lies
    down over :data:`LIE_DOWN_S` at the start of each in-bed period, changes lying posture over
    each rollover's duration, gets up over :data:`GET_UP_S` for walks, stretches, standing and
    tip-toe bouts (and lies back down in the posture left), and gets up over :data:`GET_UP_S`
    at the end of the period. The relaxed foot's angle of each lying stretch varies by up to
    +-3 deg around ``scenario.rest_ankle_deg``; prone, the foot rests pointed on the mattress,
    :data:`PRONE_FOOT_EXTRA_DEG` further.
    """
    events = sorted(scenario.events, key=lambda e: e.onset_s)
    keys: list[tuple[float, float, float, float, float]] = [(0.0, *STANDING)]
    labels: list[tuple[float, str]] = [(0.0, "standing")]
    for sit in (e for e in events if e.kind == "sitting"):
        rng = np.random.default_rng(sit.seed)
        pose = (float(rng.uniform(70.0, 88.0)), float(rng.uniform(-10.0, 10.0)),
                float(rng.uniform(-5.0, 12.0)), 0.0)
        end = min(sit.end_s, scenario.duration_s)
        keys += [(sit.onset_s, *STANDING), (sit.onset_s + GET_UP_S, *pose),
                 (end - GET_UP_S, *pose), (end, *STANDING)]
        labels += [(sit.onset_s + GET_UP_S / 2, "sitting"), (end - GET_UP_S / 2, "standing")]
    for bed in (e for e in events if e.kind == "in_bed"):
        rng = np.random.default_rng(bed.seed)
        end = min(bed.end_s, scenario.duration_s)
        posture = bed.posture if bed.posture in ("supine", "prone", "left_side",
                                                 "right_side") else "supine"
        # the prone foot's angle has its own draws, so the other postures' draws stay as they were
        prone_rng = np.random.default_rng([bed.seed, 5])
        lying = _lying(scenario, posture, rng, prone_rng)
        keys += [(bed.onset_s, *STANDING), (bed.onset_s + LIE_DOWN_S, *lying)]
        labels.append((bed.onset_s + LIE_DOWN_S / 2, posture))
        bouts = _upright_bouts(events, bed.onset_s, end)
        changes = sorted(
            [(e.onset_s, e.end_s, e.posture) for e in events
             if e.kind == "rollover" and bed.onset_s <= e.onset_s < end]
            + [(a, b, None) for a, b in bouts]
        )
        for start, stop, new_posture in changes:
            keys.append((start, *lying))
            if new_posture is None:  # out of bed and back
                keys += [(start + GET_UP_S, *STANDING), (stop - GET_UP_S, *STANDING),
                         (stop, *lying)]
                labels += [(start + GET_UP_S / 2, "standing"), (stop - GET_UP_S / 2, posture)]
            else:
                posture = new_posture if new_posture in ("supine", "prone", "left_side",
                                                         "right_side") else posture
                target = _lying(scenario, posture, rng, prone_rng)
                # roll the short way round: prone is both +180 and -180
                turn = (target[1] - lying[1] + 180.0) % 360.0 - 180.0
                lying = (target[0], lying[1] + turn, target[2], 0.0)
                keys.append((stop, *lying))
                labels.append((stop, posture))
        keys += [(end - GET_UP_S, *lying), (end, *STANDING)]
        labels.append((end - GET_UP_S / 2, "standing"))
    arr = np.array(keys, dtype=np.float64)
    order = np.argsort(arr[:, 0], kind="stable")
    arr = arr[order]
    lab_t = np.array([t for t, _ in labels])
    lab_order = np.argsort(lab_t, kind="stable")
    return PostureTimeline(
        times_s=arr[:, 0], elev_deg=arr[:, 1], roll_deg=arr[:, 2], ankle_deg=arr[:, 3],
        load=arr[:, 4], label_times_s=lab_t[lab_order],
        labels=tuple(labels[i][1] for i in lab_order),
    )


def _lying(scenario: NightScenario, posture: str, rng: np.random.Generator,
           prone_rng: np.random.Generator) -> tuple[float, float, float, float]:
    elev = float(rng.uniform(-3.0, 8.0))
    ankle = scenario.rest_ankle_deg + float(rng.uniform(-3.0, 3.0))
    if posture == "prone":
        ankle += float(prone_rng.uniform(*PRONE_FOOT_EXTRA_DEG))
    offset = scenario.side_roll_offset_deg * float(rng.uniform(0.5, 1.0))
    return elev, lying_roll_deg(posture, leg=scenario.leg, side_offset_deg=offset), ankle, 0.0


def ankle_target(ev: NightEvent, rest: np.ndarray, *,
                 rest_ankle_deg: float) -> np.ndarray | float:
    """Angle (deg) an event drives the ankle to from the posture's relaxed angle ``rest`` (n,).

    A leg movement's ``angle_deg`` is drawn about ``rest_ankle_deg`` (the scenario's): it moves
    the foot by that much from wherever it rests (prone, from pointed). A cramp pulls the foot
    to its ``angle_deg`` and at least :data:`CRAMP_MIN_PULL_DEG` past its relaxed angle (prone,
    the foot already rests pointed), within the ankle's range (:data:`ANKLE_MAX_DEG`). Other
    events drive it to their ``angle_deg``.
    """
    if ev.kind in ("lm", "plm"):
        return rest + (ev.angle_deg - rest_ankle_deg)
    if ev.kind == "cramp":
        return np.minimum(np.maximum(ev.angle_deg, rest + CRAMP_MIN_PULL_DEG), ANKLE_MAX_DEG)
    return ev.angle_deg


SWAY_HZ = (0.1, 1.0)
"""Range of the postural sway components modulating the standing tonus (Hz): quiet stance
sways the body over the ankles with most power at 0.1-1 Hz, and the soleus and gastrocnemius
activity follows each forward lean (Loram, Maganaris and Lakie, J Physiol 564, 2005)."""
SHIFT_EVERY_S = (2.0, 20.0)
"""Range of the time between two shifts of weight from leg to leg while standing (s)."""
SHIFT_RAMP_S = (0.3, 1.5)
"""Range of the time a shift of weight takes (s)."""


def weight_shifts(rng: np.random.Generator, duration_s: float,
                  depth: float) -> tuple[np.ndarray, np.ndarray]:
    """Knots ``(t_s, level)`` of the weight carried by the sensor leg (1 = half the body).

    People standing still for more than a few seconds shift their weight from leg to leg
    every few seconds (the loaded calf carries most of the postural activity; the unloaded
    one falls near silent). Levels are drawn in ``[1 - depth, 1 + depth]`` and held between
    ramps of :data:`SHIFT_RAMP_S`; a night-long schedule, so a block's value does not depend
    on where the block starts.
    """
    if depth <= 0:
        return np.array([0.0, duration_s]), np.ones(2)
    n = int(duration_s / SHIFT_EVERY_S[0]) + 2
    gaps = rng.uniform(*SHIFT_EVERY_S, n)
    starts = np.concatenate([[0.0], np.cumsum(gaps)])
    starts = starts[starts < duration_s + SHIFT_EVERY_S[1]]
    levels = rng.uniform(1.0 - depth, 1.0 + depth, len(starts) + 1)
    ramps = rng.uniform(*SHIFT_RAMP_S, len(starts))
    t = np.empty(2 * len(starts))
    t[0::2], t[1::2] = starts, starts + ramps
    lv = np.empty(2 * len(starts))
    lv[0::2], lv[1::2] = levels[:-1], levels[1:]
    return t, lv
