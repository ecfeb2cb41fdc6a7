"""Saving a night's result to the episode store; the night records the store reads back.

A *night* is one recording's analysis. Its date is the local date of the evening: the in-bed
start (or recording start) minus 12 hours, so a night that starts after midnight still belongs
to the evening before. The same recording (same SHA-256, or same path and start time when no
hash is given) always maps to the same night: replaying it again replaces the episodes and adds
a row to ``night_runs`` for each distinct detector version + parameter set used. The queries
that read nights back are :mod:`detector.store.night_queries`.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from detector.episode import Episode, EpisodeWithdrawn
from detector.errors import CrampInputError
from detector.pipeline.result import NightResult, NightTrace
from detector.signals import Gap
from detector.store.codec import encode_trace, utc_text
from detector.store.db import open_store, transaction

POOR_SIGNAL = "poor_signal"
"""``quality_periods.kind`` of unusable signal outside gaps (flat or saturated: electrode lift)."""


@dataclass(frozen=True, kw_only=True)
class QualityPeriod:
    """A stretch of unusable signal that is not a data gap.

    Attributes
    ----------
    kind : str
        ``"poor_signal"``: flat or saturated EMG (electrode lift) or another unusable signal.
    start_s, end_s : float
        Seconds from the recording start.
    """

    kind: str
    start_s: float
    end_s: float


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """One detector version + parameter set used on a night (``night_runs`` row)."""

    run_id: int
    detector_version: str
    parameters: dict[str, Any]
    n_episodes: int
    created_utc: datetime
    last_used_utc: datetime


@dataclass(frozen=True, kw_only=True)
class StoredNight:
    """A night as kept in the store.

    Attributes
    ----------
    night_id : int
    night_date : date
        Local date of the evening the night began.
    timezone : str or None
        IANA zone the date was computed in; ``None`` = the machine's zone at the time.
    recording_path, recording_sha256, file_format : str
        Where the raw recording was, its hash (``None`` if not given) and format.
    start_utc : datetime
        Recording start (aware, UTC).
    duration_s : float
        Recording length (s).
    leg : str
        ``"left"``, ``"right"`` or ``"unknown"``.
    channels : dict
        Channel descriptions (role -> {"fs", "unit", "source_labels"}).
    mode : str
        Evidence the detector had: ``"emg+acc"``, ``"emg"`` or ``"acc"``.
    in_bed_periods : tuple of (float, float)
        Seconds from the recording start.
    episodes : tuple of Episode
    gaps : tuple of Gap
    quality_periods : tuple of QualityPeriod
    quality : dict
        The pipeline's signal-quality summary.
    coverage_fraction : float or None
        Mean usable-signal fraction over the recording (0..1).
    detector_version : str
    parameters : dict
        Parameters of the run whose episodes are stored.
    trace : NightTrace or None
        Per-second trace; ``None`` for nights stored before traces were kept.
    set_aside : tuple of EpisodeWithdrawn
        Contractions announced live and then set aside by a later look, with the reason
        (seconds from the recording start); empty for nights stored before they were kept.
    """

    night_id: int
    night_date: date
    timezone: str | None
    recording_path: str
    recording_sha256: str | None
    file_format: str
    start_utc: datetime
    duration_s: float
    leg: str
    channels: dict[str, Any]
    mode: str
    in_bed_periods: tuple[tuple[float, float], ...]
    episodes: tuple[Episode, ...]
    gaps: tuple[Gap, ...]
    quality_periods: tuple[QualityPeriod, ...]
    quality: dict[str, Any]
    coverage_fraction: float | None
    detector_version: str
    parameters: dict[str, Any]
    trace: NightTrace | None
    set_aside: tuple[EpisodeWithdrawn, ...] = ()

    @property
    def end_utc(self) -> datetime:
        """Recording end (aware, UTC)."""
        return self.start_utc + timedelta(seconds=self.duration_s)

    def utc_at(self, t_s: float) -> datetime:
        """Absolute UTC time of ``t_s`` seconds from the recording start."""
        return self.start_utc + timedelta(seconds=t_s)


@dataclass(frozen=True, kw_only=True)
class DayTotals:
    """Episodes of all nights stored for one night date (for trends)."""

    night_date: date
    n_nights: int
    n_episodes: int
    total_cramp_s: float
    legs: tuple[str, ...]


def resolve_zone(name: str | None, *, where: str) -> tzinfo | None:
    """Return the zone named ``name``, or ``None`` for the machine's local zone.

    Raises
    ------
    CrampInputError
        If ``name`` is not a known IANA time zone.
    """
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CrampInputError(where, f"unknown time zone {name!r}; expected an IANA name "
                                     f"such as 'Europe/Berlin'") from None


def night_date_for(anchor_utc: datetime, zone: tzinfo | None) -> date:
    """Night date of a night whose evening anchor (in-bed or recording start) is given.

    Parameters
    ----------
    anchor_utc : datetime
        Aware time of the in-bed start, or of the recording start.
    zone : tzinfo or None
        Local zone; ``None`` = the machine's zone.

    Returns
    -------
    date
        Local date of ``anchor_utc - 12 h``.
    """
    local = anchor_utc.astimezone(zone) if zone is not None else anchor_utc.astimezone()
    return (local - timedelta(hours=12)).date()


def save_night(
    result: NightResult,
    *,
    db_path: Path | None = None,
    recording_sha256: str | None = None,
    timezone: str | None = None,
) -> int:
    """Store one recording's result; return the night id.

    Parameters
    ----------
    result : NightResult
        What the pipeline produced for the recording.
    db_path : Path, optional
        Store file; the platform data directory's ``episodes.sqlite3`` when ``None``.
    recording_sha256 : str, optional
        Hex SHA-256 of the recording file: identifies the recording across replays.
    timezone : str, optional
        IANA zone for the night date; ``None`` = the machine's zone.

    Returns
    -------
    int
        Id of the night row (the same id when the same recording is stored again).

    Raises
    ------
    CrampInputError
        If the zone is unknown or the store cannot be opened.
    """
    zone = resolve_zone(timezone, where="timezone")
    if recording_sha256 is not None:
        recording_sha256 = recording_sha256.strip().lower()
        if len(recording_sha256) != 64 or any(c not in "0123456789abcdef"
                                              for c in recording_sha256):
            raise CrampInputError("recording_sha256", "expected 64 hex digits")
    with open_store(db_path) as conn, transaction(conn):
        recording_id = _upsert_recording(conn, result, recording_sha256)
        night_id = _upsert_night(conn, result, recording_id, timezone, zone)
        run_id = _record_run(conn, night_id, result)
        _replace_contents(conn, night_id, run_id, result)
    return night_id


def _now() -> str:
    return utc_text(datetime.now(UTC))


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False,
                      default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _clean_for_json(value: Any) -> Any:
    """Replace non-finite floats (not valid JSON) with ``None``, recursively."""
    if isinstance(value, dict):
        return {str(k): _clean_for_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_for_json(v) for v in value]
    if isinstance(value, float | np.floating):
        return _finite_or_none(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


def _upsert_recording(conn: sqlite3.Connection, result: NightResult, sha: str | None) -> int:
    info = result.info
    channels = {
        role: {"fs": spec.fs, "unit": spec.unit, "source_labels": list(spec.source_labels)}
        for role, spec in info.channels.items()
    }
    end = info.start_utc + timedelta(seconds=info.duration_s)
    values = (info.path, info.file_format, utc_text(info.start_utc),
              info.start_utc.timestamp(), utc_text(end), info.duration_s, info.leg,
              _json(channels), _json(list(info.notes)))
    if sha is not None:
        row = conn.execute("SELECT id FROM recordings WHERE sha256 = ?", (sha,)).fetchone()
        if row is None:  # a night stored live, episode by episode, before the file was closed
            # (same file; its start may since have been refined by the clock fit)
            row = conn.execute(
                "SELECT id FROM recordings WHERE sha256 IS NULL AND path = ? "
                "ORDER BY id DESC LIMIT 1", (info.path,),
            ).fetchone()
            if row is not None:
                conn.execute("UPDATE recordings SET sha256 = ? WHERE id = ?", (sha, row["id"]))
    else:
        row = conn.execute(
            "SELECT id FROM recordings WHERE sha256 IS NULL AND path = ? AND start_utc = ?",
            (info.path, utc_text(info.start_utc)),
        ).fetchone()
    if row is not None:
        conn.execute(
            "UPDATE recordings SET path = ?, file_format = ?, start_utc = ?, start_unix_s = ?, "
            "end_utc = ?, duration_s = ?, leg = ?, channels_json = ?, notes_json = ? "
            "WHERE id = ?", (*values, row["id"]))
        return int(row["id"])
    cur = conn.execute(
        "INSERT INTO recordings (path, file_format, start_utc, start_unix_s, end_utc, "
        "duration_s, leg, channels_json, notes_json, sha256, created_utc) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (*values, sha, _now()))
    return int(cur.lastrowid or 0)


def _coverage(trace: NightTrace) -> float | None:
    if trace.n_seconds == 0:
        return None
    valid = np.nan_to_num(np.asarray(trace.valid, dtype=np.float64), nan=0.0)
    return float(np.clip(valid, 0.0, 1.0).mean())


def _upsert_night(conn: sqlite3.Connection, result: NightResult, recording_id: int,
                  timezone: str | None, zone: tzinfo | None) -> int:
    start = result.info.start_utc
    periods = [(float(a), float(b)) for a, b in result.in_bed_periods]
    anchor = start + timedelta(seconds=periods[0][0]) if periods else start
    bed_start = utc_text(start + timedelta(seconds=periods[0][0])) if periods else None
    bed_end = utc_text(start + timedelta(seconds=periods[-1][1])) if periods else None
    values = (
        night_date_for(anchor, zone).isoformat(), timezone, result.mode, bed_start, bed_end,
        _json(periods), _finite_or_none(_coverage(result.trace)),
        _json(_clean_for_json(result.quality)), result.detector_version,
        _json(_clean_for_json(result.parameters)), _now(),
    )
    row = conn.execute("SELECT id FROM nights WHERE recording_id = ?",
                       (recording_id,)).fetchone()
    if row is not None:
        conn.execute(
            "UPDATE nights SET night_date = ?, timezone = ?, mode = ?, in_bed_start_utc = ?, "
            "in_bed_end_utc = ?, in_bed_json = ?, coverage_fraction = ?, quality_json = ?, "
            "detector_version = ?, parameters_json = ?, updated_utc = ? WHERE id = ?",
            (*values, row["id"]))
        return int(row["id"])
    cur = conn.execute(
        "INSERT INTO nights (night_date, timezone, mode, in_bed_start_utc, in_bed_end_utc, "
        "in_bed_json, coverage_fraction, quality_json, detector_version, parameters_json, "
        "updated_utc, recording_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*values, recording_id))
    return int(cur.lastrowid or 0)


def _record_run(conn: sqlite3.Connection, night_id: int, result: NightResult) -> int:
    params = _json(_clean_for_json(result.parameters))
    digest = hashlib.sha256(params.encode("utf-8")).hexdigest()
    now = _now()
    row = conn.execute(
        "SELECT id FROM night_runs WHERE night_id = ? AND detector_version = ? "
        "AND parameters_sha256 = ?", (night_id, result.detector_version, digest)).fetchone()
    if row is not None:
        conn.execute("UPDATE night_runs SET last_used_utc = ?, n_episodes = ? WHERE id = ?",
                     (now, len(result.episodes), row["id"]))
        return int(row["id"])
    cur = conn.execute(
        "INSERT INTO night_runs (night_id, detector_version, parameters_sha256, parameters_json, "
        "n_episodes, created_utc, last_used_utc) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (night_id, result.detector_version, digest, params, len(result.episodes), now, now))
    return int(cur.lastrowid or 0)


def poor_signal_periods(trace: NightTrace, gaps: tuple[Gap, ...]) -> list[QualityPeriod]:
    """Find runs of unusable seconds (``valid < 0.5``) that no data gap explains.

    Parameters
    ----------
    trace : NightTrace
        Per-second trace, arrays of shape (n_seconds,).
    gaps : tuple of Gap
        Data gaps (seconds from the recording start).

    Returns
    -------
    list of QualityPeriod
        Whole-second periods, in time order.
    """
    n = trace.n_seconds
    bad = ~(np.nan_to_num(np.asarray(trace.valid, dtype=np.float64), nan=0.0) >= 0.5)
    in_gap = np.zeros(n, dtype=bool)
    for g in gaps:
        lo = max(0, math.floor(g.start_s))
        hi = min(n, math.ceil(g.end_s))
        if hi > lo:
            in_gap[lo:hi] = True
    bad &= ~in_gap
    edges = np.diff(np.concatenate(([0], bad.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return [QualityPeriod(kind=POOR_SIGNAL, start_s=float(a), end_s=float(b))
            for a, b in zip(starts, ends, strict=True)]


def _replace_contents(conn: sqlite3.Connection, night_id: int, run_id: int,
                      result: NightResult) -> None:
    for table in ("episodes", "gaps", "quality_periods", "night_traces", "set_aside"):
        conn.execute(f"DELETE FROM {table} WHERE night_id = ?", (night_id,))
    start = result.info.start_utc
    conn.executemany(
        "INSERT INTO episodes (night_id, run_id, seq, onset_s, offset_s, duration_s, onset_utc, "
        "onset_unix_s, offset_utc, leg, in_bed, peak_emg_uv, mean_emg_uv, plantar_flexion_deg, "
        "confidence, evidence_json, quality_notes_json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(night_id, run_id, i, e.onset_s, e.offset_s, e.duration_s, utc_text(e.onset_utc),
          e.onset_utc.timestamp(), utc_text(e.onset_utc + timedelta(seconds=e.duration_s)),
          e.leg, int(e.in_bed), _finite_or_none(e.peak_emg_uv), _finite_or_none(e.mean_emg_uv),
          _finite_or_none(e.plantar_flexion_deg), e.confidence, _json(list(e.evidence)),
          _json(list(e.quality_notes)))
         for i, e in enumerate(result.episodes)])
    conn.executemany(
        "INSERT INTO gaps (night_id, channel, start_s, end_s, start_utc, samples_missing) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(night_id, g.role, g.start_s, g.end_s, utc_text(start + timedelta(seconds=g.start_s)),
          g.samples_missing) for g in result.gaps])
    conn.executemany(
        "INSERT INTO quality_periods (night_id, kind, start_s, end_s, start_utc) "
        "VALUES (?, ?, ?, ?, ?)",
        [(night_id, q.kind, q.start_s, q.end_s, utc_text(start + timedelta(seconds=q.start_s)))
         for q in poor_signal_periods(result.trace, result.gaps)])
    conn.executemany(
        "INSERT INTO set_aside (night_id, onset_s, withdrawn_s, onset_utc, reason) "
        "VALUES (?, ?, ?, ?, ?)",
        [(night_id, w.onset_s, w.withdrawn_s, utc_text(start + timedelta(seconds=w.onset_s)),
          w.reason) for w in result.set_aside])
    n, fields, encoding, blob = encode_trace(result.trace)
    conn.execute("INSERT INTO night_traces (night_id, n_seconds, fields, encoding, data) "
                 "VALUES (?, ?, ?, ?, ?)", (night_id, n, fields, encoding, blob))
