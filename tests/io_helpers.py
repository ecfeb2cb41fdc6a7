"""Test-only helpers: write small EDF/EDF+/BDF files with pyedflib and patch them.

Nothing here is imported by the package; the readers under test never see this code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib

EDF = pyedflib.FILETYPE_EDF
EDF_PLUS = pyedflib.FILETYPE_EDFPLUS
BDF = pyedflib.FILETYPE_BDF
BDF_PLUS = pyedflib.FILETYPE_BDFPLUS

START = datetime(2024, 3, 1, 22, 30, 5)


@dataclass(frozen=True)
class Sig:
    """One signal to write: label, unit, rate (Hz), physical samples and physical range."""

    label: str
    dimension: str
    fs: int
    data: np.ndarray
    phys_min: float
    phys_max: float


def quant_step(sig: Sig, *, bdf: bool) -> float:
    """Physical value of one digital step of ``sig`` in its own unit."""
    span_digital = (2**24 - 1) if bdf else (2**16 - 1)
    return (sig.phys_max - sig.phys_min) / span_digital


def write_edf(
    path: Path,
    signals: list[Sig],
    *,
    file_type: int = EDF_PLUS,
    start: datetime = START,
    annotations: tuple[tuple[float, float, str], ...] = (),
) -> Path:
    """Write ``signals`` (each a whole number of 1-s records long) to ``path``."""
    bdf = file_type in (BDF, BDF_PLUS)
    dmax, dmin = ((2**23 - 1), -(2**23)) if bdf else (32767, -32768)
    headers = [
        {
            "label": s.label,
            "dimension": s.dimension,
            "sample_frequency": s.fs,
            "physical_max": s.phys_max,
            "physical_min": s.phys_min,
            "digital_max": dmax,
            "digital_min": dmin,
            "prefilter": "",
            "transducer": "",
        }
        for s in signals
    ]
    writer = pyedflib.EdfWriter(str(path), len(signals), file_type=file_type)
    try:
        writer.setSignalHeaders(headers)
        writer.setStartdatetime(start)
        writer.writeSamples([np.ascontiguousarray(s.data, dtype=np.float64) for s in signals])
        for onset_s, duration_s, text in annotations:
            writer.writeAnnotation(onset_s, duration_s, text)
    finally:
        writer.close()
    return path


def standard_signals(
    rng: np.random.Generator,
    *,
    seconds: int = 4,
    emg_label: str = "EMG Calf",
    emg_fs: int = 1000,
    acc_fs: int = 100,
    foot: bool = True,
) -> list[Sig]:
    """EMG in mV at ``emg_fs`` Hz plus shank (and foot) accelerometer triples in mg."""
    n_emg = seconds * emg_fs
    n_acc = seconds * acc_fs
    emg_mv = rng.normal(0.0, 0.05, n_emg)
    sigs = [Sig(emg_label, "mV", emg_fs, emg_mv, -5.0, 5.0)]
    locations = ["Shank", "Foot"] if foot else ["Shank"]
    for loc in locations:
        for axis, mean_mg in zip("XYZ", (0.0, 0.0, 1000.0), strict=True):
            data = mean_mg + rng.normal(0.0, 30.0, n_acc)
            sigs.append(Sig(f"Acc {loc} {axis}", "mg", acc_fs, data, -4000.0, 4000.0))
    return sigs


@dataclass(frozen=True)
class RawHeader:
    """The few header fields the patch helpers need."""

    header_bytes: int
    n_records: int
    ns: int
    labels: list[str]
    samples_per_record: list[int]
    bytes_per_sample: int

    @property
    def record_bytes(self) -> int:
        return sum(self.samples_per_record) * self.bytes_per_sample


def raw_header(data: bytes) -> RawHeader:
    """Parse the fixed header of an EDF/BDF file held in ``data``."""
    ns = int(data[252:256].decode("ascii"))
    base = 256
    labels = [
        data[base + 16 * i : base + 16 * (i + 1)].decode("latin-1").strip() for i in range(ns)
    ]
    spr_off = base + ns * (16 + 80 + 8 + 8 + 8 + 8 + 8 + 80)
    spr = [int(data[spr_off + 8 * i : spr_off + 8 * (i + 1)].decode("ascii")) for i in range(ns)]
    return RawHeader(
        header_bytes=int(data[184:192].decode("ascii")),
        n_records=int(data[236:244].decode("ascii")),
        ns=ns,
        labels=labels,
        samples_per_record=spr,
        bytes_per_sample=3 if data[:1] == b"\xff" else 2,
    )


def set_record_onsets(path: Path, onsets: list[str], *, keep: bool = False) -> Path:
    """Rewrite each data record's time-keeping TAL to ``+<onset>`` (text given, e.g. ``"+5"``).

    The record's first annotation signal becomes ``<onset>\\x14\\x14\\x00`` padded with zeros; with
    ``keep`` the rest of the signal (the record's other TALs) is kept after it instead, so it
    must have room for the new onset's extra bytes.
    """
    data = bytearray(path.read_bytes())
    hdr = raw_header(bytes(data))
    assert len(onsets) == hdr.n_records
    ann = next(i for i, label in enumerate(hdr.labels)
               if label in ("EDF Annotations", "BDF Annotations"))
    ann_off = sum(hdr.samples_per_record[:ann]) * hdr.bytes_per_sample
    ann_len = hdr.samples_per_record[ann] * hdr.bytes_per_sample
    for r, onset in enumerate(onsets):
        start = hdr.header_bytes + r * hdr.record_bytes + ann_off
        old = bytes(data[start : start + ann_len])
        rest = old[old.index(b"\x14\x14\x00") + 3 :] if keep else b""
        tal = onset.encode("ascii") + b"\x14\x14\x00" + rest
        assert len(tal.rstrip(b"\x00")) <= ann_len
        data[start : start + ann_len] = tal[:ann_len].ljust(ann_len, b"\x00")
    path.write_bytes(bytes(data))
    return path


def make_discontinuous(path: Path, onsets_s: list[float]) -> Path:
    """Turn an EDF+C file into EDF+D whose records start at ``onsets_s`` (seconds).

    Rewrites the reserved field to ``EDF+D`` and every record's time-keeping annotation.
    """
    data = bytearray(path.read_bytes())
    reserved = data[192:236].decode("ascii")
    data[192:236] = reserved.replace("+C", "+D").encode("ascii")
    path.write_bytes(bytes(data))
    return set_record_onsets(path, [f"+{onset:g}" for onset in onsets_s])
