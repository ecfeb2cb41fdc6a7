"""Time-keeping annotations of EDF+/BDF+ files and the EDF+C continuity check, vectorised.

In an EDF+/BDF+ file the first annotation signal of every data record starts with a
time-keeping TAL, ``+<onset>\\x14\\x14``: the record's start in seconds from the file's start
time. An EDF+C (continuous) file needs ``onset[i] = onset[0] + i x record duration`` and a first
onset below 1 s (the subsecond part of the start time). This module reads those onsets from the
memory-mapped records without a Python loop over them (:func:`onset_ticks`) and checks them
(:func:`check_continuous`), so a file can be opened without the EDF library's own annotation
pass (which decodes every TAL of every record).

Times are counted in ticks of 100 ns, the resolution of the EDF library (edflib): an onset's
decimals beyond the seventh are dropped, as edflib drops them, so a file accepted or refused
here is accepted or refused by it too.

Syntax of an onset (as edflib's): a sign, then one or more digits, then optionally a dot and one
or more digits (``+0``, ``+3600.5``, ``-0``; not ``+.5``, ``+1.`` or ``+1e3``).
"""

from __future__ import annotations

import numpy as np

from detector.errors import CrampInputError

__all__ = ["TICKS_PER_S", "check_continuous", "format_ticks", "onset_ticks"]

TICKS_PER_S = 10_000_000
"""Time resolution of EDF+ onsets here and in edflib: ticks of 100 ns per second."""
HEAD_BYTES = 32
"""Leading bytes of each record's annotation signal parsed in bulk (bytes); the few records
whose onset is longer (leading zeros) are parsed again over their whole annotation signal."""
_MAX_WHOLE_S = 10**10
"""Largest onset read (s, about 300 years); a larger one is refused, before it could overflow
int64 ticks."""
_TAL_SEP = 0x14
_PLUS, _MINUS, _DOT, _ZERO, _NINE = 0x2B, 0x2D, 0x2E, 0x30, 0x39


def _parse(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Onset ticks, validity and "separator seen" of each row (see :func:`onset_ticks`).

    The rows are walked column by column (a few columns: an onset is a few bytes long), each
    step one vector operation over all records.
    """
    n, width = rows.shape
    ticks = np.zeros(n, dtype=np.int64)
    if width < 3:  # no room for a sign, one digit and the separator pair
        return ticks, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    cols = np.asfortranarray(rows, dtype=np.uint8)  # one gather from the mapped records
    # the onset ends at the first separator, which must lie within the first width - 2 bytes
    # (edflib's rule: room for the second separator and the TAL's closing byte)
    end = np.full(n, -1, dtype=np.int64)
    for j in range(width - 2):
        end[(end < 0) & (cols[:, j] == _TAL_SEP)] = j
        if end.min() >= 0:
            break
    seen = end >= 0
    end[~seen] = 0
    rec = np.arange(n)
    sign = cols[:, 0]
    before_end = cols[rec, np.maximum(end - 1, 0)] - np.uint8(_ZERO)
    ok = (seen & ((sign == _PLUS) | (sign == _MINUS)) & (end >= 2)
          & (cols[rec, end + 1] == _TAL_SEP) & (before_end < 10))  # ends with a digit
    whole = np.zeros(n, dtype=np.int64)  # seconds
    frac = np.zeros(n, dtype=np.int64)  # ticks
    scale = np.full(n, TICKS_PER_S // 10, dtype=np.int64)  # ticks of the next decimal
    in_frac = np.zeros(n, dtype=bool)
    for j in range(1, int(end.max()) if n else 0):
        c = cols[:, j]
        inside = j < end
        value = c - np.uint8(_ZERO)  # a digit's value; any other byte wraps to 10 or more
        digit = value < 10
        dot = inside & (c == _DOT)
        if j == 1:
            ok &= digit  # a digit right after the sign
        ok &= ~(inside & ~digit & ~dot) & ~(dot & in_frac)  # digits and at most one dot
        in_frac |= dot
        step = inside & digit & ~in_frac
        whole = np.where(step, np.minimum(whole, _MAX_WHOLE_S) * 10 + value, whole)
        step = inside & digit & in_frac
        frac += np.where(step, value * scale, 0)
        scale = np.where(step, scale // 10, scale)  # 0 after the seventh decimal: dropped
    ok &= whole <= _MAX_WHOLE_S
    ticks = whole * TICKS_PER_S + frac
    ticks = np.where(sign == _MINUS, -ticks, ticks)
    return np.where(ok, ticks, 0), ok, seen


def onset_ticks(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Onsets of the time-keeping TALs that start each row, in ticks of 100 ns.

    Parameters
    ----------
    rows : ndarray of uint8, shape (n_records, n_bytes)
        The bytes of the first annotation signal of each data record (a view of the
        memory-mapped records is fine: only the first :data:`HEAD_BYTES` columns of most rows
        are read).

    Returns
    -------
    ticks : ndarray of int64, shape (n_records,)
        Onset of each record in ticks of 100 ns (decimals beyond the seventh dropped); 0 where
        the row does not start with a well-formed time-keeping TAL.
    ok : ndarray of bool, shape (n_records,)
        Whether the row starts with a well-formed ``+<onset>\\x14\\x14``.
    """
    width = rows.shape[1]
    head = min(width, HEAD_BYTES)
    ticks, ok, seen = _parse(rows[:, :head])
    if head < width:  # onsets longer than the head: parse those rows over their whole width
        again = np.flatnonzero(~seen)
        if again.size:
            ticks[again], ok[again], _seen = _parse(np.asarray(rows[again]))
    return ticks, ok


def format_ticks(ticks: int) -> str:
    """``ticks`` (100 ns) as signed seconds, exact, without trailing zeros (``+3600.5``)."""
    sign = "-" if ticks < 0 else "+"
    whole, frac = divmod(abs(int(ticks)), TICKS_PER_S)
    text = f"{sign}{whole}"
    return f"{text}.{frac:07d}".rstrip("0") if frac else text


def check_continuous(rows: np.ndarray, *, record_duration_s: float, where: str) -> int:
    """Check that an EDF+C/BDF+C file's records follow one another without gaps or overlaps.

    Parameters
    ----------
    rows : ndarray of uint8, shape (n_records, n_bytes)
        The bytes of the first annotation signal of each data record.
    record_duration_s : float
        The header's record duration (s). Its field has 8 characters, so at most 7 decimals:
        it is a whole number of ticks, recovered exactly by rounding.
    where : str
        The file's name, for the message.

    Returns
    -------
    int
        Onset of the first record in ticks of 100 ns (0 <= onset < 1 s): the subsecond part
        of the recording's start time.

    Raises
    ------
    CrampInputError
        A record without a well-formed time-keeping TAL, a first onset outside 0 to 1 s, or a
        record whose onset is not ``onset[0] + i x record duration`` (to the 100 ns tick).
    """
    step = round(record_duration_s * TICKS_PER_S)
    whole_s, part = divmod(step, TICKS_PER_S)
    if part == 0 and _whole_second_onsets(rows, step_s=whole_s):
        return 0  # the common file, checked without the parse (the same verdict)
    ticks, ok = onset_ticks(rows)
    bad = np.flatnonzero(~ok)
    if bad.size:
        raise CrampInputError(
            where, f"data record {int(bad[0]) + 1} does not start with a time-keeping "
            "annotation ('+<onset seconds>' and two 0x14 bytes); EDF+/BDF+ needs one in every "
            "record",
        )
    first = int(ticks[0])
    if not 0 <= first < TICKS_PER_S:
        raise CrampInputError(
            where, f"the first data record starts at {format_ticks(first)} s; EDF+C expects "
            "0 s or a fraction of a second (the subsecond part of the start time)",
        )
    expected = first + step * np.arange(ticks.shape[0], dtype=np.int64)
    off = np.flatnonzero(ticks != expected)
    if off.size:
        i = int(off[0])
        raise CrampInputError(
            where, f"not continuous: data record {i + 1} starts at {format_ticks(int(ticks[i]))}"
            f" s, expected {format_ticks(int(expected[i]))} s for an EDF+C file (record 1 at "
            f"{format_ticks(first)} s + {i} x {format_ticks(step).lstrip('+')} s records); a "
            "recording with gaps must be marked EDF+D",
        )
    return first


def _whole_second_onsets(rows: np.ndarray, *, step_s: int) -> bool:
    """Whether row ``i`` starts with ``+<i x step_s>\\x14\\x14`` for every ``i``: the text of
    whole-second onsets from 0 as edflib (and most writers) give them, no leading zeros.

    Rows that all do are accepted by :func:`check_continuous` with a first onset of 0 and
    records of ``step_s`` seconds: each parses (:func:`onset_ticks`) to ``i x step_s`` s. They
    are compared with that text in bulk, a few vector operations per number of digits, instead
    of being parsed (a few ms for an 8-hour night). False (a fault, or an onset written
    otherwise, such as ``+01`` or ``+1.0``) sends the rows to the parse, which accepts them or
    names the fault.
    """
    n, width = rows.shape
    if not n or step_s <= 0 or (n - 1) * step_s > _MAX_WHOLE_S:
        return False
    seconds = step_s * np.arange(n, dtype=np.int64)
    lo = 0
    for d in range(1, len(str(int(seconds[-1]))) + 1):  # rows of d-digit onsets, in turn
        hi = n if d == len(str(int(seconds[-1]))) else int(np.searchsorted(seconds, 10**d))
        if hi <= lo:
            continue
        if width < d + 4:  # the first separator must lie in the first width - 2 bytes
            return False
        text = np.empty((hi - lo, d + 3), dtype=np.uint8)
        text[:, 0] = _PLUS
        for k in range(d):
            text[:, 1 + k] = (seconds[lo:hi] // 10 ** (d - 1 - k)) % 10 + _ZERO
        text[:, d + 1:] = _TAL_SEP
        if not np.array_equal(rows[lo:hi, :d + 3], text):
            return False
        lo = hi
    return True
