"""Writing a capture: append-only, one ``write`` per record, fsync at least once a second.

Each record goes to the operating system as soon as it is added (a single ``os.write``), so a
crash of this process loses nothing already written; ``fsync`` runs whenever a second has
passed since the last one (on the next record, and from a small background thread when no
record comes), so a power cut loses at most about the last second.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from detector import __version__
from detector.capture.format import (
    RecordType,
    event_body,
    file_header,
    frame,
    packet_body,
    session_body,
    source_body,
)
from detector.errors import CrampError, CrampInputError

SYNC_INTERVAL_S = 1.0
"""Longest time (s) a written record waits for fsync."""


class CaptureWriteError(CrampError):
    """The capture file could not be written (disk full, device gone...)."""


class CaptureWriter:
    """Append records to a new capture file.

    Parameters
    ----------
    path : Path
        File to create; it must not exist (created with ``O_EXCL``, mode 0600).
    session : dict
        Session metadata (JSON values): ``profile``, ``device`` (address, name),
        ``device_info``, ``config``, ``host_start_utc`` (ISO), ``detector_version``...
        ``host_start_utc`` and ``detector_version`` are filled in when missing.
    sync_interval_s : float
        Longest time (s) between a write and its fsync.
    background_sync : bool
        Run a daemon thread that fsyncs pending records when no new record arrives.
    clock : callable
        Monotonic clock (s) used to pace fsync (injectable for tests).

    Raises
    ------
    CrampInputError
        If the file exists or its directory does not.
    """

    def __init__(self, path: Path, *, session: dict[str, Any],
                 sync_interval_s: float = SYNC_INTERVAL_S, background_sync: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        meta = dict(session)
        meta.setdefault("host_start_utc", datetime.now(UTC).isoformat())
        meta.setdefault("detector_version", __version__)
        header = file_header() + frame(RecordType.SESSION, session_body(meta))
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except FileExistsError:
            raise CrampInputError(str(self.path), "already exists; a capture is never "
                                  "overwritten") from None
        except FileNotFoundError:
            raise CrampInputError(str(self.path), "directory does not exist") from None
        except OSError as exc:
            raise CrampInputError(str(self.path), f"cannot create ({exc.strerror})") from None
        self._fd: int | None = fd
        self._lock = threading.Lock()
        self._clock = clock
        self._interval = sync_interval_s
        self._sources: dict[str, int] = {}
        self._dirty = False
        self._new_records = False
        self.records_written = 0
        self.bytes_written = 0
        try:
            os.fchmod(fd, 0o600)
            self._write(header)
            self._sync_now()
            fsync_dir(self.path.parent)
        except BaseException:
            os.close(fd)
            self._fd = None
            raise
        self._last_sync = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background_sync:
            self._thread = threading.Thread(target=self._sync_loop, name="capture-fsync",
                                            daemon=True)
            self._thread.start()

    # ----------------------------------------------------------------------------- records
    def packet(self, *, source: str, payload: bytes, received_s: float) -> None:
        """Append one received notification.

        Parameters
        ----------
        source : str
            Where it came from, e.g. ``"legband:data"``.
        payload : bytes
            The notification value.
        received_s : float
            Host receive time, seconds since the Unix epoch.
        """
        parts = b""
        sid = self._sources.get(source)
        if sid is None:
            sid = len(self._sources)
            if sid > 0xFFFF:
                raise ValueError("too many distinct packet sources")
            self._sources[source] = sid
            parts = frame(RecordType.SOURCE, source_body(sid, source))
        self._append(parts + frame(RecordType.PACKET, packet_body(sid, received_s, payload)))

    def event(self, kind: str, *, at_s: float, **fields: Any) -> None:
        """Append an event (``"connected"``, ``"disconnected"``, ``"gap"``, ``"status"``,
        ``"config"``, ``"stop"``); ``at_s`` is host time (s since the Unix epoch) and
        ``fields`` are JSON values."""
        if not kind:
            raise ValueError("event kind must not be empty")
        self._append(frame(RecordType.EVENT, event_body(kind, at_s, fields)))

    def flush(self) -> None:
        """Make everything written so far durable (fsync)."""
        with self._lock:
            self._sync_now()

    def close(self) -> None:
        """Fsync and close the file (idempotent)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._fd is None:
                return
            try:
                self._sync_now(repeat_sources=False)
            finally:
                os.close(self._fd)
                self._fd = None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._fd is None

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ---------------------------------------------------------------------------- internals
    def _append(self, data: bytes) -> None:
        with self._lock:
            if self._fd is None:
                raise ValueError("capture writer is closed")
            self._write(data)
            self._new_records = True
            self.records_written += 1
            if self._clock() - self._last_sync >= self._interval:
                self._sync_now()

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
                self.bytes_written += n
        except OSError as exc:
            raise CaptureWriteError(f"{self.path}: cannot write ({exc.strerror})") from None
        self._dirty = True

    def _sync_now(self, *, repeat_sources: bool = True) -> None:
        if self._fd is None:
            return
        if self._dirty:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise CaptureWriteError(f"{self.path}: cannot fsync ({exc.strerror})") from None
            self._dirty = False
            # definitions again after each sync: a damaged one never orphans later packets
            if self._sources and self._new_records and repeat_sources:
                self._new_records = False
                again = b"".join(frame(RecordType.SOURCE, source_body(sid, name))
                                 for name, sid in self._sources.items())
                self._write(again)
        self._last_sync = self._clock()

    def _sync_loop(self) -> None:
        while not self._stop.wait(self._interval / 2):
            with self._lock:
                if self._fd is not None and self._dirty \
                        and self._clock() - self._last_sync >= self._interval:
                    try:
                        self._sync_now()
                    except CaptureWriteError:
                        return


def fsync_dir(directory: Path) -> None:
    """Make the new directory entry durable (best effort where directories cannot be opened)."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems cannot sync a directory
            os.fsync(dfd)
    finally:
        os.close(dfd)
