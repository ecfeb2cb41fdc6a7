"""Fuzz: random and mutated bytes fed to every reader; only CrampInputError may escape."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from io_helpers import BDF_PLUS, EDF_PLUS, standard_signals, write_edf

from detector.errors import CrampInputError
from detector.io import ChannelMap, open_recording, read_labels

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
CHANNEL_MAPS = [ChannelMap(), ChannelMap(emg_unit="uV", acc_unit="g", fs=250.0)]


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("valid")
    rng = np.random.default_rng(11)
    edf = write_edf(d / "v.edf", standard_signals(rng, seconds=2, emg_fs=250, acc_fs=50),
                    file_type=EDF_PLUS, annotations=((0.5, 1.0, "cramp"),))
    bdf = write_edf(d / "v.bdf", standard_signals(rng, seconds=2, emg_fs=250, acc_fs=50),
                    file_type=BDF_PLUS)
    rows = "\n".join(f"{i / 250:.3f},{rng.normal():.3f},0.01,0.02,0.98" for i in range(60))
    csv = ("time_s,emg_uv,acc_x_g,acc_y_g,acc_z_g\n" + rows + "\n").encode()
    labels = b"onset\tduration\tdescription\n1.0\t12\tcramp\n30\tn/a\tleg movement\n"
    return {".edf": edf.read_bytes(), ".bdf": bdf.read_bytes(), ".csv": csv,
            ".csv.gz": gzip.compress(csv), ".tsv": labels}


def _read_all(path: Path, channel_map: ChannelMap) -> None:
    try:
        with open_recording(path, channel_map=channel_map, min_emg_fs_hz=100.0) as rec:
            for _role, block in rec.blocks(0.37):
                assert np.isfinite(block.data).all()
    except CrampInputError as err:
        assert "\n" not in str(err)


def _labels(path: Path) -> None:
    try:
        events = read_labels(path, description_filter=None)
        assert all(e.duration_s >= 0 for e in events)
    except CrampInputError as err:
        assert "\n" not in str(err)


@FUZZ
@given(data=st.binary(max_size=3000),
       suffix=st.sampled_from([".edf", ".bdf", ".csv", ".txt.gz", ".tsv", ".dat"]),
       cm=st.sampled_from(CHANNEL_MAPS))
def test_random_bytes(tmp_path: Path, data: bytes, suffix: str, cm: ChannelMap) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    _read_all(path, cm)
    _labels(path)


@st.composite
def mutations(draw: st.DrawFn, size: int) -> list[tuple[int, int]]:
    n = draw(st.integers(min_value=1, max_value=8))
    return [(draw(st.integers(0, size - 1)), draw(st.integers(0, 255))) for _ in range(n)]


def _mutate(original: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    data = bytearray(original)
    for pos, value in edits:
        data[pos] = value
    return bytes(data[:cut]) if cut is not None else bytes(data)


@FUZZ
@given(data=st.data(), kind=st.sampled_from([".edf", ".bdf", ".csv", ".csv.gz", ".tsv"]),
       header_only=st.booleans(), cm=st.sampled_from(CHANNEL_MAPS))
def test_mutated_valid_files(
    tmp_path: Path, valid_files: dict[str, bytes], data: st.DataObject, kind: str,
    header_only: bool, cm: ChannelMap,
) -> None:
    original = valid_files[kind]
    # EDF headers are where parsers go wrong: aim half the edits at the header
    span = min(len(original), 2304) if header_only else len(original)
    edits = data.draw(mutations(span))
    cut = data.draw(st.none() | st.integers(0, len(original)))
    path = tmp_path / f"m{kind}"
    path.write_bytes(_mutate(original, edits, cut))
    if kind == ".tsv":
        _labels(path)
    else:
        _read_all(path, cm)
        if kind == ".edf":
            _labels(path)
