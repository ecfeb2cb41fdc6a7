"""Small controllable signal builder for pipeline unit tests.

Events are placed explicitly so each test states exactly what the truth is. The realistic,
randomised night model lives in ``firmware_sim.night``; this file stays deliberately simple.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from scipy import signal

from detector.replay import ArrayRecording, make_info
from detector.signals import ChannelSpec, Gap

START_UTC = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)

SUPINE_SHANK = np.array([0.0, 0.0, 1.0])
STANDING_SHANK = np.array([-1.0, 0.0, 0.0])


def foot_vector(angle_deg: float, shank: np.ndarray = SUPINE_SHANK) -> np.ndarray:
    """Foot specific-force vector for a plantar-flexion angle (deg) with the given shank pose."""
    phi_shank = np.arctan2(shank[2], shank[0])
    phi_foot = phi_shank + np.radians(angle_deg - 90.0)
    return np.array([np.cos(phi_foot), 0.0, np.sin(phi_foot)])


@dataclass
class Builder:
    """Accumulates a recording: EMG in uV at ``fs_emg``, accelerometers in g at ``fs_acc``."""

    duration_s: float
    rng: np.random.Generator
    fs_emg: float = 1000.0
    fs_acc: float = 100.0
    rest_uv: float = 2.0
    rest_angle_deg: float = 8.0
    with_emg: bool = True
    with_acc: bool = True
    with_foot: bool = True
    gaps: list[Gap] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = round(self.duration_s * self.fs_emg)
        sos = signal.butter(4, [20, min(450, 0.45 * self.fs_emg)], btype="bandpass",
                            fs=self.fs_emg, output="sos")
        white = self.rng.standard_normal(n + 2000)
        band = signal.sosfilt(sos, white)[2000:]
        self.emg = band / band.std() * self.rest_uv
        m = round(self.duration_s * self.fs_acc)
        self.shank = np.tile(SUPINE_SHANK, (m, 1)) + self.rng.normal(0, 0.001, (m, 3))
        self.foot = np.tile(foot_vector(self.rest_angle_deg), (m, 1)) + \
            self.rng.normal(0, 0.001, (m, 3))

    def _burst(self, onset_s: float, duration_s: float, rms_uv: float, ramp_s: float = 1.0,
               cv: float = 0.0) -> None:
        a, b = round(onset_s * self.fs_emg), round((onset_s + duration_s) * self.fs_emg)
        t = np.arange(b - a) / self.fs_emg
        ramp = np.clip(t / max(ramp_s, 1e-3), 0, 1) * np.clip((duration_s - t) / 0.3, 0, 1)
        mod = 1.0
        if cv > 0:
            k = max(2, int(duration_s * 4))
            knots = np.clip(1 + cv * self.rng.standard_normal(k), 0.35, None)
            mod = np.interp(t, np.linspace(0, duration_s, k), knots)
        noise = self.rng.standard_normal(b - a)
        self.emg[a:b] += noise * rms_uv * ramp * mod

    def cramp(self, onset_s: float, duration_s: float, *, rms_uv: float = 80.0,
              angle_deg: float = 40.0, tremor_g: float = 0.01) -> None:
        """A cramp: ramping irregular EMG, foot forced into plantar flexion, calf tremor."""
        self._burst(onset_s, duration_s, rms_uv, ramp_s=2.0, cv=0.35)
        a, b = round(onset_s * self.fs_acc), round((onset_s + duration_s) * self.fs_acc)
        t = np.arange(b - a) / self.fs_acc
        frac = np.clip(t / 2.0, 0, 1)[:, None]
        target = foot_vector(angle_deg)
        base = foot_vector(self.rest_angle_deg)
        vec = base * (1 - frac) + target * frac
        self.foot[a:b] = vec / np.linalg.norm(vec, axis=1, keepdims=True)
        self.shank[a:b] += self.rng.normal(0, tremor_g, (b - a, 3))

    def leg_movement(self, onset_s: float, duration_s: float, *, rms_uv: float = 60.0) -> None:
        """A leg movement (PLM-like burst) with a small foot flick."""
        self._burst(onset_s, duration_s, rms_uv, ramp_s=0.1)
        a, b = round(onset_s * self.fs_acc), round((onset_s + duration_s) * self.fs_acc)
        self.foot[a:b] = foot_vector(-5.0)

    def plm_series(self, onset_s: float, n: int, interval_s: float, duration_s: float) -> None:
        """A periodic limb movement series."""
        for i in range(n):
            self.leg_movement(onset_s + i * interval_s, duration_s)

    def rollover(self, onset_s: float, duration_s: float, *, rms_uv: float = 60.0) -> None:
        """Turning over: large whole-leg movement, moderate EMG, posture change to a side."""
        self._burst(onset_s, duration_s, rms_uv, ramp_s=0.5)
        a, b = round(onset_s * self.fs_acc), round((onset_s + duration_s) * self.fs_acc)
        t = np.arange(b - a) / self.fs_acc
        swing = 0.3 * np.sin(2 * np.pi * 1.2 * t)[:, None]
        self.shank[a:b] += swing
        self.foot[a:b] += swing
        side = np.array([0.0, 1.0, 0.0])
        self.shank[b:] = side + self.rng.normal(0, 0.001, (self.shank.shape[0] - b, 3))
        self.foot[b:] = side + self.rng.normal(0, 0.001, (self.foot.shape[0] - b, 3))

    def walk(self, onset_s: float, duration_s: float) -> None:
        """Getting up and walking: upright shank, gait accelerations, rhythmic calf bursts."""
        a, b = round(onset_s * self.fs_acc), round((onset_s + duration_s) * self.fs_acc)
        t = np.arange(b - a) / self.fs_acc
        gait = 0.35 * np.sin(2 * np.pi * 1.8 * t)[:, None] * np.array([1.0, 0.2, 0.6])
        self.shank[a:b] = STANDING_SHANK + gait
        self.foot[a:b] = foot_vector(0.0, STANDING_SHANK) + gait
        ea, eb = round(onset_s * self.fs_emg), round((onset_s + duration_s) * self.fs_emg)
        te = np.arange(eb - ea) / self.fs_emg
        phase = (te * 1.8) % 1.0
        self.emg[ea:eb] += self.rng.standard_normal(eb - ea) * 150.0 * (phase < 0.3)

    def electrode_lift(self, onset_s: float, duration_s: float, *, saturate: bool) -> None:
        """Electrode off: flat zero, or stuck at the rail."""
        a, b = round(onset_s * self.fs_emg), round((onset_s + duration_s) * self.fs_emg)
        self.emg[a:b] = 5000.0 if saturate else 0.0

    def gap(self, role: str, start_s: float, end_s: float) -> None:
        """Remove samples of one channel."""
        fs = self.fs_emg if role == "emg" else self.fs_acc
        self.gaps.append(Gap(role=role, start_s=start_s, end_s=end_s,
                             samples_missing=round((end_s - start_s) * fs)))

    def recording(self, *, start_utc: datetime = START_UTC) -> ArrayRecording:
        """The built recording as an in-memory source."""
        channels: dict[str, ChannelSpec] = {}
        data: dict[str, np.ndarray] = {}
        if self.with_emg:
            channels["emg"] = ChannelSpec(role="emg", fs=self.fs_emg, unit="uV",
                                          rails=(-5000.0, 5000.0))
            data["emg"] = np.clip(self.emg, -5000.0, 5000.0)
        if self.with_acc:
            channels["shank_acc"] = ChannelSpec(role="shank_acc", fs=self.fs_acc, unit="g")
            data["shank_acc"] = self.shank
            if self.with_foot:
                channels["foot_acc"] = ChannelSpec(role="foot_acc", fs=self.fs_acc, unit="g")
                data["foot_acc"] = self.foot
        info = make_info(path="synthetic", start_utc=start_utc, duration_s=self.duration_s,
                         channels=channels, leg="left")
        return ArrayRecording(info=info, data=data, gaps=list(self.gaps))
