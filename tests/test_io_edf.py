"""EDF/EDF+/BDF reader, units and channel recognition."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from io_helpers import (
    BDF,
    BDF_PLUS,
    EDF,
    EDF_PLUS,
    START,
    Sig,
    make_discontinuous,
    quant_step,
    raw_header,
    standard_signals,
    write_edf,
)

from detector.errors import CrampInputError
from detector.io import ChannelMap, EdfRecording, open_recording, parse_axes
from detector.io.channels import detect_leg, resolve_channels
from detector.io.units import acc_scale_to_g, emg_scale_to_uv

G = 9.80665


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240301)


def _collect(rec: EdfRecording, chunk_s: float) -> dict[str, list]:
    out: dict[str, list] = {}
    for role, block in rec.blocks(chunk_s):
        out.setdefault(role, []).append(block)
    return out


# ---------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("unit", "factor"),
    [("uV", 1.0), ("µV", 1.0), ("μV", 1.0), (" UV ", 1.0), ("mV", 1000.0), ("m V", 1000.0),
     ("V", 1e6), ("nV", 0.001)],
)
def test_emg_units(unit: str, factor: float) -> None:
    assert emg_scale_to_uv(unit, signal="x") == pytest.approx(factor)


@pytest.mark.parametrize(
    ("unit", "factor"),
    [("g", 1.0), ("G", 1.0), ("mg", 0.001), ("m/s2", 1 / G), ("m/s^2", 1 / G),
     ("m/s²", 1 / G), ("M/S2", 1 / G), ("mm/s2", 0.001 / G)],
)
def test_acc_units(unit: str, factor: float) -> None:
    assert acc_scale_to_g(unit, signal="x") == pytest.approx(factor, rel=1e-12)


def test_unknown_unit_names_signal_and_unit() -> None:
    with pytest.raises(CrampInputError, match=r"night.edf: signal 'EMG'.*'furlong'"):
        emg_scale_to_uv("furlong", signal="night.edf: signal 'EMG'")
    with pytest.raises(CrampInputError, match="'uV'"):
        acc_scale_to_g("uV", signal="acc")


# ---------------------------------------------------------------- channel map


def test_parse_axes() -> None:
    assert parse_axes(" X, Y ,-Z", option="--shank-acc") == ("X", "Y", "-Z")
    for bad in ("X,Y", "X,Y,Z,W", "X,,Z", "X,-,Z"):
        with pytest.raises(CrampInputError, match="--shank-acc"):
            parse_axes(bad, option="--shank-acc")


def test_channel_map_validates() -> None:
    with pytest.raises(CrampInputError, match="--shank-acc"):
        ChannelMap(shank_acc=("a", "b"))  # type: ignore[arg-type]
    with pytest.raises(CrampInputError, match="--fs"):
        ChannelMap(fs=-1.0)
    with pytest.raises(CrampInputError, match="--start"):
        ChannelMap(start_utc=datetime(2024, 1, 1))
    cm = ChannelMap(start_utc=datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1))))
    assert cm.start_utc == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("labels", "emg", "shank", "foot", "leg"),
    [
        (["EMG Gastroc L", "EMG Chin", "Acc Shank X", "Acc Shank Y", "Acc Shank Z"],
         "EMG Gastroc L", ("Acc Shank X", "Acc Shank Y", "Acc Shank Z"), None, "left"),
        (["C3-A2", "Chin EMG", "LAT", "ECG"], "LAT", None, None, "left"),
        (["EEG", "EMG", "ACC_X", "ACC_Y", "ACC_Z"], "EMG", ("ACC_X", "ACC_Y", "ACC_Z"),
         None, "unknown"),
        (["emg_uv", "shank_acc_x_mg", "shank_acc_y_mg", "shank_acc_z_mg",
          "foot_acc_x_mg", "foot_acc_y_mg", "foot_acc_z_mg"], "emg_uv",
         ("shank_acc_x_mg", "shank_acc_y_mg", "shank_acc_z_mg"),
         ("foot_acc_x_mg", "foot_acc_y_mg", "foot_acc_z_mg"), "unknown"),
        (["EMG calf right", "AccX", "AccY", "AccZ"], "EMG calf right",
         ("AccX", "AccY", "AccZ"), None, "right"),
        (["Leg R", "EMG1"], "Leg R", None, None, "right"),
    ],
)
def test_auto_detection(labels, emg, shank, foot, leg) -> None:
    res = resolve_channels(labels, ChannelMap(), where="f.edf")
    assert (res.emg.label if res.emg else None) == emg
    assert (tuple(r.label for r in res.shank_acc) if res.shank_acc else None) == shank
    assert (tuple(r.label for r in res.foot_acc) if res.foot_acc else None) == foot
    assert res.leg == leg


def test_detection_errors() -> None:
    with pytest.raises(CrampInputError, match=r"^night.edf: no signal labelled 'EMG Calf'; "
                       r"signals are: a, b, c$"):
        resolve_channels(["a", "b", "c"], ChannelMap(emg="EMG Calf"), where="night.edf")
    with pytest.raises(CrampInputError, match="--emg LABEL and/or --shank-acc"):
        resolve_channels(["EEG", "ECG"], ChannelMap(), where="night.edf")
    with pytest.raises(CrampInputError, match="several signals could be the calf EMG"):
        resolve_channels(["EMG Calf L", "EMG Calf R"], ChannelMap(), where="night.edf")


def test_named_labels_and_sign_flip() -> None:
    labels = ["EMG Calf L", "EMG Calf R", "ax", "ay", "az"]
    cm = ChannelMap(emg="emg calf r", shank_acc=("ax", "-ay", "az"))
    res = resolve_channels(labels, cm, where="f.edf")
    assert res.emg is not None and res.emg.index == 1
    assert res.shank_acc is not None
    assert [r.sign for r in res.shank_acc] == [1.0, -1.0, 1.0]
    assert res.leg == "right"


def test_leg_cues_conflict() -> None:
    assert detect_leg(["EMG L", "Acc R X"]) == "unknown"
    assert detect_leg(["EMG LG"], emg_label="EMG LG") == "unknown"


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize(("file_type", "fmt"), [(EDF_PLUS, "edf+"), (EDF, "edf"),
                                                (BDF, "bdf"), (BDF_PLUS, "bdf+")])
def test_round_trip_canonical_units(tmp_path: Path, rng, file_type: int, fmt: str) -> None:
    sigs = standard_signals(rng)
    bdf = file_type in (BDF, BDF_PLUS)
    path = write_edf(tmp_path / "night.edf", sigs, file_type=file_type)
    with open_recording(path, channel_map=ChannelMap(), min_emg_fs_hz=200.0) as rec:
        info = rec.info
        blocks = _collect(rec, 1.0)
    assert info.file_format == fmt
    assert info.duration_s == 4.0
    assert info.start_utc == START.replace(tzinfo=UTC)
    assert any("UTC" in n for n in info.notes)
    assert rec.gaps == []
    assert info.channels["emg"].fs == 1000.0
    assert info.channels["shank_acc"].fs == 100.0
    assert info.channels["emg"].rails == (-5000.0, 5000.0)
    assert info.channels["foot_acc"].rails == (-4.0, 4.0)
    emg = np.concatenate([b.data for b in blocks["emg"]])
    assert emg.dtype == np.float64 and emg.shape == (4000,)
    tol = quant_step(sigs[0], bdf=bdf) * 1000.0 * 1.001
    np.testing.assert_allclose(emg, sigs[0].data * 1000.0, rtol=0, atol=tol)
    for role, first in (("shank_acc", 1), ("foot_acc", 4)):
        acc = np.concatenate([b.data for b in blocks[role]])
        assert acc.shape == (400, 3)
        expect = np.column_stack([s.data for s in sigs[first : first + 3]]) / 1000.0
        tol_g = quant_step(sigs[first], bdf=bdf) / 1000.0 * 1.001
        np.testing.assert_allclose(acc, expect, rtol=0, atol=tol_g)
        assert abs(acc[:, 2].mean() - 1.0) < 0.01


@pytest.mark.parametrize("chunk_s", [0.013, 0.3, 1.0, 2.5, 3.999, 60.0])
def test_chunking_is_lossless_and_ordered(tmp_path: Path, rng, chunk_s: float) -> None:
    sigs = standard_signals(rng, seconds=4, emg_fs=512, acc_fs=64)
    path = write_edf(tmp_path / "n.bdf", sigs, file_type=BDF_PLUS)
    with EdfRecording(path, channel_map=ChannelMap()) as whole_rec:
        whole = {r: np.concatenate([b.data for b in bl])
                 for r, bl in _collect(whole_rec, 100.0).items()}
        seq = list(whole_rec.blocks(chunk_s))
    latest_s = 0.0
    for _, b in seq:
        # window k of every role comes before window k+1: no block starts more than one chunk
        # (plus half a sample of rounding) before a block already yielded
        assert b.start_s >= latest_s - chunk_s - 0.5 / 64
        latest_s = max(latest_s, b.start_s)
    for role in ("emg", "shank_acc", "foot_acc"):
        parts = [b for r, b in seq if r == role]
        assert parts[0].start_sample == 0
        for a, b in itertools.pairwise(parts):
            assert b.start_sample == a.end_sample
        np.testing.assert_array_equal(np.concatenate([b.data for b in parts]), whole[role])


def test_sign_flip_unit_override_and_start(tmp_path: Path, rng) -> None:
    sigs = standard_signals(rng, foot=False)
    path = write_edf(tmp_path / "n.edf", sigs)
    start = datetime(2024, 5, 1, 21, 0, tzinfo=UTC)
    with EdfRecording(path, channel_map=ChannelMap()) as plain:
        a = {r: b.data for r, b in plain.blocks(10.0)}
    with EdfRecording(path, channel_map=ChannelMap(
        shank_acc=("Acc Shank X", "-Acc Shank Y", "Acc Shank Z"), emg_unit="uV",
        start_utc=start)) as flipped:
        b = {r: b.data for r, b in flipped.blocks(10.0)}
    np.testing.assert_array_equal(b["shank_acc"][:, 1], -a["shank_acc"][:, 1])
    np.testing.assert_array_equal(b["shank_acc"][:, 0], a["shank_acc"][:, 0])
    np.testing.assert_allclose(b["emg"], a["emg"] / 1000.0)
    assert flipped.info.start_utc == start
    assert not any("taken as UTC" in n for n in flipped.info.notes)
    assert any("header says 'mV'" in n for n in flipped.info.notes)
    assert "foot_acc" not in flipped.info.channels


def test_different_rates_per_role(tmp_path: Path, rng) -> None:
    sigs = standard_signals(rng, emg_fs=2000, acc_fs=25, foot=False)
    with EdfRecording(write_edf(tmp_path / "n.edf", sigs), channel_map=ChannelMap()) as rec:
        got = _collect(rec, 1.5)
    assert sum(b.n_samples for b in got["emg"]) == 8000
    assert sum(b.n_samples for b in got["shank_acc"]) == 100
    assert got["emg"][1].start_sample == 3000 and got["shank_acc"][1].start_sample == 38


# ---------------------------------------------------------------- bad input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CrampInputError, match=r"^gone.edf: file not found"):
        open_recording(tmp_path / "gone.edf", channel_map=ChannelMap(), min_emg_fs_hz=200)


def test_not_an_edf(tmp_path: Path) -> None:
    path = tmp_path / "notes.edf"
    path.write_text("this is not a recording\n" * 20)
    with pytest.raises(CrampInputError, match=r"^notes.edf: not an EDF or BDF file"):
        open_recording(path, channel_map=ChannelMap(), min_emg_fs_hz=200)


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "night.xyz"
    path.write_bytes(b"\x00\x01" * 10)
    with pytest.raises(CrampInputError, match=r"^night.xyz: unknown recording format"):
        open_recording(path, channel_map=ChannelMap(), min_emg_fs_hz=200)


def test_truncated(tmp_path: Path, rng) -> None:
    path = write_edf(tmp_path / "cut.edf", standard_signals(rng))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CrampInputError, match=r"^cut.edf: file is truncated"):
        EdfRecording(path, channel_map=ChannelMap())


def test_extra_bytes_are_noted(tmp_path: Path, rng) -> None:
    path = write_edf(tmp_path / "long.edf", standard_signals(rng))
    path.write_bytes(path.read_bytes() + b"\x00" * 7)
    with EdfRecording(path, channel_map=ChannelMap()) as rec:
        assert any("7 bytes" in n for n in rec.info.notes)
        assert rec.info.duration_s == 4.0


def test_damaged_header_field(tmp_path: Path, rng) -> None:
    path = write_edf(tmp_path / "bad.edf", standard_signals(rng))
    data = bytearray(path.read_bytes())
    data[236:244] = b"four    "
    path.write_bytes(bytes(data))
    with pytest.raises(CrampInputError, match=r"^bad.edf: header field number of records"):
        EdfRecording(path, channel_map=ChannelMap())


def test_label_not_found(tmp_path: Path, rng) -> None:
    path = write_edf(tmp_path / "night.edf", standard_signals(rng, foot=False))
    with pytest.raises(CrampInputError, match=r"^night.edf: no signal labelled 'Calf'; "
                       r"signals are: EMG Calf, Acc Shank X"):
        EdfRecording(path, channel_map=ChannelMap(emg="Calf"))


def test_emg_rate_too_low(tmp_path: Path, rng) -> None:
    sigs = standard_signals(rng, emg_fs=100, foot=False)
    path = write_edf(tmp_path / "slow.edf", sigs)
    with pytest.raises(CrampInputError, match=r"^slow.edf: .*100 Hz.*EMG band needs at least 200"):
        EdfRecording(path, channel_map=ChannelMap(), min_emg_fs_hz=200.0)
    with EdfRecording(path, channel_map=ChannelMap(), min_emg_fs_hz=50.0) as rec:
        assert rec.info.channels["emg"].fs == 100.0


def test_axes_with_different_rates(tmp_path: Path, rng) -> None:
    sigs = [
        Sig("EMG", "uV", 500, rng.normal(0, 5, 1000), -500.0, 500.0),
        Sig("Acc X", "g", 50, rng.normal(0, 0.1, 100), -4.0, 4.0),
        Sig("Acc Y", "g", 50, rng.normal(0, 0.1, 100), -4.0, 4.0),
        Sig("Acc Z", "g", 25, rng.normal(1, 0.1, 50), -4.0, 4.0),
    ]
    path = write_edf(tmp_path / "mixed.edf", sigs)
    with pytest.raises(CrampInputError, match=r"^mixed.edf: shank_acc axes must share one"):
        EdfRecording(path, channel_map=ChannelMap())


def test_unknown_unit_in_file(tmp_path: Path, rng) -> None:
    sigs = standard_signals(rng, foot=False)
    sigs[0] = Sig("EMG Calf", "degC", 1000, sigs[0].data, -5.0, 5.0)
    path = write_edf(tmp_path / "u.edf", sigs)
    with pytest.raises(CrampInputError, match=r"^u.edf: signal 'EMG Calf'.*'degC'.*--emg-unit"):
        EdfRecording(path, channel_map=ChannelMap())


def test_discontinuous_is_rejected(tmp_path: Path, rng) -> None:
    path = write_edf(tmp_path / "d.edf", standard_signals(rng))
    make_discontinuous(path, [0.0, 1.0, 5.0, 6.0])
    with pytest.raises(CrampInputError, match=r"^d.edf: discontinuous EDF\+D"):
        EdfRecording(path, channel_map=ChannelMap())


def test_unphysical_header_range_is_refused_at_open(tmp_path: Path, rng) -> None:
    """A physical range of +-1e308 uV (it would make inf/NaN samples) is refused at open."""
    path = write_edf(tmp_path / "inf.edf", standard_signals(rng, foot=False))
    data = bytearray(path.read_bytes())
    hdr = raw_header(bytes(data))
    ns = hdr.ns
    pmin_off = 256 + ns * (16 + 80 + 8)
    pmax_off = pmin_off + ns * 8
    data[pmin_off : pmin_off + 8] = b"-1e308  "
    data[pmax_off : pmax_off + 8] = b"1e308   "
    path.write_bytes(bytes(data))
    with pytest.raises(CrampInputError, match=r"^inf.edf: signal 'EMG Calf': emg range "
                       r"-1e\+308 to 1e\+308 uV is not physical"):
        EdfRecording(path, channel_map=ChannelMap(emg_unit="uV"))


def test_same_file_open_twice_is_a_clear_error(tmp_path: Path, rng) -> None:
    path = write_edf(tmp_path / "twice.edf", standard_signals(rng, foot=False))
    with EdfRecording(path, channel_map=ChannelMap()) as rec:
        with pytest.raises(CrampInputError, match=r"^twice.edf: .*already open"):
            EdfRecording(path, channel_map=ChannelMap())
        assert rec.info.channels["emg"].fs == 1000.0
    with EdfRecording(path, channel_map=ChannelMap()) as again:
        assert again.info.duration_s == 4.0


@pytest.mark.parametrize(("file_type", "chunk_s"), [(EDF_PLUS, 1.0), (EDF_PLUS, 0.37),
                                                    (BDF, 1.0), (BDF, 0.37)])
def test_samples_are_pyedflibs_physical_values(tmp_path: Path, rng, file_type: int,
                                               chunk_s: float) -> None:
    """Samples converted straight from the mapped records, whole records or partial ones,
    are the physical values pyedflib reads, in canonical units (uV, g, axis signs applied)."""
    import pyedflib

    path = write_edf(tmp_path / "n.edf", standard_signals(rng), file_type=file_type)
    with EdfRecording(path, channel_map=ChannelMap(shank_acc=("-Acc Shank X", "Acc Shank Y",
                                                              "Acc Shank Z"))) as rec:
        got = {role: np.concatenate([b.data for b in blocks])
               for role, blocks in _collect(rec, chunk_s).items()}
    with pyedflib.EdfReader(str(path)) as ref:
        labels = ref.getSignalLabels()
        phys = {label: ref.readSignal(i) for i, label in enumerate(labels)}
    np.testing.assert_allclose(got["emg"], phys["EMG Calf"] * 1000.0, rtol=0, atol=1e-9)  # uV
    expect = np.column_stack([-phys["Acc Shank X"], phys["Acc Shank Y"], phys["Acc Shank Z"]])
    np.testing.assert_allclose(got["shank_acc"], expect / 1000.0, rtol=0, atol=1e-12)  # g
    assert got["emg"].dtype == got["shank_acc"].dtype == np.float64
    assert got["shank_acc"].shape == (400, 3)
