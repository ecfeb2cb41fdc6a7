"""Machine exports of stored nights: events tables (CSV, JSON) and EDF+ with signals.

The events table follows the BIDS/MNE convention: ``onset`` and ``duration`` in seconds come
first (``onset`` from the start of the episode's recording), then the episode's other fields.
EDF+ export re-reads the raw recording the night was analysed from (its path is in the store)
and writes its signals with the cramps, data gaps, poor-signal stretches and in-bed period as
annotations. Every file written holds health data: mode 0600, never replacing an existing
file unless asked.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.intervals import merge_intervals
from detector.safe_files import publish_file
from detector.signals import RecordingSource
from detector.store.codec import utc_text
from detector.store.nights import StoredNight

EVENT_COLUMNS: tuple[str, ...] = (
    "onset", "duration", "onset_utc", "leg", "peak_emg_uv", "mean_emg_uv",
    "plantar_flexion_deg", "confidence", "in_bed", "evidence", "quality_notes", "trial_type",
    "night_date", "recording",
)
"""Columns of the events table, in order."""


def event_rows(nights: list[StoredNight]) -> list[dict[str, Any]]:
    """One row per episode of ``nights``, with the :data:`EVENT_COLUMNS` keys.

    ``onset`` and ``duration`` are seconds (``onset`` from the recording start), times are UTC
    ISO 8601, ``evidence`` and ``quality_notes`` are lists, missing values are ``None``.
    """
    rows = []
    for night in nights:
        for e in night.episodes:
            rows.append({
                "onset": round(e.onset_s, 3),
                "duration": round(e.duration_s, 3),
                "onset_utc": utc_text(e.onset_utc),
                "leg": e.leg,
                "peak_emg_uv": None if e.peak_emg_uv is None else round(e.peak_emg_uv, 2),
                "mean_emg_uv": None if e.mean_emg_uv is None else round(e.mean_emg_uv, 2),
                "plantar_flexion_deg": (None if e.plantar_flexion_deg is None
                                        else round(e.plantar_flexion_deg, 1)),
                "confidence": round(e.confidence, 3),
                "in_bed": e.in_bed,
                "evidence": list(e.evidence),
                "quality_notes": list(e.quality_notes),
                "trial_type": "cramp",
                "night_date": night.night_date.isoformat(),
                "recording": night.recording_path,
            })
    return rows


def events_csv(nights: list[StoredNight]) -> str:
    """The events table as CSV text (``n/a`` for missing values, lists joined by ``;``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    for row in event_rows(nights):
        cells = []
        for key in EVENT_COLUMNS:
            v = row[key]
            if v is None:
                cells.append("n/a")
            elif isinstance(v, bool):
                cells.append("true" if v else "false")
            elif isinstance(v, list):
                cells.append(";".join(v))
            else:
                cells.append(str(v))
        writer.writerow(cells)
    return buf.getvalue()


def events_json(nights: list[StoredNight]) -> str:
    """The events table as JSON: ``{"columns": [...], "events": [...], "nights": [...]}``."""
    doc = {
        "columns": list(EVENT_COLUMNS),
        "events": event_rows(nights),
        "nights": [{
            "night_date": n.night_date.isoformat(),
            "recording": n.recording_path,
            "recording_sha256": n.recording_sha256,
            "start_utc": utc_text(n.start_utc),
            "duration_s": round(n.duration_s, 3),
            "leg": n.leg,
            "mode": n.mode,
            "in_bed_periods": [[round(a, 1), round(b, 1)] for a, b in n.in_bed_periods],
            "set_aside": [{"onset_s": round(w.onset_s, 3), "withdrawn_s": round(w.withdrawn_s, 3),
                           "reason": w.reason} for w in n.set_aside],
            "detector_version": n.detector_version,
        } for n in nights],
    }
    return json.dumps(doc, indent=2) + "\n"


def write_text_file(out: Path, text: str, *, force: bool) -> Path:
    """Write UTF-8 text to a private file with :func:`publish_file`."""
    return publish_file(out, lambda p: p.write_text(text, encoding="utf-8"), force=force)


def write_new_report(folder: Path, stem: str, text: str) -> Path:
    """Write ``folder/stem.html``, or ``stem-2.html``, ``stem-3.html``... if taken.

    Never replaces a file: an earlier report stays as it was.

    Raises
    ------
    CrampInputError
        If the folder is missing or 999 names are taken.
    """
    for k in range(1, 1000):
        out = Path(folder) / f"{stem}{'' if k == 1 else f'-{k}'}.html"
        if out.exists():
            continue
        try:
            return write_text_file(out, text, force=False)
        except CrampInputError:
            if out.exists():  # taken meanwhile: try the next name
                continue
            raise
    raise CrampInputError(str(folder), f"999 reports named {stem}*.html already exist")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _reopen(night: StoredNight) -> RecordingSource:
    """Open the raw recording the night was analysed from, with the channels it used."""
    from detector.io.channels import ChannelMap
    from detector.io.open import open_recording

    path = Path(night.recording_path)
    if not path.is_file():
        raise CrampInputError(str(path), "the raw recording is needed for an EDF+ export with "
                                         "signals, and it is no longer there")
    if night.recording_sha256 is not None and _sha256(path) != night.recording_sha256:
        raise CrampInputError(str(path), "the file has changed since the night was analysed "
                                         "(SHA-256 differs)")

    def labels(role: str) -> list[str]:
        return list(night.channels.get(role, {}).get("source_labels", []))

    emg, shank, foot = labels("emg"), labels("shank_acc"), labels("foot_acc")
    fs = night.channels.get("emg", night.channels.get("shank_acc", {})).get("fs")
    cmap = ChannelMap(
        emg=emg[0] if len(emg) == 1 else None,
        shank_acc=(shank[0], shank[1], shank[2]) if len(shank) == 3 else None,
        foot_acc=(foot[0], foot[1], foot[2]) if len(foot) == 3 else None,
        fs=float(fs) if night.file_format.startswith("csv") and fs else None,
        start_utc=night.start_utc,
    )
    min_fs = night.parameters.get("emg", {}).get("min_fs_hz", DetectorConfig().emg.min_fs_hz)
    return open_recording(path, channel_map=cmap, min_emg_fs_hz=float(min_fs))


def read_signals(source: RecordingSource) -> dict[str, tuple[np.ndarray, float]]:
    """Read a whole recording into one array per role, gaps filled with 0.

    Parameters
    ----------
    source : RecordingSource
        An open recording.

    Returns
    -------
    dict of str to (ndarray, float)
        ``{role: (samples, fs)}``; samples have shape (n,) in uV for EMG or (n, 3) in g for
        accelerometers, at least the nominal length ``duration_s * fs``; each role at its own
        rate.
    """
    info = source.info
    arrays: dict[str, np.ndarray] = {}
    nominal: dict[str, int] = {}
    filled: dict[str, int] = {}
    for role, spec in info.channels.items():
        n = max(1, math.ceil(info.duration_s * spec.fs - 1e-6))
        arrays[role] = np.zeros((n,) if spec.width == 1 else (n, 3), dtype=np.float64)
        nominal[role] = n
        filled[role] = 0
    for role, block in source.blocks(60.0):
        arr = arrays[role]
        end = block.end_sample
        if end > arr.shape[0]:
            grown = np.zeros((max(end, 2 * arr.shape[0]), *arr.shape[1:]), dtype=np.float64)
            grown[: arr.shape[0]] = arr
            arrays[role] = arr = grown
        arr[block.start_sample:end] = np.nan_to_num(block.data, nan=0.0, posinf=0.0,
                                                    neginf=0.0)
        filled[role] = max(filled[role], end)
    return {role: (arrays[role][: max(filled[role], nominal[role])], info.channels[role].fs)
            for role in arrays}


def edf_annotations(night: StoredNight) -> list[tuple[float, float | None, str]]:
    """EDF+ annotations of a night: cramps, in-bed periods, data gaps, poor signal, alerts
    set aside.

    Returns
    -------
    list of (onset_s, duration_s, text)
        Onsets in seconds from the recording start, in time order. Cramp texts start with
        ``"Cramp"``; no other text contains that word.
    """
    notes: list[tuple[float, float | None, str]] = []
    for i, e in enumerate(night.episodes, start=1):
        leg = {"left": " left leg", "right": " right leg"}.get(e.leg, "")
        notes.append((e.onset_s, e.duration_s, f"Cramp {i}{leg}"))
    for a, b in night.in_bed_periods:
        notes.append((a, b - a, "In bed"))
    for a, b in merge_intervals([(g.start_s, g.end_s) for g in night.gaps]):
        notes.append((a, b - a, "Data gap (filled with 0)"))
    for q in night.quality_periods:
        notes.append((q.start_s, q.end_s - q.start_s, "Poor signal (electrode)"))
    for w in night.set_aside:  # announced live, shown not to be one by a later look
        notes.append((w.onset_s, w.withdrawn_s - w.onset_s, f"Alert set aside: {w.reason}"))
    return sorted(notes, key=lambda n: n[0])


def export_edf(night: StoredNight, out: Path, *, force: bool) -> Path:
    """Write an EDF+ file with the night's raw signals and its annotations.

    Parameters
    ----------
    night : StoredNight
        A stored night whose raw recording is still at its stored path.
    out : Path
        File to create (mode 0600).
    force : bool
        Replace an existing ``out``.

    Raises
    ------
    CrampInputError
        If the raw recording is gone or changed, or the signals cannot be written.
    """
    from detector.io.edf_export import write_edf

    source = _reopen(night)
    try:
        signals = read_signals(source)
        band = _band_name(source, night)
    finally:
        source.close()
    kwargs: dict[str, Any] = {}
    if "emg" in signals:
        kwargs.update(emg_uv=signals["emg"][0], fs_emg=signals["emg"][1])
    if "shank_acc" in signals:
        kwargs.update(shank_acc_g=signals["shank_acc"][0], fs_acc=signals["shank_acc"][1])
    if "foot_acc" in signals:
        kwargs["foot_acc_g"] = signals["foot_acc"][0]
        if "shank_acc" in signals:
            kwargs["fs_foot_acc"] = signals["foot_acc"][1]
        else:
            kwargs["fs_acc"] = signals["foot_acc"][1]
    leg = {"left": "left", "right": "right"}.get(night.leg, "unknown")
    annotations = edf_annotations(night)

    def write(tmp: Path) -> None:
        write_edf(tmp, start_utc=night.start_utc, annotations=annotations, leg=leg,
                  equipment=band,
                  recording_additional=f"night {night.night_date.isoformat()} leg {leg}",
                  **kwargs)

    if str(out) == "-":
        return _to_stdout(write)
    return publish_file(out, write, force=force)


def _band_name(source: RecordingSource, night: StoredNight) -> str:
    """Short ASCII name of the band (capture profile) or the recording's format."""
    profile = getattr(source, "profile", None)
    name = profile if isinstance(profile, str) else str(
        getattr(profile, "local_name_prefix", "") or getattr(profile, "name", "") or "")
    name = f"{name} {night.file_format}".strip() if name else night.file_format or "recording"
    clean = "".join(ch if ch.isascii() and ch.isprintable() else "_" for ch in name)
    return clean[:24]


def _to_stdout(write: Callable[[Path], None]) -> Path:
    """Write through a private temporary file, then copy its bytes to standard output."""
    import sys

    tmp_dir = Path(tempfile.mkdtemp(prefix=".cramp-"))
    try:
        tmp = tmp_dir / "export.edf"
        write(tmp)
        with tmp.open("rb") as fh:
            shutil.copyfileobj(fh, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return Path("-")
