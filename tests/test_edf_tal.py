"""EDF+ time-keeping onsets: the bulk parser (fuzzed against a plain reference) and the EDF+C
continuity check, on arrays and on whole EDF+/BDF+ files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from io_helpers import BDF_PLUS, EDF_PLUS, set_record_onsets, standard_signals, write_edf

from detector.errors import CrampInputError
from detector.io import ChannelMap, EdfRecording, read_labels
from detector.io.edf_tal import HEAD_BYTES, TICKS_PER_S, check_continuous, onset_ticks

_ONSET = re.compile(rb"([+-])([0-9]+)(?:\.([0-9]+))?")


def _reference(row: bytes) -> int | None:
    """Onset ticks of a row by the EDF+ rules, one row at a time (None: not a valid TAL)."""
    end = row.find(b"\x14", 0, len(row) - 2)
    if end < 0 or row[end + 1] != 0x14:
        return None
    m = _ONSET.fullmatch(row[:end])
    if m is None or int(m.group(2)) > 10**10:
        return None
    decimals = (m.group(3) or b"")[:7].ljust(7, b"0")
    ticks = int(m.group(2)) * TICKS_PER_S + int(decimals)
    return -ticks if m.group(1) == b"-" else ticks


def _rows(texts: list[bytes], width: int) -> np.ndarray:
    return np.array([list(t[:width].ljust(width, b"\x00")) for t in texts], dtype=np.uint8)


_digits = st.text("0123456789", min_size=1, max_size=11)
_number = st.builds(  # well-formed, with leading zeros that make some outgrow the parsed head
    lambda zeros, whole, frac: zeros + whole + frac,
    st.sampled_from(["", "", "0", "000", "0" * (HEAD_BYTES - 4), "0" * (HEAD_BYTES + 4)]),
    _digits,
    st.just("") | _digits.map(lambda d: "." + d),
)
_near_miss = (st.sampled_from([".5", "5.", "1..2", "1.2.3", "", "1e3", " 1", "1 ", "+1", "0x1"])
              | st.text("0123456789.e+- ", max_size=6))
_onset_text = st.builds(lambda sign, body: (sign + body).encode(),
                        st.sampled_from(["+", "-", "", " "]), _number | _near_miss)
_row = st.builds(
    lambda onset, sep, tail: onset + sep + tail,
    _onset_text | st.binary(max_size=20),
    st.sampled_from([b"\x14\x14", b"\x14\x14\x00", b"\x14\x00", b"\x14\x15", b""]),
    st.binary(max_size=24),
)


@settings(max_examples=400)
@given(texts=st.lists(_row, min_size=1, max_size=12), width=st.integers(1, 80))
def test_onset_parser_matches_the_reference(texts: list[bytes], width: int) -> None:
    rows = _rows(texts, width)
    ticks, ok = onset_ticks(rows)
    for i in range(rows.shape[0]):
        expect = _reference(bytes(rows[i]))
        assert (bool(ok[i]), int(ticks[i]) if ok[i] else None) == (expect is not None, expect)


def test_onset_parser_examples() -> None:
    """Hand-checked values beside the fuzzing, valid and not (positive and negative controls)."""
    texts = [b"+0\x14\x14\x00", b"+3600.5\x14\x14", b"-0\x14\x14\x00", b"+1.00000009\x14\x14\x00",
             b"+" + b"0" * HEAD_BYTES + b"12.25\x14\x14\x00",
             b"+1.\x14\x14\x00", b"+.5\x14\x14\x00", b"1\x14\x14\x00", b"+1\x14\x00\x00",
             b"+1e3\x14\x14\x00", b"+1 \x14\x14\x00"]
    ticks, ok = onset_ticks(_rows(texts, 64))
    assert ok.tolist() == [True] * 5 + [False] * 6
    assert ticks[:5].tolist() == [0, 36_005_000_000, 0, 10_000_000, 122_500_000]


def _tal_rows(onsets: list[str], width: int = 30) -> np.ndarray:
    return _rows([o.encode() + b"\x14\x14\x00" for o in onsets], width)


def test_continuity_check_on_rows() -> None:
    good = _tal_rows(["+0.25", "+0.5", "+0.75", "+1", "+1.25"])
    assert check_continuous(good, record_duration_s=0.25, where="x.edf") == 2_500_000
    jump = _tal_rows(["+0", "+1", "+5", "+6"])
    with pytest.raises(CrampInputError, match=r"^x.edf: not continuous: data record 3 starts at "
                       r"\+5 s, expected \+2 s for an EDF\+C file"):
        check_continuous(jump, record_duration_s=1.0, where="x.edf")
    late = _tal_rows(["+1", "+2"])
    with pytest.raises(CrampInputError, match=r"^x.edf: the first data record starts at \+1 s"):
        check_continuous(late, record_duration_s=1.0, where="x.edf")
    broken = _tal_rows(["+0", "+1", "2", "+3"])
    with pytest.raises(CrampInputError, match=r"^x.edf: data record 3 does not start with a "
                       r"time-keeping annotation"):
        check_continuous(broken, record_duration_s=1.0, where="x.edf")


@pytest.mark.parametrize(("file_type", "suffix"), [(EDF_PLUS, "edf"), (BDF_PLUS, "bdf")])
def test_edf_plus_c_with_a_time_jump_is_refused(tmp_path: Path, file_type: int,
                                                suffix: str) -> None:
    rng = np.random.default_rng(21)
    good = write_edf(tmp_path / f"good.{suffix}", standard_signals(rng), file_type=file_type,
                     annotations=((1.5, 2.0, "cramp"),))
    with EdfRecording(good, channel_map=ChannelMap()) as rec:  # positive control: as written
        assert rec.info.duration_s == 4.0
    assert [e.onset_s for e in read_labels(good)] == [1.5]
    jump = tmp_path / f"jump.{suffix}"
    jump.write_bytes(good.read_bytes())
    set_record_onsets(jump, ["+0", "+1", "+5", "+6"], keep=True)
    message = (rf"^jump.{suffix}: not continuous: data record 3 starts at \+5 s, expected \+2 s"
               r" for an EDF\+C file \(record 1 at \+0 s \+ 2 x 1 s records\)")
    with pytest.raises(CrampInputError, match=message):
        EdfRecording(jump, channel_map=ChannelMap())
    with pytest.raises(CrampInputError, match=message):
        read_labels(jump)


def test_subsecond_start_is_the_first_onset(tmp_path: Path) -> None:
    rng = np.random.default_rng(22)
    path = write_edf(tmp_path / "half.edf", standard_signals(rng))
    with EdfRecording(path, channel_map=ChannelMap()) as rec:  # control: whole-second start
        whole = rec.info.start_utc
    assert whole.microsecond == 0
    set_record_onsets(path, ["+0.5", "+1.5", "+2.5", "+3.5"])
    with EdfRecording(path, channel_map=ChannelMap()) as rec:
        assert (rec.info.start_utc - whole).total_seconds() == 0.5


JUMP_MESSAGE = (r"^jump.edf: not continuous: data record 3 starts at \+5 s, expected \+2 s for an "
                r"EDF\+C file \(record 1 at \+0 s \+ 2 x 1 s records\); a recording with gaps must "
                r"be marked EDF\+D$")


@pytest.mark.parametrize("chunk_s", [1.0, 10.0])
def test_a_deferred_timing_check_raises_the_same_error_from_the_pass(tmp_path: Path,
                                                                     chunk_s: float) -> None:
    """``defer_timing_check``: the file opens on its first record's onset; the pass over the
    blocks raises the error the open would have (after the first of several windows, or at
    the end of the only one), and a continuous file passes (positive control)."""
    rng = np.random.default_rng(23)
    good = write_edf(tmp_path / "good.edf", standard_signals(rng))
    with EdfRecording(good, channel_map=ChannelMap(), defer_timing_check=True) as rec:
        assert sum(b.n_samples for role, b in rec.blocks(chunk_s) if role == "emg") == 4000
    jump = tmp_path / "jump.edf"
    jump.write_bytes(good.read_bytes())
    set_record_onsets(jump, ["+0", "+1", "+5", "+6"])
    with pytest.raises(CrampInputError, match=JUMP_MESSAGE):
        EdfRecording(jump, channel_map=ChannelMap())  # the open's error, by default
    with EdfRecording(jump, channel_map=ChannelMap(), defer_timing_check=True) as rec:
        assert rec.info.duration_s == 4.0
        emg_s: list[float] = []
        with pytest.raises(CrampInputError, match=JUMP_MESSAGE):
            emg_s.extend(b.n_samples / b.fs for role, b in rec.blocks(chunk_s) if role == "emg")
        assert emg_s == ([1.0] if chunk_s == 1.0 else [4.0])
        with pytest.raises(CrampInputError, match=JUMP_MESSAGE):  # and again on a new pass
            list(rec.blocks(chunk_s))


def test_a_deferred_timing_check_still_checks_the_first_record_at_the_open(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(24)
    path = write_edf(tmp_path / "late.edf", standard_signals(rng))
    with EdfRecording(path, channel_map=ChannelMap(), defer_timing_check=True) as rec:
        assert rec.info.duration_s == 4.0  # control: as written
    set_record_onsets(path, ["+1", "+2", "+3", "+4"])
    with pytest.raises(CrampInputError, match=r"^late.edf: the first data record starts at \+1"):
        EdfRecording(path, channel_map=ChannelMap(), defer_timing_check=True)


_edit = st.tuples(st.integers(0, 40), st.integers(0, 12),
                  st.sampled_from([b"0", b"9", b"\x14", b"\x00", b".", b"-", b"+", b"00"]))


@settings(max_examples=300)
@given(n=st.integers(1, 120), step_s=st.sampled_from([1, 2, 5, 30]),
       width=st.integers(4, 20), first=st.integers(0, 3), edits=st.lists(_edit, max_size=3),
       duration=st.sampled_from([None, 0.5, 1.25]))
def test_the_whole_second_shortcut_gives_the_parse_verdict(
        n: int, step_s: int, width: int, first: int, edits: list[tuple[int, int, bytes]],
        duration: float | None) -> None:
    """Rows of whole-second onsets (``+0``, ``+1``, ...) are checked without the parse; the
    verdict (first onset, or the error message) is the parse's, whatever is changed in them
    (positive control: the shortcut is taken for the unchanged rows)."""
    from detector.io import edf_tal

    texts = [f"+{first * step_s + i * step_s}".encode() + b"\x14\x14\x00" for i in range(n)]
    for row, col, new in edits:
        t = bytearray(texts[row % n])
        t[col % len(t):col % len(t) + 1] = new
        texts[row % n] = bytes(t)
    rows = _rows(texts, width)
    record_s = float(step_s) if duration is None else duration

    def verdict(check: object) -> object:
        try:
            return check_continuous(rows, record_duration_s=record_s, where="x.edf")
        except CrampInputError as exc:
            return str(exc)

    fast = verdict(check_continuous)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(edf_tal, "_whole_second_onsets", lambda *a, **k: False)
        assert fast == verdict(check_continuous)
    if not edits and first == 0 and duration is None and width >= len(texts[-1]) + 1:
        assert edf_tal._whole_second_onsets(rows, step_s=step_s)  # the shortcut was taken
        assert fast == 0
