"""EMG + accelerometers on a noisy front end (issue 9, the ``lofi`` family): the EMG's rest
veto holds only where the channel could see a contraction.

On a 200-Hz int8-like band with 18 uV RMS of noise at rest, a weak cramp (20 uV nominal, half
of it in the 20-90 Hz band) adds its power to the noise and reads about 1.1 x the resting
level: under the veto's 1.5 x, so the accelerometers' clear evidence (calf tremor, foot held
pointed) was vetoed as "muscle seen at rest" and the cramp lost although the accelerometers
were there. The same cramp on a clean channel (1.5 uV of noise) reads several times its rest
and is found either way. A PLM series and a bathroom trip on the noisy night stay no episode.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np

from detector.config import DetectorConfig
from detector.evaluation import score_events
from detector.pipeline.evidence import EmgAccRule, Levels, emg_at_rest
from detector.pipeline.result import NightResult
from detector.replay import ArrayRecording, make_info, run_source
from detector.signals import ChannelSpec
from firmware_sim.night import NightEvent, NightScenario, synthesize
from firmware_sim.night_event_draws import plm_series, shifted
from tests.test_detection_classes import NO_WINDOW, _bathroom_trip, _cramp, _detect, _night
from tests.test_detection_fusion import CRAMP_ACC, TREMOR_REST_G, _features

NOISY = {"rest_emg_uv_rms": 18.0, "emg_step_uv": 15.0, "emg_rails_uv": 1500.0}
"""An int8-like front end with a noisy floor: 15-uV steps, 18 uV RMS at rest, 1.5-mV rails."""
CRAMPS_S = ((315.0, 16.0), (455.0, 18.0))  # (onset, length): weak cramps inside the series
PLM_FROM_S = 280.0


def _plm() -> list[NightEvent]:
    """A PLM series from ``PLM_FROM_S`` with gaps wide enough for the cramps."""
    series = plm_series(np.random.default_rng(7), 1, 10.0)[:12]
    out, t = [], PLM_FROM_S
    for ev in series:
        out.append(shifted(ev, t - ev.onset_s))
        t += 35.0 if len(out) % 4 else 60.0
    return [e for e in out if not any(a - 3 < e.onset_s < a + d + 3 for a, d in CRAMPS_S)]


def _scenario(with_cramps: bool, noisy: bool) -> NightScenario:
    events = [*_bathroom_trip(60.0), *_plm()]  # out of bed 60-242 s, then a PLM series
    if with_cramps:
        events += [_cramp(a, d, emg_uv=20.0, acc_g=0.03, seed=40 + i)
                   for i, (a, d) in enumerate(CRAMPS_S)]
    scenario = _night(events, duration_s=900.0, in_bed=(250.0, 900.0),
                      **(NOISY if noisy else {}), contraction_scale=1.0)
    return dataclasses.replace(scenario, fs_emg=200.0)


@cache
def _noisy_night(with_cramps: bool, noisy: bool = True) -> NightResult:
    return _detect(_scenario(with_cramps, noisy), "emg+acc", seed=2)


def _found(result: NightResult) -> tuple[int, int]:
    """(cramps found, false episodes) against ``CRAMPS_S``, scored as the benchmarks do."""
    s = score_events(result.episodes, list(CRAMPS_S))
    return s.tp, s.fp


def test_weak_cramps_on_a_noisy_floor_are_found_with_the_accelerometers() -> None:
    assert _found(_noisy_night(True)) == (len(CRAMPS_S), 0)


def test_the_same_cramps_on_a_clean_floor_are_found() -> None:
    # positive control: on a clean channel the EMG sees them, the veto never has a say
    assert _found(_noisy_night(True, noisy=False)) == (len(CRAMPS_S), 0)


def test_plm_series_and_standing_on_the_noisy_night_are_no_episode() -> None:
    assert _noisy_night(False).episodes == ()
    # control: the same night with the cramps logs them (the detector is not simply deaf)
    assert _found(_noisy_night(True)) == (len(CRAMPS_S), 0)


def test_rest_veto_needs_a_channel_that_resolves_a_contraction() -> None:
    cfg = DetectorConfig()
    n = 20
    f = _features(n=n, emg_uv=1.1 * 18.0, **CRAMP_ACC)
    noisy = Levels(emg_rest_uv=np.full(n, 18.0), tremor_rest_g=np.full(n, TREMOR_REST_G))
    clean = Levels(emg_rest_uv=np.full(n, 1.1), tremor_rest_g=np.full(n, TREMOR_REST_G))
    rise_uv = cfg.evidence.emg_rest_veto_rise_uv
    ratio = cfg.evidence.emg_rest_veto_ratio
    # 18 uV of noise hides an 8-uV contraction under 1.5 x rest: no veto, tremor decides
    assert not emg_at_rest(f, noisy, ratio=ratio, rise_uv=rise_uv).any()
    assert EmgAccRule(cfg).active(f, noisy).all()
    # control: at the same ratio on a clean channel the EMG is seen at rest and vetoes
    g = _features(n=n, emg_uv=1.1 * 1.1, **CRAMP_ACC)
    assert emg_at_rest(g, clean, ratio=ratio, rise_uv=rise_uv).all()
    assert not EmgAccRule(cfg).active(g, clean).any()


def test_noisy_night_result_is_the_same_whatever_the_chunking() -> None:
    reference = _noisy_night(True)
    assert _found(reference) == (len(CRAMPS_S), 0)  # control: something to compare
    sc = _scenario(True, noisy=True)
    night = synthesize(sc, rng=np.random.default_rng(2))
    specs = {"emg": ChannelSpec(role="emg", fs=sc.fs_emg, unit="uV",
                                rails=(-sc.emg_rails_uv, sc.emg_rails_uv)),
             "shank_acc": ChannelSpec(role="shank_acc", fs=sc.fs_acc, unit="g"),
             "foot_acc": ChannelSpec(role="foot_acc", fs=sc.fs_acc, unit="g")}
    data = {"emg": night.emg_uv, "shank_acc": night.shank_acc_g, "foot_acc": night.foot_acc_g}
    info = make_info(path="class", start_utc=sc.start_utc, duration_s=sc.duration_s,
                     channels=specs, leg=sc.leg)
    for chunk_s in (0.37, 61.0):
        result = run_source(ArrayRecording(info=info, data=data), config=NO_WINDOW,
                            chunk_s=chunk_s)
        assert result.episodes == reference.episodes
