"""Live consumers hear of a cramp within 2 s of the criterion being met, and of its end."""

from __future__ import annotations

import numpy as np
from synth import Builder

from detector.config import DetectorConfig
from detector.episode import EpisodeEnded, EpisodeStarted
from detector.pipeline.chain import NightPipeline


def test_onset_announced_within_2_s_and_end_when_it_ends() -> None:
    cfg = DetectorConfig().replace(in_bed__night_window=None)
    b = Builder(duration_s=200.0, rng=np.random.default_rng(4))
    b.cramp(50.0, 40.0)
    rec = b.recording()
    pipe = NightPipeline(rec.info.channels, config=cfg, start_utc=rec.info.start_utc)
    seen: list[tuple[float, object]] = []
    for role, block in rec.blocks(0.25):  # a BLE-like stream: a quarter second at a time
        now_s = block.end_sample / block.fs
        seen += [(now_s, ev) for ev in pipe.push(role, block)]
    seen += [(200.0, ev) for ev in pipe.flush(end_s=200.0)]
    started = [(t, e) for t, e in seen if isinstance(e, EpisodeStarted)]
    ended = [(t, e) for t, e in seen if isinstance(e, EpisodeEnded)]
    assert len(started) == 1 and len(ended) == 1
    t_start, ev = started[0]
    assert abs(ev.onset_s - 50.0) < 1.0
    assert ev.confirmed_s == ev.onset_s + cfg.episode.min_duration_s
    assert t_start - ev.confirmed_s <= 2.0
    t_end, end = ended[0]
    assert abs(end.episode.offset_s - 90.0) < 1.0
    assert t_end - end.episode.offset_s <= cfg.episode.max_dip_s + 1.0
    assert end.episode == pipe.detector.episodes[0]
