"""EMG only: standing up from a chair, with shifts of weight and tip-toe bouts, is not a cramp
(issue 9); a long cramp sitting in the same recording is kept.

Standing up, the calf goes from rest to its standing tonus, so the run starts from rest and
the tip-toe withdrawal (which needs a start at the standing level and a run under
``evidence.tiptoe_max_s``) cannot see it; the EMG hold carries the run over the dips of each
shift of weight, through the tip-toe bouts, until the person sits down again. What tells it
from a cramp is that its level shifts from block to block (``evidence.shift_max_log_sd``)
while a cramp's sustained drive holds it.
"""

from __future__ import annotations

from functools import cache

from detector.episode import EpisodeEvent, EpisodeWithdrawn
from detector.pipeline.result import NightResult
from firmware_sim.night import NightEvent
from tests.emg_only_helpers import assert_withdrawal_whatever_the_chunking, replay_emg_only
from tests.test_detection_classes import DAY_START, NO_WINDOW, _cramp, _night

CRAMP_S = (300.0, 50.0)  # onset, length: longer than a tip-toe bout, sitting
UP_S = (500.0, 700.0)  # standing up from the chair, then sitting down again
BOUTS_S = ((560.0, 10.0), (575.0, 12.0), (640.0, 8.0))


@cache
def _run(chunk_s: float = 1.0) -> tuple[NightResult, tuple[EpisodeEvent, ...]]:
    """An afternoon: standing 0-200 s, sitting 200-500 s with a 50-s cramp, standing 500-700 s
    with tip-toe bouts, sitting 700-900 s."""
    events = [NightEvent(kind="tiptoe", onset_s=a, duration_s=d, emg_uv=120.0, angle_deg=30.0,
                         seed=70 + i) for i, (a, d) in enumerate(BOUTS_S)]
    events.append(_cramp(*CRAMP_S, emg_uv=60.0))
    events.append(NightEvent(kind="sitting", onset_s=200.0, duration_s=UP_S[0] - 200.0, seed=11))
    events.append(NightEvent(kind="sitting", onset_s=UP_S[1], duration_s=200.0, seed=12))
    scenario = _night(events, duration_s=900.0, start=DAY_START, in_bed=None,
                      standing_tonic_uv=25.0, standing_sway_cv=0.3, standing_shift_depth=0.6)
    return replay_emg_only(scenario, path="standing-up", rng_seed=4, chunk_s=chunk_s,
                           config=NO_WINDOW)


def test_standing_up_with_weight_shifts_and_tiptoe_is_withdrawn_and_the_cramp_kept() -> None:
    result, events = _run()
    # positive control: the 50-s cramp sitting is one episode
    assert [abs(e.onset_s - CRAMP_S[0]) < 2.0 for e in result.episodes] == [True]
    # nothing logged while up; the run begun at the rise was announced and then withdrawn
    assert all(e.onset_s + e.duration_s < UP_S[0] or e.onset_s > UP_S[1]
               for e in result.episodes)
    withdrawn = [w for w in events if isinstance(w, EpisodeWithdrawn)]
    assert any(UP_S[0] - 5.0 < w.onset_s < UP_S[1] and "shifting" in w.reason
               for w in withdrawn)


def test_standing_up_withdrawal_is_the_same_whatever_the_chunking() -> None:
    assert_withdrawal_whatever_the_chunking(_run)
