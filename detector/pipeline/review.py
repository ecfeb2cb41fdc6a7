"""The later look at a confirmed run: an announced episode that turns out not to be a cramp.

With EMG only there is no posture, and on getting up nothing in a run's first
``min_duration_s`` (the rise onto the legs: a ramp to the calf's standing level) tells it from
a cramp. Walking then sets in: the calf fires once per stride, so its envelope becomes
*periodic* (steps at 0.5-2.5 Hz), while a cramp's involuntary discharge waxes and wanes
irregularly. So a run that lasts ``evidence.review_to_s`` is looked at again on
``review_from_s`` to ``review_to_s`` after its onset, and again on each following window of
that length up to ``review_repeats`` looks (getting up, a person may first stand still for
10-20 s and only then walk off); if any look's envelope's stride rhythm
(:func:`~detector.pipeline.emg_shape.emg_shape`) exceeds ``review_max_rhythm``
(``review_later_max_rhythm`` after the first look: each look is one more chance for a cramp
to look periodic; the autocorrelation climbs by more than 1 from its trough: anti-correlated
at half a stride, correlated at a whole one), the episode is withdrawn
(:class:`~detector.episode.EpisodeWithdrawn`). So it is when a look's stride correlation
(:func:`~detector.pipeline.stride.stride_correlation`, the envelope high again one stride
later) exceeds ``review_max_stride_corr``: a weak walk's low-duty burst train comes back
too little from its shallow trough to pass the rhythm bound.

The live announcement stays as early as before (at the 10-s criterion); a withdrawal comes at
the end of the look that saw the rhythm. Each look only uses a fixed window of epochs
relative to the onset, so the decision is the same live and in replay, whatever the
chunking. A run that ends before a
look is kept as confirmed.

When a confirmed run ends it is looked at once more, whole: a brief one that began from the
calf's standing level, or (before the recording has shown the calf at rest) from a calf
already active, is a rise onto the toes (:meth:`RunReview.at_end`); a long one whose level
shifts from block to block at the standing level is standing up (:meth:`RunReview.shifting`);
one still going on when the recording ends is the morning get-up (:meth:`RunReview.unended`);
one that walks in several windows after its regular looks is up and about
(:meth:`RunReview.walks_later`).
A run that was steady at the calf's standing level when it was confirmed
(:meth:`RunReview.steady_at_standing`) must show a contraction's held level at its end, or is
standing up (:meth:`RunReview.steady_standing`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from detector.config import DetectorConfig
from detector.pipeline.emg_shape import emg_shape
from detector.pipeline.evidence import RunEvidence
from detector.pipeline.nanmedian import nanmedian_rows
from detector.pipeline.quantiles import median
from detector.pipeline.stride import stride_correlation


class RestFloor:
    """The lowest settled resting EMG level of a recording up to each epoch (uV), kept as the
    epochs at which it fell, so that it can be read at any past epoch whatever the chunking."""

    def __init__(self) -> None:
        self._marks: list[tuple[int, float]] = []  # (epoch, new lowest level)

    def push(self, epochs: np.ndarray, settled_uv: np.ndarray) -> None:
        """Take the settled resting levels (uV, NaN: not yet settled) of ``epochs``."""
        last = self._marks[-1][1] if self._marks else np.inf
        low = np.fmin.accumulate(np.concatenate(
            [[last], np.where(np.isnan(settled_uv), np.inf, settled_uv)]))
        for i in np.flatnonzero(low[1:] < low[:-1]).tolist():
            self._marks.append((int(epochs[i]), float(low[i + 1])))

    def at(self, epoch: int) -> float:
        """The lowest settled resting level up to ``epoch`` (uV; NaN before any)."""
        below = [v for k, v in self._marks if k <= epoch]
        return below[-1] if below else float("nan")

    def over(self, epochs: np.ndarray) -> np.ndarray:
        """:meth:`at` for each of ``epochs`` (ascending or not), shape like ``epochs`` (uV)."""
        if not self._marks:
            return np.full(epochs.shape, np.nan)
        at = np.array([k for k, _ in self._marks])
        low = np.array([np.nan] + [v for _, v in self._marks])
        return low[np.searchsorted(at, epochs, side="right")]


@dataclass(frozen=True)
class RunReview:
    """The later look of one detection mode (EMG only).

    Parameters
    ----------
    config : DetectorConfig
        Thresholds (``config.evidence.review_*``).
    eps : int
        Epochs per second.
    """

    config: DetectorConfig
    eps: int

    @property
    def n_looks(self) -> int:
        """How many later looks a run that lasts long enough gets (``review_repeats``)."""
        return self.config.evidence.review_repeats

    def window(self, onset: int, look: int = 0) -> tuple[int, int]:
        """Epochs ``[a, b)`` of later look ``look`` (from 0) at a run begun at epoch ``onset``:
        ``review_from_s`` to ``review_to_s`` after it, shifted by ``look`` x its length."""
        v = self.config.evidence
        shift_s = look * (v.review_to_s - v.review_from_s)
        return (onset + round((v.review_from_s + shift_s) * self.eps),
                onset + round((v.review_to_s + shift_s) * self.eps))

    def look_on(self, onset: int, seen_to: int, look: int,
                envelope: Callable[[int, int], np.ndarray]) -> tuple[int, str | None, int]:
        """Take the later looks from ``look`` on whose windows end by epoch ``seen_to``.

        Parameters
        ----------
        onset, seen_to : int
            The run's onset epoch and the end of its seen extent (epochs).
        look : int
            The next look to take (from 0).
        envelope : callable
            ``envelope(a, b)``: the resting-comparable envelope of epochs ``[a, b)`` (uV).

        Returns
        -------
        tuple of (int, str or None, int)
            The next look still to take, the reason to withdraw (``None``: kept so far) and
            the end epoch of the last look taken (0 if none).
        """
        reason, b = None, 0
        while reason is None and look < self.n_looks:
            a, end = self.window(onset, look)
            if seen_to < end:
                break
            b = end
            reason = self.withdraw(envelope(a, b), look)
            look += 1
        return look, reason, b

    def withdraw(self, envelope_uv: np.ndarray, look: int = 0) -> str | None:
        """Why the run is not a cramp, or ``None`` if the later look keeps it.

        Parameters
        ----------
        envelope_uv : ndarray, shape (n,)
            Resting-comparable EMG envelope of the look's epochs (uV), NaN where unusable.
        look : int
            Which look (from 0): after the first, ``review_later_max_rhythm`` bounds it.

        Returns
        -------
        str or None
            The reason in plain words, or ``None``.
        """
        v = self.config.evidence
        shape = emg_shape(envelope_uv, ~np.isnan(envelope_uv), eps=self.eps,
                          smooth_s=v.smooth_s, lull_ratio=v.lull_ratio)
        bound = v.review_max_rhythm if look == 0 else v.review_later_max_rhythm
        if shape is not None and shape.rhythm > bound:
            return "rhythmic activity (walking)"
        return self.strides(envelope_uv)

    def strides(self, envelope_uv: np.ndarray) -> str | None:
        """Why a look's envelope is walking by its stride correlation, or ``None``.

        The envelope high again one stride later (:func:`~detector.pipeline.stride.
        stride_correlation` above ``evidence.review_max_stride_corr``): a burst train of
        push-offs on the standing floor, whether or not a turn breaks it (see
        :mod:`detector.pipeline.stride`).

        Parameters
        ----------
        envelope_uv : ndarray, shape (n,)
            Resting-comparable EMG envelope of the look's epochs (uV), NaN where unusable.
        """
        v = self.config.evidence
        corr = stride_correlation(envelope_uv, ~np.isnan(envelope_uv), eps=self.eps,
                                  smooth_s=v.review_stride_smooth_s)
        if corr is not None and corr > v.review_max_stride_corr:
            return "rhythmic activity (walking: a burst every stride)"
        return None

    def walks_later(self, run_uv: np.ndarray) -> str | None:
        """Why a run that has just ended was walking after its regular looks, or ``None``.

        From the end of the last of the ``review_repeats`` looks to the run's end, windows of
        the looks' length (:meth:`window`; a last partial one is left out) overlapping by half,
        so that a walk shorter than two windows that falls across the boundary of two
        back-to-back windows is still seen whole in one, are each judged as a later look
        (:meth:`withdraw`). When at least ``evidence.review_run_min_walks`` walking windows
        that do not overlap one another are found, the run is a person up and about: standing
        still past the first looks and walking later on.

        Parameters
        ----------
        run_uv : ndarray, shape (n,)
            Resting-comparable EMG envelope of the run's epochs from its onset (uV), NaN where
            unusable.
        """
        first, length = self.window(0, self.n_looks)
        length -= first
        step = max(1, length // 2)
        n_walks, free_from = 0, first  # walking windows counted; where the next may start
        for a in range(first, run_uv.shape[0] - length + 1, step):
            if a < free_from or self.withdraw(run_uv[a:a + length], self.n_looks) is None:
                continue
            n_walks += 1
            if n_walks >= self.config.evidence.review_run_min_walks:
                return "walking later in the run (up and about)"
            free_from = a + length
        return None

    def on_legs(self, run_uv: np.ndarray) -> str | None:
        """Why a run that was *rejected* (never announced) shows the person on their legs, or
        ``None``: the later looks a confirmed run would have had (:meth:`withdraw`, each
        window that fits in the run) and :meth:`walks_later`. A rejected run is no episode
        either way; this only tells the rest that follows it (``evidence.rest_floor_ratio``).

        Parameters
        ----------
        run_uv : ndarray, shape (n,)
            Resting-comparable EMG envelope of the run's epochs from its onset (uV), NaN where
            unusable.
        """
        n = run_uv.shape[0]
        for look in range(self.n_looks):
            a, b = self.window(0, look)
            if b > n:
                break
            reason = self.withdraw(run_uv[a:b], look)
            if reason is not None:
                return reason
        return self.walks_later(run_uv)

    def at_end(self, duration_epochs: int, before_uv: np.ndarray, rest_uv: float,
               standing_uv: float, lowest_uv: float, step_uv: float = np.nan) -> str | None:
        """Why a run that has just ended is not a cramp after all, or ``None``.

        Rising onto the toes is a voluntary contraction of a calf that already carries the
        body: it starts from the calf's standing tonic level and ends within seconds
        (``evidence.tiptoe_max_s``), back on the flat foot. A cramp starts from rest. So a run
        over by then whose starting level (the higher of ``rest_uv`` and the median of
        ``before_uv``) is at the standing reference (at least ``evidence.tiptoe_level_ratio``
        and under ``evidence.standing_level_ratio`` x it: higher is a contraction already
        under way, such as the waxing and waning of a long weak cramp) is withdrawn. The
        reference is a standing level only once the recording has also shown the calf at
        rest well below it (``evidence.tiptoe_min_contrast`` x ``lowest_uv``): a night spent
        lying throughout has one resting level, and its short cramps start from it. Until
        the recording has shown that contrast (no reference yet in its first
        ``evidence.tonic_settle_s``, or a recording begun upright that has not yet sat or
        lain down), :meth:`_from_active_calf` judges the starting level against what the
        channel shows of a relaxed calf.

        Parameters
        ----------
        duration_epochs : int
            The run's length (epochs).
        before_uv : ndarray, shape (k,)
            Resting-comparable EMG envelope over ``evidence.tiptoe_pre_s`` before the onset
            (uV), NaN where unusable.
        rest_uv, standing_uv, lowest_uv : float
            Resting EMG level at the onset, the standing tonic reference and the lowest
            settled resting level there (uV).
        step_uv : float
            The EMG's quantisation step seen up to the onset
            (:class:`~detector.pipeline.emg_step.StepEstimate`; uV, NaN unknown).
        """
        v = self.config.evidence
        if duration_epochs > v.tiptoe_max_s * self.eps:
            return None
        usable = before_uv[~np.isnan(before_uv)]
        start_uv = max(rest_uv if rest_uv == rest_uv else 0.0,
                       median(usable) if usable.size else 0.0)
        if not (standing_uv > 0 and standing_uv >= v.tiptoe_min_contrast * lowest_uv):
            return self._from_active_calf(start_uv, relaxed_level_uv(
                self.config, lowest_uv=lowest_uv, step_uv=step_uv))
        if v.tiptoe_level_ratio * standing_uv <= start_uv < v.standing_level_ratio * standing_uv:
            return "brief contraction from standing (rising onto the toes)"
        return None

    def _from_active_calf(self, start_uv: float, relaxed_uv: float) -> str | None:
        """A brief run judged before the recording has shown the calf both standing and at
        rest: withdrawn when its starting level ``start_uv`` (uV) is already above what a
        relaxed calf shows on this channel (``relaxed_uv``, :func:`relaxed_level_uv`).

        A relaxed calf's surface EMG is the front end's own noise; a cramp, lying or
        sitting, starts from it. A calf that carries the body shows its tonic activity (a
        few to about 90 uV), and a rise onto the toes starts from there. Without a resting
        level of its own to compare with (the first minute of a recording, or a recording
        begun upright), the channel's noise is what is left to tell the two apart."""
        if start_uv >= relaxed_uv:
            return "brief contraction from a calf already active (standing, rising onto the toes)"
        return None

    def shifting(self, run_uv: np.ndarray, standing_uv: float, lowest_uv: float) -> str | None:
        """Why a long run that has just ended is standing up rather than a cramp, or ``None``.

        A cramp is one sustained involuntary contraction: its drive waxes and wanes within a
        second or two, so over blocks of ``evidence.shift_block_s`` its level holds (the
        blocks' log median scatters by at most ``evidence.shift_max_log_sd``). A standing
        calf's level follows the body: each shift of weight from leg to leg (every few
        seconds) loads or unloads it severalfold, each rise onto the toes multiplies it for
        seconds, each step fires it; from block to block it wanders. A run longer than
        ``evidence.tiptoe_max_s`` (shorter ones: :meth:`at_end`) whose block levels scatter
        more, at a median level under ``evidence.shift_max_level_ratio`` x the standing tonic
        reference (a standing calf's range: its tonus loaded and unloaded, with tip-toe
        bouts), is withdrawn at its end. As in :meth:`at_end`, only once the reference is a
        standing level (``evidence.tiptoe_min_contrast`` x ``lowest_uv``).

        Parameters
        ----------
        run_uv : ndarray, shape (n,)
            Resting-comparable EMG envelope of the run's epochs (uV), NaN where unusable.
        standing_uv, lowest_uv : float
            The standing tonic reference and the lowest settled resting level at the onset
            (uV).
        """
        v = self.config.evidence
        k = max(1, round(v.shift_block_s * self.eps))
        n_blocks = run_uv.shape[0] // k
        if (run_uv.shape[0] <= v.tiptoe_max_s * self.eps or n_blocks < 3
                or not standing_uv > 0 or not standing_uv >= v.tiptoe_min_contrast * lowest_uv):
            return None
        usable = run_uv[~np.isnan(run_uv)]
        if not usable.size or median(usable) >= v.shift_max_level_ratio * standing_uv:
            return None
        log_sd = self._block_log_sd(run_uv)
        if log_sd is not None and log_sd > v.shift_max_log_sd:
            return "level shifting from block to block (standing up: weight shifts, tip-toe)"
        return None

    def _block_log_sd(self, run_uv: np.ndarray) -> float | None:
        """Standard deviation of the natural log of a run's ``evidence.shift_block_s`` block
        medians, the first block (the contraction's rise, a cramp's 1-5 s) left out; ``None``
        with under two usable blocks after it."""
        k = max(1, round(self.config.evidence.shift_block_s * self.eps))
        blocks = nanmedian_rows(run_uv[k: run_uv.shape[0] // k * k].reshape(-1, k))
        blocks = blocks[~np.isnan(blocks)]
        if blocks.size < 2:
            return None
        return float(np.std(np.log(np.maximum(blocks, self.config.emg.baseline_floor_uv))))

    def unended(self) -> str | None:
        """Why a confirmed run still active at the end of the recording is not a cramp, or
        ``None`` (``evidence.unended_withdrawn``).

        Without posture nothing in the EMG of a person up and about (standing tonus swaying
        and stepping with each shift of weight, shuffles, short slow walks) tells it from a
        weak cramp's irregular waxing and waning, and the morning get-up is what a
        recording ends on (the sensor is taken off once up). A cramp is a bounded episode:
        it ends in rest. A run never seen to end is therefore not logged."""
        if self.config.evidence.unended_withdrawn:
            return "activity going on at the end of the recording (up and about)"
        return None

    def steady_at_standing(self, ev: RunEvidence) -> bool:
        """Whether a confirmed run's judged window was at the level this calf carried the body
        at (median under ``evidence.standing_level_ratio`` x the standing reference) and
        swayed only slowly (``fast_modulation`` under ``evidence.standing_max_fast_modulation``):
        what standing up looks like in its first seconds, and a cramp no stronger than the
        sleeper's standing tonus too. The level alone does not tell them apart; the run's end
        (:meth:`steady_standing`) may."""
        v = self.config.evidence
        return (ev.shape is not None and ev.tonic_ratio is not None
                and ev.tonic_ratio < v.standing_level_ratio
                and ev.shape.fast_modulation < v.standing_max_fast_modulation)

    def steady_standing(self, run_uv: np.ndarray, fast_modulation: float) -> str | None:
        """Why a run confirmed steady at the standing level (:meth:`steady_at_standing`) is
        standing up after all, at its end, or ``None``.

        A cramp steady within seconds is one sustained drive: its waxing and waning is fast,
        and a block median averages it out, so its level holds from block to block. A
        standing calf's level also follows the body's weight: each shift from leg to leg
        (every 2-20 s) loads or unloads it, a step the blocks see and the within-seconds
        modulation does not. So such a run is kept only when its ``evidence.shift_block_s``
        block medians (after the first, the rise) scatter by at most
        ``evidence.standing_hold_max_ratio`` x the fast modulation it was confirmed with; one
        over before two blocks after its rise has shown no held level and is withdrawn, as
        the level-only verdict rejected it before.

        Parameters
        ----------
        run_uv : ndarray, shape (n,)
            Resting-comparable EMG envelope of the run's epochs (uV), NaN where unusable.
        fast_modulation : float
            The judged window's fast modulation (:class:`~detector.pipeline.emg_shape.
            EmgShape`, log units).
        """
        log_sd = self._block_log_sd(run_uv)
        if log_sd is None:
            return "steady at the standing level and over before it could be seen to hold " \
                   "(standing up)"
        if log_sd > self.config.evidence.standing_hold_max_ratio * fast_modulation:
            return "at the standing level, wandering from block to block more than within " \
                   "seconds (standing up: weight shifts)"
        return None


def relaxed_level_uv(config: DetectorConfig, *, lowest_uv: float, step_uv: float) -> float:
    """The starting level (uV) from which a brief EMG-only run no longer begins from a
    relaxed calf on this channel, before the recording has shown the calf standing and at
    rest.

    A relaxed calf shows the front end's noise, a property of the channel: gel electrodes
    on a fine converter 0.8-4 uV RMS, under ``evidence.relaxed_max_uv``; an int8 band or
    worn, dry electrodes 8-20 uV. Two things bound that noise from above. The quantisation
    step (``step_uv``): a coarse converter's gain is chosen so that its noise is about one
    step, so a relaxed calf on it reads under ``evidence.relaxed_step_ratio`` steps (a fine
    converter's step says nothing). And the lowest settled resting level of the recording
    so far (``lowest_uv``): if it was rest, a relaxed calf starts from within
    ``evidence.relaxed_floor_ratio`` of it (a recording begun upright has its standing
    tonus there instead, which the step bound keeps in check). The relaxed level is the
    lower of the two, never below ``relaxed_max_uv``; that alone where either is unknown
    (the first ``evidence.tonic_settle_s``, or samples without a lattice).

    Parameters
    ----------
    config : DetectorConfig
        ``config.evidence.relaxed_*``.
    lowest_uv : float
        Lowest settled resting EMG level so far (uV; NaN not yet settled).
    step_uv : float
        The EMG's quantisation step seen so far (uV; NaN unknown).
    """
    v = config.evidence
    if np.isnan(lowest_uv) or np.isnan(step_uv):  # no floor known
        return v.relaxed_max_uv
    return max(v.relaxed_max_uv,
               min(v.relaxed_floor_ratio * lowest_uv, v.relaxed_step_ratio * step_uv))


def make_review(mode: str, *, config: DetectorConfig, eps: int) -> RunReview | None:
    """The later look of a detection mode: EMG only has one; with accelerometers the posture
    and leg movement already tell walking apart, so ``None``."""
    return RunReview(config=config, eps=eps) if mode == "emg" else None
