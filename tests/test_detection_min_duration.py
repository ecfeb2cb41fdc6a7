"""The 10-s minimum holds at the epoch grid's resolution (``episode.min_duration_s``).

A contraction of exactly the minimum that ramps up and down (1-s linear ramps, as a held
calf contraction does) reads at rest for part of its first and last epochs, so its run is one
epoch shorter than the contraction; it must still be logged, and one clearly shorter must not.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from detector.config import DetectorConfig
from detector.replay import ArrayRecording, make_info, run_source
from detector.signals import ChannelSpec

FS = 1000.0
CONFIG = DetectorConfig().replace(in_bed__night_window=None)


def _emg_night(*, onset_s: float, duration_s: float, rise_s: float,
               rng: np.random.Generator) -> ArrayRecording:
    """60 s of a quiet calf (2 uV RMS) with one 60-uV contraction with linear ramps."""
    n = int(60 * FS)
    t = np.arange(n) / FS
    shape = np.clip(np.minimum(t - onset_s, onset_s + duration_s - t) / rise_s, 0.0, 1.0)
    emg_uv = rng.normal(0.0, 2.0, n) + 60.0 * shape * rng.normal(0.0, 1.0, n)
    info = make_info(path="ramped", start_utc=datetime(2024, 1, 1, 23, tzinfo=UTC),
                     duration_s=n / FS,
                     channels={"emg": ChannelSpec(role="emg", fs=FS, unit="uV")})
    return ArrayRecording(info=info, data={"emg": emg_uv})


@pytest.mark.parametrize("onset_s", [30.0, 30.04, 30.08])
def test_ramped_contraction_of_exactly_the_minimum_is_logged(onset_s: float) -> None:
    rec = _emg_night(onset_s=onset_s, duration_s=10.0, rise_s=1.0,
                     rng=np.random.default_rng(7))
    episodes = run_source(rec, config=CONFIG).episodes
    assert len(episodes) == 1
    ep = episodes[0]
    assert abs(ep.onset_s - onset_s) < 0.5
    assert 9.85 <= ep.duration_s <= 10.15


@pytest.mark.parametrize("onset_s", [30.0, 30.04, 30.08])
def test_contraction_clearly_under_the_minimum_is_not_logged(onset_s: float) -> None:
    rec = _emg_night(onset_s=onset_s, duration_s=9.0, rise_s=1.0,
                     rng=np.random.default_rng(7))
    assert run_source(rec, config=CONFIG).episodes == ()
    # the same contraction held 10 s is (positive control of the same night model)
    longer = _emg_night(onset_s=onset_s, duration_s=10.0, rise_s=0.3,
                        rng=np.random.default_rng(7))
    assert len(run_source(longer, config=CONFIG).episodes) == 1
