"""Evidence rules: what makes an epoch *active*, and what a contraction run must show.

One rule object per detection mode, behind the small :class:`EvidenceRule` interface, so that
:class:`~detector.pipeline.episodes.EpisodeDetector` never branches on the mode and a new
source of evidence (a second EMG channel, a learned classifier) is one new rule.

Physiology the rules rest on:

- a cramp is a sustained, involuntary, irregular contraction: EMG well above rest, waxing
  and waning, with at most brief lulls; the foot is pulled into plantar flexion and the calf
  vibrates (mechanomyogram, 5-50 Hz), which is evidence *for* contraction;
- lying, the calf is at rest, so sustained EMG alone is strong evidence; upright (standing or
  sitting) the loaded calf carries steady tonic activity, so EMG must be corroborated by the
  foot held in plantar flexion or by calf tremor;
- gross movement of the leg (0.5 Hz to the tremor edge: rollovers, steps) is movement, not a
  cramp; walking is rhythmic; turning over comes in phasic bursts; a calf stretch pulls the
  foot up (dorsiflexion), the opposite of a calf cramp.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from detector.config import DetectorConfig
from detector.pipeline.emg_shape import EmgShape
from detector.pipeline.emg_share import rise_scale
from detector.pipeline.features import EpochFeatures


@dataclass(frozen=True)
class Levels:
    """Resting levels the rules compare against, per epoch, shape (n,).

    Attributes
    ----------
    emg_rest_uv : resting EMG envelope (uV); NaN without EMG.
    tremor_rest_g : resting tremor-band level on a still leg (g); NaN without a shank sensor.
    emg_uv : EMG level the activity decision is made on (uV; the envelope smoothed to a
        rate-independent number of independent samples, see
        :mod:`detector.pipeline.activity`); NaN where unusable. ``None``: the raw envelope.
    """

    emg_rest_uv: np.ndarray
    tremor_rest_g: np.ndarray
    emg_uv: np.ndarray | None = None


@dataclass(frozen=True)
class RunEvidence:
    """Summary of a run's epochs used for the verdict and the episode record."""

    duty: float
    peak_uv: float | None
    mean_uv: float | None
    plantar_flexion_deg: float | None
    tremor_fraction: float
    moving_fraction: float
    lying_fraction: float | None
    hum_fraction: float
    valid_fraction: float
    shape: EmgShape | None
    rested_before: bool
    """Whether the muscle was at rest (``rest_between_s``) since the last judged run ended."""
    tonic_ratio: float | None = None
    """Median EMG level of the judged window over the highest resting level of the recording
    so far (the calf's tonic level while the body stood on it, when the recording began or
    stayed upright long enough to set the resting level); ``None`` without EMG."""
    strong_duty: float | None = None
    """Fraction of the judged window above the activity threshold itself, without the EMG-only
    hold (:mod:`detector.pipeline.emg_hold`); ``duty`` counts the held epochs too."""
    recorded_s: float | None = None
    """Time from the recording's start to the end of the judged window (s)."""
    start_ratio: float | None = None
    """EMG only: median envelope over ``evidence.tiptoe_pre_s`` ending
    ``episode.onset_lookback_s`` before the onset (before the ramp can have begun) over the
    lowest settled resting level so far (no unit; ``None``: unknown)."""
    sway_deg: float | None = None
    """Balance sway of the leg over the judged window: median change of its incline between
    consecutive ``evidence.sway_block_s`` blocks (deg, :mod:`detector.pipeline.sway`);
    ``None`` without an accelerometer."""


class EvidenceRule(Protocol):
    """What one detection mode counts as evidence."""

    mode: str
    uses_emg: bool
    holds_emg: bool
    """Whether a contraction, once the EMG crossed the activity threshold, lasts until the EMG
    is back at rest (:class:`~detector.pipeline.emg_hold.EmgHold`)."""

    def active(self, f: EpochFeatures, levels: Levels) -> np.ndarray:
        """Active flag per epoch, shape (n,)."""
        ...

    def plausible(self, ev: RunEvidence) -> bool:
        """Whether a run's shape can be a cramp at all (before its confidence)."""
        ...

    def confidence(self, ev: RunEvidence, duration_s: float) -> float:
        """Confidence 0-1 of a run with this evidence and duration."""
        ...

    def tags(self, ev: RunEvidence) -> tuple[str, ...]:
        """Evidence names recorded with an episode."""
        ...

    def tremor_case(self, f: EpochFeatures, levels: Levels) -> np.ndarray | None:
        """Epochs active on the calf tremor's evidence, shape (n,): a run they start is held
        until the tremor is back at rest; ``None`` when the mode has no such evidence."""
        ...

    def decide(self, f: EpochFeatures, levels: Levels) -> tuple[np.ndarray, np.ndarray | None]:
        """``(active, tremor_case)`` of the same epochs, each worked out once (the detector's
        per-chunk call)."""
        ...

    def emg_rests(self, f: EpochFeatures, levels: Levels) -> np.ndarray:
        """Epochs whose EMG positively shows the muscle at rest (the veto of the accelerometer
        case), shape (n,); all False without EMG."""
        ...


def tremor_on(f: EpochFeatures, levels: Levels, config: DetectorConfig) -> np.ndarray:
    """Calf tremor above its absolute level and above its own resting level, shape (n,)."""
    m = config.motion
    with np.errstate(invalid="ignore"):
        return f.tremor_g > np.fmax(m.tremor_g, m.tremor_ratio * levels.tremor_rest_g)


def tremor_corroborated(f: EpochFeatures, levels: Levels, config: DetectorConfig) -> np.ndarray:
    """Calf tremor above ``evidence.tremor_corroborated_ratio`` x its own resting level, the
    weaker criterion that holds where the foot is seen held in plantar flexion, shape (n,)."""
    with np.errstate(invalid="ignore"):
        return f.tremor_g > config.evidence.tremor_corroborated_ratio * levels.tremor_rest_g


def emg_level(f: EpochFeatures, levels: Levels) -> np.ndarray:
    """EMG level the decisions are made on (uV), shape (n,); NaN where unusable."""
    return np.where(f.emg_valid, f.envelope_uv, np.nan) if levels.emg_uv is None \
        else levels.emg_uv


def emg_above(f: EpochFeatures, levels: Levels, *, ratio: float,
              rise_uv: float) -> np.ndarray:
    """Usable EMG level above ``max(ratio x rest, rest + rise_uv)``, shape (n,).

    ``rise_uv`` is the rise as the front end's band sees it (the configured rise times
    :func:`~detector.pipeline.emg_share.rise_scale`)."""
    rest_uv = levels.emg_rest_uv
    with np.errstate(invalid="ignore"):
        return emg_level(f, levels) > np.maximum(rest_uv * ratio, rest_uv + rise_uv)


def emg_at_rest(f: EpochFeatures, levels: Levels, *, ratio: float,
                rise_uv: float = 0.0) -> np.ndarray:
    """EMG positively seen at its resting level (usable, not flat, level at most ``ratio`` x
    rest, on a channel where a contraction of ``rise_uv`` adding its power to the rest would
    read above that), shape (n,). Missing, saturated and flat epochs are unseen, never rest:
    a flat trace is as much a lifted electrode as a quiet muscle; nor is a noisy one, whose
    rest hides such a contraction."""
    level = emg_level(f, levels)
    rest_uv = levels.emg_rest_uv
    with np.errstate(invalid="ignore"):
        resolves = rest_uv**2 + rise_uv**2 > (ratio * rest_uv) ** 2
        return f.emg_valid & ~f.emg_flat & resolves & (level <= ratio * rest_uv)


class _Scoring:
    """Confidence and tags shared by the rules (weights from ``config.evidence``)."""

    mode = ""
    uses_emg = True
    holds_emg = False

    def __init__(self, config: DetectorConfig, *, rise_scale: float = 1.0) -> None:
        self.config = config
        self.rise_scale = rise_scale
        """Amplitude share of the full-band EMG the front end keeps; scales the rises."""

    @property
    def active_rise_uv(self) -> float:
        """``emg.active_rise_uv`` as the front end's band sees it (uV)."""
        return self.config.emg.active_rise_uv * self.rise_scale

    def _pf_held(self, ev: RunEvidence) -> bool:
        pf = ev.plantar_flexion_deg
        return pf is not None and pf >= self.config.motion.plantar_flexion_deg

    def _tremor(self, ev: RunEvidence) -> bool:
        return ev.tremor_fraction >= self.config.evidence.tremor_fraction

    def _still(self, ev: RunEvidence) -> bool:
        return ev.lying_fraction is not None and ev.moving_fraction < 0.1

    def _on_toes(self, ev: RunEvidence) -> bool:
        """Upright with the heel raised (the foot's median angle at least
        ``evidence.tiptoe_min_pf_deg``) on a leg that sways (``evidence.balance_sway_deg``)
        as under a body balancing on it: standing on tip-toe, weight on the forefoot, a
        voluntary stance. A cramp does not sway the leg: seated, the shank rests still; a
        cramp met standing is relieved by standing on the heel (stretch), not on the toes.
        A contracting calf vibrates whether the contraction is voluntary or not, so the
        tremor does not tell them apart here."""
        upright = ev.lying_fraction is not None and ev.lying_fraction < 0.5
        pf = ev.plantar_flexion_deg
        return (upright and pf is not None and pf >= self.config.evidence.tiptoe_min_pf_deg
                and ev.sway_deg is not None
                and ev.sway_deg >= self.config.evidence.balance_sway_deg)

    def confidence(self, ev: RunEvidence, duration_s: float) -> float:
        """Weighted sum of the evidence, clipped to 0-1."""
        w = self.config.evidence
        p = self.config.episode
        acc_only = not self.uses_emg
        score = w.base_acc if acc_only else w.base_emg
        if self._pf_held(ev):
            score += w.plantar_flexion_weight_acc if acc_only else w.plantar_flexion_weight
        if self._tremor(ev):
            score += w.tremor_weight_acc if acc_only else w.tremor_weight
        if self._still(ev):
            score += w.still_weight
        score += w.duration_weight * min(1.0, max(0.0, (duration_s - p.min_duration_s)
                                                  / w.duration_span_s))
        score += w.duty_weight * min(1.0, max(0.0, (ev.duty - p.min_duty)
                                              / max(1e-9, 1 - p.min_duty)))
        if ev.hum_fraction > 0.3:
            score -= w.hum_penalty
        if ev.valid_fraction < 0.9:
            score -= w.unusable_penalty
        return float(min(1.0, max(0.0, score)))

    def tags(self, ev: RunEvidence) -> tuple[str, ...]:
        """Names of the evidence present."""
        out = ["sustained_emg"] if self.uses_emg else []
        if self._pf_held(ev):
            out.append("plantar_flexion")
        if self._tremor(ev):
            out.append("calf_tremor")
        if self._still(ev):
            out.append("leg_still")
        if ev.lying_fraction is not None and ev.lying_fraction >= 0.5:
            out.append("lying")
        return tuple(out)

    def _rhythmic(self, ev: RunEvidence) -> bool:
        return ev.shape is not None and ev.shape.rhythm > self.config.evidence.max_rhythm

    def tremor_case(self, f: EpochFeatures, levels: Levels) -> np.ndarray | None:
        """No tremor-led evidence (see :class:`EvidenceRule`)."""
        return None

    def decide(self, f: EpochFeatures, levels: Levels) -> tuple[np.ndarray, np.ndarray | None]:
        """``(active, tremor_case)`` (see :class:`EvidenceRule`)."""
        return self.active(f, levels), self.tremor_case(f, levels)

    def emg_rests(self, f: EpochFeatures, levels: Levels) -> np.ndarray:
        """No EMG veto (see :class:`EvidenceRule`)."""
        return np.zeros(f.n_epochs, dtype=bool)


class EmgAccRule(_Scoring):
    """EMG with shank and/or foot accelerometers: the union of what each sensor shows,
    less what the other positively contradicts.

    EMG case: EMG well above rest on a leg not in gross movement and not stretched
    (dorsiflexed); upright, the EMG must be corroborated by plantar flexion or calf tremor;
    with both of those on a still leg, weaker EMG (``corroborated_ratio``) suffices.

    Accelerometer case: the accelerometer mode's own evidence (:class:`AccRule`: calf tremor,
    the mechanomyogram of the contraction, on a still leg with the foot held in plantar
    flexion, or lying on a side where the angle cannot be seen), unless the EMG is usable
    and at its resting level (``evidence.emg_rest_veto_ratio``): the muscle under the
    electrode is then seen not to contract. A flat, missing or saturated EMG is unseen and
    vetoes nothing, nor does one whose resting noise would hide a contraction
    (``evidence.emg_rest_veto_rise_uv``). So the fused mode finds what either mode finds,
    and gross movement, walking (upright and rhythmic) and a stretched foot are rejected as
    in each mode.
    """

    mode = "emg+acc"

    def __init__(self, config: DetectorConfig, *, has_foot: bool = True,
                 rise_scale: float = 1.0) -> None:
        super().__init__(config, rise_scale=rise_scale)
        self.acc = AccRule(config, has_foot=has_foot)
        self.emg = EmgRule(config)  # the EMG-only judgement, for upright runs without tremor

    def active(self, f: EpochFeatures, levels: Levels) -> np.ndarray:
        """Active flag per epoch: the EMG case or the accelerometer case."""
        return self.decide(f, levels)[0]

    def decide(self, f: EpochFeatures, levels: Levels) -> tuple[np.ndarray, np.ndarray]:
        """``(active, tremor_case)``, the accelerometer case worked out once."""
        tremor_case = self.tremor_case(f, levels)
        return self._emg_case(f, levels) | tremor_case, tremor_case

    def _emg_case(self, f: EpochFeatures, levels: Levels) -> np.ndarray:
        """Epochs the EMG shows active (with the accelerometers' corroboration), shape (n,)."""
        m = self.config.motion
        e = self.config.emg
        v = self.config.evidence
        with np.errstate(invalid="ignore"):
            still = ~(f.movement_g > m.movement_g)
            stretched = f.plantar_flexion_deg <= -m.dorsiflexion_deg
            pointed = f.plantar_flexion_deg >= m.plantar_flexion_deg
        tremor = tremor_on(f, levels, self.config)
        upright = f.lying == 0
        # lying on a side the angle cannot be seen from gravity: it then neither confirms
        # nor refutes
        pointed_or_unseen = pointed | (np.isnan(f.plantar_flexion_deg) & (f.lying == 1))
        strong = emg_above(f, levels, ratio=e.active_ratio, rise_uv=self.active_rise_uv)
        weak = emg_above(f, levels, ratio=v.corroborated_ratio,
                         rise_uv=v.corroborated_rise_uv * self.rise_scale)
        corroborated = pointed | tremor
        return still & ~stretched & ((strong & (~upright | corroborated))
                                     | (weak & pointed_or_unseen & tremor))

    def tremor_case(self, f: EpochFeatures, levels: Levels) -> np.ndarray:
        """The accelerometer mode's evidence where the EMG is not seen at rest, shape (n,)."""
        return self.acc.active(f, levels) & ~self.emg_rests(f, levels)

    def emg_rests(self, f: EpochFeatures, levels: Levels) -> np.ndarray:
        """The EMG usable and at its resting level (``evidence.emg_rest_veto_ratio``, on a
        channel that would show ``evidence.emg_rest_veto_rise_uv``): the muscle under the
        electrode is seen not to contract, shape (n,)."""
        v = self.config.evidence
        return emg_at_rest(f, levels, ratio=v.emg_rest_veto_ratio,
                           rise_uv=v.emg_rest_veto_rise_uv * self.rise_scale)

    def plausible(self, ev: RunEvidence) -> bool:
        """Upright, rhythmic activity is walking, and a pointed foot on a leg swaying under a
        balancing body is standing on tip-toe (:meth:`_on_toes`). Upright without calf tremor
        otherwise (sitting: the shank rests, still), a pointed foot tells nothing the EMG
        alone could not: the run must then pass the EMG-only judgement
        (:meth:`EmgRule.plausible`). Anything else sustained may be a cramp."""
        upright = ev.lying_fraction is not None and ev.lying_fraction < 0.5
        if upright and (self._rhythmic(ev) or self._on_toes(ev)):
            return False
        if upright and not self._tremor(ev):
            return self.emg.plausible(ev)
        return True


class EmgRule(_Scoring):
    """Calf EMG alone: posture is unknown, so the EMG itself must tell standing tonic
    activity (near the threshold, flickering across it; carried on from walking or from a
    cramp without coming back to rest), walking (rhythmic), turning over and rising onto the
    toes (phasic bursts on a low floor: lulls, or a log envelope skewed upwards) from a cramp
    (sustained well above the threshold, begun from rest).

    Steadiness alone is not used against a run: real held calf contractions
    (tests/test_real_data.py) can be as steady as standing. Only a run that both varies
    little within seconds and is no stronger than the calf's own standing tonic level (the
    highest resting level of the recording: the upright minutes before bed) is taken as
    standing up."""

    mode = "emg"
    holds_emg = True  # without posture the EMG alone must carry a weak cramp's waxing and waning

    def active(self, f: EpochFeatures, levels: Levels) -> np.ndarray:
        """Active flag per epoch."""
        e = self.config.emg
        return emg_above(f, levels, ratio=e.active_ratio, rise_uv=self.active_rise_uv)

    def plausible(self, ev: RunEvidence) -> bool:
        """Begun from rest, sustained, not rhythmic, without a train of lulls or of bursts.

        Without posture, activity that carries on from a judged run without the muscle coming
        back to rest in between is the same state going on (standing after walking, standing
        and stretching after a cramp), not a new cramp. A run steady at the calf's standing
        level is not rejected here by its level alone: its later look decides on standing's
        own evidence (:meth:`~detector.pipeline.review.RunReview.steady_standing`).
        """
        v = self.config.evidence
        if not ev.rested_before or ev.duty < v.emg_only_min_duty:
            return False
        if not self._clear_of_standing(ev):
            return False
        if ev.shape is None:
            return True
        s = ev.shape
        return (not self._rhythmic(ev) and s.lull_fraction <= v.max_lull_fraction
                and s.burst_excess <= v.max_burst_excess
                and not s.bursts_on_floor(min_reach=v.burst_skew_min_reach,
                                          max_skew=v.max_burst_skew))

    def _clear_of_standing(self, ev: RunEvidence) -> bool:
        """A run that only the hold carries (under ``emg_only_min_duty`` of it above the
        activity threshold itself: a weak contraction waxing and waning about it) has a level
        a quiet standing calf also reaches; it counts only when its median is well clear of
        the calf's standing tonic level (``weak_min_tonic_ratio`` x the standing reference),
        once that reference is settled (``weak_settle_s`` of recording), when it waxes
        and wanes as a contraction does rather than coming in phasic bursts
        (``weak_max_fast_modulation``), and from a relaxed calf (``weak_max_start_ratio``).
        A run mostly above the threshold is judged as without the hold."""
        v = self.config.evidence
        if ev.strong_duty is None or ev.strong_duty >= v.emg_only_min_duty:
            return True
        waxing = ev.shape is None or ev.shape.fast_modulation <= v.weak_max_fast_modulation
        relaxed = ev.start_ratio is None or ev.start_ratio < v.weak_max_start_ratio
        return (waxing and relaxed and ev.tonic_ratio is not None
                and ev.tonic_ratio >= v.weak_min_tonic_ratio
                and ev.recorded_s is not None and ev.recorded_s >= v.weak_settle_s)


class AccRule(_Scoring):
    """Shank and foot accelerometers without EMG.

    Active: calf tremor on a leg not in gross movement with the foot held in plantar flexion
    (lying, sitting or standing), or lying on a side, where the ankle angle cannot be seen
    from gravity, tremor alone. Where the foot is seen held in plantar flexion, a weaker
    tremor (``evidence.tremor_corroborated_ratio`` x its resting level) suffices: a weak
    cramp's mechanomyogram waxes and wanes about the full criterion while the pulled foot
    stays held. Lying on a side, where the angle itself is unseen, the same weaker tremor
    suffices in the seconds after the foot is seen *turning* towards plantar flexion against
    the shank (``motion.pull_deg`` within ``motion.pull_lookback_s``,
    :class:`~detector.pipeline.motion.AnklePull`: the change of the relative angle stays
    readable with a few hundredths of a g of sagittal gravity); the run it starts is then held
    while the tremor lasts. Needs the foot sensor; with the shank alone nothing can be
    confirmed (the result's quality says so).
    """

    mode = "acc"
    uses_emg = False

    def __init__(self, config: DetectorConfig, *, has_foot: bool) -> None:
        super().__init__(config)
        self.has_foot = has_foot

    def active(self, f: EpochFeatures, levels: Levels) -> np.ndarray:
        """Active flag per epoch."""
        m = self.config.motion
        if not self.has_foot:
            return np.zeros(f.n_epochs, dtype=bool)
        with np.errstate(invalid="ignore"):
            still = ~(f.movement_g > m.movement_g) & ~f.acc_missing
            pointed = f.plantar_flexion_deg >= m.plantar_flexion_deg
            pulled = (f.pull_deg >= m.pull_deg) if f.pull_deg is not None \
                else np.zeros(f.n_epochs, dtype=bool)
        unseen = np.isnan(f.plantar_flexion_deg) & (f.lying == 1)
        full = tremor_on(f, levels, self.config) & (pointed | unseen)
        weak = tremor_corroborated(f, levels, self.config) & (pointed | (pulled & unseen))
        return still & (full | weak)

    def plausible(self, ev: RunEvidence) -> bool:
        """Every sustained tremor run on a still leg may be a cramp, except standing on
        tip-toe (:meth:`_on_toes`)."""
        return not self._on_toes(ev)

    def tremor_case(self, f: EpochFeatures, levels: Levels) -> np.ndarray:
        """All of this mode's evidence is the tremor's (see :class:`EvidenceRule`)."""
        return self.active(f, levels)

    def decide(self, f: EpochFeatures, levels: Levels) -> tuple[np.ndarray, np.ndarray]:
        """``(active, tremor_case)``: the same epochs, worked out once."""
        active = self.active(f, levels)
        return active, active


def make_rule(mode: str, *, has_foot: bool, config: DetectorConfig,
              emg_band_hz: tuple[float, float] | None = None) -> EvidenceRule:
    """The evidence rule of a detection mode (``emg+acc``, ``emg`` or ``acc``).

    ``emg_band_hz``: the EMG band-pass actually applied (Hz), which scales the absolute EMG
    rises of the fused rule (:func:`~detector.pipeline.emg_share.rise_scale`); ``None``:
    unscaled."""
    if mode == "emg+acc":
        return EmgAccRule(config, has_foot=has_foot,
                          rise_scale=rise_scale(emg_band_hz, config=config.emg))
    if mode == "emg":
        # not (yet) scaled without posture: at 200 Hz a scaled rise lets calf stretches and
        # walking through (Ganglion kit nights), which here only the accelerometers veto
        return EmgRule(config)
    if mode == "acc":
        return AccRule(config, has_foot=has_foot)
    raise ValueError(f"unknown detection mode {mode!r}")
