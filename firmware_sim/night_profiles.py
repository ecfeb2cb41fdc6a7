"""The texture of each event: envelopes, ankle drive and movement, on a 100 Hz control grid.

Each event becomes an :class:`EventProfile`: a few arrays sampled at :data:`CTL_FS` Hz from the
event's onset, built from the event's own seed (so an event looks the same whatever else
happens in the night). The synthesiser interpolates them at the EMG and accelerometer rates.

Channels (all optional; missing means zero):

- ``emg_uv`` (n,): EMG envelope, RMS uV (nominal, before ``contraction_scale``);
- ``hum_uv`` (n,): mains hum amplitude, uV (before ``hum_scale``);
- ``ankle_w`` (n,): weight 0..1 pulling the ankle from rest to the event's ``angle_deg``;
- ``ankle_add_deg``, ``elev_add_deg`` (n,): angles added to the ankle and shank elevation;
- ``shank_g``, ``foot_g`` (n, 3): dynamic acceleration in each sensor's frame, g;
- ``tremor_g`` (n,): RMS of the calf tremor (mechanomyogram) on the shank, g.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from firmware_sim.night_posture import GET_UP_S
from firmware_sim.night_types import NightEvent

CTL_FS = 100.0
"""Sampling rate of the control grid (Hz)."""


@dataclass(frozen=True)
class EventProfile:
    """Control signals of one event, sampled at ``CTL_FS`` from ``start_s``."""

    start_s: float
    channels: dict[str, np.ndarray]

    @property
    def end_s(self) -> float:
        """Time just after the last control sample (s)."""
        n = max(len(v) for v in self.channels.values())
        return self.start_s + n / CTL_FS

    def sample(self, name: str, t_s: np.ndarray) -> np.ndarray | None:
        """Linearly interpolate channel ``name`` at times ``t_s`` (s); zero outside the event.

        Returns ``None`` when the event has no such channel. The result has shape (len(t),)
        or (len(t), 3) like the channel.
        """
        x = self.channels.get(name)
        if x is None:
            return None
        pos = (t_s - self.start_s) * CTL_FS
        inside = (pos >= 0) & (pos <= len(x) - 1)
        i = np.clip(np.floor(pos).astype(np.int64), 0, max(len(x) - 2, 0))
        w = np.clip(pos - i, 0.0, 1.0)
        j = np.minimum(i + 1, len(x) - 1)
        if x.ndim == 2:
            w = w[:, None]
            inside = inside[:, None]
        return np.where(inside, x[i] * (1.0 - w) + x[j] * w, 0.0)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _trapezoid(n: int, rise_s: float, fall_s: float) -> np.ndarray:
    """Shape of length ``n`` rising over ``rise_s`` and falling over ``fall_s`` (smooth)."""
    t = np.arange(n) / CTL_FS
    dur = n / CTL_FS
    up = _smoothstep(t / max(rise_s, 1e-3))
    down = _smoothstep((dur - t) / max(fall_s, 1e-3))
    return up * down


def _smooth_noise(rng: np.random.Generator, n: int, corner_hz: float,
                  width: int = 0) -> np.ndarray:
    """Unit-RMS Gaussian noise low-passed at ``corner_hz``; shape (n,) or (n, width)."""
    shape = (n + 200,) if width == 0 else (n + 200, width)
    white = rng.standard_normal(shape)
    sos = signal.butter(2, corner_hz, fs=CTL_FS, output="sos")
    y = signal.sosfilt(sos, white, axis=0)[200:]  # drop the filter's start-up
    return y / max(float(np.sqrt(np.mean(y**2))), 1e-12)


def _modulation(rng: np.random.Generator, n: int, cv: float, corner_hz: float) -> np.ndarray:
    """Log-normal amplitude modulation with mean 1 and coefficient of variation ``cv``."""
    sigma = np.sqrt(np.log1p(cv**2))
    return np.exp(sigma * _smooth_noise(rng, n, corner_hz) - sigma**2 / 2)


def _unit_vectors(rng: np.random.Generator, k: int = 1) -> np.ndarray:
    v = rng.standard_normal((k, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _damped(n: int, rng: np.random.Generator, peak_g: float) -> np.ndarray:
    """Whole-leg jolt: damped 3-axis oscillation peaking near ``peak_g``, shape (n, 3)."""
    t = np.arange(n) / CTL_FS
    freq = rng.uniform(4.0, 8.0)
    tau = max(n / CTL_FS / 3.0, 0.03)
    wave = np.exp(-t / tau) * np.sin(2 * np.pi * freq * t + rng.uniform(0.3, 1.2))
    return peak_g * wave[:, None] * _unit_vectors(rng)


def event_profile(event: NightEvent) -> EventProfile | None:
    """Build the control signals of ``event``; ``None`` for kinds without any.

    Parameters
    ----------
    event : NightEvent
        The event; its ``seed`` drives every random choice made here.
    """
    rng = np.random.default_rng(event.seed)
    n = max(int(np.ceil(event.duration_s * CTL_FS)), 2)
    t = np.arange(n) / CTL_FS
    kind = event.kind
    ch: dict[str, np.ndarray] = {}
    if kind == "cramp":
        # involuntary, irregular: the envelope waxes and wanes (cv 0.25-0.6) with brief lulls
        rise = rng.uniform(1.0, 5.0)
        shape = _trapezoid(n, rise, rng.uniform(0.5, 2.0))
        env = shape * _modulation(rng, n, rng.uniform(0.25, 0.6), rng.uniform(0.8, 3.0))
        for _ in range(rng.poisson(event.duration_s / 40.0)):  # brief lulls (< 1.5 s)
            length = rng.uniform(0.3, 1.4)
            start = rng.uniform(rise, max(rise, event.duration_s - 2.0 - length))
            dip = 1.0 - (1.0 - rng.uniform(0.1, 0.35)) * _dip_shape(t, start, length)
            env = env * dip
        ch["emg_uv"] = event.emg_uv * env
        ch["ankle_w"] = _trapezoid(n, rise, 1.5)
        ch["ankle_add_deg"] = 1.5 * _smooth_noise(rng, n, 0.3) * ch["ankle_w"]
        ch["tremor_g"] = event.acc_g * shape * _modulation(rng, n, 0.3, 1.0)
    elif kind in ("lm", "plm", "twitch"):
        ramp = min(0.1, event.duration_s / 4)
        cv = 0.0 if kind == "twitch" else 0.2
        shape = (np.sin(np.pi * (t + 0.5 / CTL_FS) / (n / CTL_FS)) if kind == "twitch"
                 else _trapezoid(n, ramp, 2 * ramp))
        ch["emg_uv"] = event.emg_uv * shape * (_modulation(rng, n, cv, 3.0) if cv else 1.0)
        bump = np.sin(np.pi * (t + 0.5 / CTL_FS) / (n / CTL_FS))
        direction = _unit_vectors(rng)
        ch["foot_g"] = event.acc_g * bump[:, None] * direction
        ch["shank_g"] = 0.4 * ch["foot_g"]
        if kind != "twitch":
            ch["ankle_w"] = _trapezoid(n, min(0.4, event.duration_s / 3), 0.4)
    elif kind == "hypnic_jerk":
        ch["emg_uv"] = event.emg_uv * np.sqrt(np.sin(np.pi * (t + 0.5 / CTL_FS) / (n / CTL_FS)))
        jolt = _damped(n, rng, event.acc_g)
        ch["shank_g"] = jolt
        ch["foot_g"] = 1.3 * jolt
        ch["ankle_add_deg"] = 10.0 * np.sin(np.pi * t / (n / CTL_FS)) * rng.choice([-1.0, 1.0])
    elif kind == "rollover":
        # turning over: the leg is moved and pushes; calf EMG comes in phasic bursts, one per
        # push (0.3-2 s) with quieter stretches between them, over the whole turn
        window = _trapezoid(n, 1.0, 1.0)
        move = event.acc_g * _smooth_noise(rng, n, 3.0, width=3) * window[:, None]
        ch["shank_g"] = move
        ch["foot_g"] = rng.uniform(1.0, 1.4) * move + 0.3 * event.acc_g * _smooth_noise(
            rng, n, 3.0, width=3) * window[:, None]
        ch["emg_uv"] = event.emg_uv * window * _bursts(rng, t, event.duration_s)
        ch["ankle_add_deg"] = 8.0 * _smooth_noise(rng, n, 0.5) * window
    elif kind == "walk":
        _walk(event, rng, t, ch)
    elif kind == "stretch":
        lean = _trapezoid(n, 2.0, 2.0) * _gate(t, GET_UP_S + 1.0, event.duration_s - GET_UP_S - 1)
        ch["ankle_w"] = lean
        ch["elev_add_deg"] = -event.angle_deg * lean  # foot stays flat while the knee leans
        ch["emg_uv"] = event.emg_uv * lean * _modulation(rng, n, 0.25, 1.0)
        ch["shank_g"] = 0.01 * _smooth_noise(rng, n, 1.0, width=3) * lean[:, None]
        ch["foot_g"] = 0.3 * ch["shank_g"]
    elif kind == "tiptoe":
        _tiptoe(event, rng, t, ch)
    elif kind == "hum":
        ch["hum_uv"] = (event.emg_uv * _trapezoid(n, 2.0, 2.0)
                        * _modulation(rng, n, 0.1, 0.05))
    elif kind == "motion_spike":
        jolt = _damped(n, rng, event.acc_g)
        ch["shank_g"] = jolt
        ch["foot_g"] = 1.2 * jolt
    else:  # electrode_lift, stand, in_bed, sitting, sleep: handled elsewhere or no signal
        return None
    return EventProfile(start_s=event.onset_s, channels=ch)


def _bursts(rng: np.random.Generator, t: np.ndarray, duration_s: float) -> np.ndarray:
    """Phasic burst train over ``t``: bursts of 0.3-2 s, 3-30 % between them."""
    out = np.full(t.shape, rng.uniform(0.03, 0.3))
    pos = rng.uniform(0.0, 1.0)
    while pos < duration_s:
        length = rng.uniform(0.3, 2.0)
        bump = np.sin(np.pi * np.clip((t - pos) / length, 0.0, 1.0)) ** 2
        out = np.maximum(out, rng.uniform(0.6, 1.4) * bump)
        pos += length + rng.uniform(0.3, 3.0)
    return out


def _dip_shape(t: np.ndarray, start: float, length: float) -> np.ndarray:
    edge = min(0.15, length / 3)
    return _smoothstep((t - start) / edge) * _smoothstep((start + length - t) / edge)


def _gate(t: np.ndarray, start: float, stop: float) -> np.ndarray:
    return ((t >= start) & (t <= max(stop, start))).astype(np.float64)


TURN_P = 0.5
"""Share of walks with a turn (turning round at the sink, at the bed's end)."""


def _walk(event: NightEvent, rng: np.random.Generator, t: np.ndarray,
          ch: dict[str, np.ndarray]) -> None:
    """Gait: shank swing and ankle roll at the stride rate, push-off EMG, heel-strike jolts.

    Stride timing varies from stride to stride: a few per cent in a brisk walk, up to
    20-35 % in a slow shuffle (below about 1.4 steps/s: half asleep, in the dark), whose
    push-off bursts also vary more in strength (cv up to 0.6) and so are weak and irregular.
    With p = :data:`TURN_P` the walk has a turn of 1.5-4 s: small pivoting steps on the
    forefoot (calf active, little swing), and a sideways (centripetal) acceleration.
    """
    n = len(t)
    gait = _trapezoid(n, 1.0, 1.0) * _gate(t, GET_UP_S, event.duration_s - GET_UP_S)
    step_hz = event.freq_hz
    slow = float(np.clip((1.4 - step_hz) / 0.8, 0.0, 1.0))
    jitter = rng.uniform(0.02, 0.06) + slow * rng.uniform(0.15, 0.3)
    rate_hz = step_hz * _modulation(rng, n, jitter, 0.5 * step_hz)
    steps = 2 * np.pi * np.cumsum(rate_hz) / CTL_FS + rng.uniform(0, 2 * np.pi)
    stride = steps / 2
    strength = _modulation(rng, n, 0.2 + slow * rng.uniform(0.1, 0.4), 0.5)
    swing = np.ones(n)
    side = np.zeros(n)
    pivot = np.zeros(n)
    if rng.random() < TURN_P and event.duration_s > 2 * GET_UP_S + 6.0:
        length = rng.uniform(1.5, 4.0)
        start = rng.uniform(GET_UP_S + 1.0, event.duration_s - GET_UP_S - 1.0 - length)
        turn = _dip_shape(t, start, length)
        swing = 1.0 - rng.uniform(0.4, 0.7) * turn
        side = rng.choice([-1.0, 1.0]) * rng.uniform(0.05, 0.2) * turn
        pivot = rng.uniform(0.5, 1.0) * turn
    push = np.sin(stride)
    ch["elev_add_deg"] = 20.0 * np.cos(stride) * gait * swing
    ch["ankle_add_deg"] = (5.0 + 10.0 * push * swing) * gait
    bursts = np.clip(push, 0.0, None) ** 6 * strength * swing
    ch["emg_uv"] = event.emg_uv * np.maximum(bursts, pivot) * gait * _modulation(
        rng, n, 0.2, 0.5)
    phase = rng.uniform(0, 2 * np.pi)
    vertical = (np.sin(steps) + 0.4 * np.sin(2 * steps + phase)) * swing
    forward = 0.6 * np.sin(stride + 0.5) * swing
    amp = event.acc_g / 1.08
    lateral = 0.15 * forward + side / max(amp, 1e-6)
    ch["shank_g"] = amp * np.stack([vertical, lateral, forward], axis=1) * gait[:, None]
    ch["foot_g"] = 1.3 * amp * np.stack([forward, lateral, vertical],
                                        axis=1) * gait[:, None]


TIPTOE_ONE_LEG_P = 0.25
"""Share of tip-toe bouts stood on the sensor leg alone (the other foot lifted)."""


def _tiptoe(event: NightEvent, rng: np.random.Generator, t: np.ndarray,
            ch: dict[str, np.ndarray]) -> None:
    """Rising onto the toes (heel raise) and balancing there, weight on the forefoot.

    A voluntary concentric then isometric calf contraction: the heel rises over 0.4-1.2 s
    (an upward push of the leg, then its braking), the shank leans forward 2-8 deg, and the
    body balances on the small base of the toes: the centre of pressure wanders, the ankle
    (heel height) and the shank's lean wobble at 0.3-2 Hz, and the calf EMG follows those
    corrections. On one leg the corrections are larger and the calf carries the whole body.
    No involuntary fasciculation, but the loaded calf's own physiological tremor and the
    tail of the corrections reach into the tremor band (1-4 mg on the shank).
    """
    n = len(t)
    rise, fall = rng.uniform(0.4, 1.2), rng.uniform(0.4, 1.2)
    held = _trapezoid(n, rise, fall)
    one_leg = rng.random() < TIPTOE_ONE_LEG_P
    balance = rng.uniform(1.5, 2.2) if one_leg else 1.0
    correction = _smooth_noise(rng, n, rng.uniform(0.8, 2.0))
    ch["ankle_w"] = held
    ch["ankle_add_deg"] = balance * rng.uniform(1.5, 4.0) * correction * held
    lean = rng.uniform(2.0, 8.0) + balance * rng.uniform(0.5, 2.0) * _smooth_noise(rng, n, 1.0)
    ch["elev_add_deg"] = -lean * held
    follow = np.clip(1.0 + rng.uniform(0.2, 0.5) * correction, 0.3, None)
    load = rng.uniform(1.4, 1.8) if one_leg else 1.0
    ch["emg_uv"] = event.emg_uv * load * held * follow * _modulation(rng, n, 0.15, 1.0)
    # the heel's rise and fall: a push up the leg then its braking (heel up 4-8 cm), along
    # the shank's long axis (-x is up when standing)
    push = np.zeros(n)
    for start, length, sign in ((0.0, rise, 1.0), (t[-1] - fall, fall, -1.0)):
        phase = np.clip((t - start) / length, 0.0, 1.0)
        height_m = rng.uniform(0.04, 0.08)
        push += sign * (2 * np.pi * height_m / length**2 / 9.81) * np.sin(2 * np.pi * phase)
    sway = 0.004 * balance * _smooth_noise(rng, n, 2.0, width=3) * held[:, None]
    # the loaded calf's physiological tremor (mechanomyogram of a voluntary contraction)
    ch["tremor_g"] = rng.uniform(0.0, 0.0015) * balance * held
    ch["shank_g"] = sway + np.stack([-push, 0.0 * push, 0.2 * push], axis=1)
    ch["foot_g"] = 0.5 * sway + np.stack([0.3 * push, 0.0 * push, push], axis=1)
