"""EMG only: a series of tip-toe bouts while standing gives no episode (issue 9), beside a
short cramp in bed that is found.

Rising onto the toes is a voluntary calf contraction of a body already standing on it: it
starts from the calf's standing tonic level and ends within seconds. A cramp starts from rest.
The control cramp is as short as a bout (under ``evidence.tiptoe_max_s``), so the duration
alone does not withdraw it. The recording shows the calf both carrying the body (standing
first, which sets the standing reference) and at rest (sitting):
``evidence.tiptoe_min_contrast``.
"""

from __future__ import annotations

from functools import cache

from detector.episode import EpisodeEvent, EpisodeStarted, EpisodeWithdrawn
from detector.pipeline.result import NightResult
from firmware_sim.night import NightEvent
from tests.emg_only_helpers import assert_withdrawal_whatever_the_chunking, replay_emg_only
from tests.test_detection_classes import DAY_START, NO_WINDOW, _cramp, _night

CRAMP_ONSET_S = 200.0
BOUTS_S = ((400.0, 14.0), (418.0, 12.0), (435.0, 18.0))  # onset, length: one series


@cache
def _run(chunk_s: float = 1.0) -> tuple[NightResult, tuple[EpisodeEvent, ...]]:
    """An afternoon: standing 0-120 s, sitting 120-330 s with an 18-s cramp, then standing
    with three tip-toe bouts."""
    events = [NightEvent(kind="tiptoe", onset_s=a, duration_s=d, emg_uv=150.0, angle_deg=30.0,
                         seed=40 + i) for i, (a, d) in enumerate(BOUTS_S)]
    events.append(_cramp(CRAMP_ONSET_S, 18.0, emg_uv=80.0))
    events.append(NightEvent(kind="sitting", onset_s=120.0, duration_s=210.0, seed=11))
    scenario = _night(events, duration_s=600.0, start=DAY_START, in_bed=None,
                      standing_tonic_uv=4.0)
    return replay_emg_only(scenario, path="tiptoe", rng_seed=2, chunk_s=chunk_s,
                           config=NO_WINDOW)


def test_emg_only_tiptoe_series_gives_no_episode_and_the_short_cramp_is_found() -> None:
    result, events = _run()
    # positive control: the 18-s cramp sitting is one episode
    assert [abs(e.onset_s - CRAMP_ONSET_S) < 2.0 for e in result.episodes] == [True]
    # no episode overlaps a bout; any bout announced was withdrawn at its end
    for a, d in BOUTS_S:
        assert all(e.onset_s + e.duration_s < a or e.onset_s > a + d for e in result.episodes)
    started = [e.onset_s for e in events if isinstance(e, EpisodeStarted)]
    withdrawn = [e for e in events if isinstance(e, EpisodeWithdrawn)]
    assert [w.onset_s for w in withdrawn] == [s for s in started
                                              if abs(s - CRAMP_ONSET_S) > 2.0]
    assert withdrawn and all("toes" in w.reason for w in withdrawn)


def test_tiptoe_withdrawal_is_the_same_whatever_the_chunking() -> None:
    assert_withdrawal_whatever_the_chunking(_run)
