"""Opening the episode store: file permissions, WAL, foreign keys, explicit transactions."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs

from detector.errors import CrampInputError
from detector.store.schema import CURRENT_VERSION, migrate

APP_NAME = "night-cramp-detector"
DB_FILENAME = "episodes.sqlite3"
STORE_FILES: dict[str, str] = {
    "personal": DB_FILENAME,
    "replays": "replays.sqlite3",
    "demo": "demo.sqlite3",
}
"""The stores kept in the user data directory: the sleeper's own nights (``personal``), replays
of files for tuning and the sample recordings (``replays``), simulated demo nights (``demo``)."""
BUSY_TIMEOUT_MS = 10_000


def default_db_path() -> Path:
    """Return the store's default location: ``episodes.sqlite3`` in the user data directory.

    Returns
    -------
    Path
        E.g. ``~/.local/share/night-cramp-detector/episodes.sqlite3`` on Linux.
    """
    return store_path("personal")


def store_path(kind: str) -> Path:
    """Location of one of the :data:`STORE_FILES` stores in the user data directory.

    Parameters
    ----------
    kind : {"personal", "replays", "demo"}

    Returns
    -------
    Path

    Raises
    ------
    CrampInputError
        If ``kind`` is not one of the stores.
    """
    if kind not in STORE_FILES:
        raise CrampInputError("--store", f"expected one of {', '.join(STORE_FILES)}, "
                                         f"got {kind!r}")
    return platformdirs.user_data_path(APP_NAME, appauthor=False) / STORE_FILES[kind]


def connect(
    path: Path | None = None, *, create: bool = True, schema_target: int = CURRENT_VERSION
) -> sqlite3.Connection:
    """Open (and if needed create and migrate) the episode store.

    The file and its ``-wal`` / ``-shm`` companions are created with mode 0600 (they hold
    health data). The connection is in autocommit mode: write through :func:`transaction`.

    Parameters
    ----------
    path : Path, optional
        Store file; :func:`default_db_path` when ``None``.
    create : bool
        Create the file when missing. When ``False`` a missing store is an input error.
    schema_target : int
        Schema version to migrate to (tests use older versions).

    Returns
    -------
    sqlite3.Connection
        With WAL journaling, foreign keys on and rows as :class:`sqlite3.Row`.

    Raises
    ------
    CrampInputError
        If the store is missing (``create=False``), not a SQLite file, or too new.
    """
    db_path = Path(path) if path is not None else default_db_path()
    where = str(db_path)
    if not db_path.exists():
        if not create:
            raise CrampInputError(where, "no episode store here yet")
        db_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    elif db_path.is_dir():
        raise CrampInputError(where, "is a directory; expected an episode store file")
    old_umask = os.umask(0o077)
    try:
        conn = sqlite3.connect(db_path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            migrate(conn, where=where, target=schema_target)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise CrampInputError(where, f"not a readable episode store ({exc})") from None
        except BaseException:
            conn.close()
            raise
    finally:
        os.umask(old_umask)
    _tighten_permissions(db_path)
    return conn


def _tighten_permissions(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        p = db_path.with_name(db_path.name + suffix)
        try:
            if p.stat().st_mode & 0o077:
                p.chmod(0o600)
        except FileNotFoundError:
            continue
        except PermissionError:  # someone else's file: leave it, SQLite will report access
            continue


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a block in one ``BEGIN IMMEDIATE`` transaction; roll back on any exception.

    Parameters
    ----------
    conn : sqlite3.Connection
        A connection from :func:`connect` (autocommit mode).

    Yields
    ------
    sqlite3.Connection
        The same connection, holding the write lock.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def open_store(path: Path | None = None, *, create: bool = True) -> Iterator[sqlite3.Connection]:
    """Context manager around :func:`connect` that closes the connection at the end."""
    conn = connect(path, create=create)
    try:
        yield conn
    finally:
        conn.close()
