"""Data types of the night model: events, the scenario of a night, and their vocabularies.

An event's fields are used according to its kind:

================  =========================  =============================  ==================
kind              ``emg_uv``                 ``acc_g``                      other fields
================  =========================  =============================  ==================
cramp             peak EMG envelope (RMS)    calf tremor RMS, shank         ``angle_deg`` held
lm, plm           EMG envelope (RMS)         foot movement peak             ``angle_deg`` peak,
                                                                            ``series`` (plm)
twitch            EMG envelope (RMS)         foot movement peak
hypnic_jerk       EMG envelope (RMS)         whole-leg spike peak
rollover          EMG envelope (RMS)         whole-leg movement RMS         ``posture`` after
walk              EMG burst peak (RMS)       gait acceleration amplitude    ``freq_hz`` steps
stretch           EMG envelope (RMS)                                        ``angle_deg`` held
stand                                                                       (standing still)
tiptoe            EMG envelope (RMS)                                        ``angle_deg`` held
electrode_lift    rail value, 0 = flat
hum               sine amplitude                                            ``freq_hz`` mains
motion_spike      EMG transient peak         whole-leg spike peak
in_bed                                                                      ``posture`` lying
sitting                                                                     (out of bed)
sleep
================  =========================  =============================  ==================

``angle_deg`` is the foot's plantar-flexion angle (toes pointed = positive, neutral = 0) the
event drives the ankle to; ``cramp``/``stretch``/``tiptoe`` hold it, ``lm``/``plm`` reach it
briefly. ``stand`` is standing still out of bed (a bathroom trip, after stretching): its
calf EMG is the scenario's standing tonic activity. ``sitting`` marks a period sat out of bed
(shank near vertical, foot on the floor, calf relaxed).
EMG levels of contraction events are nominal: the scenario's ``contraction_scale`` multiplies
them, and ``hum_scale`` multiplies hum amplitudes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np

from detector.errors import CrampInputError

EventKind = Literal[
    "cramp", "lm", "plm", "twitch", "hypnic_jerk", "rollover", "walk", "stretch", "stand",
    "tiptoe", "electrode_lift", "hum", "motion_spike", "in_bed", "sitting", "sleep",
]
EVENT_KINDS: tuple[str, ...] = (
    "cramp", "lm", "plm", "twitch", "hypnic_jerk", "rollover", "walk", "stretch", "stand",
    "tiptoe", "electrode_lift", "hum", "motion_spike", "in_bed", "sitting", "sleep",
)
CONTRACTION_KINDS: frozenset[str] = frozenset(
    {"cramp", "lm", "plm", "twitch", "hypnic_jerk", "rollover", "walk", "stretch", "tiptoe"}
)
"""Kinds whose ``emg_uv`` is muscle activity, scaled by ``contraction_scale``."""
PERIOD_KINDS: frozenset[str] = frozenset({"in_bed", "sitting", "sleep"})
"""Kinds that mark a period of the night and produce no signal of their own."""

Posture = Literal["supine", "prone", "left_side", "right_side", "standing", "sitting"]
LYING_POSTURES: tuple[str, ...] = ("supine", "prone", "left_side", "right_side")
POSTURES: tuple[str, ...] = (*LYING_POSTURES, "standing", "sitting")
UPRIGHT_KINDS: frozenset[str] = frozenset({"walk", "stretch", "stand", "tiptoe"})
"""Kinds that take a sleeper out of bed onto their feet."""
Leg = Literal["left", "right"]
EMG_RATES_HZ: tuple[float, ...] = (200.0, 500.0, 1000.0, 2000.0)
ACC_RATE_RANGE_HZ: tuple[float, float] = (25.0, 100.0)


@dataclass(frozen=True, kw_only=True)
class NightEvent:
    """One thing that happens during the night (see the module table for field use).

    Attributes
    ----------
    kind : str
        One of :data:`EVENT_KINDS`.
    onset_s, duration_s : float
        Start (seconds from the night start) and length (s).
    emg_uv : float
        EMG level of the event (uV), meaning by kind.
    acc_g : float
        Acceleration level of the event (g), meaning by kind.
    angle_deg : float
        Plantar-flexion angle the foot is driven to (deg, toes pointed positive).
    freq_hz : float
        Step rate of a walk or mains frequency of a hum (Hz).
    posture : str or None
        Posture after a rollover, or the lying posture of an ``in_bed`` period.
    series : int
        Index of the PLM series a ``plm`` event belongs to; -1 otherwise.
    seed : int
        Seed of the event's own random texture (burst pattern, movement direction...).
    """

    kind: EventKind
    onset_s: float
    duration_s: float
    emg_uv: float = 0.0
    acc_g: float = 0.0
    angle_deg: float = 0.0
    freq_hz: float = 0.0
    posture: Posture | None = None
    series: int = -1
    seed: int = 0

    def __post_init__(self) -> None:
        where = f"event {self.kind}@{self.onset_s:g}s"
        if self.kind not in EVENT_KINDS:
            raise CrampInputError("event.kind", f"expected one of {EVENT_KINDS}, got {self.kind!r}")
        if not (np.isfinite(self.onset_s) and self.onset_s >= 0):
            raise CrampInputError(where, "onset_s must be a finite number >= 0")
        if not (np.isfinite(self.duration_s) and self.duration_s > 0):
            raise CrampInputError(where, "duration_s must be a finite number > 0")
        if self.posture is not None and self.posture not in POSTURES:
            raise CrampInputError(where, f"posture must be one of {POSTURES}")
        if self.kind in ("hum", "walk") and not self.freq_hz > 0:
            raise CrampInputError(where, "freq_hz must be > 0 for a hum or a walk")

    @property
    def end_s(self) -> float:
        """End of the event, seconds from the night start."""
        return self.onset_s + self.duration_s


@dataclass(frozen=True, kw_only=True)
class NightScenario:
    """Everything that defines a simulated night for one leg; with a seed, its signals.

    Attributes
    ----------
    duration_s : float
        Length of the night (s).
    fs_emg : float
        EMG sampling rate (Hz): 200, 500, 1000 or 2000.
    fs_acc : float
        Accelerometer sampling rate (Hz), 25 to 100.
    start_utc : datetime
        Time of the first sample, timezone-aware.
    events : tuple of NightEvent
        What happens, in any order. ``in_bed`` periods set the lying posture; outside them the
        sleeper stands.
    leg : {"left", "right"}
        Leg the band is on (sets the sign of the lateral axis when lying on a side).
    rest_emg_uv_rms : float
        Resting EMG noise (uV RMS), about 1 to 3.
    contraction_scale : float
        Multiplier of every contraction event's EMG level (older sleepers: lower).
    hum_scale : float
        Multiplier of every hum event's amplitude.
    acc_noise_g : float
        White noise of each accelerometer axis (g RMS), about 0.0005 to 0.001.
    rest_ankle_deg : float
        Plantar-flexion angle of the relaxed foot when lying (deg).
    emg_rails_uv : float
        Largest magnitude the EMG front end can represent (uV); samples are clipped to it.
    emg_step_uv : float
        Quantisation step of the EMG front end (uV); 0 keeps the samples continuous.
    standing_tonic_uv : float
        Calf EMG (uV RMS) of standing still: the postural (mostly soleus) activity that holds
        the body over the feet, well above the lying resting level. It sways with the body
        (``standing_sway_cv``) and is present whenever the sleeper stands or walks.
    standing_sway_cv : float
        Coefficient of variation of that tonic level with postural sway (0.03-1 Hz: the
        ankle strategy's corrections in quiet stance have most power at 0.1-1 Hz).
    standing_shift_depth : float
        Depth (0..1) of the shifts of weight from leg to leg while standing: every 2-20 s the
        share of the body carried by the sensor leg moves to a new level, and the tonic level
        follows it between ``1 - depth`` and ``1 + depth`` times ``standing_tonic_uv``
        (0 = weight always shared evenly; 1 = at times all weight on the other leg, whose
        calf then carries the load while this one falls nearly silent, and at times all on
        this leg).
    tremor_band_hz : (float, float)
        Band of the calf tremor (mechanomyogram) on the shank sensor (Hz).
    side_roll_offset_deg : float
        How far from a pure side posture the leg rests when lying on a side (deg): knees drawn
        and the leg tipped forward or back; 0 is a leg exactly on its side, where the ankle
        angle cannot be seen from gravity.
    emg_spectrum_hz : (float, float) or None
        Shape of the surface EMG's power spectrum, ``(f_low, f_high)`` of ``P(f) ~ f_high^4
        f^2 / ((f^2 + f_low^2) (f^2 + f_high^2)^2)`` (Hz; the classic surface-EMG spectrum
        model of Shwedyk, Balasubramanian and Scott, IEEE Trans Biomed Eng BME-24(5), 1977;
        :mod:`firmware_sim.night_spectrum`): power rising to a peak near 50-130 Hz and
        falling off above, so a 200 Hz front end (20-90 Hz) sees part of the EMG, not all of
        it. The EMG levels of the scenario are RMS over 20-450 Hz; a narrower front end sees
        less. ``None``: flat 20-450 Hz noise holding the full level within whatever band the
        rate allows (the model's older, optimistic behaviour, kept for hand-built
        scenarios).
    """

    duration_s: float
    fs_emg: float
    fs_acc: float
    start_utc: datetime
    events: tuple[NightEvent, ...] = ()
    leg: Leg = "left"
    rest_emg_uv_rms: float = 2.0
    contraction_scale: float = 1.0
    hum_scale: float = 1.0
    acc_noise_g: float = 0.0007
    rest_ankle_deg: float = 10.0
    emg_rails_uv: float = 5000.0
    emg_step_uv: float = 0.0
    standing_tonic_uv: float = 0.0
    standing_sway_cv: float = 0.2
    standing_shift_depth: float = 0.0
    tremor_band_hz: tuple[float, float] = (8.0, 40.0)
    side_roll_offset_deg: float = 0.0
    emg_spectrum_hz: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.duration_s) and self.duration_s >= 1.0):
            raise CrampInputError("scenario.duration_s", "expected a night of at least 1 s")
        if float(self.fs_emg) not in EMG_RATES_HZ:
            raise CrampInputError("scenario.fs_emg", f"expected one of {EMG_RATES_HZ} Hz")
        lo, hi = ACC_RATE_RANGE_HZ
        if not lo <= self.fs_acc <= hi:
            raise CrampInputError("scenario.fs_acc", f"expected {lo:g} to {hi:g} Hz")
        if self.start_utc.tzinfo is None:
            raise CrampInputError("scenario.start_utc", "expected a timezone-aware datetime")
        if self.leg not in ("left", "right"):
            raise CrampInputError("scenario.leg", "expected 'left' or 'right'")
        for name in ("rest_emg_uv_rms", "contraction_scale", "hum_scale", "acc_noise_g",
                     "emg_rails_uv", "emg_step_uv", "standing_tonic_uv", "standing_sway_cv",
                     "standing_shift_depth", "side_roll_offset_deg"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise CrampInputError(f"scenario.{name}", "expected a finite number >= 0")
        if not self.emg_rails_uv > 0:
            raise CrampInputError("scenario.emg_rails_uv", "expected a number > 0")
        lo_hz, hi_hz = self.tremor_band_hz
        if not (np.isfinite(lo_hz) and np.isfinite(hi_hz) and 0 < lo_hz < hi_hz):
            raise CrampInputError("scenario.tremor_band_hz", "expected 0 < low < high (Hz)")
        if self.emg_spectrum_hz is not None:
            f_lo, f_hi = self.emg_spectrum_hz
            if not (np.isfinite(f_lo) and np.isfinite(f_hi) and 0 < f_lo and 0 < f_hi <= 1000):
                raise CrampInputError("scenario.emg_spectrum_hz", "expected 0 < f < 1000 Hz")
        if self.standing_shift_depth > 1:
            raise CrampInputError("scenario.standing_shift_depth", "expected 0 to 1")
        if self.side_roll_offset_deg > 60:
            raise CrampInputError("scenario.side_roll_offset_deg", "expected 0 to 60 deg")
        for event in self.events:
            if event.onset_s >= self.duration_s:
                raise CrampInputError(
                    f"event {event.kind}@{event.onset_s:g}s", "starts after the end of the night"
                )

    @property
    def n_emg(self) -> int:
        """Number of EMG samples in the night."""
        return round(self.duration_s * self.fs_emg)

    @property
    def n_acc(self) -> int:
        """Number of samples of each accelerometer in the night."""
        return round(self.duration_s * self.fs_acc)
