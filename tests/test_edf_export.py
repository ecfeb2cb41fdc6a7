"""Tests of the EDF+ exporter (detector.io.edf_export), read back with pyedflib."""

from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.errors import CrampInputError
from detector.io.edf_export import write_edf

START = datetime(2024, 3, 1, 22, 30, 5, tzinfo=UTC)
LABELS = ["EMG Calf", "Acc Shank X", "Acc Shank Y", "Acc Shank Z", "Acc Foot X", "Acc Foot Y",
          "Acc Foot Z"]


def step(reader: pyedflib.EdfReader, i: int) -> float:
    """Physical value of one digital step of signal ``i``."""
    return (reader.getPhysicalMaximum(i) - reader.getPhysicalMinimum(i)) / (
        reader.getDigitalMaximum(i) - reader.getDigitalMinimum(i))


def signals(rng: np.random.Generator, seconds: float, fs_emg: float = 1000.0,
            fs_acc: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    emg = rng.normal(0.0, 40.0, round(seconds * fs_emg))
    shank = rng.normal(0.0, 0.2, (round(seconds * fs_acc), 3)) + np.array([0.0, 0.0, 1.0])
    foot = rng.normal(0.0, 0.2, (round(seconds * fs_acc), 3)) + np.array([1.0, 0.0, 0.0])
    return emg, shank, foot


def test_round_trip_signals_labels_annotations_and_mode(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    emg, shank, foot = signals(rng, 130.0)  # > 1 write batch of 60 records
    emg[500] = 2345.6  # sets the EMG range
    path = tmp_path / "night.edf"
    old_umask = os.umask(0)
    try:
        write_edf(path, emg_uv=emg, fs_emg=1000.0, shank_acc_g=shank, foot_acc_g=foot,
                  fs_acc=100.0, start_utc=START,
                  annotations=[(12.5, 40.0, "cramp left"), (99.25, None, "rollover")],
                  patient_code="P01", sex="F", birthdate=date(1950, 5, 17),
                  equipment="legband sim")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pyedflib.EdfReader(str(path)) as r:
        assert r.getSignalLabels() == LABELS
        assert [r.getPhysicalDimension(i) for i in range(7)] == ["uV"] + ["mg"] * 6
        np.testing.assert_array_equal(r.getSampleFrequencies(), [1000.0] + [100.0] * 6)
        assert r.datarecord_duration == 1.0
        assert r.getStartdatetime() == START.replace(tzinfo=None)
        assert r.getPatientCode() == "P01"
        assert r.getEquipment() == "legband sim"  # stored as legband_sim
        assert r.getPhysicalMaximum(0) >= 2345.6 and r.getPhysicalMinimum(0) == -(
            r.getPhysicalMaximum(0))
        assert r.getPhysicalMaximum(1) == 8000.0
        got = r.readSignal(0)
        assert len(got) == len(emg)
        assert np.max(np.abs(got - emg)) <= step(r, 0) / 2 + 1e-9
        for i, (arr, axis) in enumerate([(shank, a) for a in range(3)]
                                        + [(foot, a) for a in range(3)], start=1):
            back = r.readSignal(i)
            assert np.max(np.abs(back - 1000.0 * arr[:, axis])) <= step(r, i) / 2 + 1e-9
        onsets, durations, texts = r.readAnnotations()
    np.testing.assert_allclose(onsets, [12.5, 99.25])
    np.testing.assert_allclose(durations, [40.0, -1.0])
    assert list(texts) == ["cramp left", "rollover"]


def test_refuses_to_overwrite_and_overwrite_makes_it_private(tmp_path: Path) -> None:
    path = tmp_path / "taken.edf"
    path.write_bytes(b"precious")
    path.chmod(0o644)
    emg = np.zeros(1000)
    with pytest.raises(CrampInputError, match="exists"):
        write_edf(path, emg_uv=emg, fs_emg=1000.0, start_utc=START)
    assert path.read_bytes() == b"precious"
    write_edf(path, emg_uv=emg, fs_emg=1000.0, start_utc=START, overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pyedflib.EdfReader(str(path)) as r:
        assert r.getSignalLabels() == ["EMG Calf"]


def test_saturation_small_range_and_padding(tmp_path: Path) -> None:
    path = tmp_path / "pad.edf"
    emg = np.full(2500, 3.0)  # 2.5 s: the last record is padded with 0 uV
    acc = np.tile([0.5, -12.0, 9.0], (250, 1))  # beyond +-8 g: saturated
    write_edf(path, emg_uv=emg, fs_emg=1000.0, shank_acc_g=acc, fs_acc=100.0,
              start_utc=START)
    with pyedflib.EdfReader(str(path)) as r:
        assert r.getSignalLabels() == LABELS[:4]
        assert r.getPhysicalMaximum(0) == 1000.0  # at least +-1000 uV
        e = r.readSignal(0)
        assert len(e) == 3000
        np.testing.assert_allclose(e[:2500], 3.0, atol=step(r, 0))
        np.testing.assert_allclose(e[2500:], 0.0, atol=step(r, 0))
        np.testing.assert_allclose(r.readSignal(2), -8000.0)
        np.testing.assert_allclose(r.readSignal(3), 8000.0, atol=step(r, 3))
        x = r.readSignal(1)
        assert len(x) == 300
        np.testing.assert_allclose(x, 500.0, atol=step(r, 1))  # padding holds the last value


def test_accelerometers_only_with_a_fractional_rate(tmp_path: Path) -> None:
    path = tmp_path / "acc.edf"
    acc = np.random.default_rng(1).normal(0, 0.5, (625, 3))  # 10 s at 62.5 Hz
    write_edf(path, foot_acc_g=acc, fs_acc=62.5, start_utc=START)
    with pyedflib.EdfReader(str(path)) as r:
        assert r.getSignalLabels() == LABELS[4:]
        assert r.getSampleFrequency(0) == pytest.approx(62.5)
        assert r.datarecord_duration == 2.0
        np.testing.assert_allclose(r.readSignal(0), 1000 * acc[:, 0], atol=step(r, 0))


def test_many_annotations_and_utc_conversion(tmp_path: Path) -> None:
    path = tmp_path / "ann.edf"
    local = START.astimezone(timezone(timedelta(hours=2)))
    notes = [(0.1 * i, 0.05, f"twitch {i}") for i in range(25)] + [(3.0, 1.0, "é" * 30)]
    write_edf(path, emg_uv=np.zeros(5000), fs_emg=500.0, start_utc=local, annotations=notes)
    with pyedflib.EdfReader(str(path)) as r:
        assert r.getStartdatetime() == START.replace(tzinfo=None)
        onsets, _, texts = r.readAnnotations()
    assert len(onsets) == 26
    assert {f"twitch {i}" for i in range(25)} <= set(texts)
    assert "é" * 20 in set(texts)  # cut to 40 bytes of UTF-8


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "no signal"),
        ({"emg_uv": np.zeros(10)}, "fs_emg"),
        ({"emg_uv": np.zeros((10, 2)), "fs_emg": 100.0}, "emg_uv"),
        ({"emg_uv": np.array([0.0, np.nan]), "fs_emg": 100.0}, "NaN"),
        ({"shank_acc_g": np.zeros((10, 2)), "fs_acc": 10.0}, "shank_acc_g"),
        ({"shank_acc_g": np.zeros((10, 3)), "foot_acc_g": np.zeros((9, 3)), "fs_acc": 10.0,
          "fs_foot_acc": -5.0}, "fs_foot_acc"),
        ({"emg_uv": np.zeros(10), "fs_emg": 10.0, "patient_name": "x" * 70}, "patient"),
        ({"emg_uv": np.zeros(10), "fs_emg": 10.0, "emg_label": "a label far too long"},
         "emg_label"),
        ({"emg_uv": np.zeros(10), "fs_emg": 10.0, "annotations": [(-1.0, 1.0, "x")]},
         "annotations"),
        ({"emg_uv": np.zeros(10), "fs_emg": 10.0, "annotations": [(1.0,)]}, "annotations"),
    ],
)
def test_bad_input_raises_one_line_error_and_leaves_no_file(tmp_path: Path, kwargs: dict,
                                                             match: str) -> None:
    path = tmp_path / "bad.edf"
    with pytest.raises(CrampInputError, match=match) as info:
        write_edf(path, start_utc=START, **kwargs)
    assert "\n" not in str(info.value)
    assert not path.exists()


def test_naive_start_and_out_of_range_year_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CrampInputError, match="start_utc"):
        write_edf(tmp_path / "a.edf", emg_uv=np.zeros(10), fs_emg=10.0,
                  start_utc=datetime(2024, 1, 1))
    with pytest.raises(CrampInputError, match="1985"):
        write_edf(tmp_path / "b.edf", emg_uv=np.zeros(10), fs_emg=10.0,
                  start_utc=datetime(1970, 1, 1, tzinfo=UTC))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seconds=st.floats(0.01, 4.0), scale=st.floats(0.0, 2e4),
       fs_emg=st.sampled_from([200.0, 500.0, 1000.0, 2000.0]), seed=st.integers(0, 2**32 - 1))
def test_property_emg_round_trip_within_half_a_step(tmp_path: Path, seconds: float,
                                                    scale: float, fs_emg: float,
                                                    seed: int) -> None:
    emg = np.random.default_rng(seed).standard_normal(max(1, round(seconds * fs_emg))) * scale
    path = tmp_path / f"p{seed}.edf"
    write_edf(path, emg_uv=emg, fs_emg=fs_emg, start_utc=START, overwrite=True)
    with pyedflib.EdfReader(str(path)) as r:
        back = r.readSignal(0)[: len(emg)]
        assert r.getPhysicalMaximum(0) >= max(1000.0, float(np.max(np.abs(emg))))
        assert np.max(np.abs(back - emg)) <= step(r, 0) / 2 + 1e-9
