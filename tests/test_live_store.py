"""Each ended episode reaches the episode store during the night; the final save adds to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from store_helpers import EpisodeSpec, make_night

from detector.ble.live_store import LiveStore
from detector.episode import EpisodeEnded, EpisodeStarted
from detector.pipeline.result import NightResult
from detector.store import connect, load_night, night_ids_on, save_night


class _FakeSession:
    def __init__(self, result: NightResult | None) -> None:
        self.result = result

    def partial_result(self) -> NightResult | None:
        return self.result


def test_episode_stored_when_it_ends_and_final_save_updates_the_same_night(tmp_path: Path
                                                                           ) -> None:
    db = tmp_path / "store.sqlite3"
    rng = np.random.default_rng(0)
    partial = make_night(rng=rng, path=str(tmp_path / "night.cramp"),
                         episodes=(EpisodeSpec(5400.0, 95.0),))
    session: Any = _FakeSession(partial)
    live = LiveStore(session, db_path=db, timezone="UTC")
    live.on_episode(EpisodeStarted(onset_s=5400.0, confirmed_s=5410.0),
                    start_utc=partial.info.start_utc)
    assert not db.exists()  # nothing stored at onset
    live.on_episode(EpisodeEnded(episode=partial.episodes[0]), start_utc=partial.info.start_utc)
    assert live.saved == 1
    conn = connect(db, create=False)
    try:
        (night_id,) = night_ids_on(conn, load_night(conn, 1, with_trace=False).night_date)
        assert len(load_night(conn, night_id).episodes) == 1
    finally:
        conn.close()
    # morning: the closed capture's hash identifies the recording; still one night
    final = make_night(rng=rng, path=str(tmp_path / "night.cramp"))
    assert save_night(final, db_path=db, recording_sha256="ab" * 32, timezone="UTC") == night_id
    conn = connect(db, create=False)
    try:
        night = load_night(conn, night_id)
        assert len(night.episodes) == 2
        assert len(night_ids_on(conn, night.night_date)) == 1
    finally:
        conn.close()


def test_unwritable_store_does_not_stop_the_night(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "not-a-db.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    partial = make_night(rng=np.random.default_rng(1), path=str(tmp_path / "n.cramp"))
    live = LiveStore(_FakeSession(partial), db_path=bad, timezone="UTC")  # type: ignore[arg-type]
    live.on_episode(EpisodeEnded(episode=partial.episodes[0]), start_utc=partial.info.start_utc)
    assert live.saved == 0
    assert "the capture keeps it" in capsys.readouterr().err
