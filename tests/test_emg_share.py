"""The absolute EMG rise scales with the share of the EMG spectrum the front end's band keeps
(issue 12, finding 2): a 200-Hz Ganglion (20-90 Hz) sees a weak cramp at fewer microvolts."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from scipy.integrate import quad

from detector.config import DetectorConfig, EmgConfig
from detector.pipeline.emg_share import rise_scale
from detector.pipeline.episodes import EpisodeDetector
from detector.pipeline.evidence import EmgAccRule, Levels, make_rule
from detector.pipeline.features import EpochFeatures
from detector.pipeline.night_window import NightWindow

CFG = DetectorConfig()
REST_UV = 1.1


def _shwedyk(f: float, fl: float, fh: float) -> float:
    return f * f * fh**4 / ((f * f + fl * fl) * (f * f + fh * fh) ** 2)


def test_rise_scale_is_the_amplitude_share_of_the_spectrum() -> None:
    e = EmgConfig()
    corners = (e.spectrum_low_hz, e.spectrum_high_hz)
    full = quad(_shwedyk, e.highpass_hz, e.lowpass_hz, args=corners)[0]
    kept = quad(_shwedyk, 20.0, 90.0, args=corners)[0]
    assert np.isclose(rise_scale((20.0, 90.0), config=e), np.sqrt(kept / full), rtol=1e-4)
    assert rise_scale((20.0, 450.0), config=e) == 1.0
    assert rise_scale(None, config=e) == 1.0
    # a narrower band keeps less; a spectrum lying higher loses more of it to the same band
    assert rise_scale((20.0, 90.0), config=e) < rise_scale((20.0, 112.5), config=e) < 1.0
    high = EmgConfig(spectrum_low_hz=80.0, spectrum_high_hz=320.0)
    assert rise_scale((20.0, 90.0), config=high) < rise_scale((20.0, 90.0), config=e)


def _features(n: int, *, emg_uv: float, movement_g: float = 0.005) -> EpochFeatures:
    """Lying, foot neutral, calf tremor at rest: only the EMG level tells a contraction."""
    ones = np.ones(n)
    no = np.zeros(n, dtype=bool)
    return EpochFeatures(0, envelope_uv=emg_uv * ones, emg_valid=~no, emg_flat=no,
                         emg_saturated=no, emg_hum=no, emg_missing=no, lying=ones,
                         movement_g=movement_g * ones, tremor_g=0.002 * ones,
                         plantar_flexion_deg=5.0 * ones, acc_missing=no)


def test_fused_rule_threshold_follows_the_band() -> None:
    n = 20
    levels = Levels(emg_rest_uv=np.full(n, REST_UV), tremor_rest_g=np.full(n, 0.002))
    weak = _features(n, emg_uv=7.0)  # 6.4x rest, 5.9 uV above it
    at_200_hz = make_rule("emg+acc", has_foot=True, config=CFG, emg_band_hz=(20.0, 90.0))
    at_1_khz = make_rule("emg+acc", has_foot=True, config=CFG, emg_band_hz=(20.0, 450.0))
    assert at_200_hz.active(weak, levels).all()
    assert not at_1_khz.active(weak, levels).any()
    assert not EmgAccRule(CFG).active(weak, levels).any()  # the unscaled rise of before
    # negative control: the same EMG on a leg in gross movement (turning over) stays inactive
    assert not at_200_hz.active(_features(n, emg_uv=7.0, movement_g=0.5), levels).any()


def _episodes(f: EpochFeatures, band_hz: tuple[float, float]) -> list[tuple[float, float]]:
    det = EpisodeDetector(mode="emg+acc", has_foot=True, config=CFG,
                          start_utc=datetime(2026, 1, 1, 23, tzinfo=UTC), leg="left",
                          night_window=NightWindow(None, tz=UTC), emg_band_hz=band_hz)
    det.push(f)
    det.flush()
    return [(e.onset_s, e.offset_s - e.onset_s) for e in det.episodes]


def test_weak_200_hz_cramp_is_found_and_a_movement_of_the_same_level_is_not() -> None:
    quiet = _features(1200, emg_uv=REST_UV)
    cramp = EpochFeatures.concat([quiet, _features(400, emg_uv=7.0), quiet])
    found = _episodes(cramp, (20.0, 90.0))
    assert len(found) == 1
    assert abs(found[0][0] - 120.0) <= 1.0 and abs(found[0][1] - 40.0) <= 2.0
    assert _episodes(cramp, (20.0, 450.0)) == []  # 7 uV over the full band is under the rise
    moving = EpochFeatures.concat([quiet, _features(400, emg_uv=7.0, movement_g=0.5), quiet])
    assert _episodes(moving, (20.0, 90.0)) == []
