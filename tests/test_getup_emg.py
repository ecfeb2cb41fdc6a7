"""EMG only: the morning get-up (standing with sway and weight shifts, a slow shuffle, until
the recording ends) gives no episode (issue 9), beside a weak cramp in bed that is found.

Without posture nothing in the EMG of a person up and about tells it from a weak cramp's
waxing and waning; a cramp ends in rest, the get-up is what the recording ends on
(``evidence.unended_withdrawn``). The control cramp is weaker than the standing tonus, so
its level alone does not keep it.
"""

from __future__ import annotations

from functools import cache

from detector.episode import EpisodeEvent, EpisodeStarted, EpisodeWithdrawn
from detector.pipeline.result import NightResult
from firmware_sim.night import NightEvent
from tests.emg_only_helpers import assert_withdrawal_whatever_the_chunking, replay_emg_only
from tests.test_detection_classes import NO_WINDOW, _cramp, _night

CRAMP_ONSET_S = 250.0
GETUP_S = 480.0  # out of bed from here to the end of the recording (600 s)


@cache
def _run(chunk_s: float = 1.0) -> tuple[NightResult, tuple[EpisodeEvent, ...]]:
    """Standing 0-60 s, in bed 60-480 s with a 60-s weak cramp, then up: standing with
    weight shifts and a slow shuffle."""
    events = [_cramp(CRAMP_ONSET_S, 60.0, emg_uv=30.0),
              NightEvent(kind="walk", onset_s=530.0, duration_s=15.0, emg_uv=40.0, acc_g=0.08,
                         freq_hz=0.8, seed=21)]
    scenario = _night(events, duration_s=600.0, in_bed=(60.0, GETUP_S),
                      standing_tonic_uv=40.0, standing_shift_depth=0.6,
                      standing_sway_cv=0.4)
    return replay_emg_only(scenario, path="getup", rng_seed=3, chunk_s=chunk_s,
                           config=NO_WINDOW)


def test_emg_only_morning_getup_gives_no_episode_and_the_weak_cramp_is_found() -> None:
    result, events = _run()
    # positive control: the weak cramp in bed is one episode
    assert [abs(e.onset_s - CRAMP_ONSET_S) < 2.0 for e in result.episodes] == [True]
    # the get-up was announced live and withdrawn when the recording ended
    assert any(isinstance(e, EpisodeStarted) and e.onset_s > GETUP_S - 5.0 for e in events)
    withdrawn = [e for e in events if isinstance(e, EpisodeWithdrawn)]
    assert [w.onset_s > GETUP_S - 5.0 for w in withdrawn] == [True]
    assert "end of the recording" in withdrawn[0].reason


def test_getup_withdrawal_is_the_same_whatever_the_chunking() -> None:
    assert_withdrawal_whatever_the_chunking(_run)
