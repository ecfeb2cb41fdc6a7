"""EMG only: rising onto the toes before the recording has shown the calf at rest (issue 9).

A recording begun upright (an afternoon, standing) has no resting level of the calf's own to
tell its standing level by: in its first ``evidence.tonic_settle_s`` there is no standing
reference, and after it the reference is the standing level itself, with no contrast to a
lower one (``evidence.tiptoe_min_contrast``). A tip-toe bout then starts from the standing
calf's tonic activity, far above what a relaxed calf shows (``evidence.relaxed_max_uv``),
while the cramp of the same recording (sitting, later) starts from the relaxed calf. The
control cramp is as short as a bout, so the duration alone does not withdraw it.
"""

from __future__ import annotations

from functools import cache

from detector.episode import EpisodeEvent, EpisodeStarted, EpisodeWithdrawn
from detector.pipeline.result import NightResult
from firmware_sim.night import NightEvent
from tests.emg_only_helpers import assert_withdrawal_whatever_the_chunking, replay_emg_only
from tests.test_detection_classes import DAY_START, NO_WINDOW, _cramp, _night

BOUTS_S = ((20.0, 14.0), (150.0, 16.0))
"""Tip-toe bouts (onset, length, s): in the first minute (no standing reference yet), and
after it while still standing (a reference with no contrast to rest)."""
CRAMP_ONSET_S = 420.0
SIT_S = (240.0, 360.0)  # sitting from 240 s to the end (600 s)


@cache
def _run(chunk_s: float = 1.0) -> tuple[NightResult, tuple[EpisodeEvent, ...]]:
    events = [NightEvent(kind="tiptoe", onset_s=a, duration_s=d, emg_uv=150.0, angle_deg=30.0,
                         seed=60 + i) for i, (a, d) in enumerate(BOUTS_S)]
    events.append(_cramp(CRAMP_ONSET_S, 15.0, emg_uv=60.0))
    events.append(NightEvent(kind="sitting", onset_s=SIT_S[0], duration_s=SIT_S[1], seed=11))
    scenario = _night(events, duration_s=600.0, start=DAY_START, in_bed=None,
                      standing_tonic_uv=25.0, standing_sway_cv=0.3)
    return replay_emg_only(scenario, path="tiptoe-upright", rng_seed=3, chunk_s=chunk_s,
                           config=NO_WINDOW)


def test_tiptoe_before_the_calf_was_seen_at_rest_is_withdrawn_and_the_cramp_kept() -> None:
    result, events = _run()
    # positive control: the 15-s cramp sitting is one episode
    assert [abs(e.onset_s - CRAMP_ONSET_S) < 2.0 for e in result.episodes] == [True]
    # both bouts were announced (each is a confirmed run) and withdrawn at their end
    started = [e.onset_s for e in events if isinstance(e, EpisodeStarted)]
    withdrawn = [e for e in events if isinstance(e, EpisodeWithdrawn)]
    for a, d in BOUTS_S:
        assert any(a - 5.0 < s < a + d for s in started)
        assert all(e.onset_s + e.duration_s < a or e.onset_s > a + d for e in result.episodes)
    assert [w.onset_s for w in withdrawn] == [s for s in started
                                              if abs(s - CRAMP_ONSET_S) > 2.0]
    assert len(withdrawn) == len(BOUTS_S)
    assert all("already active" in w.reason for w in withdrawn)


def test_upright_start_withdrawal_is_the_same_whatever_the_chunking() -> None:
    assert_withdrawal_whatever_the_chunking(_run)
