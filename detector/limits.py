"""Physical bounds on what a recording can be, checked where a file is read.

A header or a table states rates, durations and value ranges; values far outside what any leg
band or surface-EMG amplifier produces are damage or a wrong unit, and taken at face value they
overflow arithmetic or make the pipeline allocate for a recording that does not exist. Readers
check them with these functions and raise a one-line :class:`~detector.errors.CrampInputError`.
"""

from __future__ import annotations

import math

from detector.errors import CrampInputError

MAX_FS_HZ: float = 100_000.0
"""Fastest sampling rate accepted (Hz); surface EMG needs 1-4 kHz, accelerometers far less."""
MIN_FS_HZ: float = 1.0
"""Slowest sampling rate accepted for any signal (Hz)."""
MAX_RECORDING_S: float = 7 * 86_400.0
"""Longest span a recording may cover, gaps included (s): a week of nights."""
MAX_GAP_S: float = 86_400.0
"""Longest single gap inside a recording (s); a later row than that is damage or another
recording."""
MAX_EMG_UV: float = 1.0e7
"""Largest EMG magnitude an amplifier range may state (uV, i.e. 10 V)."""
MAX_ACC_G: float = 1.0e4
"""Largest acceleration a sensor range may state (g)."""
MAX_HEADER_LINE_CHARS: int = 65_536
"""Longest header line of a table (characters)."""


def check_rate(fs: float, *, where: str, what: str) -> float:
    """Return ``fs`` if it is a finite rate in ``[MIN_FS_HZ, MAX_FS_HZ]``; raise otherwise."""
    if not (math.isfinite(fs) and MIN_FS_HZ <= fs <= MAX_FS_HZ):
        raise CrampInputError(where, f"{what} is sampled at {fs:g} Hz; expected "
                                     f"{MIN_FS_HZ:g} to {MAX_FS_HZ:g} Hz")
    return fs


def check_span(span_s: float, *, where: str) -> float:
    """Return ``span_s`` if the recording's span is at most ``MAX_RECORDING_S``."""
    if not (math.isfinite(span_s) and 0 <= span_s <= MAX_RECORDING_S):
        raise CrampInputError(where, f"the recording would span {span_s:g} s; expected at most "
                                     f"{MAX_RECORDING_S:g} s ({MAX_RECORDING_S / 86400:g} days)")
    return span_s


def check_range(low: float, high: float, *, role: str, where: str, stated: str = "") -> None:
    """Check a channel's physical range, given in working units (uV or g).

    ``stated`` is the range as the file gives it (e.g. ``"-1e+308 to 5 mV"``), for the message.
    """
    limit, unit = (MAX_EMG_UV, "uV") if role == "emg" else (MAX_ACC_G, "g")
    if not (math.isfinite(low) and math.isfinite(high)) or max(abs(low), abs(high)) > limit:
        shown = stated or f"{low:g} to {high:g} {unit}"
        raise CrampInputError(where, f"{role} range {shown} is not physical (expected within "
                                     f"+-{limit:g} {unit}; check the header's physical min/max "
                                     "and unit)")
