"""Schema of the episode store and its migrations.

The schema version lives in SQLite's ``PRAGMA user_version``. ``MIGRATIONS[i]`` holds the
statements that take a store from version ``i`` to version ``i + 1``; a new store runs them
all. A migration never drops user data: it only adds tables, columns and indexes.

Times are stored twice: as UTC ISO 8601 text (``..._utc``, for people and other tools) and as
seconds (``..._unix_s`` since 1970 UTC for absolute times, ``..._s`` from the recording start for
times inside a recording), so queries can compare numbers.
"""

from __future__ import annotations

import sqlite3

from detector.errors import CrampInputError

_V1: tuple[str, ...] = (
    """CREATE TABLE profile (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL DEFAULT 'me',
        age_band TEXT,
        sex TEXT,
        pregnant INTEGER CHECK (pregnant IN (0, 1)),
        conditions_json TEXT NOT NULL DEFAULT '[]',
        updated_utc TEXT NOT NULL
    )""",
    """CREATE TABLE devices (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT,
        address TEXT,
        firmware TEXT,
        first_seen_utc TEXT NOT NULL,
        UNIQUE (kind, address)
    )""",
    """CREATE TABLE recordings (
        id INTEGER PRIMARY KEY,
        device_id INTEGER REFERENCES devices(id) ON DELETE SET NULL,
        path TEXT NOT NULL,
        sha256 TEXT UNIQUE,
        file_format TEXT NOT NULL DEFAULT '',
        start_utc TEXT NOT NULL,
        start_unix_s REAL NOT NULL,
        end_utc TEXT NOT NULL,
        duration_s REAL NOT NULL,
        leg TEXT NOT NULL DEFAULT 'unknown',
        channels_json TEXT NOT NULL,
        notes_json TEXT NOT NULL DEFAULT '[]',
        created_utc TEXT NOT NULL
    )""",
    """CREATE TABLE nights (
        id INTEGER PRIMARY KEY,
        recording_id INTEGER NOT NULL UNIQUE REFERENCES recordings(id) ON DELETE CASCADE,
        profile_id INTEGER REFERENCES profile(id) ON DELETE SET NULL,
        night_date TEXT NOT NULL,
        mode TEXT NOT NULL,
        in_bed_start_utc TEXT,
        in_bed_end_utc TEXT,
        in_bed_json TEXT NOT NULL DEFAULT '[]',
        coverage_fraction REAL,
        quality_json TEXT NOT NULL DEFAULT '{}',
        detector_version TEXT NOT NULL,
        parameters_json TEXT NOT NULL,
        updated_utc TEXT NOT NULL
    )""",
    "CREATE INDEX nights_by_date ON nights(night_date)",
    """CREATE TABLE night_runs (
        id INTEGER PRIMARY KEY,
        night_id INTEGER NOT NULL REFERENCES nights(id) ON DELETE CASCADE,
        detector_version TEXT NOT NULL,
        parameters_sha256 TEXT NOT NULL,
        parameters_json TEXT NOT NULL,
        n_episodes INTEGER NOT NULL,
        created_utc TEXT NOT NULL,
        last_used_utc TEXT NOT NULL,
        UNIQUE (night_id, detector_version, parameters_sha256)
    )""",
    """CREATE TABLE episodes (
        id INTEGER PRIMARY KEY,
        night_id INTEGER NOT NULL REFERENCES nights(id) ON DELETE CASCADE,
        run_id INTEGER REFERENCES night_runs(id) ON DELETE SET NULL,
        seq INTEGER NOT NULL,
        onset_s REAL NOT NULL,
        offset_s REAL NOT NULL,
        duration_s REAL NOT NULL,
        onset_utc TEXT NOT NULL,
        onset_unix_s REAL NOT NULL,
        offset_utc TEXT NOT NULL,
        leg TEXT NOT NULL,
        in_bed INTEGER NOT NULL CHECK (in_bed IN (0, 1)),
        peak_emg_uv REAL,
        mean_emg_uv REAL,
        plantar_flexion_deg REAL,
        confidence REAL NOT NULL,
        evidence_json TEXT NOT NULL,
        quality_notes_json TEXT NOT NULL,
        UNIQUE (night_id, seq)
    )""",
    "CREATE INDEX episodes_by_onset ON episodes(onset_unix_s)",
    """CREATE TABLE gaps (
        id INTEGER PRIMARY KEY,
        night_id INTEGER NOT NULL REFERENCES nights(id) ON DELETE CASCADE,
        channel TEXT NOT NULL,
        start_s REAL NOT NULL,
        end_s REAL NOT NULL,
        start_utc TEXT NOT NULL,
        samples_missing INTEGER NOT NULL
    )""",
    """CREATE TABLE diary_entries (
        id INTEGER PRIMARY KEY,
        profile_id INTEGER REFERENCES profile(id) ON DELETE SET NULL,
        entry_date TEXT NOT NULL,
        fields_json TEXT NOT NULL DEFAULT '{}',
        created_utc TEXT NOT NULL,
        updated_utc TEXT NOT NULL
    )""",
    "CREATE INDEX diary_by_date ON diary_entries(entry_date)",
)

_V2: tuple[str, ...] = (
    # The per-second trace, so the report can be rebuilt from the store alone.
    """CREATE TABLE night_traces (
        night_id INTEGER PRIMARY KEY REFERENCES nights(id) ON DELETE CASCADE,
        n_seconds INTEGER NOT NULL,
        fields TEXT NOT NULL,
        encoding TEXT NOT NULL,
        data BLOB NOT NULL
    )""",
    # Stretches of unusable signal that are not gaps (flat or saturated EMG: electrode lift).
    """CREATE TABLE quality_periods (
        id INTEGER PRIMARY KEY,
        night_id INTEGER NOT NULL REFERENCES nights(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        start_s REAL NOT NULL,
        end_s REAL NOT NULL,
        start_utc TEXT NOT NULL
    )""",
    # Zone the night date was computed in (IANA name; NULL = the machine's zone then).
    "ALTER TABLE nights ADD COLUMN timezone TEXT",
)

_V3: tuple[str, ...] = (
    # Age in whole years for the cause rules (``age_band`` stays for coarse, older entries).
    "ALTER TABLE profile ADD COLUMN age_years INTEGER CHECK (age_years BETWEEN 0 AND 130)",
)

_V4: tuple[str, ...] = (
    # Contractions announced live and then set aside by a later look (walking, up and about):
    # not episodes, kept so the morning log can account for an alarm seen in the night.
    """CREATE TABLE set_aside (
        id INTEGER PRIMARY KEY,
        night_id INTEGER NOT NULL REFERENCES nights(id) ON DELETE CASCADE,
        onset_s REAL NOT NULL,
        withdrawn_s REAL NOT NULL,
        onset_utc TEXT NOT NULL,
        reason TEXT NOT NULL
    )""",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4)
"""Statements taking the store from version ``i`` to ``i + 1``."""

CURRENT_VERSION: int = len(MIGRATIONS)
"""Schema version this code reads and writes."""


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the store's schema version (``PRAGMA user_version``; 0 for an empty file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, *, where: str, target: int = CURRENT_VERSION) -> int:
    """Bring the store up to ``target``, one migration per transaction.

    Parameters
    ----------
    conn : sqlite3.Connection
        Connection in autocommit mode (``isolation_level=None``).
    where : str
        Name of the store file, for error messages.
    target : int
        Schema version wanted; the current version by default.

    Returns
    -------
    int
        The schema version after migrating.

    Raises
    ------
    CrampInputError
        If the store was written by a newer version of the program.
    """
    if not 0 <= target <= CURRENT_VERSION:
        raise ValueError(f"target schema version must be 0..{CURRENT_VERSION}, got {target}")
    version = schema_version(conn)
    if version > CURRENT_VERSION:
        raise CrampInputError(
            where, f"episode store has schema version {version}, newer than this program "
            f"understands ({CURRENT_VERSION}); update the program"
        )
    while version < target:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            version = schema_version(conn)
            if version < target:
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version = {version:d}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return version
