"""Reading nights back from the episode store: dates, nights, run history, day totals.

The queries behind the report, the diary, the exports and the cause analysis; the night
records they return (:class:`~detector.store.nights.StoredNight`,
:class:`~detector.store.nights.RunRecord`, :class:`~detector.store.nights.DayTotals`) and the
saving are :mod:`detector.store.nights`. A stored value that cannot be read back raises
:class:`~detector.errors.CrampInputError` naming the night.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from typing import Any

from detector.episode import Episode, EpisodeWithdrawn
from detector.errors import CrampInputError
from detector.signals import Gap
from detector.store.codec import decode_trace, parse_utc
from detector.store.nights import DayTotals, QualityPeriod, RunRecord, StoredNight
from detector.text_fields import is_ascii_digits


def night_dates(conn: sqlite3.Connection) -> list[date]:
    """All night dates in the store, oldest first."""
    rows = conn.execute("SELECT DISTINCT night_date FROM nights ORDER BY night_date").fetchall()
    return [date.fromisoformat(r[0]) for r in rows]


def last_night_dates(conn: sqlite3.Connection, n: int) -> list[date]:
    """The ``n`` most recent night dates in the store, oldest first."""
    if n < 1:
        raise CrampInputError("--last", f"expected a number of nights >= 1, got {n}")
    return night_dates(conn)[-n:]


def night_ids_on(conn: sqlite3.Connection, night_date: date) -> list[int]:
    """Ids of the nights (one per recording) dated ``night_date``, by recording start."""
    rows = conn.execute(
        "SELECT n.id FROM nights n JOIN recordings r ON r.id = n.recording_id "
        "WHERE n.night_date = ? ORDER BY r.start_unix_s, n.id", (night_date.isoformat(),))
    return [int(r[0]) for r in rows.fetchall()]


def load_night(conn: sqlite3.Connection, night_id: int, *, with_trace: bool = True
               ) -> StoredNight:
    """Read one night with its episodes, gaps, quality periods and (optionally) trace.

    Raises
    ------
    CrampInputError
        If no night has that id, or a stored value is damaged.
    """
    row = conn.execute(
        "SELECT n.*, r.path, r.sha256, r.file_format, r.start_utc, r.duration_s, r.leg, "
        "r.channels_json FROM nights n JOIN recordings r ON r.id = n.recording_id "
        "WHERE n.id = ?", (night_id,)).fetchone()
    where = f"episode store night {night_id}"
    if row is None:
        raise CrampInputError(where, "no such night in the store")
    start = parse_utc(row["start_utc"], where=where)
    episodes = tuple(
        Episode(onset_s=e["onset_s"], offset_s=e["offset_s"],
                onset_utc=parse_utc(e["onset_utc"], where=where), leg=e["leg"],
                in_bed=bool(e["in_bed"]), peak_emg_uv=e["peak_emg_uv"],
                mean_emg_uv=e["mean_emg_uv"], plantar_flexion_deg=e["plantar_flexion_deg"],
                confidence=e["confidence"], evidence=tuple(_loads(e["evidence_json"], where)),
                quality_notes=tuple(_loads(e["quality_notes_json"], where)))
        for e in conn.execute("SELECT * FROM episodes WHERE night_id = ? ORDER BY seq",
                              (night_id,)).fetchall())
    gaps = tuple(
        Gap(role=g["channel"], start_s=g["start_s"], end_s=g["end_s"],
            samples_missing=g["samples_missing"])
        for g in conn.execute("SELECT * FROM gaps WHERE night_id = ? ORDER BY start_s, id",
                              (night_id,)).fetchall())
    quality_periods = tuple(
        QualityPeriod(kind=q["kind"], start_s=q["start_s"], end_s=q["end_s"])
        for q in conn.execute("SELECT * FROM quality_periods WHERE night_id = ? "
                              "ORDER BY start_s, id", (night_id,)).fetchall())
    set_aside = tuple(
        EpisodeWithdrawn(onset_s=w["onset_s"], withdrawn_s=w["withdrawn_s"], reason=w["reason"])
        for w in conn.execute("SELECT * FROM set_aside WHERE night_id = ? ORDER BY onset_s, id",
                              (night_id,)).fetchall())
    trace = None
    if with_trace:
        t = conn.execute("SELECT * FROM night_traces WHERE night_id = ?",
                         (night_id,)).fetchone()
        if t is not None:
            trace = decode_trace(t["n_seconds"], t["fields"], t["encoding"], t["data"],
                                 where=where)
    periods = _loads(row["in_bed_json"], where)
    return StoredNight(
        night_id=int(row["id"]), night_date=date.fromisoformat(row["night_date"]),
        timezone=row["timezone"], recording_path=row["path"], recording_sha256=row["sha256"],
        file_format=row["file_format"], start_utc=start, duration_s=row["duration_s"],
        leg=row["leg"], channels=_loads(row["channels_json"], where), mode=row["mode"],
        in_bed_periods=tuple((float(a), float(b)) for a, b in periods), episodes=episodes,
        gaps=gaps, quality_periods=quality_periods, quality=_loads(row["quality_json"], where),
        coverage_fraction=row["coverage_fraction"], detector_version=row["detector_version"],
        parameters=_loads(row["parameters_json"], where), trace=trace, set_aside=set_aside)


def load_nights_on(conn: sqlite3.Connection, night_date: date, *, with_trace: bool = True
                   ) -> list[StoredNight]:
    """All nights dated ``night_date`` (one per recording), by recording start."""
    return [load_night(conn, i, with_trace=with_trace) for i in night_ids_on(conn, night_date)]


def night_runs(conn: sqlite3.Connection, night_id: int) -> list[RunRecord]:
    """Every detector version + parameter set used on a night, oldest first."""
    where = f"episode store night {night_id}"
    return [
        RunRecord(run_id=int(r["id"]), detector_version=r["detector_version"],
                  parameters=_loads(r["parameters_json"], where), n_episodes=r["n_episodes"],
                  created_utc=parse_utc(r["created_utc"], where=where),
                  last_used_utc=parse_utc(r["last_used_utc"], where=where))
        for r in conn.execute("SELECT * FROM night_runs WHERE night_id = ? ORDER BY id",
                              (night_id,)).fetchall()
    ]


def day_totals(conn: sqlite3.Connection, first: date, last: date) -> list[DayTotals]:
    """Episode count and total cramp time per night date from ``first`` to ``last``.

    Dates without any stored night are left out (no recording is not "no cramp").
    """
    rows = conn.execute(
        "SELECT n.night_date, COUNT(DISTINCT n.id) AS n_nights, COUNT(e.id) AS n_episodes, "
        "COALESCE(SUM(e.duration_s), 0.0) AS total_s, GROUP_CONCAT(DISTINCT e.leg) AS legs "
        "FROM nights n LEFT JOIN episodes e ON e.night_id = n.id "
        "WHERE n.night_date BETWEEN ? AND ? GROUP BY n.night_date ORDER BY n.night_date",
        (first.isoformat(), last.isoformat())).fetchall()
    return [DayTotals(night_date=date.fromisoformat(r["night_date"]), n_nights=r["n_nights"],
                      n_episodes=r["n_episodes"], total_cramp_s=float(r["total_s"]),
                      legs=tuple(sorted(r["legs"].split(","))) if r["legs"] else ())
            for r in rows]


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise CrampInputError(where, "a stored JSON value is damaged") from None


def parse_night_date(text: str, *, where: str = "--night") -> date:
    """Parse a night date given as ``YYYY-MM-DD``.

    Raises
    ------
    CrampInputError
        If the text is not a valid calendar date in that form.
    """
    t = text.strip()
    if len(t) != 10 or t[4] != "-" or t[7] != "-" or not is_ascii_digits(t[:4] + t[5:7] + t[8:]):
        raise CrampInputError(where, f"expected a date as YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(t)
    except ValueError:
        raise CrampInputError(where, f"{text!r} is not a calendar date") from None


def select_night_dates(conn: sqlite3.Connection, *, night: str | None, last: int | None,
                       default_last: int | None = 1) -> list[date]:
    """Night dates chosen with ``--night`` / ``--last``, oldest first.

    Parameters
    ----------
    conn : sqlite3.Connection
        Open episode store.
    night : str, optional
        ``YYYY-MM-DD`` from ``--night``.
    last : int, optional
        Number of most recent nights from ``--last``.
    default_last : int or None
        Nights taken when neither is given; ``None`` = every night.

    Raises
    ------
    CrampInputError
        If the store is empty, the date is not stored, or ``last`` < 1.
    """
    stored = night_dates(conn)
    if not stored:
        raise CrampInputError("episode store", "no nights stored yet in this store")
    if night is not None:
        d = parse_night_date(night)
        if d not in stored:
            raise CrampInputError("--night", f"no night dated {d.isoformat()} in the store "
                                             f"(latest: {stored[-1].isoformat()})")
        return [d]
    n = last if last is not None else default_last
    if n is None:
        return stored
    return last_night_dates(conn, n)


def stored_zone(conn: sqlite3.Connection, dates: list[date]) -> str | None:
    """The one IANA zone the nights of ``dates`` were dated in, or ``None`` if not one."""
    if not dates:
        return None
    marks = ",".join("?" * len(dates))
    rows = conn.execute(f"SELECT DISTINCT timezone FROM nights WHERE night_date IN ({marks})",
                        [d.isoformat() for d in dates]).fetchall()
    zones = {r[0] for r in rows}
    return zones.pop() if len(zones) == 1 else None
