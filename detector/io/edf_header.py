"""The fixed header of an EDF/EDF+/BDF/BDF+ file, read and checked before any sample is.

:func:`read_edf_header` checks the magic, the syntax of every field and the file size against
records x record size, so that a damaged file fails with one clear line (a
:class:`~detector.errors.CrampInputError`) instead of a library message. The result,
:class:`EdfHeader` with one :class:`EdfSignalHeader` per signal, is what the sample reader
(:mod:`detector.io.edf_reader`) and the annotation reader (:mod:`detector.io.labels`) build on.

This module needs neither numpy nor pyedflib.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from detector.errors import CrampInputError
from detector.limits import check_span

__all__ = ["ANNOTATION_LABELS", "BDF_MAGIC", "EDF_MAGIC", "EdfHeader", "EdfSignalHeader",
           "read_edf_header"]

EDF_MAGIC = b"0       "
BDF_MAGIC = b"\xffBIOSEMI"
ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")
"""Labels of the EDF+/BDF+ annotation signals (text annotations, not a signal to read)."""
_SIGNAL_FIELDS = (
    ("label", 16), ("transducer", 80), ("dimension", 8), ("phys_min", 8), ("phys_max", 8),
    ("dig_min", 8), ("dig_max", 8), ("prefilter", 80), ("spr", 8), ("reserved", 32),
)


@dataclass(frozen=True)
class EdfSignalHeader:
    """Header fields of one signal (units as written in the file)."""

    label: str
    dimension: str
    phys_min: float
    phys_max: float
    spr: int
    dig_min: int = -32768
    dig_max: int = 32767


@dataclass(frozen=True)
class EdfHeader:
    """The fixed header of an EDF/BDF file, checked for syntax and size."""

    bdf: bool
    reserved: str
    header_bytes: int
    n_records: int
    record_duration_s: float
    signals: tuple[EdfSignalHeader, ...]
    extra_bytes: int

    @property
    def file_format(self) -> str:
        """``"edf"``, ``"edf+"``, ``"bdf"`` or ``"bdf+"``."""
        plus = self.reserved.startswith(("EDF+", "BDF+"))
        return ("bdf" if self.bdf else "edf") + ("+" if plus else "")


def _field(raw: bytes, kind: type, *, name: str, where: str) -> int | float:
    text = raw.decode("ascii", errors="replace").strip()
    try:
        value = kind(text)
    except ValueError:
        raise CrampInputError(where, f"header field {name} is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise CrampInputError(where, f"header field {name} is {text!r}, not a finite number")
    return value


def read_edf_header(path: Path) -> EdfHeader:
    """Read and check the header of an EDF/BDF file.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    EdfHeader

    Raises
    ------
    CrampInputError
        Missing file, wrong magic, malformed fields, or a size that does not match the header.
    """
    where = path.name
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            fixed = fh.read(256)
            ns_guess = fixed[252:256]
            rest_len = 256 * int(ns_guess) if ns_guess.strip().isdigit() else 0
            rest = fh.read(rest_len)
    except FileNotFoundError:
        raise CrampInputError(where, "file not found") from None
    except OSError as exc:
        raise CrampInputError(where, f"cannot read the file ({exc.strerror})") from None
    if fixed[:8] not in (EDF_MAGIC, BDF_MAGIC) or len(fixed) < 256:
        raise CrampInputError(where, "not an EDF or BDF file (the header does not start like one)")
    bdf = fixed[:8] == BDF_MAGIC
    header_bytes = int(_field(fixed[184:192], int, name="header size", where=where))
    n_records = int(_field(fixed[236:244], int, name="number of records", where=where))
    duration = float(_field(fixed[244:252], float, name="record duration", where=where))
    ns = int(_field(fixed[252:256], int, name="number of signals", where=where))
    if not 1 <= ns <= 4096 or header_bytes != 256 * (ns + 1) or len(rest) != 256 * ns:
        raise CrampInputError(where, "header is damaged (signal count and header size disagree)")
    if n_records < 1:
        raise CrampInputError(where, f"header gives {n_records} data records; expected at least 1")
    if not duration > 0:
        raise CrampInputError(where, f"record duration is {duration} s; expected more than 0")
    check_span(n_records * duration, where=where)
    columns: dict[str, list[bytes]] = {}
    pos = 0
    for name, width in _SIGNAL_FIELDS:
        columns[name] = [rest[pos + width * i : pos + width * (i + 1)] for i in range(ns)]
        pos += width * ns
    signals = []
    dig_lim = 2**23 if bdf else 2**15
    for i in range(ns):
        label = columns["label"][i].decode("latin-1").strip()
        fld = f"signal {i + 1} ({label!r})"
        spr = int(_field(columns["spr"][i], int, name=f"{fld} samples per record", where=where))
        pmin = float(_field(columns["phys_min"][i], float, name=f"{fld} physical min", where=where))
        pmax = float(_field(columns["phys_max"][i], float, name=f"{fld} physical max", where=where))
        dmin = int(_field(columns["dig_min"][i], int, name=f"{fld} digital min", where=where))
        dmax = int(_field(columns["dig_max"][i], int, name=f"{fld} digital max", where=where))
        if spr < 1 or not -dig_lim <= dmin < dmax < dig_lim or pmin == pmax:
            raise CrampInputError(where, f"header of {fld} is damaged (ranges or sample count)")
        dim = columns["dimension"][i].decode("latin-1").strip()
        signals.append(EdfSignalHeader(label, dim, pmin, pmax, spr, dmin, dmax))
    record_bytes = sum(s.spr for s in signals) * (3 if bdf else 2)
    expected = header_bytes + n_records * record_bytes
    if size < expected:
        raise CrampInputError(
            where,
            f"file is truncated: header says {n_records} records of {record_bytes} bytes "
            f"({expected} bytes), the file has {size}",
        )
    return EdfHeader(
        bdf=bdf,
        reserved=fixed[192:236].decode("latin-1").strip(),
        header_bytes=header_bytes,
        n_records=n_records,
        record_duration_s=duration,
        signals=tuple(signals),
        extra_bytes=size - expected,
    )
