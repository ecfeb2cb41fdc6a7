"""A deterministic physiological model of one night for one leg, with its truth table.

A :class:`NightScenario` (built by hand or by :func:`random_scenario`) lists what happens;
:func:`synthesize` turns it into calf surface EMG (uV) and shank and foot accelerometer
signals (g), and :func:`synthesize_chunks` yields the same samples a chunk at a time, so an
8-hour night at 2 kHz never needs more than the arrays the caller keeps. Every random choice
comes from the injected :class:`numpy.random.Generator`: one seed, one night, identical
samples whatever the chunk size.

Accelerometer axis convention
-----------------------------
Each sensor reads *specific force*: at rest it reads +1 g pointing *up*.

- Shank sensor: +x along the shank from knee to ankle, +y lateral (along the ankle's hinge
  axis, pointing away from the body's midline), +z anterior (out of the shin).
- Foot sensor: +x from heel to toes, +y lateral, +z out of the top (dorsum) of the foot.
- The foot's plantar-flexion angle is 0 with the foot at 90 deg to the shank (neutral) and
  positive with the toes pointed.

With ``phi = atan2(f_z, f_x)`` for each sensor, plantar flexion is
``wrap(phi_foot - phi_shank) + 90 deg`` (wrap to [-180, 180)). Reference postures:

- lying supine: shank ``(0, 0, 1)`` g; neutral foot ``(1, 0, 0)`` g; plantar flexion by
  ``alpha``: foot ``(cos alpha, 0, sin alpha)`` g;
- standing: shank ``(-1, 0, 0)`` g; foot flat ``(0, 0, 1)`` g;
- lying on a side: gravity along +-y on both sensors (the angle is then not measurable);
- prone: shank ``(0, 0, -1)`` g.

The relaxed foot of a lying sleeper rests at ``rest_ankle_deg`` (about 10 deg, +-3 deg per
lying stretch; prone, resting pointed on the mattress, 10-35 deg further); a cramp drives it
to 30-50 deg, and at least 10 deg past the posture's own relaxed angle, and holds it; a leg
movement dorsiflexes it by its own amount from wherever it rests
(:func:`firmware_sim.night_posture.ankle_target`).

Signals modelled
----------------
EMG = the front end's resting noise (flat within its band) + muscle activity (Gaussian noise
with the surface-EMG spectrum of ``NightScenario.emg_spectrum_hz``, band-limited to 20-450 Hz
or what the rate allows, whose RMS over 20-450 Hz follows the envelope of every active event
and the standing tonic activity while the leg carries the body, powers adding) + mains hum +
motion-artefact transients; electrode lift replaces it with a flat trace or the rail value;
everything is clipped to ``+-emg_rails_uv`` and quantised to ``emg_step_uv``. Accelerometers =
gravity in the current posture (see :mod:`firmware_sim.night_posture`) + event movement + calf
tremor (``tremor_band_hz``, shank) + white noise. The event vocabulary is in
:mod:`firmware_sim.night_types`, event textures in :mod:`firmware_sim.night_profiles`, and how
a random night is laid out in :mod:`firmware_sim.night_events`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy import signal

from firmware_sim.night_events import random_scenario
from firmware_sim.night_posture import (
    SWAY_HZ,
    PostureTimeline,
    ankle_target,
    build_timeline,
    leg_specific_force,
    weight_shifts,
)
from firmware_sim.night_profiles import EventProfile, event_profile
from firmware_sim.night_spectrum import emg_band_fraction, emg_spectrum_sos
from firmware_sim.night_types import (
    CONTRACTION_KINDS,
    EVENT_KINDS,
    PERIOD_KINDS,
    NightEvent,
    NightScenario,
)

__all__ = [
    "EVENT_KINDS", "TRUTH_COLUMNS", "NightChunk", "NightEvent", "NightScenario",
    "SimulatedNight", "random_scenario", "synthesize", "synthesize_chunks", "truth_table",
]

BLOCK_S = 30.0
"""Internal synthesis block (s). Each block has its own random stream, so output does not
depend on how the caller chunks it."""
TRUTH_COLUMNS: tuple[str, ...] = (
    "onset_s", "duration_s", "kind", "leg", "posture", "emg_uv", "acc_g", "angle_deg",
    "freq_hz", "series",
)
_TREMOR_AXES = np.array([0.3, 0.5, 1.0])
"""Tremor amplitude on shank x, y, z relative to z (across the calf), whose RMS is the
event's ``acc_g``."""


@dataclass(frozen=True, kw_only=True)
class SimulatedNight:
    """A synthesised night: signals of one leg and what happened.

    Attributes
    ----------
    scenario : NightScenario
        The scenario the night was made from.
    emg_uv : ndarray, shape (n,)
        Calf surface EMG (uV) at ``fs_emg``.
    shank_acc_g, foot_acc_g : ndarray, shape (m, 3)
        Shank and foot specific force (g) at ``fs_acc``, axes as in the module docstring.
    fs_emg, fs_acc : float
        Sampling rates (Hz).
    truth : pandas.DataFrame
        One row per event, columns :data:`TRUTH_COLUMNS` (see :func:`truth_table`).
    """

    scenario: NightScenario
    emg_uv: np.ndarray
    shank_acc_g: np.ndarray
    foot_acc_g: np.ndarray
    fs_emg: float
    fs_acc: float
    truth: pd.DataFrame

    @property
    def start_utc(self) -> datetime:
        """Time of the first sample (timezone-aware)."""
        return self.scenario.start_utc

    @property
    def leg(self) -> str:
        """Leg the band is on."""
        return self.scenario.leg


@dataclass(frozen=True, kw_only=True)
class NightChunk:
    """A piece of a synthesised night.

    Attributes
    ----------
    emg_start_sample, acc_start_sample : int
        Index of the first EMG / accelerometer sample of the chunk within the night.
    emg_uv : ndarray, shape (n,)
        EMG (uV).
    shank_acc_g, foot_acc_g : ndarray, shape (m, 3)
        Accelerometers (g).
    """

    emg_start_sample: int
    acc_start_sample: int
    emg_uv: np.ndarray
    shank_acc_g: np.ndarray
    foot_acc_g: np.ndarray


def truth_table(scenario: NightScenario) -> pd.DataFrame:
    """Return the scenario's events as a truth table.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRUTH_COLUMNS`, sorted by onset: ``onset_s``, ``duration_s`` (s),
        ``kind``, ``leg``, ``posture`` (at onset; after the movement for a rollover),
        ``emg_uv`` (EMG level as synthesised, i.e. after the scenario's scales), ``acc_g``,
        ``angle_deg``, ``freq_hz`` and ``series`` (PLM series index or -1).
    """
    timeline = build_timeline(scenario)
    rows = []
    for e in sorted(scenario.events, key=lambda ev: (ev.onset_s, ev.kind)):
        scale = (scenario.contraction_scale if e.kind in CONTRACTION_KINDS
                 else scenario.hum_scale if e.kind == "hum" else 1.0)
        rows.append((e.onset_s, e.duration_s, e.kind, scenario.leg, _posture_of(e, timeline),
                     e.emg_uv * scale, e.acc_g, e.angle_deg, e.freq_hz, e.series))
    return pd.DataFrame(rows, columns=list(TRUTH_COLUMNS))


def _posture_of(event: NightEvent, timeline: PostureTimeline) -> str:
    if event.kind in ("walk", "stretch", "stand", "tiptoe"):
        return "standing"
    if event.kind in ("rollover", "in_bed") and event.posture is not None:
        return event.posture
    return timeline.posture_at(event.onset_s + 1e-6)


def synthesize(scenario: NightScenario, *, rng: np.random.Generator) -> SimulatedNight:
    """Synthesise the whole night into arrays.

    Peak memory is the output arrays plus one :data:`BLOCK_S` block.

    Parameters
    ----------
    scenario : NightScenario
        What happens in the night.
    rng : numpy.random.Generator
        Source of all randomness; the same generator state gives identical arrays.

    Returns
    -------
    SimulatedNight
    """
    emg = np.empty(scenario.n_emg)
    shank = np.empty((scenario.n_acc, 3))
    foot = np.empty((scenario.n_acc, 3))
    for i0, e, j0, s, f in _Synth(scenario, rng).blocks():
        emg[i0:i0 + len(e)] = e
        shank[j0:j0 + len(s)] = s
        foot[j0:j0 + len(f)] = f
    return SimulatedNight(scenario=scenario, emg_uv=emg, shank_acc_g=shank, foot_acc_g=foot,
                          fs_emg=float(scenario.fs_emg), fs_acc=float(scenario.fs_acc),
                          truth=truth_table(scenario))


def synthesize_chunks(scenario: NightScenario, *, rng: np.random.Generator,
                      chunk_s: float) -> Iterator[NightChunk]:
    """Yield the night a chunk at a time; concatenated, the chunks equal :func:`synthesize`.

    Parameters
    ----------
    scenario : NightScenario
        What happens in the night.
    rng : numpy.random.Generator
        Source of all randomness (drawn from exactly as :func:`synthesize` does).
    chunk_s : float
        Chunk length (s); chunk ``c`` holds the samples in ``[c * chunk_s, (c + 1) * chunk_s)``.

    Yields
    ------
    NightChunk
    """
    if not (np.isfinite(chunk_s) and chunk_s > 0):
        raise ValueError("chunk_s must be a positive number of seconds")
    n_chunks = max(1, int(np.ceil(scenario.duration_s / chunk_s - 1e-9)))

    def bound(c: int, fs: float, n: int) -> int:
        return n if c >= n_chunks else min(round(c * chunk_s * fs), n)

    emg_q, shank_q, foot_q = _Queue(), _Queue(), _Queue()
    c = 0
    for _i0, e, _j0, s, f in _Synth(scenario, rng).blocks():
        emg_q.push(e)
        shank_q.push(s)
        foot_q.push(f)
        while c < n_chunks:
            e0, e1 = bound(c, scenario.fs_emg, scenario.n_emg), bound(
                c + 1, scenario.fs_emg, scenario.n_emg)
            a0, a1 = bound(c, scenario.fs_acc, scenario.n_acc), bound(
                c + 1, scenario.fs_acc, scenario.n_acc)
            if emg_q.rows < e1 - e0 or shank_q.rows < a1 - a0:
                break
            yield NightChunk(emg_start_sample=e0, acc_start_sample=a0, emg_uv=emg_q.pop(e1 - e0),
                             shank_acc_g=shank_q.pop(a1 - a0), foot_acc_g=foot_q.pop(a1 - a0))
            c += 1


class _Queue:
    """Rows pushed as arrays, popped in any sizes."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.rows = 0

    def push(self, x: np.ndarray) -> None:
        self.parts.append(x)
        self.rows += len(x)

    def pop(self, n: int) -> np.ndarray:
        taken: list[np.ndarray] = []
        need = n
        while need > 0:
            head = self.parts[0]
            if len(head) <= need:
                taken.append(self.parts.pop(0))
                need -= len(head)
            else:
                taken.append(head[:need])
                self.parts[0] = head[need:]
                need = 0
        self.rows -= n
        if not taken:
            width = self.parts[0].shape[1:] if self.parts else ()
            return np.empty((0, *width))
        return taken[0].copy() if len(taken) == 1 else np.concatenate(taken)


def _unit_noise_gain(sos: np.ndarray, *, fs: float) -> float:
    """Factor that gives a unit-RMS output when white unit-variance noise is filtered."""
    impulse = np.zeros(int(4 * fs))
    impulse[0] = 1.0
    h = signal.sosfilt(sos, impulse)
    return float(1.0 / np.sqrt(np.sum(h**2)))


class _Synth:
    """Block-by-block synthesiser; blocks must be pulled in order (filter states carry)."""

    def __init__(self, scenario: NightScenario, rng: np.random.Generator) -> None:
        self.sc = scenario
        self.base_seed = int(rng.integers(2**63))
        self.timeline = build_timeline(scenario)
        self.events = [e for e in scenario.events if e.kind not in PERIOD_KINDS]
        self.starts = np.array([e.onset_s for e in self.events])
        self.ends = np.array([e.end_s for e in self.events])
        self.profiles: dict[int, EventProfile | None] = {}
        fs_e, fs_a = float(scenario.fs_emg), float(scenario.fs_acc)
        # the resting level is the front end's own noise floor: flat within its band
        self.emg_sos = signal.butter(4, [20.0, min(450.0, 0.45 * fs_e)], btype="bandpass",
                                     fs=fs_e, output="sos")
        self.emg_gain = _unit_noise_gain(self.emg_sos, fs=fs_e)
        self.emg_zi = np.zeros((self.emg_sos.shape[0], 2))
        # muscle activity has the surface-EMG spectrum: unit RMS over the reference band, of
        # which the front end's band keeps its share
        shape = scenario.emg_spectrum_hz
        self.muscle_sos = (None if shape is None else
                           np.vstack([emg_spectrum_sos(shape, fs=fs_e), self.emg_sos]))
        if self.muscle_sos is not None and shape is not None:
            self.muscle_gain = _unit_noise_gain(self.muscle_sos, fs=fs_e) * np.sqrt(
                emg_band_fraction(shape, fs=fs_e))
            self.muscle_zi = np.zeros((self.muscle_sos.shape[0], 2))
        lo_hz, hi_hz = scenario.tremor_band_hz
        hi_hz = min(hi_hz, 0.45 * fs_a)
        self.trem_sos = signal.butter(2, [min(lo_hz, 0.5 * hi_hz), hi_hz], btype="bandpass",
                                      fs=fs_a, output="sos")
        sway = np.random.default_rng([self.base_seed, 99])
        self.sway_hz = np.exp(sway.uniform(np.log(SWAY_HZ[0]), np.log(SWAY_HZ[1]), 6))
        self.sway_phase = sway.uniform(0, 2 * np.pi, 6)
        self.shift_t, self.shift_level = weight_shifts(
            np.random.default_rng([self.base_seed, 98]), scenario.duration_s,
            scenario.standing_shift_depth)
        self.trem_gain = _unit_noise_gain(self.trem_sos, fs=fs_a)
        self.trem_zi = np.zeros((self.trem_sos.shape[0], 2, 3))

    def blocks(self) -> Iterator[tuple[int, np.ndarray, int, np.ndarray, np.ndarray]]:
        """Yield ``(emg_start, emg, acc_start, shank, foot)`` for every block in order."""
        n_blocks = max(1, int(np.ceil(self.sc.duration_s / BLOCK_S - 1e-9)))
        for k in range(n_blocks):
            yield self._block(k)

    def _active(self, t0: float, t1: float) -> list[tuple[NightEvent, EventProfile | None]]:
        if not self.events:
            return []
        for i in [i for i in self.profiles if self.ends[i] < t0]:
            del self.profiles[i]  # the event is over: free its control signals
        idx = np.flatnonzero((self.starts < t1) & (self.ends > t0))
        out = []
        for i in idx.tolist():
            if i not in self.profiles:
                self.profiles[i] = event_profile(self.events[i])
            out.append((self.events[i], self.profiles[i]))
        return out

    def _block(self, k: int) -> tuple[int, np.ndarray, int, np.ndarray, np.ndarray]:
        sc = self.sc
        rng = np.random.default_rng([self.base_seed, k])
        t0, t1 = k * BLOCK_S, (k + 1) * BLOCK_S
        i0, i1 = (min(round(t * sc.fs_emg), sc.n_emg) for t in (t0, t1))
        j0, j1 = (min(round(t * sc.fs_acc), sc.n_acc) for t in (t0, t1))
        if t1 >= sc.duration_s:
            i1, j1 = sc.n_emg, sc.n_acc
        te = np.arange(i0, i1) / sc.fs_emg
        ta = np.arange(j0, j1) / sc.fs_acc
        active = self._active(t0, t1)
        white = rng.standard_normal(len(te))
        carrier, self.emg_zi = signal.sosfilt(self.emg_sos, white, zi=self.emg_zi)
        trem_white = rng.standard_normal((len(ta), 3))
        tremor, self.trem_zi = signal.sosfilt(self.trem_sos, trem_white, axis=0,
                                              zi=self.trem_zi)
        noise = sc.acc_noise_g * rng.standard_normal((2, len(ta), 3))
        carrier = carrier * self.emg_gain
        muscle = carrier
        if self.muscle_sos is not None:
            muscle, self.muscle_zi = signal.sosfilt(self.muscle_sos, rng.standard_normal(len(te)),
                                                    zi=self.muscle_zi)
            muscle = muscle * self.muscle_gain
        emg = self._emg(te, active, carrier, muscle, rng)
        shank, foot = self._acc(ta, active, tremor * self.trem_gain * _TREMOR_AXES)
        return i0, emg, j0, shank + noise[0], foot + noise[1]

    def _emg(self, te: np.ndarray, active: list[tuple[NightEvent, EventProfile | None]],
             carrier: np.ndarray, muscle: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """EMG of one block (uV): the resting noise on ``carrier`` (unit RMS, flat in the
        front end's band) and muscle activity on ``muscle`` (unit RMS over 20-450 Hz with the
        surface-EMG spectrum; the same array as ``carrier`` in the flat model)."""
        sc = self.sc
        rest = sc.rest_emg_uv_rms * carrier
        power = np.zeros(len(te))
        if sc.standing_tonic_uv > 0:
            shift = np.interp(te, self.shift_t, self.shift_level)  # weight on this leg
            power += (sc.standing_tonic_uv * self._sway(te) * shift * self.timeline.load_at(te))**2
        extra = np.zeros(len(te))
        for ev, prof in active:
            if prof is not None:
                env = prof.sample("emg_uv", te)
                if env is not None:
                    power += (sc.contraction_scale * env) ** 2
                hum = prof.sample("hum_uv", te)
                if hum is not None:
                    phase = np.random.default_rng([ev.seed, 1]).uniform(0, 2 * np.pi)
                    extra += sc.hum_scale * hum * np.sin(2 * np.pi * ev.freq_hz * te + phase)
            if ev.kind == "motion_spike":
                extra += _spike_emg(ev, te)
        if muscle is carrier:  # flat model: one noise, powers adding
            emg = np.sqrt(power + sc.rest_emg_uv_rms**2) * carrier + extra
        else:
            emg = rest + np.sqrt(power) * muscle + extra
        for ev, _ in active:
            if ev.kind != "electrode_lift":
                continue
            inside = (te >= ev.onset_s) & (te < ev.end_s)
            if ev.emg_uv == 0:  # lead off, amplifier input shorted: flat
                emg[inside] = 0.05 * rng.standard_normal(int(inside.sum()))
            else:  # lead off, input floating: pinned at a rail
                sign = np.random.default_rng([ev.seed, 3]).choice([-1.0, 1.0])
                emg[inside] = sign * ev.emg_uv
        np.clip(emg, -sc.emg_rails_uv, sc.emg_rails_uv, out=emg)
        if sc.emg_step_uv > 0:
            emg = np.round(emg / sc.emg_step_uv) * sc.emg_step_uv
        return emg

    def _sway(self, t: np.ndarray) -> np.ndarray:
        """Log-normal modulation (mean 1, cv ``standing_sway_cv``) of the standing tonus."""
        phases = 2 * np.pi * self.sway_hz[None, :] * t[:, None] + self.sway_phase[None, :]
        unit = np.sqrt(2.0 / len(self.sway_hz)) * np.sin(phases).sum(axis=1)
        sigma = np.sqrt(np.log1p(self.sc.standing_sway_cv**2))
        return np.exp(sigma * unit - sigma**2 / 2)

    def _acc(self, ta: np.ndarray, active: list[tuple[NightEvent, EventProfile | None]],
             tremor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        elev, roll, rest = self.timeline.angles(ta)
        ankle = rest.copy()
        shank_dyn = np.zeros((len(ta), 3))
        foot_dyn = np.zeros((len(ta), 3))
        tremor_amp = np.zeros(len(ta))
        for ev, prof in active:
            if prof is None:
                continue
            w = prof.sample("ankle_w", ta)
            if w is not None:
                ankle += w * (ankle_target(ev, rest, rest_ankle_deg=self.sc.rest_ankle_deg)
                              - rest)
            for name, target in (("ankle_add_deg", ankle), ("elev_add_deg", elev),
                                 ("tremor_g", tremor_amp), ("shank_g", shank_dyn),
                                 ("foot_g", foot_dyn)):
                x = prof.sample(name, ta)
                if x is not None:
                    target += x
        shank, foot = leg_specific_force(elev, roll, ankle)
        shank += shank_dyn + tremor_amp[:, None] * tremor
        foot += foot_dyn
        return shank, foot


def _spike_emg(event: NightEvent, te: np.ndarray) -> np.ndarray:
    """Motion-artefact transient: a damped low-frequency swing of ``event.emg_uv`` peak."""
    rng = np.random.default_rng([event.seed, 2])
    freq = rng.uniform(3.0, 12.0)
    sign = rng.choice([-1.0, 1.0])
    tau = event.duration_s / 3.0
    dt = te - event.onset_s
    inside = (dt >= 0) & (dt < event.duration_s)
    wave = np.exp(-np.clip(dt, 0, None) / tau) * np.sin(2 * np.pi * freq * dt + np.pi / 2)
    return np.where(inside, sign * event.emg_uv * wave, 0.0)
