"""EMG-only: a run announced at the 10-s criterion that a later look shows to be walking is
withdrawn (issue 9), and nothing downstream keeps it.

Getting up in the morning, the first seconds are the rise onto the legs (a ramp to the calf's
standing level, nothing to tell it from a cramp's); then walking sets in and the calf fires
once per stride. Each negative check has a cramp in the same night beside it.
"""

from __future__ import annotations

import io
from datetime import UTC
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from detector.ble.live import FIRST_AID, LiveDisplay
from detector.ble.live_store import LiveStore
from detector.ble.multi_band import MultiBandNight
from detector.config import DetectorConfig
from detector.episode import EpisodeEnded, EpisodeEvent, EpisodeStarted, EpisodeWithdrawn
from detector.night.recorder import NightRecorder
from detector.pipeline.result import NightResult
from detector.pipeline.review import RunReview
from detector.replay import ArrayRecording, make_info, run_source
from detector.signals import ChannelSpec
from detector.store import connect, load_night
from firmware_sim.night import NightEvent, synthesize
from tests.test_detection_classes import _cramp, _night

NO_WINDOW = DetectorConfig().replace(in_bed__night_window=None)
CRAMP_ONSET_S = 400.0
UP_S = 700.0  # out of bed; the walk starts 12 s later


def _walk_night(seed: int, *, emg_uv: float = 150.0):  # type: ignore[no-untyped-def]
    """In bed 0-700 s with a 40-s cramp at 400 s; up at 700 s, standing, walking from 712 s."""
    events = [NightEvent(kind="walk", onset_s=UP_S + 12.0, duration_s=60.0, emg_uv=emg_uv,
                         acc_g=0.3, freq_hz=1.7, seed=seed),
              _cramp(CRAMP_ONSET_S, 40.0, emg_uv=60.0)]
    return _night(events, duration_s=900.0, in_bed=(0.0, UP_S), standing_tonic_uv=20.0)


@cache
def _run(seed: int, chunk_s: float = 1.0, emg_uv: float = 150.0
         ) -> tuple[NightResult, tuple[EpisodeEvent, ...]]:
    """EMG-only replay of the walking night: its result and every live event, in order."""
    events: list[EpisodeEvent] = []
    result = run_source(_source(seed, emg_uv), config=NO_WINDOW, chunk_s=chunk_s,
                        on_event=events.append)
    return result, tuple(events)


def _source(seed: int, emg_uv: float = 150.0) -> ArrayRecording:
    """The walking night's calf EMG alone, as an in-memory recording."""
    scenario = _walk_night(seed, emg_uv=emg_uv)
    night = synthesize(scenario, rng=np.random.default_rng(1))
    spec = ChannelSpec(role="emg", fs=scenario.fs_emg, unit="uV",
                       rails=(-scenario.emg_rails_uv, scenario.emg_rails_uv))
    info = make_info(path="walk", start_utc=scenario.start_utc, duration_s=scenario.duration_s,
                     channels={"emg": spec}, leg=scenario.leg)
    return ArrayRecording(info=info, data={"emg": night.emg_uv})


@pytest.mark.parametrize(("seed", "emg_uv"), [(30, 150.0), (33, 80.0), (36, 250.0)])
def test_getting_up_and_walking_is_announced_then_withdrawn_and_the_cramp_kept(
        seed: int, emg_uv: float) -> None:
    result, events = _run(seed, emg_uv=emg_uv)
    # positive control: the cramp in bed is found, announced 10 s after its onset
    assert [abs(e.onset_s - CRAMP_ONSET_S) < 2.0 for e in result.episodes] == [True]
    started = [e for e in events if isinstance(e, EpisodeStarted)]
    assert started[0].confirmed_s - started[0].onset_s == pytest.approx(10.0)
    # the walk was announced at its 10-s criterion, then withdrawn after the later look
    withdrawn = [e for e in events if isinstance(e, EpisodeWithdrawn)]
    assert len(withdrawn) == 1
    w = withdrawn[0]
    assert UP_S - 5.0 < w.onset_s < UP_S + 15.0
    assert [s.onset_s for s in started] == [started[0].onset_s, w.onset_s]
    assert w.withdrawn_s - w.onset_s == pytest.approx(NO_WINDOW.evidence.review_to_s)
    assert "walking" in w.reason
    # never ended, never in the replay output
    ended = [e.episode.onset_s for e in events if isinstance(e, EpisodeEnded)]
    assert ended == [e.onset_s for e in result.episodes]
    assert all(abs(e.onset_s - w.onset_s) > 1.0 for e in result.episodes)


def test_withdrawal_is_the_same_whatever_the_chunking() -> None:
    reference = _run(30, 1.0)
    assert any(isinstance(e, EpisodeWithdrawn) for e in reference[1])
    for chunk_s in (0.37, 7.0, 61.0):
        result, events = _run(30, chunk_s)
        assert events == reference[1]
        assert result.episodes == reference[0].episodes


class _Session:
    def __init__(self, result: NightResult) -> None:
        self.result = result

    def partial_result(self) -> NightResult:
        return self.result


def test_withdrawn_episode_never_reaches_the_live_store(tmp_path: Path) -> None:
    result, events = _run(30)
    db = tmp_path / "store.sqlite3"
    live = LiveStore(_Session(result), db_path=db, timezone="UTC")  # type: ignore[arg-type]
    for event in events:
        live.on_episode(event, start_utc=result.info.start_utc)
    assert live.saved == 1  # the cramp's end, and only it
    conn = connect(db, create=False)
    try:
        stored = load_night(conn, 1, with_trace=False).episodes
    finally:
        conn.close()
    assert [abs(e.onset_s - CRAMP_ONSET_S) < 2.0 for e in stored] == [True]


def test_multi_band_counter_forgets_a_withdrawn_leg() -> None:
    night = MultiBandNight.__new__(MultiBandNight)
    night.legs_in_cramp, night.episodes_ended = set(), 0
    night._count("left", EpisodeStarted(onset_s=10.0, confirmed_s=20.0))
    night._count("right", EpisodeStarted(onset_s=11.0, confirmed_s=21.0))
    night._count("left", EpisodeWithdrawn(onset_s=10.0, withdrawn_s=35.0, reason="walking"))
    assert night.legs_in_cramp == {"right"}  # control: the other leg's cramp goes on
    assert night.episodes_ended == 0


def test_later_look_withdraws_a_stride_rhythm_and_keeps_irregular_waxing() -> None:
    eps = 10
    review = RunReview(config=DetectorConfig(), eps=eps)
    t = np.arange(10 * eps) / eps
    rng = np.random.default_rng(7)
    # walking: one calf burst per stride at 0.85 Hz (cadence 1.7 steps/s), a little jitter
    strides = 20.0 + 120.0 * np.maximum(0.0, np.sin(2 * np.pi * 0.85 * t)) ** 2
    strides *= np.exp(0.1 * rng.standard_normal(t.size))
    # a cramp: log-normal waxing and waning, 0.3-s correlation, no period
    noise = np.convolve(rng.standard_normal(t.size + 2), np.ones(3) / np.sqrt(3), "valid")
    waxing = 60.0 * np.exp(0.4 * noise)
    assert review.withdraw(strides) is not None
    assert review.withdraw(waxing) is None


def test_live_display_says_a_withdrawn_run_is_not_a_cramp_and_keeps_the_first_aid() -> None:
    out = io.StringIO()
    display = LiveDisplay({}, out=out, tz=UTC, live_line=False)
    start = _walk_night(30).start_utc
    display.on_episode(EpisodeStarted(onset_s=698.0, confirmed_s=708.0), start_utc=start)
    display.on_episode(EpisodeWithdrawn(onset_s=698.0, withdrawn_s=723.0,
                                        reason="rhythmic activity (walking)"),
                       start_utc=start)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and FIRST_AID in lines[0]  # control: the onset was announced
    assert "not a cramp after all" in lines[1] and "walking" in lines[1]
    assert "cramp over" not in out.getvalue()


def test_night_recorder_is_out_of_cramp_after_a_withdrawal() -> None:
    source = _source(30)
    info = source.info
    seen: list[tuple[str, bool]] = []
    rec = NightRecorder(info.channels, config=NO_WINDOW, start_utc=info.start_utc,
                        leg=info.leg, batch_s=0.0,
                        on_episode=lambda ev, **_: seen.append((type(ev).__name__, rec.in_cramp)))
    for role, block in source.blocks(1.0):
        rec.push(role, block)
    rec.finish(end_s=info.duration_s)
    assert seen == [("EpisodeStarted", True), ("EpisodeEnded", False),  # control: the cramp
                    ("EpisodeStarted", True), ("EpisodeWithdrawn", False)]
    assert rec.episodes == 1


STAND_S = 24.0  # standing still after the rise, longer than the first look reaches


@cache
def _late_walk_run(seed: int) -> tuple[NightResult, tuple[EpisodeEvent, ...]]:
    """Up at 700 s, standing still 24 s, then walking: the first look (15-25 s) sees standing."""
    events = [NightEvent(kind="walk", onset_s=UP_S + STAND_S, duration_s=60.0, emg_uv=150.0,
                         acc_g=0.3, freq_hz=1.7, seed=seed),
              _cramp(CRAMP_ONSET_S, 40.0, emg_uv=60.0)]
    scenario = _night(events, duration_s=900.0, in_bed=(0.0, UP_S), standing_tonic_uv=20.0)
    night = synthesize(scenario, rng=np.random.default_rng(1))
    spec = ChannelSpec(role="emg", fs=scenario.fs_emg, unit="uV",
                       rails=(-scenario.emg_rails_uv, scenario.emg_rails_uv))
    info = make_info(path="late-walk", start_utc=scenario.start_utc,
                     duration_s=scenario.duration_s, channels={"emg": spec}, leg=scenario.leg)
    out: list[EpisodeEvent] = []
    result = run_source(ArrayRecording(info=info, data={"emg": night.emg_uv}),
                        config=NO_WINDOW, on_event=out.append)
    return result, tuple(out)


@pytest.mark.parametrize("seed", [30, 33])
def test_standing_before_walking_off_is_withdrawn_at_a_later_look(seed: int) -> None:
    result, events = _late_walk_run(seed)
    # positive control: the cramp in bed is found, announced 10 s after its onset
    assert [abs(e.onset_s - CRAMP_ONSET_S) < 2.0 for e in result.episodes] == [True]
    started = [e for e in events if isinstance(e, EpisodeStarted)]
    assert started[0].confirmed_s - started[0].onset_s == pytest.approx(10.0)
    # getting up was announced; the walk, seen only by a later look, withdraws it
    withdrawn = [e for e in events if isinstance(e, EpisodeWithdrawn)]
    assert len(withdrawn) == 1 and UP_S - 5.0 < withdrawn[0].onset_s < UP_S + 15.0
    assert withdrawn[0].withdrawn_s - withdrawn[0].onset_s > NO_WINDOW.evidence.review_to_s
    assert len(started) == 2
