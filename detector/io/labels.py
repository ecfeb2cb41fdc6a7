"""Read scored events (e.g. cramps marked by a reviewer) from a table or EDF+ annotations.

Tables follow the BIDS/MNE events convention: columns ``onset`` and ``duration`` in seconds
from the recording start, and optionally ``description``, ``trial_type`` or ``label`` naming
the event. CSV and TSV are accepted, plain or gzip-compressed.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

from detector.errors import CrampInputError
from detector.io.edf_header import BDF_MAGIC, EDF_MAGIC, read_edf_header
from detector.io.edf_reader import EdfRecords, open_pyedflib
from detector.safe_files import check_input_file

_DESCRIPTION_COLUMNS = ("description", "trial_type", "label")
_EDF_SUFFIXES = (".edf", ".bdf", ".rec")
_MAX_TABLE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class LabelEvent:
    """One scored event.

    Attributes
    ----------
    onset_s : float
        Start, seconds from the recording start.
    duration_s : float
        Length in seconds (0 when the source gives none).
    description : str
        What the event is (empty when the source has no description column).
    """

    onset_s: float
    duration_s: float
    description: str


def read_labels(path: str | Path, *, description_filter: str | None = "cramp") -> list[LabelEvent]:
    """Read events from an events table (CSV/TSV) or the annotations of an EDF+/BDF+ file.

    Parameters
    ----------
    path : str or Path
        The events table or EDF+ file.
    description_filter : str or None
        Keep only events whose description contains this text (case ignored); ``None`` keeps
        all. Tables without a description column keep every row.

    Returns
    -------
    list of LabelEvent
        Sorted by onset.

    Raises
    ------
    CrampInputError
        Missing file, missing ``onset``/``duration`` columns, or a value that is not a number.
    """
    p = check_input_file(path, where=Path(path).name)
    try:
        with p.open("rb") as fh:
            magic = fh.read(8)
    except FileNotFoundError:
        raise CrampInputError(p.name, "file not found") from None
    except OSError as exc:
        raise CrampInputError(p.name, f"cannot read the file ({exc.strerror})") from None
    if magic in (EDF_MAGIC, BDF_MAGIC) or p.suffix.lower() in _EDF_SUFFIXES:
        events = _edf_events(p)
    else:
        events = _table_events(p, gz=magic[:2] == b"\x1f\x8b")
    if description_filter is not None:
        wanted = description_filter.lower()
        events = [e for e in events if e.description is None or wanted in e.description.lower()]
    return sorted(
        (LabelEvent(onset_s=e.onset_s, duration_s=e.duration_s, description=e.description or "")
         for e in events),
        key=lambda e: (e.onset_s, e.duration_s),
    )


@dataclass(frozen=True)
class _Raw:
    onset_s: float
    duration_s: float
    description: str | None


def _edf_events(path: Path) -> list[_Raw]:
    header = read_edf_header(path)
    if not header.file_format.endswith("+"):
        raise CrampInputError(path.name, "plain EDF/BDF holds no annotations; expected EDF+/BDF+")
    records = EdfRecords(path, header)  # the records' timing first: a clear message if off
    try:
        records.first_onset_ticks(path.name)
    finally:
        records.close()
    reader = open_pyedflib(path, header, annotations=True)
    try:
        raw = reader.read_annotation()
    finally:
        reader.close()
    events = []
    for onset_100ns, duration, text in raw:
        dur_text = duration.decode("latin-1") if isinstance(duration, bytes) else str(duration)
        try:
            duration_s = float(dur_text) if dur_text.strip() else 0.0
        except ValueError:
            raise CrampInputError(
                path.name, f"annotation duration {dur_text!r} is not a number"
            ) from None
        desc = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)
        events.append(_Raw(int(onset_100ns) / 1e7, duration_s, desc.strip()))
    return events


def _number(text: str, *, where: str, column: str, row: int, empty_ok: bool) -> float:
    t = text.strip()
    if empty_ok and t.lower() in ("", "n/a", "na"):
        return 0.0
    try:
        value = float(t)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or (empty_ok and value < 0):
        expected = "a number >= 0" if empty_ok else "a finite number"
        raise CrampInputError(where, f"column {column!r}, row {row}: {t!r} is not {expected}")
    return value


def _table_events(path: Path, *, gz: bool) -> list[_Raw]:
    where = path.name
    try:
        with gzip.open(path, "rb") if gz else path.open("rb") as fh:
            data = fh.read(_MAX_TABLE_BYTES)
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CrampInputError(where, "not UTF-8 text; expected an events table") from None
    except (EOFError, OSError, zlib.error) as exc:
        raise CrampInputError(where, f"cannot read the file ({exc})") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise CrampInputError(where, "empty; expected a header line with onset and duration")
    first = lines[0]
    if ".tsv" in [s.lower() for s in path.suffixes] or "\t" in first:
        delimiter = "\t"
    else:
        delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise CrampInputError(where, f"cannot parse the table ({exc})") from None
    names = [c.strip().lower() for c in rows[0]]
    missing = [c for c in ("onset", "duration") if c not in names]
    if missing:
        raise CrampInputError(
            where, f"no {' and '.join(missing)} column; expected BIDS/MNE columns onset, duration"
        )
    i_on, i_dur = names.index("onset"), names.index("duration")
    i_desc = next((names.index(c) for c in _DESCRIPTION_COLUMNS if c in names), None)
    events = []
    for r, row in enumerate(rows[1:], start=1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            raise CrampInputError(
                where, f"row {r} has {len(row)} fields; the header has {len(names)}"
            )
        onset = _number(row[i_on], where=where, column="onset", row=r, empty_ok=False)
        dur = _number(row[i_dur], where=where, column="duration", row=r, empty_ok=True)
        events.append(_Raw(onset, dur, row[i_desc].strip() if i_desc is not None else None))
    return events
