"""Episode detector: fuses per-epoch evidence into cramp episodes, live.

A *contraction run* is a stretch of active epochs in which no lull lasts longer than
``max_dip_s``. What "active" means depends on the mode:

- ``emg+acc``: EMG envelope well above the resting level, leg not in gross movement, and not
  an upright leg with the foot pulled up (voluntary stretching);
- ``emg``: EMG envelope well above the resting level;
- ``acc``: calf tremor (mechanomyogram, above an absolute level and above the tremor's own
  resting level) on a still lying leg, with the foot held in plantar flexion; lying on a
  side, where the ankle angle cannot be seen from gravity, tremor on a still leg suffices
  (needs both the shank and the foot sensor; with the shank alone nothing can be confirmed,
  and the result's quality says so).

With EMG only, a contraction must last ``emg_only_min_duration_s`` (15 s: a rollover cannot be
told from a short cramp without an accelerometer), and one that starts within ``aftermath_s``
of an episode's end is taken as the standing and stretching that follow most cramps, not as a
new cramp.

When a run has lasted ``min_duration_s`` it is judged once, on its first ``min_duration_s``:
enough of it must be active (``min_duty``; rhythmic bursts of walking or a leg-movement series
are not) and its confidence must reach ``min_confidence``. A run that passes is announced at
once (:class:`EpisodeStarted`) and becomes an :class:`Episode` when it ends. The decision only
ever looks at epochs already seen, so the result is the same live and in replay, whatever the
chunking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from detector.config import DetectorConfig
from detector.episode import Episode, EpisodeEnded, EpisodeEvent, EpisodeStarted
from detector.pipeline.baseline import RestingBaseline
from detector.pipeline.features import EpochFeatures
from detector.pipeline.night_window import NightWindow

CONTEXT_S = 30.0
"""Feature history kept before a run (s)."""


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


class EpisodeDetector:
    """Stream processor: :class:`EpochFeatures` in, episode events out.

    Parameters
    ----------
    mode : {"emg+acc", "emg", "acc"}
        Which evidence exists.
    has_foot : bool
        Whether a foot accelerometer (hence an ankle angle) exists.
    config : DetectorConfig
        Thresholds.
    start_utc : datetime
        Recording start (aware UTC).
    leg : str
        Leg the band is on.
    night_window : NightWindow
        Local night window.
    """

    def __init__(self, *, mode: str, has_foot: bool, config: DetectorConfig,
                 start_utc: datetime, leg: str, night_window: NightWindow) -> None:
        self.mode = mode
        self.has_foot = has_foot
        self.config = config
        self.eps = round(1.0 / config.epoch_s)
        self.start_utc = start_utc
        self.leg = leg
        self.window = night_window
        self.baseline = RestingBaseline(config=config.emg, epochs_per_s=self.eps)
        self.tremor_baseline = RestingBaseline(config=config.emg, epochs_per_s=self.eps,
                                               floor=config.motion.tremor_floor_g)
        self.aftermath = round(config.episode.aftermath_s * self.eps) if mode == "emg" else 0
        self._last_episode_end = -(10**12)
        min_duration_s = config.episode.min_duration_s
        if mode == "emg":
            min_duration_s = max(min_duration_s, config.episode.emg_only_min_duration_s)
        self.min_duration_s = min_duration_s
        self.min_epochs = max(1, int(np.ceil(min_duration_s * self.eps - 1e-9)))
        self.max_dip = round(config.episode.max_dip_s * self.eps)
        self.context = int(CONTEXT_S * self.eps)
        self.episodes: list[Episode] = []
        self._hist: list[tuple[EpochFeatures, np.ndarray, np.ndarray]] = []
        self._hist_start = 0
        self._next_epoch = 0
        self._run_start: int | None = None
        self._run_end = 0
        self._state = "none"  # none | confirmed | rejected
        self.last_baseline = np.empty(0)

    # -- masks -------------------------------------------------------------------------
    def _active(self, f: EpochFeatures, base: np.ndarray,
                tremor_base: np.ndarray) -> np.ndarray:
        m = self.config.motion
        e = self.config.emg
        with np.errstate(invalid="ignore"):
            moving = f.movement_g > m.movement_g
            if self.mode == "acc":
                # the foot held in plantar flexion, with calf tremor, on a still lying leg.
                # Lying on a side the ankle angle cannot be seen from gravity: tremor on a
                # still leg then has to do. Without a foot sensor nothing is active.
                tremor_on = f.tremor_g > np.maximum(m.tremor_g, m.tremor_ratio * tremor_base)
                angle_unseen = np.isnan(f.plantar_flexion_deg) & (f.lying == 1) & self.has_foot
                return (tremor_on & ~moving & (f.lying == 1)
                        & ((f.plantar_flexion_deg >= m.plantar_flexion_deg) | angle_unseen))
            threshold = np.maximum(base * e.active_ratio, base + e.active_rise_uv)
            active = f.emg_valid & (f.envelope_uv > threshold)
            if self.mode == "emg+acc":
                stretching = (f.lying == 0) & (f.plantar_flexion_deg < 0)
                active &= ~moving & ~stretching
        return active

    # -- stream ------------------------------------------------------------------------
    def push(self, f: EpochFeatures) -> list[EpisodeEvent]:
        """Consume the next epochs; return the events they complete."""
        if f.first_epoch != self._next_epoch:
            raise ValueError(f"expected epoch {self._next_epoch}, got {f.first_epoch}")
        if self.mode == "acc":
            base = np.full(f.n_epochs, np.nan)
            with np.errstate(invalid="ignore"):
                still = ~(f.movement_g > self.config.motion.movement_g)
            tremor_base = self.tremor_baseline.push(np.where(still, f.tremor_g, np.nan))
        else:
            base = self.baseline.push(np.where(f.emg_valid, f.envelope_uv, np.nan))
            tremor_base = base
        active = self._active(f, base, tremor_base)
        self.last_baseline = base
        self._hist.append((f, base, active))
        k0 = f.first_epoch
        self._next_epoch = k0 + f.n_epochs
        events: list[EpisodeEvent] = []
        edges = np.diff(np.concatenate(([0], active.view(np.int8), [0])))
        starts = np.flatnonzero(edges == 1) + k0
        ends = np.flatnonzero(edges == -1) + k0
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            if self._run_start is not None and s - self._run_end <= self.max_dip:
                self._run_end = e
            else:
                floor = self._run_end if self._run_start is not None else 0
                if self._run_start is not None:
                    events.extend(self._close_run())
                self._run_start = self._refine_onset(s, floor)
                self._run_end, self._state = e, "none"
            events.extend(self._maybe_confirm())
        if self._run_start is not None and self._next_epoch - self._run_end > self.max_dip:
            events.extend(self._close_run())
        if self._run_start is None:
            self._trim(self._next_epoch - self.context)
        return events

    def flush(self) -> list[EpisodeEvent]:
        """End of stream: close an open run."""
        events = self._close_run() if self._run_start is not None else []
        self._hist.clear()
        return events

    # -- runs --------------------------------------------------------------------------
    def _maybe_confirm(self) -> list[EpisodeEvent]:
        assert self._run_start is not None
        if self._state != "none" or self._run_end - self._run_start < self.min_epochs:
            return []
        confirm = self._run_start + self.min_epochs
        ev = self._evidence(self._run_start, confirm)
        after_episode = self._run_start - self._last_episode_end < self.aftermath
        ok = (not after_episode and ev.duty >= self.config.episode.min_duty
              and self._confidence(ev, self.min_epochs) >= self.config.episode.min_confidence)
        self._state = "confirmed" if ok else "rejected"
        if not ok:
            return []
        return [EpisodeStarted(onset_s=self._run_start / self.eps,
                               confirmed_s=confirm / self.eps)]

    def _refine_onset(self, start: int, floor: int) -> int:
        """Move a run's start back over the ramp-up of the contraction.

        A cramp builds up over seconds and crosses the activity threshold part-way up; the onset
        is the first epoch after the envelope last sat at rest (below ``onset_ratio`` x the
        resting level or within ``onset_rise_uv`` of it, or unusable), looking back at most
        ``onset_lookback_s``.
        """
        if self.mode == "acc":
            return start
        p = self.config.episode
        first = max(floor, start - round(p.onset_lookback_s * self.eps),
                    self._hist[0][0].first_epoch)
        if first >= start:
            return start
        f, base, _ = self._window(first, start)
        lower = np.maximum(base * p.onset_ratio, base + p.onset_rise_uv)
        with np.errstate(invalid="ignore"):
            rest = ~f.emg_valid | ~(f.envelope_uv > lower)
        idx = np.flatnonzero(rest)
        return first + int(idx[-1]) + 1 if idx.size else first

    def _close_run(self) -> list[EpisodeEvent]:
        assert self._run_start is not None
        start, end, state = self._run_start, self._run_end, self._state
        self._run_start = None
        self._state = "none"
        out: list[EpisodeEvent] = []
        if state == "confirmed":
            episode = self._build(start, end)
            self.episodes.append(episode)
            self._last_episode_end = end
            out.append(EpisodeEnded(episode=episode))
        self._trim(min(self._next_epoch, end) - self.context)
        return out

    def _trim(self, keep_from: int) -> None:
        while self._hist and self._hist[0][0].first_epoch + self._hist[0][0].n_epochs <= keep_from:
            self._hist.pop(0)

    def _window(self, start: int, stop: int) -> tuple[EpochFeatures, np.ndarray, np.ndarray]:
        feats = EpochFeatures.concat([h[0] for h in self._hist])
        base = np.concatenate([h[1] for h in self._hist])
        active = np.concatenate([h[2] for h in self._hist])
        i0 = start - feats.first_epoch
        i1 = stop - feats.first_epoch
        return feats.slice(i0, i1), base[i0:i1], active[i0:i1]

    def _evidence(self, start: int, stop: int) -> RunEvidence:
        f, _, active = self._window(start, stop)
        m = self.config.motion
        n = max(stop - start, 1)
        env = f.envelope_uv[f.emg_valid]
        pf = f.plantar_flexion_deg[~np.isnan(f.plantar_flexion_deg)]
        lying = f.lying[~np.isnan(f.lying)]
        with np.errstate(invalid="ignore"):
            tremor = float(np.mean(f.tremor_g > m.tremor_g))
            moving = float(np.mean(f.movement_g > m.movement_g))
        return RunEvidence(
            duty=float(active.sum()) / n,
            peak_uv=float(env.max()) if env.size and self.mode != "acc" else None,
            mean_uv=float(env.mean()) if env.size and self.mode != "acc" else None,
            plantar_flexion_deg=float(np.median(pf)) if pf.size else None,
            tremor_fraction=tremor,
            moving_fraction=moving,
            lying_fraction=float(lying.mean()) if lying.size else None,
            hum_fraction=float(np.mean(f.emg_hum)),
            valid_fraction=float(np.mean(f.emg_valid)) if self.mode != "acc"
            else float(np.mean(~f.acc_missing)),
        )

    def _confidence(self, ev: RunEvidence, n_epochs: int) -> float:
        m = self.config.motion
        p = self.config.episode
        duration_s = n_epochs / self.eps
        score = 0.5 if self.mode != "acc" else 0.35
        if ev.plantar_flexion_deg is not None and ev.plantar_flexion_deg >= m.plantar_flexion_deg:
            score += 0.15 if self.mode != "acc" else 0.2
        if ev.tremor_fraction >= 0.3:
            score += 0.1 if self.mode != "acc" else 0.2
        if self.mode != "emg" and ev.moving_fraction < 0.1:
            score += 0.05
        score += 0.1 * min(1.0, max(0.0, (duration_s - p.min_duration_s) / 50.0))
        score += 0.1 * min(1.0, max(0.0, (ev.duty - p.min_duty) / max(1e-9, 1 - p.min_duty)))
        if ev.hum_fraction > 0.3:
            score -= 0.15
        if ev.valid_fraction < 0.9:
            score -= 0.15
        return float(min(1.0, max(0.0, score)))

    def _build(self, start: int, end: int) -> Episode:
        ev = self._evidence(start, end)
        m = self.config.motion
        onset_s = start / self.eps
        offset_s = end / self.eps
        onset_utc = self.start_utc + timedelta(seconds=onset_s)
        evidence: list[str] = []
        if self.mode != "acc":
            evidence.append("sustained_emg")
        if ev.plantar_flexion_deg is not None and ev.plantar_flexion_deg >= m.plantar_flexion_deg:
            evidence.append("plantar_flexion")
        if ev.tremor_fraction >= 0.3:
            evidence.append("calf_tremor")
        if self.mode != "emg" and ev.moving_fraction < 0.1:
            evidence.append("leg_still")
        lying = ev.lying_fraction
        if lying is not None and lying >= 0.5:
            evidence.append("lying")
        notes: list[str] = []
        if ev.hum_fraction > 0.3:
            notes.append("mains hum during the episode")
        if ev.valid_fraction < 0.9:
            notes.append("EMG partly unusable during the episode")
        after = self._after_end(end)
        if after == "missing":
            notes.append("ended at a data gap: true end unknown")
        if lying is None and self.mode == "emg":
            notes.append("posture unknown (no accelerometer)")
        if self.mode == "acc" and ev.plantar_flexion_deg is None:
            notes.append("ankle angle not observable (lying on a side): calf tremor only")
        in_bed = (lying is None or lying >= 0.5) and self.window.contains(onset_utc)
        return Episode(
            onset_s=onset_s, offset_s=offset_s, onset_utc=onset_utc, leg=self.leg,
            in_bed=bool(in_bed), peak_emg_uv=ev.peak_uv, mean_emg_uv=ev.mean_uv,
            plantar_flexion_deg=ev.plantar_flexion_deg,
            confidence=self._confidence(ev, end - start), evidence=tuple(evidence),
            quality_notes=tuple(notes),
        )

    def _after_end(self, end: int) -> str:
        """What follows a run's end: 'missing' when the next epoch has no data."""
        for f, _, _ in self._hist:
            i = end - f.first_epoch
            if 0 <= i < f.n_epochs:
                missing = f.emg_missing[i] if self.mode != "acc" else f.acc_missing[i]
                return "missing" if missing else "data"
        return "end"
