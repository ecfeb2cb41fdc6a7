"""EMG + accelerometers: the fused mode finds what the accelerometers find, unless the EMG
positively shows the muscle at rest; a flat EMG is unseen, not rest (issue 12, finding 1)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from detector.config import DetectorConfig
from detector.pipeline.emg_shape import EmgShape
from detector.pipeline.episodes import EpisodeDetector
from detector.pipeline.evidence import EmgAccRule, Levels, RunEvidence
from detector.pipeline.features import EpochFeatures
from detector.pipeline.night_window import NightWindow

CFG = DetectorConfig()
EPS = 10
REST_UV = 1.1
TREMOR_REST_G = 0.002


def _features(*, n: int, emg_uv: float, tremor_g: float, pf_deg: float, movement_g: float,
              lying: float = 1.0, flat: bool = False) -> EpochFeatures:
    """Constant features over ``n`` epochs (EMG level, calf tremor, foot angle, movement)."""
    ones = np.ones(n)
    no = np.zeros(n, dtype=bool)
    return EpochFeatures(0, envelope_uv=(0.05 if flat else emg_uv) * ones,
                         emg_valid=~no if not flat else no, emg_flat=no | flat,
                         emg_saturated=no, emg_hum=no, emg_missing=no, lying=lying * ones,
                         movement_g=movement_g * ones, tremor_g=tremor_g * ones,
                         plantar_flexion_deg=pf_deg * ones, acc_missing=no)


def _active(f: EpochFeatures) -> np.ndarray:
    n = f.n_epochs
    levels = Levels(emg_rest_uv=np.full(n, REST_UV), tremor_rest_g=np.full(n, TREMOR_REST_G))
    return EmgAccRule(CFG).active(f, levels)


CRAMP_ACC = {"tremor_g": 15 * TREMOR_REST_G, "pf_deg": 50.0, "movement_g": 0.005}


def test_weak_emg_cramp_with_tremor_and_pointed_foot_is_active() -> None:
    # EMG 1.7x rest: under the corroborated ratio (2x), over the rest veto (1.5x); the old
    # rule demanded 2x on top of the tremor and the foot angle and left this cramp out
    f = _features(n=20, emg_uv=1.7 * REST_UV, **CRAMP_ACC)
    assert _active(f).all()
    # positive control of the EMG case: a strong EMG is active as before
    assert _active(_features(n=20, emg_uv=10 * REST_UV, **CRAMP_ACC)).all()


def test_emg_at_rest_vetoes_and_flat_emg_does_not() -> None:
    at_rest = _features(n=20, emg_uv=1.05 * REST_UV, **CRAMP_ACC)
    assert not _active(at_rest).any()
    # a flat trace is a lifted electrode as much as a quiet muscle: unseen, no veto
    assert _active(_features(n=20, emg_uv=0.0, flat=True, **CRAMP_ACC)).all()


def test_moving_or_stretched_leg_is_not_active_whatever_the_tremor() -> None:
    walking = _features(n=20, emg_uv=1.7 * REST_UV, tremor_g=15 * TREMOR_REST_G,
                        pf_deg=50.0, movement_g=0.5, lying=0.0)
    stretched = _features(n=20, emg_uv=1.7 * REST_UV, tremor_g=15 * TREMOR_REST_G,
                          pf_deg=-30.0, movement_g=0.005)
    assert not _active(walking).any()
    assert not _active(stretched).any()


def _night(segments: list[EpochFeatures], *,
           config: DetectorConfig = CFG) -> list[tuple[float, float]]:
    """Episodes (onset_s, duration_s) of the fused detector over the joined segments."""
    det = EpisodeDetector(mode="emg+acc", has_foot=True, config=config,
                          start_utc=datetime(2026, 1, 1, 23, tzinfo=UTC), leg="left",
                          night_window=NightWindow(None, tz=UTC), emg_band_hz=(20.0, 90.0))
    f = EpochFeatures.concat(segments)
    det.push(f)
    det.flush()
    return [(e.onset_s, e.offset_s - e.onset_s) for e in det.episodes]


def _quiet(n: int) -> EpochFeatures:
    return _features(n=n, emg_uv=REST_UV, tremor_g=TREMOR_REST_G, pf_deg=5.0,
                     movement_g=0.005)


def test_fused_night_finds_the_weak_emg_cramp_but_not_a_rest_emg_tremor() -> None:
    cramp = _night([_quiet(1200), _features(n=400, emg_uv=1.7 * REST_UV, **CRAMP_ACC),
                    _quiet(1200)])
    assert len(cramp) == 1
    onset_s, duration_s = cramp[0]
    assert abs(onset_s - 120.0) <= 1.0 and abs(duration_s - 40.0) <= 2.0
    # negative control: the same tremor and foot angle with the EMG seen at rest throughout
    assert _night([_quiet(1200), _features(n=400, emg_uv=1.05 * REST_UV, **CRAMP_ACC),
                   _quiet(1200)]) == []


def _waxing_cramp(*, lull_tremor_g: float) -> list[EpochFeatures]:
    """Three 12-s bursts of calf tremor (4x rest) with 3-s lulls at ``lull_tremor_g``, the
    foot pointed and the EMG weak (1.7x rest) throughout."""
    burst = _features(n=120, emg_uv=1.7 * REST_UV, tremor_g=4 * TREMOR_REST_G, pf_deg=50.0,
                      movement_g=0.005)
    lull = _features(n=30, emg_uv=1.7 * REST_UV, tremor_g=lull_tremor_g, pf_deg=50.0,
                     movement_g=0.005)
    return [burst, lull, burst, lull, burst]


def test_tremor_led_cramp_is_one_episode_until_the_tremor_is_back_at_rest() -> None:
    # lulls at 2x rest: below the activity criterion (3x), above rest (tremor_onset_ratio
    # 1.5x): one cramp whose tremor waxes and wanes, as in the accelerometer mode
    held = _night([_quiet(1200), *_waxing_cramp(lull_tremor_g=2 * TREMOR_REST_G),
                   _quiet(1200)])
    assert len(held) == 1
    assert abs(held[0][0] - 120.0) <= 1.0 and held[0][1] >= 40.0
    # control: lulls with the tremor back at rest end the run: three separate bursts (the
    # foot stays held in these lulls, which bridges up to episode.held_max_dip_s: that bridge
    # is off here, tests/test_detection_acc_lull.py checks it)
    no_bridge = CFG.replace(episode__held_max_dip_s=CFG.episode.max_dip_s)
    apart = _night([_quiet(1200), *_waxing_cramp(lull_tremor_g=TREMOR_REST_G), _quiet(1200)],
                   config=no_bridge)
    assert len(apart) == 3


def _run(*, lying: float, tremor_fraction: float, duty: float) -> RunEvidence:
    """A run with the foot held pointed and a still leg (the rest as given)."""
    return RunEvidence(duty=duty, peak_uv=60.0, mean_uv=50.0, plantar_flexion_deg=25.0,
                       tremor_fraction=tremor_fraction, moving_fraction=0.0,
                       lying_fraction=lying, hum_fraction=0.0, valid_fraction=1.0,
                       shape=EmgShape(steadiness=0.8, rhythm=0.1, lull_fraction=0.0),
                       rested_before=True)


def test_upright_pointed_foot_without_tremor_is_judged_as_emg_alone() -> None:
    rule = EmgAccRule(CFG)
    flicker = CFG.evidence.emg_only_min_duty - 0.1  # fails the EMG-only judgement
    # tip-toe standing: upright, foot pointed, no tremor: only the EMG can tell, and it fails
    assert not rule.plausible(_run(lying=0.0, tremor_fraction=0.0, duty=flicker))
    # positive controls: the same run with calf tremor, or lying, or EMG-only sustained
    assert rule.plausible(_run(lying=0.0, tremor_fraction=0.8, duty=flicker))
    assert rule.plausible(_run(lying=1.0, tremor_fraction=0.0, duty=flicker))
    assert rule.plausible(_run(lying=0.0, tremor_fraction=0.0, duty=1.0))
