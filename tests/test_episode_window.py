"""An episode's look-back window is read from the kept history without copying all of it."""

from __future__ import annotations

import numpy as np
from synth import Builder

from detector.config import DetectorConfig
from detector.pipeline.chain import NightPipeline
from detector.pipeline.features import _ARRAY_FIELDS, EpochFeatures

CONFIG = DetectorConfig().replace(in_bed__night_window=None)


def _detector_mid_cramp():  # type: ignore[no-untyped-def]
    """The episode detector 20 s into a cramp, fed in 5-s chunks (a run is open)."""
    b = Builder(duration_s=120.0, rng=np.random.default_rng(3))
    b.cramp(40.0, 25.0)
    rec = b.recording()
    info = rec.info
    pipe = NightPipeline(info.channels, config=CONFIG, start_utc=info.start_utc, leg="left")
    for role, blk in rec.blocks(5.0):
        if blk.start_sample / blk.fs >= 60.0:
            break
        pipe.push(role, blk)
    return pipe.detector


def test_window_across_kept_chunks_equals_the_history_and_owns_only_its_epochs() -> None:
    det = _detector_mid_cramp()
    hist = det.history.chunks
    assert len(hist) >= 4  # the window below spans three of the kept chunks
    whole = EpochFeatures.concat([h.features for h in hist])
    start, stop = hist[1].features.first_epoch - 7, hist[3].features.first_epoch + 5
    n = stop - start
    i0 = start - whole.first_epoch
    ref = whole.slice(i0, i0 + n)
    f, base, active = det.history.window(start, stop)
    assert f.first_epoch == start and f.n_epochs == n
    for name in (*_ARRAY_FIELDS, "incline_deg", "pull_deg"):
        np.testing.assert_array_equal(getattr(f, name), getattr(ref, name), err_msg=name)
    np.testing.assert_array_equal(base, np.concatenate([h.rest_uv for h in hist])[i0:i0 + n])
    np.testing.assert_array_equal(active, np.concatenate([h.active for h in hist])[i0:i0 + n])
    np.testing.assert_array_equal(det.history.column("tremor_rest_g", start, stop),
                                  np.concatenate([h.tremor_rest_g for h in hist])[i0:i0 + n])
    # copies of the window's own epochs, not views into a join of every kept chunk
    for arr in (f.envelope_uv, f.movement_g, base, active):
        assert arr.base is None and arr.size == n


def test_empty_window_is_empty() -> None:
    det = _detector_mid_cramp()
    k = det.history.chunks[1].features.first_epoch
    f, base, active = det.history.window(k, k)
    assert f.n_epochs == 0 and base.shape == (0,) and active.shape == (0,)
    f, base, active = det.history.window(k, k + 3)  # positive control
    assert f.n_epochs == 3 and base.shape == (3,) and active.shape == (3,)
