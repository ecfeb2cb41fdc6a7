"""Episode detector: fuses per-epoch evidence into cramp episodes, live.

A *contraction run* is a stretch of active epochs in which no lull lasts longer than
``max_dip_s`` (with a foot angle, ``held_max_dip_s`` while the foot stays held where the cramp
pulled it: the tremor waxes and wanes, the pulled foot stays). What "active" means, and what
shape a run must have, is the mode's :class:`~detector.pipeline.evidence.EvidenceRule` (EMG
with accelerometers, EMG alone, accelerometers alone); this class only tracks resting levels,
runs and episodes.

When a run has lasted ``min_duration_s`` (10 s in every mode, from its onset, to one epoch) it
is judged once, on its first ``min_duration_s`` (without EMG from its first active epoch, the
tremor's ramp-up left out; a run that closes before that window is complete, on the run up to
its end): enough of it must be active (``min_duty``; rhythmic bursts of walking or a leg-movement
series are not), the rule must find its shape plausible (not rhythmic; with EMG only also not
steady tonic activity and not a train of phasic bursts) and its confidence must reach
``min_confidence``. With accelerometers, a run whose judged window was not sustained (under
``min_duty``) is judged again on the window from its first activity after it (a cramp chained
by short lulls to scattered activity before it). With EMG only, a run that starts within
``aftermath_s`` of an episode's end is taken as the standing and stretching that follow most
cramps. A run that
passes is announced at once (:class:`EpisodeStarted`) and becomes an :class:`Episode` when it
ends, unless (EMG only) a later look shows it to be walking: it is then withdrawn
(:class:`EpisodeWithdrawn`, :mod:`detector.pipeline.review`) and never becomes an episode.
The decisions only ever look at epochs already seen, so the result is the same live and in
replay, whatever the chunking.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from detector.config import DetectorConfig
from detector.episode import Episode, EpisodeEnded, EpisodeEvent, EpisodeStarted, EpisodeWithdrawn
from detector.pipeline.activity import EmgLevel, RmsSmoother, smoothing_epochs
from detector.pipeline.baseline import RestingBaseline
from detector.pipeline.emg_hold import EmgHold
from detector.pipeline.emg_step import StepEstimate
from detector.pipeline.episode_notes import quality_notes
from detector.pipeline.epoch_history import EpochHistory, HistoryChunk
from detector.pipeline.evidence import Levels, RunEvidence, make_rule
from detector.pipeline.features import EpochFeatures
from detector.pipeline.lift import LiftTracker
from detector.pipeline.nanmedian import nanmedian_rows
from detector.pipeline.night_window import NightWindow
from detector.pipeline.quantiles import median
from detector.pipeline.review import RestFloor, make_review
from detector.pipeline.run_evidence import run_evidence, start_ratio

CONTEXT_S = 30.0
"""Feature history kept before a run (s)."""


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
    emg_band_hz : (float, float), optional
        Band-pass edges of the EMG (Hz), which set how many epochs the activity level is
        averaged over (:func:`~detector.pipeline.activity.smoothing_epochs`); unknown: 1.
    tremor_band_hz : (float, float), optional
        Tremor band of the shank sensor (Hz), likewise for the calf tremor level.
    emg_step : StepEstimate, optional
        The EMG channel's quantisation step as seen so far (fed by the caller with the raw
        samples); ``None``: unknown (no lattice).
    """

    def __init__(self, *, mode: str, has_foot: bool, config: DetectorConfig,
                 start_utc: datetime, leg: str, night_window: NightWindow,
                 emg_band_hz: tuple[float, float] | None = None,
                 tremor_band_hz: tuple[float, float] | None = None,
                 emg_step: StepEstimate | None = None) -> None:
        self.mode = mode
        self.emg_step = emg_step
        self.has_foot = has_foot
        self.config = config
        self.eps = round(1.0 / config.epoch_s)
        self.start_utc = start_utc
        self.leg = leg
        self.window = night_window
        self.rule = make_rule(mode, has_foot=has_foot, config=config,
                              emg_band_hz=emg_band_hz)
        self.review = make_review(mode, config=config, eps=self.eps)  # EMG only: walking
        self.baseline = RestingBaseline(config=config.emg, epochs_per_s=self.eps)
        self.lift = LiftTracker(lift_flat_s=config.emg.lift_flat_s,
                                window_s=config.emg.baseline_window_s,
                                flicker_s=config.emg.flicker_flat_s, epochs_per_s=self.eps)
        self.level = EmgLevel(k=smoothing_epochs(
            band_hz=emg_band_hz, epoch_s=config.epoch_s,
            min_dof=config.evidence.activity_min_dof))
        self.tremor_level = RmsSmoother(k=smoothing_epochs(
            band_hz=tremor_band_hz, epoch_s=config.epoch_s,
            min_dof=config.evidence.tremor_min_dof, axes=3))
        self.tremor_baseline = RestingBaseline(config=config.emg, epochs_per_s=self.eps,
                                               floor=config.motion.tremor_floor_g)
        self.hold = (EmgHold(active_ratio=config.emg.active_ratio,
                             active_rise_uv=config.emg.active_rise_uv,
                             rest_fraction=config.evidence.rest_fraction,
                             release_epochs=round(config.episode.max_dip_s * self.eps))
                     if self.rule.holds_emg and config.evidence.emg_only_hold else None)
        self.aftermath = round(config.episode.aftermath_s * self.eps) if mode == "emg" else 0
        self._last_episode_end = -(10**12)
        self.min_duration_s = config.episode.min_duration_s
        self.min_epochs = max(1, int(np.ceil(self.min_duration_s * self.eps - 1e-9)))
        # the minimum holds at the epoch grid's resolution: a contraction of exactly
        # min_duration_s fills the epochs inside it and parts of the two at its ends, which
        # may read as rest, so its run can be one epoch shorter
        self.min_run_epochs = max(1, self.min_epochs - 1)
        self.max_dip = round(config.episode.max_dip_s * self.eps)
        # with a foot angle a lull is bridged up to held_max_dip_s while the foot stays held
        # where the cramp pulled it (see _lull_bridged)
        self.held_dip = (max(self.max_dip, round(config.episode.held_max_dip_s * self.eps))
                         if has_foot and mode != "emg" else self.max_dip)
        # once the run is confirmed a cramp, up to confirmed_held_dip_s (its continuation
        # needs no fresh duty test while the contraction visibly goes on)
        self.confirmed_dip = (max(self.held_dip,
                                  round(config.episode.confirmed_held_dip_s * self.eps))
                              if self.held_dip > self.max_dip else self.held_dip)
        self._rest_angle = np.nan  # the open run's resting foot angle before its onset (deg)
        self._run_first = 0  # the open run's first epoch as opened (not moved by _rejudge)
        self.context = int(CONTEXT_S * self.eps)
        self.episodes: list[Episode] = []
        # announced runs that a later look showed not to be cramps (for the morning log)
        self.withdrawn: list[EpisodeWithdrawn] = []
        self.history = EpochHistory()
        self._next_epoch = 0
        self._run_start: int | None = None
        self._judge_from = 0  # first epoch of the judged window (see _maybe_confirm)
        # with accelerometers: a run whose judged window was not sustained is judged again
        # from its next rise after this epoch (see _rejudge); None: no such judgement pending
        self._rejudge_after: int | None = None
        self._pull_epochs = max(1, round(config.episode.pull_onset_s * self.eps))
        self._run_end = 0
        self._state = "none"  # none | confirmed | reviewed | withdrawn | rejected
        self._look = 0  # the next later look at a confirmed run (review)
        # confirmed steady at the standing level: the fast modulation it was confirmed with
        self._steady_standing: float | None = None
        self.last_baseline = np.empty(0)
        self._rest_epochs = max(1, round(config.evidence.rest_between_s * self.eps))
        self._quiet_streak = 0
        self._rest_tail = np.empty(0)
        self._rest_marks: list[int] = []  # epochs at which the muscle had rested long enough
        self._last_judged_end: int | None = None
        # after a withdrawal (the person on their legs) rest must also reach the lowest floor
        self._floor_ratio = config.evidence.rest_floor_ratio
        self._floor_hold = round(config.evidence.rest_floor_hold_s * self.eps)
        self._floor_streak = 0
        self._floor_marks: list[int] = []  # epochs at which it had rested so at the floor
        self._upright_end: int | None = None  # end of the up-and-about state's last judged run
        self._judged_rhythmic = False  # the open run's judged window was rhythmic (walking)
        self._last_active = -1  # acc only: last active epoch, last epoch with tremor at rest
        self._last_tremor_rest = -1
        self._tonic_ref_uv = np.nan  # highest settled resting EMG level so far
        self.rest_floor = RestFloor()  # lowest settled resting EMG level so far
        self._settle_epochs = round(config.evidence.tonic_settle_s * self.eps)

    # -- stream ------------------------------------------------------------------------
    def push(self, f: EpochFeatures) -> list[EpisodeEvent]:
        """Consume the next epochs; return the events they complete."""
        if f.first_epoch != self._next_epoch:
            raise ValueError(f"expected epoch {self._next_epoch}, got {f.first_epoch}")
        f = self.lift.push(f)  # a long unbroken flat run is a lift: unseen, not rest at 0
        if self.tremor_level.k > 1:  # decisions use the rate-independent tremor level
            f = dataclasses.replace(f, tremor_g=self.tremor_level.push(f.tremor_g))
        with np.errstate(invalid="ignore"):
            still = ~(f.movement_g > self.config.motion.movement_g)
        tremor_base = self.tremor_baseline.push(np.where(still, f.tremor_g, np.nan))
        if self.rule.uses_emg:
            base = self.baseline.push(EmgLevel.resting_envelope(f))
            level = self.level.push_features(f)
        else:
            base = np.full(f.n_epochs, np.nan)
            level = None
        levels = Levels(emg_rest_uv=base, tremor_rest_g=tremor_base, emg_uv=level)
        active, tremor_case = self.rule.decide(f, levels)
        strong = active
        if self.hold is not None and level is not None:  # EMG only: on at the threshold,
            active = self.hold.push(first_epoch=f.first_epoch, active=active,  # off at rest
                                    level_uv=level, rest_uv=base)
        self.last_baseline = base
        tonic_ref = self._tonic_reference(f.first_epoch, base)
        self._track_rest(f, base, active)
        hold_angle, emg_rests = self._hold_columns(f, levels, still)
        self.history.append(HistoryChunk(f, base, active, tremor_base, tonic_ref, strong,
                                         hold_angle, emg_rests))
        k0 = f.first_epoch
        self._next_epoch = k0 + f.n_epochs
        events: list[EpisodeEvent] = []
        runs = active if tremor_case is None \
            else active | self._held(f, tremor_case, tremor_base)
        edges = np.diff(np.concatenate(([0], runs.view(np.int8), [0])))
        starts = np.flatnonzero(edges == 1) + k0
        ends = np.flatnonzero(edges == -1) + k0
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            events.extend(self._judge_before_lull(s))
            if self._run_start is not None and self._lull_bridged(s):
                self._run_end = e
            else:
                floor = self._run_end if self._run_start is not None else 0
                if self._run_start is not None:
                    events.extend(self._maybe_confirm(closing=True))
                    events.extend(self._close_run())
                self._run_start = self._refine_onset(s, floor)
                self._rest_angle = self._resting_angle(self._run_start, floor)
                self._run_first = self._run_start
                self._judge_from = self._run_start if self.rule.uses_emg else s
                self._run_end, self._state, self._look = e, "none", 0
                self._rejudge_after = None
            events.extend(self._maybe_confirm())
        events.extend(self._judge_before_lull(self._next_epoch))
        if self._run_start is not None and not self._lull_bridged(self._next_epoch):
            events.extend(self._maybe_confirm(closing=True))
            events.extend(self._close_run())
        if self._run_start is None:
            self.history.trim(self._next_epoch - self.context)
        return events

    def _hold_columns(self, f: EpochFeatures, levels: Levels,
                      still: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What a held lull reads of each epoch (:meth:`_held_through`), shape (n,) each: the
        foot's angle on a still leg (deg; the relative angle of the ankle pull, readable
        near a side, else the plantar-flexion angle; NaN where moving, missing or unknown)
        and whether the EMG is seen at rest. Without a bridge: all NaN and all False."""
        if self.confirmed_dip <= self.max_dip:
            return np.full(f.n_epochs, np.nan), np.zeros(f.n_epochs, dtype=bool)
        angle = (f.relative_angle_deg if f.relative_angle_deg is not None
                 else f.plantar_flexion_deg)
        return (np.where(still & ~f.acc_missing, angle, np.nan),
                self.rule.emg_rests(f, levels))

    def _judge_before_lull(self, stop: int) -> list[EpisodeEvent]:
        """Judge the open run before a lull from its end to epoch ``stop`` longer than
        ``episode.held_max_dip_s`` is weighed (:meth:`_lull_bridged`): whether it is
        confirmed sets how long a held lull may be, so it must not hang on where a chunk
        happened to end. By then the run's decay is seen whole, so the verdict is the one
        any chunking reaches."""
        if (self._run_start is None or self._state != "none"
                or self.confirmed_dip <= self.held_dip or stop - self._run_end <= self.held_dip):
            return []
        return self._maybe_confirm()

    def _lull_bridged(self, stop: int) -> bool:
        """Whether the open run goes on over the lull from its end to epoch ``stop`` (the next
        active epoch, or the epochs seen so far): a lull of at most ``episode.max_dip_s``, or,
        with a foot angle, of at most ``episode.held_max_dip_s`` through which the foot stays
        held (:meth:`_held_through`); once the run is confirmed a cramp, of at most
        ``episode.confirmed_held_dip_s`` so held (a long weak cramp's tremor lulls for
        seconds while the foot stays pulled: its continuation is no new run to judge). Only
        epochs already seen count."""
        gap = stop - self._run_end
        if gap <= self.max_dip:
            return True
        bound = self.confirmed_dip if self._state in ("confirmed", "reviewed") else self.held_dip
        return gap <= bound and self._held_through(self._run_end, stop)

    def _held_through(self, lo: int, hi: int) -> bool:
        """Whether the foot stays held where the open run's cramp pulled it over epochs
        ``[lo, hi)`` (its lull).

        A cramp holds the foot pulled into plantar flexion for its whole length while its
        tremor waxes and wanes: every epoch of the lull must show the leg still, the EMG not
        seen at rest, and the foot turned by at least ``motion.pull_deg`` past the run's
        resting angle before its onset (:meth:`_resting_angle`) and by less than that back
        from the angle the run held it at (its median over the run's last second). A foot
        that merely rests pointed (prone) is not turned past its own resting angle; a
        release turns it back by a cramp's pull; an unknown angle (gross movement, exactly
        on a side) holds nothing."""
        p = self.config.motion.pull_deg
        rest = self._rest_angle
        held = _median_known(self.history.column(
            "hold_angle_deg", max(self._run_end - self.eps, self._run_first), self._run_end))
        if np.isnan(rest) or np.isnan(held):
            return False
        angle = self.history.column("hold_angle_deg", lo, hi)
        with np.errstate(invalid="ignore"):
            ok = (angle >= rest + p) & (angle > held - p)
        return angle.shape[0] == hi - lo and bool(
            (ok & ~self.history.column("emg_rests", lo, hi)).all())

    def _resting_angle(self, start: int, floor: int) -> float:
        """The foot's resting angle before a run's onset at epoch ``start`` (deg): the median
        of its known still angles over the ``episode.onset_lookback_s`` before it (not before
        epoch ``floor``, the previous run's end); NaN when none is known."""
        if self.confirmed_dip <= self.max_dip:
            return np.nan
        lo = max(floor, start - round(self.config.episode.onset_lookback_s * self.eps),
                 self.history.first_epoch)
        if lo >= start:
            return np.nan
        return _median_known(self.history.column("hold_angle_deg", lo, start))

    def _tonic_reference(self, first_epoch: int, base: np.ndarray) -> np.ndarray:
        """Highest resting EMG level up to each epoch, once ``tonic_settle_s`` of recording has
        set it (uV), shape (n,); NaN before. Upright before bed, the resting level is the
        calf's standing tonic activity; lying, it falls to the lying rest and the highest
        level stays the standing one."""
        idx = np.arange(first_epoch, first_epoch + base.shape[0])
        settled = np.where(idx >= self._settle_epochs, base, np.nan)
        ref = np.fmax.accumulate(np.concatenate([[self._tonic_ref_uv], settled]))[1:]
        if ref.size:
            self._tonic_ref_uv = float(ref[-1])
        self.rest_floor.push(idx, settled)
        return ref

    def _held(self, f: EpochFeatures, active: np.ndarray, tremor_base: np.ndarray) -> np.ndarray:
        """Epochs since the last tremor-led active one (``rule.tremor_case``) in which the calf
        tremor has not yet come back to rest (``evidence.tremor_onset_ratio`` x its resting
        level) on a still leg, shape (n,). A weak cramp's tremor waxes and wanes about the
        activity threshold; it is one cramp until the tremor is back at rest (the onset's
        criterion, so both ends are measured alike)."""
        with np.errstate(invalid="ignore"):
            rest = (~(f.tremor_g > self.config.evidence.tremor_onset_ratio * tremor_base)
                    | (f.movement_g > self.config.motion.movement_g))
        idx = np.arange(f.first_epoch, f.first_epoch + f.n_epochs)
        last_active = np.maximum.accumulate(np.where(active, idx, self._last_active))
        last_rest = np.maximum.accumulate(np.where(rest, idx, self._last_tremor_rest))
        if f.n_epochs:
            self._last_active, self._last_tremor_rest = int(last_active[-1]), int(last_rest[-1])
        return (last_active > last_rest) & (last_active >= 0)

    def _track_rest(self, f: EpochFeatures, base: np.ndarray, active: np.ndarray) -> None:
        """Mark the epochs at which the EMG had sat at rest for ``rest_between_s``.

        At rest means the median envelope of the last second (so that coarse ADC steps and
        the envelope's own scatter do not break a quiet stretch) is below ``rest_fraction``
        of the activity threshold, and no epoch is active.
        """
        e = self.config.emg
        v = self.config.evidence
        threshold = np.maximum(base * e.active_ratio, base + e.active_rise_uv)
        env = EmgLevel.resting_envelope(f)
        joined = np.concatenate([self._rest_tail, env])
        k = self.eps
        pad = np.concatenate([np.full(max(k - 1 - self._rest_tail.shape[0], 0), np.nan), joined])
        windows = sliding_window_view(pad, k)[-f.n_epochs:] if f.n_epochs else pad[:0, None]
        median = nanmedian_rows(windows)  # all-NaN windows: NaN, not quiet
        with np.errstate(invalid="ignore"):
            quiet = ~np.isnan(env) & ~active & (median < v.rest_fraction * threshold)
            floor = self.rest_floor.over(np.arange(f.first_epoch, f.first_epoch + f.n_epochs))
            at_floor = quiet & (np.isnan(floor) | (median < self._floor_ratio * floor))
        self._rest_tail = joined[-(k - 1):] if k > 1 else joined[:0]
        hits, self._quiet_streak = _streak_hits(quiet, self._quiet_streak, self._rest_epochs)
        self._rest_marks.extend((hits + f.first_epoch).tolist())
        hits, self._floor_streak = _streak_hits(at_floor, self._floor_streak, self._rest_epochs)
        self._floor_marks.extend((hits + f.first_epoch).tolist())
        if self._last_judged_end is not None:  # a later judged run ends no earlier
            self._rest_marks = [m for m in self._rest_marks if m >= self._last_judged_end]
            keep = self._last_judged_end if self._upright_end is None else self._upright_end
            self._floor_marks = [m for m in self._floor_marks if m >= keep]

    def _rested_since_judged(self, start: int) -> bool:
        """Whether the muscle rested (``rest_between_s``) between the last judged run's end
        and epoch ``start``; while the person is up and about (:meth:`_upright_at`), at the
        recording's lowest floor (``evidence.rest_floor_ratio``)."""
        if self._last_judged_end is None:
            return True
        return (any(self._last_judged_end <= k <= start for k in self._rest_marks)
                and not self._upright_at(start))

    def _upright_at(self, start: int) -> bool:
        """Whether a run beginning at epoch ``start`` carries on the up-and-about state: a run
        was withdrawn as the person on their legs (or carried that state on) and ended at most
        ``evidence.rest_floor_hold_s`` before, and the calf has not rested near the lowest
        settled floor since (it relaxes so only on sitting or lying down)."""
        u = self._upright_end
        if u is None or start - u > self._floor_hold:
            return False
        return not any(u <= k <= start for k in self._floor_marks)

    def flush(self) -> list[EpisodeEvent]:
        """End of stream: close an open run."""
        events: list[EpisodeEvent] = []
        if self._run_start is not None:
            events.extend(self._maybe_confirm(closing=True))
            events.extend(self._close_run(at_stream_end=True))
        self.history.clear()
        return events

    # -- runs --------------------------------------------------------------------------
    def _maybe_confirm(self, *, closing: bool = False) -> list[EpisodeEvent]:
        """Judge the open run once its judged window is complete (``closing``: the run
        closes at its decay end now)."""
        assert self._run_start is not None
        if self._state == "confirmed":
            return self._maybe_withdraw()
        while True:
            if self._state != "none" or not self._rejudge_ready():
                return []
            # too short to judge even at the latest its decay can end: no decay measured
            if not self._judgeable(self._run_end + self.max_dip, closing=closing):
                return []
            end = self._decay_end(self._run_end)
            if not self._judgeable(end, closing=closing):
                return []
            full = end - self._judge_from >= self.min_epochs
            confirm = self._judge_from + self.min_epochs if full else end
            ev = self._evidence(self._judge_from, confirm)
            after_episode = self._run_start - self._last_episode_end < self.aftermath
            sustained = ev.duty >= self.config.episode.min_duty
            self._judged_rhythmic = (ev.shape is not None
                                     and ev.shape.rhythm > self.config.evidence.max_rhythm)
            ok = (not after_episode and sustained and self.rule.plausible(ev)
                  and self.rule.confidence(ev, self.min_epochs / self.eps)
                  >= self.config.episode.min_confidence)
            if ok or sustained or self.mode == "emg":
                break
            self._rejudge_after = confirm  # judged again from its next activity after it
        self._state = "confirmed" if ok else "rejected"
        if not ok:
            return []
        self._steady_standing = (ev.shape.fast_modulation if self.review is not None
                                 and ev.shape is not None
                                 and self.review.steady_at_standing(ev) else None)
        return [EpisodeStarted(onset_s=self._run_start / self.eps,
                               confirmed_s=confirm / self.eps), *self._maybe_withdraw()]

    def _rejudge_ready(self) -> bool:
        """Whether the open run's judged window is set (no judgement pending, or the rise it
        waits for has been seen).

        With accelerometers, a run whose judged window was not sustained (under
        ``episode.min_duty`` active: scattered activity, e.g. small leg movements or EMG
        flickers) is not a cramp *there*, but a cramp can begin right after it, chained to
        it by lulls under ``max_dip_s``; posture and movement, not the history of the run,
        tell the two apart. So the run is judged again on the window that begins at its
        first active epoch after the failed window (its onset moved back over the ramp-up,
        but not into that window), as a run starting there would be: one
        judgement per ``min_duration_s`` at most, never a window sliding over the same
        activity. Without posture (EMG only) activity that carries on is the same state
        going on (``rest_between_s``)."""
        if self._rejudge_after is None:
            return True
        assert self._run_start is not None
        lo = self._rejudge_after
        hi = min(self._run_end, self._next_epoch)
        hits = np.flatnonzero(self.history.column("active", lo, hi)) if hi > lo \
            else np.empty(0, dtype=np.int64)
        if not hits.size:
            return False
        rise = lo + int(hits[0])
        self._rejudge_after = None
        self._run_start = self._refine_onset(rise, lo)
        self._judge_from = self._run_start if self.rule.uses_emg else rise
        return True

    def _maybe_withdraw(self) -> list[EpisodeEvent]:
        """The later look at a confirmed run (:mod:`detector.pipeline.review`), once its seen
        extent covers the look's window: kept (``reviewed``) or withdrawn."""
        assert self._run_start is not None
        if self.review is None:
            return []
        self._look, reason, b = self.review.look_on(
            self._run_start, self._decay_end(self._run_end), self._look,
            lambda lo, hi: EmgLevel.resting_envelope(self.history.window(lo, hi)[0]))
        if reason is None and self._look < self.review.n_looks:
            return []  # a look still to come once the run's seen extent covers it
        self._state = "reviewed" if reason is None else "withdrawn"
        return [] if reason is None else [self._withdraw(self._run_start, b, reason)]

    def _withdraw(self, onset: int, at: int, reason: str) -> EpisodeWithdrawn:
        """The withdrawal of the run begun at epoch ``onset``, decided at epoch ``at``; kept in
        :attr:`withdrawn` so the morning log can say what became of the announcement."""
        event = EpisodeWithdrawn(onset_s=onset / self.eps, withdrawn_s=at / self.eps,
                                 reason=reason)
        self.withdrawn.append(event)
        return event

    def _judgeable(self, end: int, *, closing: bool) -> bool:
        """Whether the open run, ending at epoch ``end``, can be judged now. The minimum
        duration is the episode's own, from its onset (to one epoch, ``min_run_epochs``); the
        judged window is the first ``min_duration_s`` from ``_judge_from`` (without EMG the
        tremor's ramp-up before it is left out), or, for a run that closes before that window
        is complete, the run up to its end."""
        assert self._run_start is not None
        return end - self._run_start >= self.min_run_epochs and (
            closing or end - self._judge_from >= self.min_epochs)

    def _refine_onset(self, start: int, floor: int) -> int:
        """Move a run's start back over the ramp-up of the contraction.

        A cramp builds up over seconds and crosses the activity threshold part-way up; the onset
        is the first epoch after the envelope last sat at rest (below ``onset_ratio`` x the
        resting level or within ``onset_rise_uv`` of it, or unusable), looking back at most
        ``onset_lookback_s``. Without EMG the ramp-up is that of the calf tremor: the onset is
        the first epoch after the tremor last sat at its resting level (below
        ``evidence.tremor_onset_ratio`` x it), was unknown, or the leg was in gross movement.
        With a foot angle the onset also moves back over the foot's pull: epochs at which the
        foot had turned towards plantar flexion by more than ``episode.pull_onset_deg`` over
        the preceding ``episode.pull_onset_s`` are not rest (:meth:`_foot_turning`). The
        contraction turns the foot from the first tenths of a second of its build-up, well
        before the EMG or the tremor crosses its rest criterion on a weak or slowly building
        cramp.
        """
        p = self.config.episode
        first = max(floor, start - round(p.onset_lookback_s * self.eps),
                    self.history.first_epoch)
        if first >= start:
            return start
        f, base, _ = self.history.window(first, start)
        with np.errstate(invalid="ignore"):
            if self.rule.uses_emg:
                lower = np.maximum(base * p.onset_ratio, base + p.onset_rise_uv)
                rest = ~f.emg_valid | ~(f.envelope_uv > lower)
            else:
                trest = self._tremor_rest(first, start)
                rest = (~(f.tremor_g > self.config.evidence.tremor_onset_ratio * trest)
                        | (f.movement_g > self.config.motion.movement_g))
        rest &= ~self._foot_turning(first, start, towards=1.0)  # not while the foot is pulled
        idx = np.flatnonzero(rest)
        return first + int(idx[-1]) + 1 if idx.size else first

    def _foot_turning(self, start: int, stop: int, *, towards: float) -> np.ndarray:
        """Epochs ``[start, stop)`` at which the foot angle has turned by more than
        ``episode.pull_onset_deg`` over the preceding ``episode.pull_onset_s``, towards
        plantar flexion (``towards`` 1) or back from it (-1), shape (stop - start,); False
        where the angle is unknown then (no foot sensor, the leg in gross movement, lying on
        a side) or not kept. Only epochs already seen count."""
        n = max(stop - start, 0)
        if not self.has_foot or self.mode == "emg" or n == 0:
            return np.zeros(n, dtype=bool)
        k = self._pull_epochs
        lo = max(start - k, self.history.first_epoch)
        angle = self.history.feature("plantar_flexion_deg", lo, stop)
        angle = np.concatenate([np.full(n + k - angle.shape[0], np.nan), angle])
        with np.errstate(invalid="ignore"):
            return towards * (angle[k:] - angle[:-k]) > self.config.episode.pull_onset_deg

    def _decay_end(self, end: int) -> int:
        """Move a run's end on over the contraction's decay (at most ``max_dip_s``).

        The same rest criterion as the onset's: the contraction lasts until the envelope is
        back below ``onset_ratio`` x the resting level (or within ``onset_rise_uv`` of it) and,
        with a foot angle, until the foot is no longer being turned back from plantar flexion
        (its release, :meth:`_foot_turning`), so both ends of an episode are measured alike.
        Without EMG the tremor's own end is already in the run (the hold until rest); only
        the foot's release is added. Only epochs already seen count.
        """
        stop = min(end + self.max_dip, self._next_epoch)
        if stop <= end:
            return end
        p = self.config.episode
        up = self._foot_turning(end, stop, towards=-1.0)  # the foot still being released
        if self.rule.uses_emg:
            h = self.history
            base = h.column("rest_uv", end, stop)
            with np.errstate(invalid="ignore"):
                up |= h.feature("emg_valid", end, stop) & (
                    h.feature("envelope_uv", end, stop) > np.maximum(base * p.onset_ratio,
                                                                     base + p.onset_rise_uv))
        rest = np.flatnonzero(~up)
        return end + (int(rest[0]) if rest.size else stop - end)

    def _close_run(self, *, at_stream_end: bool = False) -> list[EpisodeEvent]:
        """Close the open run; ``at_stream_end``: the recording ends here."""
        assert self._run_start is not None
        start, end, state = self._run_start, self._decay_end(self._run_end), self._state
        if state != "none":
            self._last_judged_end = end
        self._run_start = None
        self._state = "none"
        out: list[EpisodeEvent] = []
        reason = None
        if self.review is not None and state in ("confirmed", "reviewed"):
            reason = self.review.at_end(end - start, *self._onset_context(start))
            if reason is None and at_stream_end and end >= self._next_epoch:
                reason = self.review.unended()  # never seen back at rest: up and about
            if reason is None:  # a long run: standing up, its level shifting with the weight
                run_uv = EmgLevel.resting_envelope(self.history.window(start, end)[0])
                reason = self.review.shifting(run_uv, self.history.tonic_ref_at(start),
                                              self.rest_floor.at(start))
                if reason is None and self._steady_standing is not None:  # standing level
                    reason = self.review.steady_standing(run_uv, self._steady_standing)
                if reason is None:  # stood past the regular looks, then walked
                    reason = self.review.walks_later(run_uv)
        if reason is not None:  # a rise onto the toes, or up and about: withdrawn at its end
            state = "withdrawn"
            out.append(self._withdraw(start, end, reason))
        if state == "withdrawn" or (state == "rejected" and (
                self._upright_at(start) or self._rejected_on_legs(start, end))):
            self._upright_end = end  # on their legs: the calf rests only at the floor again
        elif state != "none":
            self._upright_end = None
        if state in ("confirmed", "reviewed"):  # a withdrawn run never becomes an episode
            episode = self._build(start, end)
            self.episodes.append(episode)
            self._last_episode_end = end
            out.append(EpisodeEnded(episode=episode))
        self.history.trim(min(self._next_epoch, end) - self.context)
        return out

    def _rejected_on_legs(self, start: int, end: int) -> bool:
        """Whether the rejected run ``[start, end)`` showed the person on their legs (EMG only):
        rhythmic in its judged window (walking), or walking in the later looks a confirmed
        run would have had (:meth:`~detector.pipeline.review.RunReview.on_legs`)."""
        if self.review is None:
            return False
        if self._judged_rhythmic:
            return True
        run_uv = EmgLevel.resting_envelope(self.history.window(start, end)[0])
        return self.review.on_legs(run_uv) is not None

    def _onset_context(self, start: int) -> tuple[np.ndarray, float, float, float, float]:
        """Resting envelope over ``evidence.tiptoe_pre_s`` before epoch ``start`` (uV), and the
        resting level, the standing tonic reference, the lowest settled resting level and the
        EMG's quantisation step at it (uV; NaN where not known)."""
        lo = max(start - round(self.config.evidence.tiptoe_pre_s * self.eps),
                 self.history.first_epoch)
        f, base, _ = self.history.window(lo, start + 1)
        step = self.emg_step.at(start) if self.emg_step is not None else np.nan
        return (EmgLevel.resting_envelope(f)[:-1], float(base[-1]),
                self.history.tonic_ref_at(start), self.rest_floor.at(start), step)

    def _evidence(self, start: int, stop: int) -> RunEvidence:
        f, base, active = self.history.window(start, stop)
        strong = self.history.column("strong", start, stop)
        levels = Levels(emg_rest_uv=base, tremor_rest_g=self._tremor_rest(start, stop))
        ev = run_evidence(f, levels, active, strong, uses_emg=self.rule.uses_emg,
                          tonic_ref_uv=self.history.tonic_ref_at(stop - 1),
                          rested_before=self._rested_since_judged(start),
                          recorded_s=stop / self.eps, eps=self.eps, config=self.config)
        # the calf before the run's ramp can have begun (onset_lookback_s before its onset)
        hi = start - round(self.config.episode.onset_lookback_s * self.eps)
        lo = max(hi - round(self.config.evidence.tiptoe_pre_s * self.eps), self.history.first_epoch)
        if not self.rule.uses_emg or hi - lo < self.eps:
            return ev
        before = EmgLevel.resting_envelope(self.history.window(lo, hi)[0])
        return dataclasses.replace(ev, start_ratio=start_ratio(before, self.rest_floor.at(start)))

    def _tremor_rest(self, start: int, stop: int) -> np.ndarray:
        return self.history.column("tremor_rest_g", start, stop)

    def _build(self, start: int, end: int) -> Episode:
        ev = self._evidence(start, end)
        onset_s = start / self.eps
        offset_s = end / self.eps
        onset_utc = self.start_utc + timedelta(seconds=onset_s)
        notes = quality_notes(ev, after_end=self._after_end(end), mode=self.mode,
                              uses_emg=self.rule.uses_emg, has_foot=self.has_foot)
        lying = ev.lying_fraction
        in_bed = (lying is None or lying >= 0.5) and self.window.contains(onset_utc)
        return Episode(
            onset_s=onset_s, offset_s=offset_s, onset_utc=onset_utc, leg=self.leg,
            in_bed=bool(in_bed), peak_emg_uv=ev.peak_uv, mean_emg_uv=ev.mean_uv,
            plantar_flexion_deg=ev.plantar_flexion_deg,
            confidence=self.rule.confidence(ev, (end - start) / self.eps),
            evidence=self.rule.tags(ev), quality_notes=notes,
        )

    def _after_end(self, end: int) -> str:
        """What follows a run's end: 'missing' when the next epoch has no data."""
        hit = self.history.locate(end)
        if hit is None:
            return "end"
        f, i = hit[0].features, hit[1]
        missing = f.emg_missing[i] if self.rule.uses_emg else f.acc_missing[i]
        return "missing" if missing else "data"


def _streak_hits(quiet: np.ndarray, streak: int, need: int) -> tuple[np.ndarray, int]:
    """Indices at which a run of ``quiet`` epochs (shape (n,)) reaches ``need`` epochs, given
    ``streak`` quiet epochs before the first; and the streak after the last."""
    n = quiet.shape[0]
    if not n:
        return np.empty(0, dtype=np.int64), streak
    idx = np.arange(n)
    last_break = np.maximum.accumulate(np.where(~quiet, idx, -1))
    length = np.where(last_break >= 0, idx - last_break, idx + 1 + streak)
    return np.flatnonzero(length == need), int(length[-1])


def _median_known(x: np.ndarray) -> float:
    """Median of the known (not NaN) values of ``x``; NaN when none is known."""
    known = x[~np.isnan(x)]
    return median(known) if known.size else np.nan
