"""A recording mapped into memory on a helper thread while a replay's imports run.

Reading a memory-mapped file costs a page fault wherever a page is first touched: some 10 ms
of an 8-hour night's 100 MB, paid by the thread that reads it. ``cramp replay`` spends its
first 0.1 s importing numpy and the pipeline on one thread while the second CPU is idle, so
:func:`premap` maps the first file there with ``MAP_POPULATE`` (the kernel maps every page in
one call, which releases the GIL), and the reader takes that map (:func:`take_premapped`)
instead of mapping the file itself. The bytes are the file's either way: a map is handed over
only when the file still has the size, modification time and inode it had when it was mapped,
and only once.

Where ``MAP_POPULATE`` does not exist (not Linux), or the file cannot be opened, nothing is
premapped and the readers map the file as before; :func:`premap` never raises, so a missing or
unreadable file still fails with the reader's own message.
"""

from __future__ import annotations

import mmap
import os
import stat
import threading
from dataclasses import dataclass, field

__all__ = ["premap", "take_premapped"]


@dataclass
class _Premap:
    """One file being mapped on a helper thread."""

    path: str
    done: threading.Event = field(default_factory=threading.Event)
    buffer: mmap.mmap | None = None
    stat: tuple[int, int, int, int] | None = None


PREMAP_MAX_BYTES = 1 << 30
"""Largest file premapped (bytes; an 8-hour night is about 100 MB): a larger one is mapped
by its reader page by page as it reads, not all held in memory at once."""

_PENDING: dict[str, _Premap] = {}
_LOCK = threading.Lock()


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """What must not change between the map and its use: device, inode, size, mtime (ns)."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _key(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.fspath(path))


def premap(path: str | os.PathLike[str]) -> None:
    """Start mapping ``path`` read-only, every page mapped in, on a daemon thread.

    Does nothing when the platform has no ``MAP_POPULATE``, when ``path`` is already being
    mapped, or when it is not a regular file of 1 to :data:`PREMAP_MAX_BYTES` bytes; errors
    of the helper thread are dropped (the reader then maps the file itself and reports them).
    """
    flags = getattr(mmap, "MAP_POPULATE", None)
    if flags is None:
        return
    key = _key(path)
    with _LOCK:
        if key in _PENDING:
            return
        job = _PENDING[key] = _Premap(key)
    threading.Thread(target=_map, args=(job, flags), name="cramp-premap", daemon=True).start()


def _map(job: _Premap, populate: int) -> None:
    try:
        if not os.path.isfile(job.path):  # before opening: a FIFO would block the open
            return
        fd = os.open(job.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and 0 < st.st_size <= PREMAP_MAX_BYTES:
                job.buffer = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED | populate,
                                       prot=mmap.PROT_READ)
                job.stat = _identity(st)
        finally:
            os.close(fd)
    except (OSError, ValueError, OverflowError):
        job.buffer = None
    finally:
        job.done.set()


def take_premapped(path: str | os.PathLike[str]) -> mmap.mmap | None:
    """The map :func:`premap` made of ``path`` (waiting for it), or None.

    None when no map was started for ``path``, when it failed, when it was taken before, or
    when the file has changed since (size, modification time, inode): the caller then maps
    the file itself. The caller owns the map returned (read-only, ``MAP_SHARED``, the same
    bytes as ``mmap.mmap(fd, 0, access=mmap.ACCESS_READ)``).
    """
    with _LOCK:
        job = _PENDING.pop(_key(path), None)
    if job is None:
        return None
    job.done.wait()
    buf = job.buffer
    if buf is None:
        return None
    try:
        same = _identity(os.stat(job.path)) == job.stat
    except OSError:
        same = False
    if not same:
        buf.close()
        return None
    return buf
