"""CSV/TSV reader: time columns, gaps, units, gzip, bad cells, real Daphnet data."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector.errors import CrampInputError
from detector.io import ChannelMap, CsvRecording, open_recording

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
G = 9.80665


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def _table(rng: np.random.Generator, n: int, fs: float) -> dict[str, np.ndarray]:
    return {
        "emg_mv": rng.normal(0.0, 0.02, n),
        "acc_x_mg": rng.normal(0.0, 20.0, n),
        "acc_y_mg": rng.normal(0.0, 20.0, n),
        "acc_z_mg": 1000.0 + rng.normal(0.0, 20.0, n),
    }


def _write(path: Path, cols: dict[str, np.ndarray], *, sep: str = ",") -> Path:
    frame = pd.DataFrame(cols)
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as fh:
            frame.to_csv(fh, sep=sep, index=False, float_format="%.17g")
    else:
        frame.to_csv(path, sep=sep, index=False, float_format="%.17g")
    return path


def _whole(rec: CsvRecording, chunk_s: float) -> dict[str, list]:
    out: dict[str, list] = {}
    for role, block in rec.blocks(chunk_s):
        out.setdefault(role, []).append(block)
    return out


def test_time_s_column_units_and_values(tmp_path: Path, rng) -> None:
    n, fs = 1000, 500.0
    cols = {"time_s": np.arange(n) / fs, **_table(rng, n, fs)}
    path = _write(tmp_path / "night.csv", cols)
    with open_recording(path, channel_map=ChannelMap(), min_emg_fs_hz=200.0) as rec:
        assert rec.info.channels["emg"].fs == 500.0
        assert rec.info.channels["shank_acc"].source_labels == ("acc_x_mg", "acc_y_mg", "acc_z_mg")
        assert rec.info.duration_s == pytest.approx(2.0)
        assert rec.gaps == []
        got = _whole(rec, 0.37)
    emg = np.concatenate([b.data for b in got["emg"]])
    np.testing.assert_allclose(emg, cols["emg_mv"] * 1000.0, rtol=1e-12)
    acc = np.concatenate([b.data for b in got["shank_acc"]])
    np.testing.assert_allclose(acc[:, 2], cols["acc_z_mg"] / 1000.0, rtol=1e-12)
    assert [b.start_sample for b in got["emg"]][:3] == [0, 185, 370]


def test_time_ms_and_bracket_units(tmp_path: Path, rng) -> None:
    n = 800
    cols = {
        "time_ms": np.arange(n) * 2.5,
        "EMG (uV)": rng.normal(0, 10, n),
        "Acc X [m/s2]": rng.normal(0, 0.2, n),
        "Acc Y [m/s2]": rng.normal(0, 0.2, n),
        "Acc Z [m/s2]": G + rng.normal(0, 0.2, n),
    }
    path = _write(tmp_path / "t.tsv", cols, sep="\t")
    with CsvRecording(path, channel_map=ChannelMap()) as rec:
        assert rec.info.channels["emg"].fs == 400.0
        assert rec.info.file_format == "tsv"
        acc = np.concatenate([b.data for r, b in rec.blocks(1.0) if r == "shank_acc"])
    np.testing.assert_allclose(acc[:, 2], cols["Acc Z [m/s2]"] / G, rtol=1e-12)


def test_generic_time_column_inferred_ms_and_override(tmp_path: Path, rng) -> None:
    n = 600
    cols = {"timestamp": 1000.0 + np.arange(n) * 4.0, **_table(rng, n, 250.0)}
    path = _write(tmp_path / "g.csv", cols)
    with CsvRecording(path, channel_map=ChannelMap()) as rec:
        assert rec.info.channels["emg"].fs == 250.0
        assert any("milliseconds" in note for note in rec.info.notes)
    with pytest.raises(CrampInputError, match="EMG band needs at least 200"):
        CsvRecording(path, channel_map=ChannelMap(), time_unit="s")


def test_unix_time_sets_start(tmp_path: Path, rng) -> None:
    t0 = datetime(2024, 3, 1, 23, 0, tzinfo=UTC).timestamp()
    cols = {"time_s": t0 + np.arange(500) / 250.0, **_table(rng, 500, 250.0)}
    with CsvRecording(_write(tmp_path / "u.csv", cols), channel_map=ChannelMap()) as rec:
        assert rec.info.start_utc == datetime(2024, 3, 1, 23, 0, tzinfo=UTC)


def test_no_time_column_needs_fs(tmp_path: Path, rng) -> None:
    path = _write(tmp_path / "nt.csv", _table(rng, 300, 300.0))
    with pytest.raises(CrampInputError, match=r"^nt.csv: no time column.*--fs"):
        CsvRecording(path, channel_map=ChannelMap())
    start = datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    with CsvRecording(path, channel_map=ChannelMap(fs=300.0, start_utc=start)) as rec:
        assert rec.info.channels["emg"].fs == 300.0
        assert rec.info.duration_s == pytest.approx(1.0)
        assert rec.info.start_utc == start


@pytest.mark.parametrize("chunk_s", [0.1, 0.33, 1.0, 10.0])
def test_gaps(tmp_path: Path, rng, chunk_s: float) -> None:
    fs = 250.0
    idx = np.r_[0:300, 400:500, 503:700]  # 100 samples missing, then 3
    cols = {"time_s": 5.0 + idx / fs, **_table(rng, idx.size, fs)}
    with CsvRecording(_write(tmp_path / "gap.csv", cols), channel_map=ChannelMap()) as rec:
        assert rec.info.channels["emg"].fs == fs
        emg_gaps = [g for g in rec.gaps if g.role == "emg"]
        assert [(g.start_s, g.end_s, g.samples_missing) for g in emg_gaps] == [
            (300 / fs, 400 / fs, 100), (500 / fs, 503 / fs, 3)]
        assert {g.role for g in rec.gaps} == {"emg", "shank_acc"}
        assert rec.info.duration_s == pytest.approx(700 / fs)
        blocks = [b for r, b in rec.blocks(chunk_s) if r == "emg"]
    positions = np.concatenate([np.arange(b.start_sample, b.end_sample) for b in blocks])
    np.testing.assert_array_equal(positions, idx)
    np.testing.assert_allclose(np.concatenate([b.data for b in blocks]),
                               cols["emg_mv"] * 1000.0, rtol=1e-12)


def test_gzip_csv(tmp_path: Path, rng) -> None:
    cols = {"t_s": np.arange(400) / 200.0, **_table(rng, 400, 200.0)}
    path = _write(tmp_path / "z.csv.gz", cols)
    with open_recording(path, channel_map=ChannelMap(), min_emg_fs_hz=200) as rec:
        emg = np.concatenate([b.data for r, b in rec.blocks(0.5) if r == "emg"])
    np.testing.assert_allclose(emg, cols["emg_mv"] * 1000.0, rtol=1e-12)


def test_missing_unit_and_override(tmp_path: Path, rng) -> None:
    n = 300
    cols = {"time_s": np.arange(n) / 300.0, "EMG": rng.normal(0, 0.02, n)}
    path = _write(tmp_path / "nu.csv", cols)
    with pytest.raises(CrampInputError, match=r"^nu.csv: column 'EMG' states no unit.*--emg-unit"):
        CsvRecording(path, channel_map=ChannelMap())
    with CsvRecording(path, channel_map=ChannelMap(emg_unit="mV")) as rec:
        emg = next(b.data for r, b in rec.blocks(10.0) if r == "emg")
    np.testing.assert_allclose(emg, cols["EMG"] * 1000.0, rtol=1e-12)


def test_acc_missing_unit_asks_for_acc_unit(tmp_path: Path, rng) -> None:
    cols = {"time_s": np.arange(10) / 50.0, "ax": np.zeros(10), "ay": np.zeros(10),
            "az": np.ones(10)}
    path = _write(tmp_path / "a.csv", cols)
    with pytest.raises(CrampInputError, match="--acc-unit"):
        CsvRecording(path, channel_map=ChannelMap(shank_acc=("ax", "ay", "az")))


def test_non_numeric_cell_names_column_and_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time_s,emg_uv\n0,1\n0.004,2\n0.008,oops\n0.012,4\n")
    with pytest.raises(CrampInputError, match=r"^bad.csv: column 'emg_uv', row 3: 'oops'"):
        CsvRecording(path, channel_map=ChannelMap())


def test_nan_and_empty_cells(tmp_path: Path) -> None:
    path = tmp_path / "nan.csv"
    path.write_text("time_s,emg_uv\n0,1\n0.004,nan\n0.008,3\n")
    with pytest.raises(CrampInputError, match=r"^nan.csv: column 'emg_uv', row 2"):
        CsvRecording(path, channel_map=ChannelMap())
    path.write_text("time_s,emg_uv\n0,1\n0.004,2\n0.008,\n")
    with pytest.raises(CrampInputError, match=r"^nan.csv: column 'emg_uv', row 3"):
        CsvRecording(path, channel_map=ChannelMap())
    path.write_text("time_s,emg_uv\n0,1\n0.004,inf\n0.008,2\n")
    with pytest.raises(CrampInputError, match=r"^nan.csv: column 'emg_uv', row 2"):
        CsvRecording(path, channel_map=ChannelMap())


def test_time_going_backwards(tmp_path: Path) -> None:
    path = tmp_path / "back.csv"
    path.write_text("time_s,emg_uv\n0,1\n0.004,2\n0.002,3\n")
    with pytest.raises(CrampInputError, match=r"^back.csv: column 'time_s' does not increase"):
        CsvRecording(path, channel_map=ChannelMap())


def test_ragged_and_empty_files(tmp_path: Path) -> None:
    path = tmp_path / "rag.csv"
    path.write_text("time_s,emg_uv\n0,1\n0.004\n0.008,3\n")
    with pytest.raises(CrampInputError, match=r"^rag.csv: column 'emg_uv', row 2"):
        CsvRecording(path, channel_map=ChannelMap())
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(CrampInputError, match=r"^empty.csv: the file is empty"):
        CsvRecording(empty, channel_map=ChannelMap())


def test_daphnet_real_file() -> None:
    path = REAL / "daphnet_fog_ankle_acc" / "S01R02.txt.gz"
    if not path.exists():
        pytest.skip("shared real data not present")
    cm = ChannelMap(shank_acc=("A1", "A0", "A2"), acc_unit="mg")
    with open_recording(path, channel_map=cm, min_emg_fs_hz=200.0) as rec:
        spec = rec.info.channels["shank_acc"]
        assert set(rec.info.channels) == {"shank_acc"}
        assert spec.fs == 64.0
        assert rec.info.duration_s / 60.0 == pytest.approx(13.6, abs=0.1)
        assert rec.gaps == []
        acc = np.concatenate([b.data for _, b in rec.blocks(60.0)])
    assert acc.shape == (52095, 3)
    magnitude = np.linalg.norm(acc, axis=1)
    assert 0.9 < float(np.median(magnitude)) < 1.2
    # raw file: first row A0=40, A1=29, A2=-960 mg; columns were given as A1, A0, A2
    np.testing.assert_allclose(acc[0], [0.029, 0.040, -0.960])
