"""Header values and time columns at the edge: physical bounds, or one clear error.

EDF/BDF headers and CSV time columns state rates, durations and ranges; these property tests
edit them into anything (huge, tiny, non-finite, garbage) and require either a one-line
:class:`CrampInputError` or a recording whose rates, span and values are physical, with every
sample finite. Warnings are errors in this suite, so an overflow warning fails too.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from io_helpers import standard_signals, write_edf

from detector.errors import CrampInputError
from detector.io import ChannelMap, open_recording
from detector.io.csv_reader import CsvRecording
from detector.limits import MAX_ACC_G, MAX_EMG_UV, MAX_FS_HZ, MAX_RECORDING_S, MIN_FS_HZ

FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
_SIG = (("label", 16), ("transducer", 80), ("dimension", 8), ("phys_min", 8), ("phys_max", 8),
        ("dig_min", 8), ("dig_max", 8), ("prefilter", 80), ("spr", 8), ("reserved", 32))
_FIXED = {"n_records": (236, 8), "duration": (244, 8), "startdate": (168, 8),
          "starttime": (176, 8)}


@pytest.fixture(scope="module")
def edf_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    d = tmp_path_factory.mktemp("edf")
    path = write_edf(d / "v.edf", standard_signals(np.random.default_rng(5), seconds=2,
                                                    emg_fs=250, acc_fs=50, foot=False))
    return path.read_bytes()


def _patch(data: bytes, field: str, signal: int, text: str) -> bytes:
    out = bytearray(data)
    value = text.encode("latin-1", "replace")
    if field in _FIXED:
        off, width = _FIXED[field]
    else:
        ns = int(data[252:256])
        off = 256
        for name, w in _SIG:
            if name == field:
                off, width = off + signal * w, w
                break
            off += ns * w
    out[off:off + width] = value.ljust(width)[:width]
    return bytes(out)


NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(lambda v: f"{v:.3g}"),
    st.integers(min_value=-(10**9), max_value=10**9).map(str),
    st.sampled_from(["1e308", "-1e308", "1e-300", "nan", "inf", "", "x", "0", "-0", "1e30"]),
)


def _assert_physical(rec: object) -> None:
    info = rec.info  # type: ignore[attr-defined]
    assert 0 < info.duration_s <= MAX_RECORDING_S
    for role, spec in info.channels.items():
        assert MIN_FS_HZ <= spec.fs <= MAX_FS_HZ
        limit = MAX_EMG_UV if role == "emg" else MAX_ACC_G
        if spec.rails is not None:
            assert all(math.isfinite(r) and abs(r) <= limit for r in spec.rails)
    for _role, block in rec.blocks(1.0):  # type: ignore[attr-defined]
        assert np.isfinite(block.data).all()


@FUZZ
@given(field=st.sampled_from(["phys_min", "phys_max", "dig_min", "dig_max", "spr", "dimension",
                              "n_records", "duration", "startdate", "starttime"]),
       signal=st.integers(min_value=0, max_value=3), text=NUMBER_TEXT)
def test_any_header_value_gives_a_clear_error_or_a_physical_recording(
        tmp_path_factory: pytest.TempPathFactory, edf_bytes: bytes, field: str, signal: int,
        text: str) -> None:
    path = tmp_path_factory.mktemp("h") / "h.edf"
    path.write_bytes(_patch(edf_bytes, field, signal, text))
    try:
        with open_recording(path, channel_map=ChannelMap(), min_emg_fs_hz=200.0) as rec:
            _assert_physical(rec)
    except CrampInputError as exc:
        assert str(exc).startswith("h.edf") and "\n" not in str(exc)


@pytest.mark.parametrize(("field", "signal", "text", "fragment"), [
    ("phys_min", 0, "-1e308", "emg range -1e+308 to 5 mV is not physical"),
    ("phys_max", 1, "1e30", "shank_acc range"),
    ("duration", 0, "1e9", "the recording would span 2e+09 s"),
])
def test_absurd_header_values_are_named(tmp_path: Path, edf_bytes: bytes, field: str,
                                        signal: int, text: str, fragment: str) -> None:
    path = tmp_path / "h.edf"
    path.write_bytes(_patch(edf_bytes, field, signal, text))
    with pytest.raises(CrampInputError) as exc:
        open_recording(path, channel_map=ChannelMap(), min_emg_fs_hz=200.0)
    assert fragment in str(exc.value)


def test_the_unedited_header_reads_as_a_positive_control(tmp_path: Path,
                                                         edf_bytes: bytes) -> None:
    path = tmp_path / "v.edf"
    path.write_bytes(edf_bytes)
    with open_recording(path, channel_map=ChannelMap(), min_emg_fs_hz=200.0) as rec:
        _assert_physical(rec)
        assert rec.info.channels["emg"].fs == 250.0 and rec.info.duration_s == 2.0


# ------------------------------------------------------------------------------------ CSV


def _csv(path: Path, t_s: np.ndarray) -> Path:
    rows = "\n".join(f"{t!r},{v:.3f}" for t, v in zip(t_s.tolist(),
                                                      np.sin(np.arange(t_s.size)).tolist(),
                                                      strict=True))
    path.write_text("time_s,emg_uv\n" + rows + "\n")
    return path


@FUZZ
@given(n=st.integers(min_value=2, max_value=400),
       step_exp=st.floats(min_value=-13, max_value=3),
       jump_at=st.integers(min_value=1, max_value=399),
       jump_exp=st.one_of(st.none(), st.floats(min_value=-3, max_value=16)))
def test_any_time_column_gives_a_clear_error_or_a_bounded_recording(
        tmp_path_factory: pytest.TempPathFactory, n: int, step_exp: float, jump_at: int,
        jump_exp: float | None) -> None:
    steps = np.full(n - 1, 10.0 ** step_exp)
    if jump_exp is not None and jump_at < n - 1:
        steps[jump_at] = 10.0 ** jump_exp
    t = np.concatenate([[0.0], np.cumsum(steps)])
    path = _csv(tmp_path_factory.mktemp("c") / "t.csv", t)
    try:
        with CsvRecording(path, channel_map=ChannelMap(), min_emg_fs_hz=1.0) as rec:
            _assert_physical(rec)
            # allocations follow the real recording: the timeline never exceeds the span
            assert rec.info.duration_s <= float(t[-1] - t[0]) + 2.0 / rec.info.channels[
                "emg"].fs
    except CrampInputError as exc:
        assert str(exc).startswith(("t.csv", "--fs")) and "\n" not in str(exc)


@pytest.mark.parametrize(("late_s", "fragment"), [
    (1e9, r"jumps by 1e\+09 s at row 3001"), (1e6, r"jumps by 999997 s"),
    (2e5, "jumps by 199997 s at row 3001; expected gaps of at most 86400 s"),
])
def test_a_late_row_is_refused_without_allocating(tmp_path: Path, late_s: float,
                                                  fragment: str) -> None:
    t = np.concatenate([np.arange(3000) / 1000.0, [late_s]])
    with pytest.raises(CrampInputError, match=fragment):
        CsvRecording(_csv(tmp_path / "t.csv", t), channel_map=ChannelMap())


def test_a_gap_of_ten_seconds_is_kept_as_a_gap(tmp_path: Path) -> None:
    """Positive control for the gap bound: a real gap reads with its samples missing."""
    t = np.concatenate([np.arange(3000), 13000 + np.arange(3000)]) / 1000.0
    with CsvRecording(_csv(tmp_path / "t.csv", t), channel_map=ChannelMap()) as rec:
        assert rec.info.duration_s == pytest.approx(16.0)
        assert [round(g.end_s - g.start_s, 3) for g in rec.gaps] == [10.0]


@pytest.mark.parametrize("fs", [1e9, 1e-9, 0.5])
def test_fs_outside_physical_rates_is_refused(tmp_path: Path, fs: float) -> None:
    p = tmp_path / "n.csv"
    p.write_text("emg_uv\n" + "1.0\n" * 100)
    with pytest.raises(CrampInputError, match=r"^--fs: the table is sampled at .* Hz; "
                                              r"expected 1 to 100000 Hz"):
        CsvRecording(p, channel_map=ChannelMap(fs=fs), min_emg_fs_hz=0.1)


def test_a_128_kib_header_line_is_one_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "w.csv"
    p.write_text("time_s,\"" + "b" * 131072 + "\"\n1,2\n")
    with pytest.raises(CrampInputError, match="header line is longer than 65536 characters"):
        CsvRecording(p, channel_map=ChannelMap())
