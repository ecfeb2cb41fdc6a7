"""Collated tables of a batch: nights and episodes, Parquet (pyarrow) and CSV.

Every row carries the recording's content hash, the parameter hash and the detector version,
so rows from different runs can be pooled and still told apart. Rows follow the sorted input
paths and the episode order, never the order in which workers finished.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

NIGHT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("path", "string"), ("sha256", "string"), ("parameter_hash", "string"),
    ("detector_version", "string"), ("start_utc", "string"), ("duration_s", "float64"),
    ("mode", "string"), ("leg", "string"), ("n_episodes", "int64"),
    ("cramp_s", "float64"), ("in_bed_s", "float64"), ("gaps", "int64"),
    ("gap_s", "float64"), ("emg_usable_fraction", "float64"),
    ("acc_coverage", "float64"), ("result_file", "string"),
)
"""Columns of the nights table and their Arrow types."""
EPISODE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("path", "string"), ("sha256", "string"), ("parameter_hash", "string"),
    ("detector_version", "string"), ("episode", "int64"), ("onset_s", "float64"),
    ("offset_s", "float64"), ("duration_s", "float64"), ("onset_utc", "string"),
    ("leg", "string"), ("in_bed", "bool"), ("peak_emg_uv", "float64"),
    ("mean_emg_uv", "float64"), ("plantar_flexion_deg", "float64"),
    ("confidence", "float64"), ("evidence", "string"), ("quality_notes", "string"),
)
"""Columns of the episodes table (one row per episode) and their Arrow types."""
FAILURE_COLUMNS: tuple[tuple[str, str], ...] = (("path", "string"), ("error", "string"))


def night_row(rec: dict[str, Any], *, sha256: str, parameter_hash: str,
              result_file: str) -> dict[str, Any]:
    """One nights-table row from a replay result (``cramp replay --json`` shape)."""
    q = rec.get("quality", {})
    return {
        "path": rec["path"], "sha256": sha256, "parameter_hash": parameter_hash,
        "detector_version": rec["detector_version"], "start_utc": rec["start_utc"],
        "duration_s": float(rec["duration_s"]), "mode": rec["mode"], "leg": rec["leg"],
        "n_episodes": len(rec["episodes"]),
        "cramp_s": float(sum(e["duration_s"] for e in rec["episodes"])),
        "in_bed_s": float(sum(b - a for a, b in rec["in_bed_periods"])),
        "gaps": int(q.get("gaps", len(rec["gaps"]))), "gap_s": float(q.get("gap_s", 0.0)),
        "emg_usable_fraction": q.get("emg", {}).get("usable_fraction"),
        "acc_coverage": q.get("accelerometer", {}).get("coverage"),
        "result_file": result_file,
    }


def episode_rows(rec: dict[str, Any], *, sha256: str, parameter_hash: str
                 ) -> list[dict[str, Any]]:
    """Episodes-table rows (one per episode, numbered from 1) from a replay result."""
    rows = []
    for i, e in enumerate(rec["episodes"], 1):
        rows.append({
            "path": rec["path"], "sha256": sha256, "parameter_hash": parameter_hash,
            "detector_version": rec["detector_version"], "episode": i,
            "onset_s": e["onset_s"], "offset_s": e["offset_s"], "duration_s": e["duration_s"],
            "onset_utc": e["onset_utc"], "leg": e["leg"], "in_bed": e["in_bed"],
            "peak_emg_uv": e["peak_emg_uv"], "mean_emg_uv": e["mean_emg_uv"],
            "plantar_flexion_deg": e["plantar_flexion_deg"], "confidence": e["confidence"],
            "evidence": ";".join(e["evidence"]), "quality_notes": "; ".join(e["quality_notes"]),
        })
    return rows


def write_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], *,
                stem: Path, parquet: bool = True) -> list[Path]:
    """Write rows as ``<stem>.parquet`` (optional) and ``<stem>.csv``, 0600, atomically.

    Returns
    -------
    list of Path
        The files written.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    schema = pa.schema([(name, pa.type_for_alias(kind)) for name, kind in columns])
    table = pa.Table.from_pylist([{k: r.get(k) for k, _ in columns} for r in rows],
                                 schema=schema)
    written = []
    targets = [(".parquet", lambda fh: pq.write_table(table, fh))] if parquet else []
    targets.append((".csv", lambda fh: pacsv.write_csv(table, fh)))
    for suffix, write in targets:
        path = stem.with_name(stem.name + suffix)
        _write_private_binary(path, write)
        written.append(path)
    return written


def _write_private_binary(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_table(path: Path) -> list[dict[str, Any]]:
    """Rows of a Parquet table written by :func:`write_table` (tests, scripts)."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()
