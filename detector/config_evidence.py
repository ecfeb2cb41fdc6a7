"""The evidence rules' part of the detector configuration (section ``[evidence]``).

What corroborates a contraction, how the EMG's shape tells a cramp from standing, walking,
rollovers and tip-toe standing, and the weights of the confidence score. Kept in its own module
only for size; :mod:`detector.config` re-exports :class:`EvidenceConfig` and is the place to
import it from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class EvidenceConfig:
    """Evidence rules: what corroborates a contraction, how the EMG's shape tells a cramp from
    standing, walking and rollovers, and the weights of the confidence score."""

    corroborated_ratio: float = 2.0
    """With the foot held in plantar flexion and calf tremor on a still leg, EMG above this
    multiple of the resting level suffices (a weak cramp seen through the other head)."""
    corroborated_rise_uv: float = 3.0
    """...and this far above it (uV)."""
    activity_min_dof: float = 80.0
    """Independent samples (``2 x EMG bandwidth x time``) the EMG level of each activity
    decision rests on: one 0.1-s epoch at 1-2 kHz (20-450 Hz: 86), six at 200 Hz (20-90 Hz:
    14 each), so the decision is as reliable at every sampling rate."""
    tremor_min_dof: float = 25.0
    """Independent samples (``2 x tremor bandwidth x time x 3 axes``) the calf tremor level
    of each decision rests on: one 0.1-s epoch at 100 Hz (5-50 Hz: 27), three at 50 Hz, six
    at 25 Hz."""
    smooth_s: float = 0.5
    """Moving mean applied to the envelope before its shape is measured (s)."""
    emg_only_min_duty: float = 0.6
    """Without posture: fraction of the judged window that must be active. Standing tonic
    activity near the threshold flickers across it, but standing is now told by its level
    (``standing_level_ratio``), so a weak cramp near the threshold needs no more duty than in
    the other modes."""
    emg_only_hold: bool = True
    """Without posture: once the EMG level has crossed the activity threshold, the
    contraction lasts (its epochs not at rest count as active) until the level has sat at
    rest (``rest_fraction`` x the threshold) for ``episode.max_dip_s``: a double threshold,
    as the AASM leg-movement onset and offset, so a weak cramp waxing and waning about the
    threshold is one sustained run (pipeline/emg_hold.py). ``false``: each epoch on its own
    against the threshold."""
    max_rhythm: float = 0.75
    """Largest comeback of the log envelope's autocorrelation at stride lags (0.4-2.0 s) after
    its trough, for a cramp; above it the activity is rhythmic: walking."""
    max_lull_fraction: float = 0.25
    """Without posture: largest fraction of a run's epochs below ``lull_ratio`` x its median;
    above it the activity is a train of phasic bursts (turning over), not a cramp."""
    lull_ratio: float = 0.35
    """Depth of a lull relative to the run's median envelope."""
    max_burst_excess: float = 0.75
    """Without posture: largest upward skew of a run's smoothed log envelope,
    ``log(p95/p50) - log(p50/p10)``, for a cramp. Phasic bursts on a low floor (turning
    over: bursts several times the floor; tip-toe bouts) reach far above the median and little
    below it; a cramp waxes and wanes about its level and has its ramp-up and lulls below it
    (real held calf contractions, tests/test_real_data.py: -0.5 to +0.3)."""
    max_burst_skew: float = 5.0
    """Without posture: a run whose smoothed log envelope reaches above its median
    (``burst_reach``, ``log(p95/p50)``) more than this multiple of how far it falls below it
    (``floor_spread``, ``log(p50/p10)``; no unit), by at least ``burst_skew_min_reach``, is a
    train of phasic bursts on a flat floor (turning over: pushes of 0.3-2 s on the quiet
    floor between them, where the median sits), not a cramp, whatever the floor's own height
    (``max_burst_excess`` misses bursts that reach little above a floor they leave flat). A
    contraction waxing and waning log-normally about its level has the ratio of a normal's
    quantiles, 1.645 / 1.282 = 1.28, and its ramp-up and lulls only lower it. Dev seeds 1 and
    2000 (``benchmarks/emg_false.py``, 420 nights each; 571 EMG-only cramps found): cramps at
    most 3.3, the rollovers logged as cramps 7.2-11.7."""
    burst_skew_min_reach: float = 0.4
    """...when that reach is at least this (natural log; bursts 1.5 x the floor): a steady
    held contraction has both halves small, and their ratio then says nothing."""
    standing_level_ratio: float = 1.5
    """Without posture: a run whose median level is under this multiple of the highest resting
    level of the recording so far (the calf's tonic activity while standing, e.g. before bed)...
    The resting level is the 10th percentile of 5-s block medians, and standing sways (cv up
    to about 0.4), so standing's median sits up to about 1.6 x it."""
    weak_min_tonic_ratio: float = 2.0
    """Without posture: a run that only the hold (``emg_only_hold``) carries, under
    ``emg_only_min_duty`` of it above the activity threshold itself, is a weak contraction
    with a level a standing calf also reaches; it counts only when its median level is at
    least this multiple of the standing reference (``standing_level_ratio`` is where
    standing's median sits with a slow sway; weak runs also lack the crossings that tell a
    contraction from standing by their fast waxing and waning)."""
    weak_settle_s: float = 100.0
    """...and only from this far into the recording (s): the standing reference is the 10th
    percentile (``emg.baseline_percentile``) of 5-s block medians, which from fewer than about
    twenty blocks (two below it) is little more than the lowest block, far below a swaying
    standing calf's median (the first minutes of a recording are mostly upright)."""
    weak_max_start_ratio: float = 1.3
    """...and which began from a relaxed calf: its level (median envelope) over the
    ``tiptoe_pre_s`` before its ramp can have begun (ending ``episode.onset_lookback_s``
    before its onset: a weak ramp seen late, at 200 Hz, is still the cramp) under this
    multiple of the lowest settled resting level of the recording so far (no unit; the lying
    or sitting rest). A weak cramp, lying or sitting, starts from rest (dev seeds 1 and 2000,
    ``benchmarks/emg_false.py`` over 420 nights each: at most 1.16 over the 22 weak cramps
    found); a weak run that starts from a calf already carrying the body (standing tonus,
    walking: 1.33-3.0 for 6 of the 13 weak runs logged falsely) is the upright calf's
    activity going on. The lowest rest scatters by about 8 % and a 4-s median a little
    more, so 1.3 x is clear of rest (as ``relaxed_floor_ratio``)."""
    weak_max_fast_modulation: float = 0.5
    """...and whose smoothed log envelope varies within seconds (``fast_modulation``) by at
    most this: a contraction's irregular waxing and waning (log-normal, cv up to about 0.6,
    i.e. a log standard deviation up to 0.55, part of it slower than 2 s) stays under it;
    phasic bursts held together over their gaps (turning over, steps) exceed it."""
    standing_max_fast_modulation: float = 0.15
    """...and whose smoothed log envelope varies less than this (standard deviation about its
    2-s moving mean) is standing up, not a cramp: standing sways slowly, a cramp waxes and
    wanes within seconds."""
    balance_sway_deg: float = 0.2
    """With accelerometers, upright, foot pointed, no calf tremor: a leg whose incline
    changes by at least this (deg, median over consecutive ``sway_block_s`` blocks of the
    judged window) sways under a body balancing on it: standing on tip-toe, a voluntary
    stance, not a cramp. A shank resting (sitting, foot on the floor) changes by hundredths
    of a degree (the sensor's noise); balancing on the toes moves it by 0.5-2 deg within
    seconds (model: :func:`firmware_sim.night_profiles._tiptoe`)."""
    tiptoe_min_pf_deg: float = 10.0
    """...and whose foot's median angle beyond neutral is at least this (deg): the heel is
    off the ground. Rising onto the toes lifts the heel 4-8 cm on a lever of 15-18 cm (heel
    to the ball of the foot), 13-30 deg; a flat standing foot reads 0 within a few degrees
    (sway, sensor noise). Lower than ``motion.plantar_flexion_deg``, which is evidence of a
    cramp's forced pointing, not of a heel raise: a tip-toe stance of 13-20 deg must not
    pass as a cramp for want of it."""
    sway_block_s: float = 0.5
    """Block over which the leg's incline is averaged before its changes are taken (s): long
    enough for the calf tremor and sensor noise to average out, short enough to keep the
    0.3-2 Hz balance corrections."""
    review_from_s: float = 15.0
    """Without posture: start of the later look at a confirmed run, from its onset (s). Getting
    up, the first seconds are the rise onto the legs (no stride yet); by then walking has its
    stride rhythm (:mod:`detector.pipeline.review`)."""
    review_to_s: float = 25.0
    """End of that later look, from the run's onset (s); a run that lasts this long is judged
    again on ``review_from_s`` to ``review_to_s``. Shorter runs are kept as confirmed."""
    review_repeats: int = 3
    """Number of later looks: look ``k`` (from 0) covers ``review_from_s`` to ``review_to_s``
    shifted by ``k`` x their length, so a run that begins with standing up (the rise, then
    standing still, no stride yet) and only then walks is still seen walking. Each look uses
    a fixed window relative to the onset (the same live and in replay); a run that ends
    before a look is kept as confirmed. 1: a single look."""
    review_run_min_walks: int = 2
    """After the ``review_repeats`` looks, a confirmed run is looked at on windows of the same
    length up to its end, overlapping by half, with the later looks' bounds (stride rhythm
    over ``review_later_max_rhythm``, stride correlation over ``review_max_stride_corr``);
    when at least this many of those windows, not overlapping one another, read as walking,
    the run is withdrawn at its end (:meth:`~detector.pipeline.review.RunReview.
    walks_later`): a person up and about who stood for longer than the first looks before
    walking (at the sink, on the way back to bed, standing about in the daytime). A cramp
    does not walk; but a long cramp has many windows, and one of them can read periodic by
    chance (dev seeds: one window each of three of 169 cramps, 102-580 s long), so one
    window alone is not enough."""
    review_max_rhythm: float = 1.0
    """Largest stride rhythm (the autocorrelation's comeback, as ``max_rhythm``) of the later
    look for a cramp; above it the envelope goes from anti-correlated to correlated at a
    stride lag, i.e. it is periodic: walking, and the episode is withdrawn."""
    review_later_max_rhythm: float = 1.1
    """The same bound for the looks after the first (``review_repeats``): each further look is
    one more chance for a long cramp's random waxing and waning to look periodic, so each
    needs a stricter bound to keep a cramp's chance of being withdrawn about that of one look.
    At least ``review_max_rhythm``."""
    review_max_stride_corr: float = 0.45
    """Largest stride correlation of a later look for a cramp: the autocorrelation of the log
    envelope at its highest point at stride lags (0.4-2 s) past its first zero crossing
    (:mod:`detector.pipeline.stride`; -1 to 1, no unit). Walking, one calf fires once per
    stride and the envelope is high again one stride later. On dev seeds (the 56 EMG-only
    nights of ``benchmarks/review_looks.py`` ``--seed 1 --nights 28``, ``--seed 15 --nights
    70`` and the same from 2000 and 2015) the 97 cramps long enough for a look stayed at
    most 0.34 over their 271 looks; walks seen striding in a look reached 0.46-0.83 (the
    seed-33 turning weak walk of tests/test_withdrawal.py 0.58, where the comeback was
    0.91). Above it the episode is withdrawn as walking, at every look."""
    review_stride_smooth_s: float = 0.2
    """Moving mean over the envelope before its stride correlation is taken (s): shorter
    than a stride's push-off burst (0.2-0.5 s), which the 0.5-s ``smooth_s`` spreads into the
    floor beside it."""
    tonic_settle_s: float = 60.0
    """The resting level of the first seconds of a recording is a low percentile of too few
    blocks (the level of whatever they held, e.g. walking): it becomes the standing reference
    only after this much recording (s)."""
    rest_between_s: float = 5.0
    """Without posture: a new cramp must start from rest, i.e. the EMG must have been back at
    rest (``rest_fraction``) this long since the last judged run ended (s); otherwise the
    activity is the same state going on (standing after walking, the stretching and standing
    after a cramp)."""
    rest_floor_ratio: float = 2.0
    """Without posture, once a run has been withdrawn as the person on their legs (walking,
    standing, rising onto the toes, up and about: :mod:`detector.pipeline.review`), the calf
    counts as rested again (``rest_between_s``) only while its one-second median envelope is
    also below this multiple of the recording's lowest settled resting level so far
    (:class:`~detector.pipeline.review.RestFloor`; no unit). The adaptive resting level
    rises to the calf's standing tonus within minutes of being up, so a standing calf
    between walks reads as "at rest" against it; the calf returns near the lowest floor only
    on sitting or lying down, where a new cramp starts from. Where the standing tonus is
    invisible (standing as low as lying) the test passes as before; before the floor is
    settled (``tonic_settle_s``) it is not applied."""
    rest_floor_hold_s: float = 300.0
    """How long the floor test of ``rest_floor_ratio`` holds after the last judged run of the
    up-and-about state ended (s): a run that starts later is judged as before. It bounds a
    floor set low by a quiet part of the night against a later, noisier part (electrode
    shift, hum) that never comes back to it. Each judged run that starts within it without
    the calf seen at the floor carries the state on (walk, stand, walk)."""
    rest_fraction: float = 0.5
    """The EMG is at rest when its one-second median is below this fraction of the activity
    threshold."""
    tremor_corroborated_ratio: float = 2.0
    """Without EMG (and for the fused rule's accelerometer case): on a still leg with the foot
    *seen* held in plantar flexion (``motion.plantar_flexion_deg``), calf tremor above this
    multiple of its own resting level suffices, below ``motion.tremor_ratio`` and its floor
    ``motion.tremor_g``. A weak cramp's mechanomyogram (a few mg) waxes and wanes about the
    uncorroborated threshold, but the pulled, held foot is itself evidence of the contraction,
    as with the EMG's ``corroborated_ratio``. The tremor level rests on ``tremor_min_dof``
    independent samples, so it scatters by about ``1 / sqrt(2 x 25)`` = 14 % about rest: 2 x is
    7 scatters clear of it, and the resting level itself is floored at
    ``motion.tremor_floor_g``. Lying on a side, where the angle is not seen, tremor alone must
    pass the full criterion."""
    tremor_onset_ratio: float = 1.5
    """Without EMG: a cramp's onset is where the calf tremor last sat below this multiple of
    its resting level (its ramp-up starts there)."""
    base_emg: float = 0.5
    """Confidence of sustained EMG alone."""
    base_acc: float = 0.35
    """Confidence of accelerometer evidence alone (no EMG)."""
    plantar_flexion_weight: float = 0.15
    """Added for the foot held in plantar flexion (EMG modes)."""
    plantar_flexion_weight_acc: float = 0.2
    """Added for the foot held in plantar flexion (accelerometer only)."""
    tremor_weight: float = 0.1
    """Added for calf tremor in at least ``tremor_fraction`` of the run (EMG modes)."""
    tremor_weight_acc: float = 0.2
    """Added for calf tremor (accelerometer only)."""
    tremor_fraction: float = 0.3
    """Fraction of a run with calf tremor that counts as tremor evidence."""
    still_weight: float = 0.05
    """Added for a still leg (under 10 % of the run in gross movement)."""
    duration_weight: float = 0.1
    """Added in full for runs ``duration_span_s`` beyond the minimum duration."""
    duration_span_s: float = 50.0
    """Duration beyond the minimum over which ``duration_weight`` is earned (s)."""
    duty_weight: float = 0.1
    """Added in full for a run active throughout."""
    hum_penalty: float = 0.15
    """Subtracted when mains hum covers over 30 % of the run."""
    unusable_penalty: float = 0.15
    """Subtracted when under 90 % of the run has usable signal."""
    emg_rest_veto_ratio: float = 1.5
    """With EMG and accelerometers: usable (not flat) EMG at most this multiple of its resting
    level is seen *not* to contract, and vetoes the accelerometers' evidence (tremor and foot
    angle) there. The resting level smoothed to ``activity_min_dof`` scatters by about
    ``1 / sqrt(2 x 80)`` = 8 %, so 1.5 x is well clear of rest, yet any contraction of the
    muscle under the electrode raises it further."""
    emg_rest_veto_rise_uv: float = 8.0
    """...but only on a channel that would see a contraction of this size (uV RMS over the full
    band, scaled to the share the front end's band keeps; 8 uV is the AASM leg-movement rise,
    as ``emg.active_rise_uv``). Muscle and electrode noise add in power, so a contraction of
    ``s`` uV on a resting level ``r`` reads ``sqrt(r^2 + s^2)``: where that stays within
    ``emg_rest_veto_ratio`` x ``r`` (a noisy front end, ``r`` above about ``s / 1.1``: 8-20 uV
    of noise at rest on dry electrodes or int8 bands) the EMG cannot tell a contracting
    muscle from a resting one and vetoes nothing, as a flat trace vetoes nothing."""
    tiptoe_max_s: float = 30.0
    """EMG only: a confirmed run over within this time of its onset (s) that began from the
    calf's standing level (``tiptoe_level_ratio``) is a rise onto the toes, withdrawn at its
    end. Standing on tip-toe is a voluntary contraction held for seconds (3-30 s, as when
    reaching up); a cramp begins from rest, sitting or lying."""
    tiptoe_level_ratio: float = 0.88
    """The calf's level just before such a run (the higher of its resting level at the onset
    and the median envelope over ``tiptoe_pre_s`` before it) over the standing tonic
    reference (the highest resting level so far): at least this is a calf already carrying
    the body (under ``standing_level_ratio`` x it: not already contracting). On dev seeds
    tip-toe bouts begin at 0.94-1.24 of it; cramps of up to 40 s at most 0.82, or 2.2-2.5
    where a long weak cramp is cut into runs."""
    unended_withdrawn: bool = True
    """EMG only: a confirmed run still active when the recording ends (never seen to come
    back to rest) is withdrawn at the end. Without posture the EMG of a person up and about
    (standing with sway and weight shifts, shuffling, short walks: the morning get-up, after
    which the sensor comes off) is sustained, irregular activity that no shape check tells
    from a weak cramp; a cramp is a bounded episode that ends in rest. ``false``: kept."""
    tiptoe_pre_s: float = 4.0
    """Time before a run's onset over which its starting level is measured (s)."""
    tiptoe_min_contrast: float = 1.3
    """The standing reference counts as a standing level only when it is at least this
    multiple of the lowest settled resting level before the run: the recording has shown the
    calf both carrying the body and at rest. A night lying throughout has a single resting
    level (its reference is that level), from which its short cramps start."""
    relaxed_max_uv: float = 8.0
    """EMG only, before the recording has shown the calf both at its standing level and at
    rest well below it (``tiptoe_min_contrast``; or in its first ``tonic_settle_s``): a run
    over within ``tiptoe_max_s`` whose starting level (as ``tiptoe_level_ratio``'s) is at
    least this (uV RMS) began from a calf already active, carrying the body, and is
    withdrawn at its end. A relaxed calf shows the front end's own noise (gel electrodes:
    0.8-4 uV RMS over 20-450 Hz; the real recordings of tests/test_real_data.py 1.4 uV), so
    twice the noisiest of those; a standing calf's tonic activity reaches 90 uV. The floor
    of what a relaxed calf shows: a coarse front end raises it
    (:func:`~detector.pipeline.review.relaxed_level_uv`, ``relaxed_step_ratio``)."""
    relaxed_step_ratio: float = 2.0
    """EMG only: how many quantisation steps of the EMG's converter (the smallest nonzero
    change between its samples, :mod:`detector.pipeline.emg_step`; no unit) a relaxed
    calf's noise can reach on that channel. A coarse converter's gain is set so that the
    front end's noise is about one step (an int8 Myo: about 10 uV a count, about 12 uV RMS
    at rest); a brief run starting from twice that or more began from a calf already
    active on that channel too."""
    relaxed_floor_ratio: float = 1.3
    """EMG only: a brief run's starting level (as ``tiptoe_level_ratio``'s) under this
    multiple of the lowest settled resting level (and under ``relaxed_step_ratio`` steps;
    no unit) began from a relaxed calf, not from one already active. The resting level
    scatters by about 8 % about the noise floor and the 4-s median before an onset a little
    more, so 1.3 x is clear of rest, as ``tiptoe_min_contrast`` is."""
    shift_block_s: float = 5.0
    """EMG only: block (s) over which a long run's level is taken (the median envelope) to
    see whether it holds or wanders (``shift_max_log_sd``): long against a cramp's waxing and
    waning (0.3-1 s), short against the time between two shifts of a standing person's
    weight from leg to leg (a few to 20 s)."""
    shift_max_log_sd: float = 0.25
    """EMG only: a run longer than ``tiptoe_max_s`` whose ``shift_block_s`` block medians
    (after the first block, the rise) scatter by more than this (standard deviation of
    their natural log: 0.25 is about +-28 %) at a median level under
    ``shift_max_level_ratio`` x the standing tonic reference is standing up (the calf's
    level shifting with the weight, tip-toe bouts, steps), withdrawn at its end. A cramp's
    sustained drive holds its block level (dev seeds 1 and 2000: at most 0.17 over the 99
    cramps longer than 30 s); standing up with shifts of weight and tip-toe bouts 0.28-0.97."""
    shift_max_level_ratio: float = 3.0
    """...: the median level (over the standing tonic reference, the 10th percentile of the
    upright level) under which a run can be standing: the loaded leg carries up to about
    1.8 x the mean tonus and tip-toe bouts raise it for seconds, so standing runs reach
    about 2-2.2 x the reference (dev seeds); a stronger contraction is not standing."""
    standing_hold_max_ratio: float = 1.0
    """EMG only: a run confirmed steady at the standing level (judged window under
    ``standing_level_ratio`` x the standing reference, fast modulation under
    ``standing_max_fast_modulation``) is kept at its end only when its ``shift_block_s``
    block medians (after the first, the rise) scatter (standard deviation of their natural
    log) by at most this multiple of the judged window's fast modulation, and when it lasted
    two blocks after its rise. One contraction's drive waxes and wanes within seconds, and a
    5-s block median averages that out, so its level scatters less from block to block than
    within seconds; a standing calf's level also steps with each shift of the body's weight
    (every 2-20 s), which the blocks see and the 2-s fast modulation does not. Dev seeds 1
    and 2000 (84 nights each, ``benchmarks/standing_runs.py``): the 7 such cramps 0.09-0.84,
    standing, sitting and stretching with weight shifts 1.13-5.35; a standing leg that barely
    shifts its weight (0.87-1.01) cannot be told from a steady cramp by the EMG alone."""
