"""Compact storage of the per-second night trace, and UTC time text helpers.

The trace is stored as one BLOB per night: the seven float32 arrays of
:class:`~detector.pipeline.result.NightTrace` laid end to end (little-endian), compressed with
zlib. An 8-hour night is 28,800 seconds x 7 arrays x 4 bytes = 806 kB before compression.
"""

from __future__ import annotations

import dataclasses
import zlib
from datetime import UTC, datetime

import numpy as np

from detector.errors import CrampInputError
from detector.pipeline.result import NightTrace

TRACE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(NightTrace))
TRACE_ENCODING = "zlib+float32le"
_DTYPE = np.dtype("<f4")
_MAX_SECONDS = 14 * 24 * 3600  # two weeks: more is not one night


def encode_trace(trace: NightTrace) -> tuple[int, str, str, bytes]:
    """Pack a trace for the ``night_traces`` table.

    Parameters
    ----------
    trace : NightTrace
        Arrays of shape (n_seconds,).

    Returns
    -------
    n_seconds : int
    fields : str
        Comma-separated array names, in storage order.
    encoding : str
        ``"zlib+float32le"``.
    data : bytes
        The compressed arrays.
    """
    n = trace.n_seconds
    parts = []
    for name in TRACE_FIELDS:
        arr = np.asarray(getattr(trace, name), dtype=np.float64)
        if arr.shape != (n,):
            raise ValueError(f"trace.{name} has shape {arr.shape}, expected ({n},)")
        parts.append(arr.astype(_DTYPE).tobytes())
    return n, ",".join(TRACE_FIELDS), TRACE_ENCODING, zlib.compress(b"".join(parts), 6)


def decode_trace(n_seconds: int, fields: str, encoding: str, data: bytes, *,
                 where: str) -> NightTrace:
    """Unpack a trace stored by :func:`encode_trace`.

    Parameters
    ----------
    n_seconds : int
        Length of each array.
    fields, encoding : str
        As stored beside the data.
    data : bytes
        The compressed arrays.
    where : str
        Store file and row, for error messages.

    Returns
    -------
    NightTrace
        Arrays of shape (n_seconds,), float64 (float32 precision).

    Raises
    ------
    CrampInputError
        If the row is damaged or in an unknown layout.
    """
    if encoding != TRACE_ENCODING:
        raise CrampInputError(where, f"trace encoding {encoding!r} unknown; "
                                     f"expected {TRACE_ENCODING!r}")
    names = fields.split(",")
    if sorted(names) != sorted(TRACE_FIELDS):
        raise CrampInputError(where, f"trace fields {fields!r} do not match "
                                     f"{','.join(TRACE_FIELDS)!r}")
    if not isinstance(n_seconds, int) or not 0 <= n_seconds <= _MAX_SECONDS:
        raise CrampInputError(where, f"trace length {n_seconds!r} s is not plausible")
    expected = n_seconds * len(names) * _DTYPE.itemsize
    try:
        d = zlib.decompressobj()
        raw = d.decompress(bytes(data), expected + 1)
        complete = d.eof
    except zlib.error as exc:
        raise CrampInputError(where, f"trace data is damaged ({exc})") from None
    if not complete or len(raw) != expected:
        raise CrampInputError(where, f"trace data holds {len(raw)} bytes, expected {expected}")
    arrays = np.frombuffer(raw, dtype=_DTYPE).astype(np.float64).reshape(len(names), n_seconds)
    return NightTrace(**{name: arrays[i].copy() for i, name in enumerate(names)})


def utc_text(t: datetime) -> str:
    """Format an aware time as UTC ISO 8601 text ending in ``Z``."""
    if t.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_utc(text: str, *, where: str) -> datetime:
    """Parse text written by :func:`utc_text` back to an aware UTC datetime.

    Raises
    ------
    CrampInputError
        If the text is not an ISO 8601 time with a zone.
    """
    try:
        t = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise CrampInputError(where, f"expected an ISO 8601 UTC time, got {text!r}") from None
    if t.tzinfo is None:
        raise CrampInputError(where, f"time {text!r} has no time zone")
    return t.astimezone(UTC)
