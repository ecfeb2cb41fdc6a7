"""Multi-band nights without radio: options, roles, manifests, time base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detector.bands.registry import band_named
from detector.capture.multi_band import (
    BandEntry,
    MultiBandRecording,
    band_offset_samples,
    read_manifest,
    write_manifest,
)
from detector.cli.record_kits import KITS
from detector.cli.record_multi import parse_band_option, session_for
from detector.errors import CrampInputError


def test_band_option_parsing() -> None:
    b = parse_band_option("shank@right=AA:BB:CC:DD:EE:FF")
    assert (b.role, b.leg, b.device) == ("shank", "right", "AA:BB:CC:DD:EE:FF")
    assert parse_band_option(" EMG = Ganglion-1234").leg == "unknown"
    for bad, match in (("shank", "ROLE=ADDRESS"), ("calf=AA", "role 'calf'"),
                       ("foot@middle=AA", "leg 'middle'"), ("foot=", "ROLE=ADDRESS")):
        with pytest.raises(CrampInputError, match=match):
            parse_band_option(bad)


def test_roles_come_from_the_registry() -> None:
    cls, kwargs = session_for(band_named("polar_pmd"), "shank")
    assert cls.__name__ == "NegotiatedPolarSession" and kwargs["role"] == "shank_acc"
    assert kwargs["wish"].fs_hz == 416
    assert session_for(band_named("movesense"), "foot")[1] == {"role": "foot_acc", "fs": 52}
    with pytest.raises(CrampInputError, match="cannot be the emg band"):
        session_for(band_named("polar_pmd"), "emg")
    with pytest.raises(CrampInputError, match="cannot be the foot band"):
        session_for(band_named("ganglion"), "foot")
    for kit in KITS.values():  # every kit is buildable from the registry
        for kb in kit:
            session_for(band_named(kb.band), kb.role)


def test_offsets_put_every_band_on_the_night_time_base() -> None:
    assert band_offset_samples(1000.5, night_start_unix_s=1000.0, fs=416) == 208
    assert band_offset_samples(1000.0, night_start_unix_s=1000.0, fs=50) == 0
    assert band_offset_samples(1002.01, night_start_unix_s=1000.0, fs=200) == 402


def test_manifest_round_trip_and_bad_manifests(tmp_path: Path) -> None:
    entries = [BandEntry(capture="a.cramp", band="ganglion", leg="left", roles=("emg",)),
               BandEntry(capture="b.cramp", band="polar_pmd", leg="right",
                         roles=("shank_acc",))]
    path = tmp_path / "n.night.json"
    write_manifest(path, night_start_unix_s=123.5, entries=entries)
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_manifest(path) == (123.5, entries)
    with pytest.raises(CrampInputError, match="both legs; choose one"):
        MultiBandRecording(path)
    with pytest.raises(CrampInputError, match=r"file not found|cannot read"):
        MultiBandRecording(path, leg="left")  # the capture is missing
    for doc, match in (({"format": "x"}, "not a night manifest"),
                       ({"format": "cramp-night/1", "bands": []}, "needs a number"),
                       ({"format": "cramp-night/1", "night_start_unix_s": 1,
                         "bands": [{"capture": "../x", "band": "g", "leg": "l",
                                    "roles": []}]}, "a file name")):
        path.write_text(json.dumps(doc))
        with pytest.raises(CrampInputError, match=match):
            read_manifest(path)
    path.write_text("{")
    with pytest.raises(CrampInputError, match="cannot read the night manifest"):
        read_manifest(path)


def test_the_status_line_counts_the_nights_cramps_not_the_bands() -> None:
    from types import SimpleNamespace

    from detector.ble.multi_band import MultiBandNight, _BandTap
    from detector.ble.session_types import SessionSnapshot
    from detector.episode import EpisodeEnded, EpisodeStarted

    seen: list[SessionSnapshot] = []
    night = MultiBandNight.__new__(MultiBandNight)  # the counting alone, no pipelines
    night.episodes_ended, night.legs_in_cramp = 0, set()
    night.observer = SimpleNamespace(on_status=seen.append)  # type: ignore[assignment]
    tap = _BandTap(night, 0)
    band_says = SessionSnapshot(state="streaming", now_s=0.0, battery_pct=None, contact=None,
                                counts={}, episodes=0, in_cramp=False, connections=1,
                                dropouts=0, mtu=None)  # a pipeline-less band: always 0
    tap.on_status(band_says)
    night._count("left", EpisodeStarted(onset_s=10.0, confirmed_s=13.0))
    night._count("right", EpisodeStarted(onset_s=11.0, confirmed_s=14.0))
    tap.on_status(band_says)
    night._count("left", EpisodeEnded(episode=None))  # type: ignore[arg-type]
    tap.on_status(band_says)
    night._count("right", EpisodeEnded(episode=None))  # type: ignore[arg-type]
    tap.on_status(band_says)
    assert [(s.episodes, s.in_cramp) for s in seen] == [(0, False), (0, True), (1, True),
                                                        (2, False)]
