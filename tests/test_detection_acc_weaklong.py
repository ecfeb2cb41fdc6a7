"""Accelerometer modes (issue 9): a long weak cramp logged far too short.

A weak cramp's calf tremor (its mechanomyogram) waxes and wanes about the activity threshold
for minutes while the foot stays held where the cramp pulled it and the leg stays still (seen:
a 387-s cramp lying on a side, the foot 25 deg past its resting angle throughout, the tremor
over its threshold a fifth of the time and under its rest criterion for up to 7 s at a time).
Each lull over ``episode.held_max_dip_s`` closed the run, and every later stretch of the same
contraction had to pass a fresh ``min_duration_s`` duty test, which it failed: the cramp was
logged as its first 50 s. Once a run is confirmed a cramp, a lull of up to
``episode.confirmed_held_dip_s`` is bridged while the foot stays held (no release, no gross
movement, the EMG not seen at rest).

Each class beside its control, on hand-laid epoch features (0.1-s epochs):

- a 5-min weak cramp waxing and waning about its threshold with 5-s lulls, foot held: one
  episode of about its length (with the continuation bound at ``held_max_dip_s``: its first
  seconds only);
- two such cramps with the foot released between them: two episodes (held: one);
- a rollover after a cramp (gross movement, then a short tremor burst): not appended
  (without the movement: appended, which shows the bridge reaches it);
- a lull past the bound ends the run with the foot held; a run not yet confirmed keeps
  ``held_max_dip_s``;
- fused mode: a usable EMG seen at rest in the lull ends the cramp there;
- and the result does not depend on how the epochs are chunked.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_detection_acc_lull import CFG, HELD_DEG, REST_DEG, REST_UV, _detect, _seg

from detector.pipeline.features import EpochFeatures

# the continuation bound set back to the unconfirmed one: the behaviour before the fix
NO_CONTINUATION = CFG.replace(episode__confirmed_held_dip_s=CFG.episode.held_max_dip_s)
EPS = round(1.0 / CFG.epoch_s)
LULL_S = 5.0  # over held_max_dip_s (3 s), under confirmed_held_dip_s (10 s)


def _weak_cramp(duration_s: float, *, lull_deg: float = HELD_DEG,
                **emg: float | bool) -> list[EpochFeatures]:
    """A weak cramp of about ``duration_s``: 12 s of clear tremor (4x rest), then cycles of
    1.5 s over the corroborated threshold (2.4x rest, the foot seen pointed), 4 s between it
    and the rest criterion (1.8x) and a ``LULL_S`` lull at rest (1.0x, the foot at
    ``lull_deg``), ending on a stretch over the threshold; the foot held at ``HELD_DEG``."""
    def seg(s: float, tremor: float, angle: float = HELD_DEG) -> EpochFeatures:
        return _seg(round(s * EPS), tremor=tremor, angle_deg=angle, **emg)

    out = [seg(12.0, 4.0)]
    cycle = 1.5 + 4.0 + LULL_S
    for _ in range(max(0, round((duration_s - 12.0 - 1.5) / cycle))):
        out += [seg(1.5, 2.4), seg(4.0, 1.8), seg(LULL_S, 1.0, lull_deg)]
    return [*out, seg(1.5, 2.4)]


def _length_s(parts: list[EpochFeatures]) -> float:
    return sum(p.n_epochs for p in parts) / EPS


def _rest(s: float = 120.0, **emg: float | bool) -> EpochFeatures:
    return _seg(round(s * EPS), tremor=1.0, angle_deg=REST_DEG, **emg)


def test_weak_long_cramp_waxing_about_its_threshold_is_one_episode_of_its_length() -> None:
    cramp = _weak_cramp(300.0)
    true_s = _length_s(cramp)
    found = _detect([_rest(), *cramp, _rest()])
    assert len(found) == 1
    onset_s, offset_s = found[0]
    assert abs(onset_s - 120.0) <= 1.0
    assert abs(offset_s - (120.0 + true_s)) <= 2.0
    # before: each lull over held_max_dip_s closed the run and the rest failed a fresh duty
    # test, so the cramp was logged as its first seconds (the class this guards against)
    before = _detect([_rest(), *cramp, _rest()], config=NO_CONTINUATION)
    assert len(before) == 1 and before[0][1] - before[0][0] < 0.2 * true_s


def test_two_weak_cramps_with_the_foot_released_between_them_stay_two() -> None:
    a, b = _weak_cramp(60.0), _weak_cramp(60.0)
    lull = _seg(round(LULL_S * EPS), tremor=1.0, angle_deg=REST_DEG)  # released
    found = _detect([_rest(), *a, lull, *b, _rest()])
    assert len(found) == 2
    assert abs(found[1][0] - (120.0 + _length_s(a) + LULL_S)) <= 1.0
    # positive control: the same lull with the foot held is the same contraction going on
    held = dataclasses.replace(lull, plantar_flexion_deg=np.full(lull.n_epochs, HELD_DEG),
                               relative_angle_deg=np.full(lull.n_epochs, HELD_DEG))
    assert len(_detect([_rest(), *a, held, *b, _rest()])) == 1


def _rollover(n: int, *, moving: bool) -> EpochFeatures:
    """``n`` epochs of a rollover (gross movement: the angle unknown) or, ``moving`` False,
    the same epochs still with the foot held."""
    seg = _seg(n, tremor=1.0, angle_deg=HELD_DEG)
    if not moving:
        return seg
    nan = np.full(n, np.nan)
    return dataclasses.replace(seg, movement_g=np.full(n, 0.3), plantar_flexion_deg=nan,
                               relative_angle_deg=nan.copy())


def test_rollover_after_a_weak_cramp_is_not_appended() -> None:
    cramp = _weak_cramp(60.0)
    end_s = 120.0 + _length_s(cramp)
    lull = _seg(20, tremor=1.0, angle_deg=HELD_DEG)  # 2 s, the foot still held
    burst = _seg(30, tremor=4.0, angle_deg=HELD_DEG)  # 3 s of tremor on the other side

    def night(*, moving: bool) -> list[EpochFeatures]:
        return [_rest(), *cramp, lull, _rollover(20, moving=moving), burst, _rest()]

    found = _detect(night(moving=True))
    assert len(found) == 1
    assert abs(found[0][1] - end_s) <= 1.5
    # positive control: without the movement the bridge reaches the burst and appends it
    still = _detect(night(moving=False))
    assert len(still) == 1 and still[0][1] >= end_s + 6.5


def test_lull_past_the_continuation_bound_ends_the_run_with_the_foot_held() -> None:
    burst = _seg(200, tremor=4.0, angle_deg=HELD_DEG)  # 20 s: confirmed
    bound = round(CFG.episode.confirmed_held_dip_s * EPS)

    def lull(n: int) -> EpochFeatures:
        return _seg(n, tremor=1.0, angle_deg=HELD_DEG)

    assert len(_detect([_rest(), burst, lull(bound + 5), burst, _rest()])) == 2
    # positive control: a lull just inside the bound is bridged
    assert len(_detect([_rest(), burst, lull(bound - 5), burst, _rest()])) == 1
    # a run not yet confirmed (5 s of tremor) keeps held_max_dip_s: its 5-s held lull ends it
    # and the cramp after it is logged from its own onset
    early = _seg(50, tremor=4.0, angle_deg=HELD_DEG)
    found = _detect([_rest(), early, lull(round(LULL_S * EPS)), burst, _rest()])
    assert len(found) == 1 and abs(found[0][0] - (120.0 + 5.0 + LULL_S)) <= 1.0
    # positive control: a lull inside held_max_dip_s joins the same two
    found = _detect([_rest(), early, lull(20), burst, _rest()])
    assert len(found) == 1 and abs(found[0][0] - 120.0) <= 1.0


def test_fused_mode_emg_seen_at_rest_in_a_lull_ends_the_weak_cramp() -> None:
    # a usable EMG weak in the cramp (1.7x rest: over the veto, under its own criteria)
    emg = {"emg_uv": 1.7 * REST_UV, "flat": False}
    cramp = _weak_cramp(60.0, **emg)
    rest_emg = {"emg_uv": REST_UV, "flat": False}
    going_on = _detect([_rest(**rest_emg), *cramp, _rest(**rest_emg)], mode="emg+acc")
    assert len(going_on) == 1
    assert going_on[0][1] - going_on[0][0] >= _length_s(cramp) - 2.0
    # the same cramp with the EMG back at rest in its lulls: the muscle is seen relaxed
    relaxed = [dataclasses.replace(p, envelope_uv=np.full(p.n_epochs, REST_UV))
               if float(p.tremor_g.max()) < 1.2e-3 else p for p in cramp]
    found = _detect([_rest(**rest_emg), *relaxed, _rest(**rest_emg)], mode="emg+acc")
    assert found and found[0][1] - found[0][0] < 0.5 * _length_s(cramp)


@settings(max_examples=20, deadline=None)
@given(cuts=st.lists(st.integers(0, 10**6), max_size=8))
def test_continuation_does_not_depend_on_the_chunking(cuts: list[int]) -> None:
    # a long weak cramp, a released pair, a rollover and an unconfirmed run in one stream
    a, b = _weak_cramp(60.0), _weak_cramp(40.0)
    released = _seg(round(LULL_S * EPS), tremor=1.0, angle_deg=REST_DEG)
    burst = _seg(200, tremor=4.0, angle_deg=HELD_DEG)
    early = _seg(50, tremor=4.0, angle_deg=HELD_DEG)
    held = _seg(round(LULL_S * EPS), tremor=1.0, angle_deg=HELD_DEG)
    night = [_rest(), *_weak_cramp(120.0), _rest(30.0), *a, released, *b, _rest(30.0),
             burst, held, _rollover(20, moving=True), burst, _rest(30.0),
             early, held, burst, _rest(30.0)]
    whole = _detect(night)
    assert len(whole) == 6
    assert _detect(night, chunk_epochs=cuts) == whole
