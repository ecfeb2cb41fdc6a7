"""Recordings nobody on the team made (../shared/data/real, see its README)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from detector.config import DetectorConfig
from detector.io.channels import ChannelMap
from detector.io.open import open_recording
from detector.replay import ArrayRecording, make_info, run_source
from detector.signals import ChannelSpec

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
EMG_DIR = REAL / "calf_emg_isometric_elderly"
FOG_DIR = REAL / "daphnet_fog_ankle_acc"
SUBJECTS = sorted(p.name for p in EMG_DIR.glob("ID*.npz"))
FS = 2000.0
# Lateral gastrocnemius column as the source documents it. In these files it only carries the
# amplifier's noise floor (about 1.4 uV RMS in every test), so the contraction of the plantar
# flexion test is taken from the most active column, and column 3 serves as real quiet baseline.
LG_COLUMN = 3
DEFAULT_NO_WINDOW = DetectorConfig().replace(in_bed__night_window=None)
"""Default detection settings; only the night window is off (the files carry no clock time)."""


def _embedded(npz: Path) -> tuple[np.ndarray, float]:
    """Quiet real baseline (30 s), the 10-s plantar-flexion contraction, quiet baseline (30 s)."""
    d = np.load(npz)
    quiet = [d[k][:, LG_COLUMN].astype(float) for k in ("EMG_VL", "EMG_BF", "EMG_TA")
             if k in d.files]
    quiet = [q - q.mean() for q in quiet]
    test = d["EMG_LG"].astype(float)
    test -= test.mean(axis=0)
    col = int(np.argmax(test[:, :3].std(axis=0)))
    contraction = test[:, col]
    before = np.concatenate(quiet * 3)[: int(30 * FS)]
    after = np.concatenate(quiet[::-1] * 3)[: int(30 * FS)]
    return np.concatenate([before, contraction, after]), contraction.shape[0] / FS


def _emg_recording(x: np.ndarray) -> ArrayRecording:
    spec = ChannelSpec(role="emg", fs=FS, unit="uV")
    info = make_info(path="real", start_utc=datetime(2024, 1, 1, 23, tzinfo=UTC),
                     duration_s=x.shape[0] / FS, channels={"emg": spec})
    return ArrayRecording(info=info, data={"emg": x})


@pytest.mark.skipif(not SUBJECTS, reason="shared real data not beside the repository")
@pytest.mark.parametrize("name", SUBJECTS)
def test_real_calf_contraction_in_quiet_baseline_is_one_episode_of_about_10_s(name: str) -> None:
    x, contraction_s = _embedded(EMG_DIR / name)
    result = run_source(_emg_recording(x), config=DEFAULT_NO_WINDOW)
    assert len(result.episodes) == 1, result.episodes
    ep = result.episodes[0]
    assert abs(ep.onset_s - 30.0) < 1.0
    assert abs(ep.duration_s - contraction_s) < 1.5
    assert result.mode == "emg"


@pytest.mark.skipif(not SUBJECTS, reason="shared real data not beside the repository")
@pytest.mark.parametrize("name", SUBJECTS[:5])
def test_real_noise_floor_channel_is_not_a_cramp(name: str) -> None:
    d = np.load(EMG_DIR / name)
    x = np.concatenate([d[k][:, LG_COLUMN].astype(float) for k in d.files if k.startswith("EMG")])
    assert run_source(_emg_recording(x - x.mean()), config=DEFAULT_NO_WINDOW).episodes == ()


@pytest.mark.skipif(not FOG_DIR.exists(), reason="shared real data not beside the repository")
@pytest.mark.parametrize("name", ["S01R02.txt.gz", "S03R02.txt.gz"])
def test_real_daytime_walking_gives_no_cramp_and_no_in_bed_period(name: str) -> None:
    cmap = ChannelMap(shank_acc=("A1", "A0", "A2"), acc_unit="mg")
    cfg = DetectorConfig().replace(in_bed__night_window=None, in_bed__min_rest_s=300.0)
    with open_recording(str(FOG_DIR / name), channel_map=cmap, min_emg_fs_hz=200.0,
                        time_unit="ms") as source:
        result = run_source(source, config=cfg)
    assert result.mode == "acc"
    assert result.episodes == ()
    assert result.in_bed_periods == ()
    assert result.info.duration_s > 500.0
    # the walking is seen as movement in an upright leg
    assert result.quality["accelerometer"]["movement_s"] > 60.0
    assert np.nanmean(result.trace.lying) < 0.5
