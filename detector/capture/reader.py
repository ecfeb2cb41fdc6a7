"""Reading a capture: every intact record kept, damage skipped and counted.

:func:`read_capture` scans the whole file once. A record is intact when its sync marker,
length and CRC32 agree. After damaged bytes the scan resynchronises on the next sync marker
that starts an intact record; damage with no intact record after it is a torn tail. Records
are then read back lazily from the file, so an 8-hour capture is never held in memory.

With ``threads=2`` (a replay that may use two CPUs) the CRC32 check, the costliest step, runs
on a helper thread while the records are tabled as the walk would take them if every framed
record were intact (what an undamaged file gives); the table is kept when the check finds
exactly that, else the records are tabled again from the check, so the result is always the
one-thread scan's.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import zlib
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from detector.capture.format import (
    CRC_SIZE,
    FILE_HEADER_SIZE,
    FILE_MAGIC,
    FORMAT_VERSION,
    MAX_BODY_BYTES,
    PACKET_HEAD,
    RECORD_HEAD,
    RECORD_HEAD_SIZE,
    RECORD_OVERHEAD,
    SYNC,
    BodyError,
    PacketRecord,
    Record,
    RecordType,
    parse_event,
    parse_packet,
    parse_session,
    parse_source,
)
from detector.capture.halves import run_both
from detector.capture.index import (
    HEAD_ROW_BYTES,
    RECORD_HEAD_ROW,
    FrameWalk,
    distinct_bodies,
    find_markers,
    marker_crcs,
    walk_markers,
)
from detector.errors import CrampInputError

Buffer = bytes | mmap.mmap
T = TypeVar("T")
_PAYLOAD_AT = RECORD_HEAD_SIZE + PACKET_HEAD.size  # a payload's offset from its sync marker
PAYLOAD_HEAD_BYTES = HEAD_ROW_BYTES - _PAYLOAD_AT
"""Bytes of each packet's payload kept in :attr:`RecordTable.payload_head` (13)."""


@dataclass(frozen=True, kw_only=True)
class CaptureDamage:
    """What a scan found wrong and skipped.

    Attributes
    ----------
    torn_tail_bytes : int
        Bytes at the end after the last intact record (an unfinished or damaged last write).
    corrupt_regions : int
        Damaged stretches in the middle, each followed by an intact record.
    corrupt_records : int
        Records lost in those stretches (sync markers seen there; at least one per stretch).
    corrupt_bytes : int
        Bytes in those stretches.
    unreadable_records : int
        Records with a good CRC whose body does not parse, of an unknown type, or a second
        session record; skipped.
    orphan_packets : int
        Packets whose source id is never defined in the file; skipped.
    header_damaged : bool
        The file header's CRC (or magic) is wrong; the records were read as version 1.
    session_missing : bool
        No intact session record at the start of the file.
    """

    torn_tail_bytes: int = 0
    corrupt_regions: int = 0
    corrupt_records: int = 0
    corrupt_bytes: int = 0
    unreadable_records: int = 0
    orphan_packets: int = 0
    header_damaged: bool = False
    session_missing: bool = False

    @property
    def ok(self) -> bool:
        """True when nothing was skipped."""
        return not (self.torn_tail_bytes or self.corrupt_bytes or self.unreadable_records
                    or self.orphan_packets or self.header_damaged or self.session_missing)

    @property
    def bytes_dropped(self) -> int:
        """Bytes not part of any kept record (tail and middle)."""
        return self.torn_tail_bytes + self.corrupt_bytes

    def describe(self) -> list[str]:
        """One plain sentence per kind of damage (empty when :attr:`ok`)."""
        out: list[str] = []
        if self.header_damaged:
            out.append("file header damaged; records read as format version 1")
        if self.session_missing:
            out.append("session record missing or damaged; session metadata unknown")
        if self.corrupt_regions:
            out.append(f"{self.corrupt_regions} damaged stretch(es) in the middle skipped: "
                       f"{self.corrupt_bytes} bytes, about {self.corrupt_records} record(s)")
        if self.unreadable_records:
            out.append(f"{self.unreadable_records} record(s) with unreadable contents skipped")
        if self.orphan_packets:
            out.append(f"{self.orphan_packets} packet(s) of an undefined source skipped")
        if self.torn_tail_bytes:
            out.append(f"torn tail dropped: {self.torn_tail_bytes} bytes after the last intact "
                       "record")
        return out


@dataclass(frozen=True, kw_only=True)
class RecordTable:
    """The kept records of a capture as arrays, in file order (no record read again).

    Attributes
    ----------
    offset : ndarray of int64, shape (n,)
        File offset of each record.
    is_packet : ndarray of bool, shape (n,)
        True for packet records, False for events.
    body_start, body_end : ndarray of int64, shape (n,)
        Body byte range in the file.
    source_id : ndarray of int64, shape (n,)
        Packet source id (-1 for events).
    time_s : ndarray of float64, shape (n,)
        Host receive time of a packet, or time of an event (s since the Unix epoch).
    payload_head : ndarray of uint8, shape (n, PAYLOAD_HEAD_BYTES)
        The first bytes of each packet's payload, read with the scan (those past the
        payload's end are not the payload's; meaningless for events).
    """

    offset: np.ndarray
    is_packet: np.ndarray
    body_start: np.ndarray
    body_end: np.ndarray
    source_id: np.ndarray
    time_s: np.ndarray
    payload_head: np.ndarray

    @property
    def payload_start(self) -> np.ndarray:
        """File offset of each packet's payload (meaningless for events)."""
        return self.body_start + PACKET_HEAD.size


class RecordList:
    """The kept records of a capture, read from the file on each iteration."""

    def __init__(self, path: Path, offsets: array, sources: dict[int, str], size: int, *,
                 table: RecordTable | None = None, mtime_ns: int | None = None) -> None:
        self._path = path
        self._offsets = offsets
        self._sources = sources
        self._size = size
        self._mtime_ns = mtime_ns
        self.table = table
        """The same records as arrays (set by :func:`read_capture`)."""
        self._kept: Any = None

    def keep_buffer(self, buf: Any) -> None:
        """Hand :meth:`open_buffer` the scan's map of the file (its pages already mapped in,
        so a later pass over the records does not fault them in again)."""
        self._kept = buf

    def release(self) -> None:
        """Drop the scan's map (it is unmapped with its last view); later passes map anew."""
        self._kept = None

    def unchanged(self) -> bool:
        """True when the file still has the size and modification time it was scanned at."""
        try:
            st = os.stat(self._path)
        except OSError:
            return False
        return (self._mtime_ns is not None and st.st_size == self._size
                and st.st_mtime_ns == self._mtime_ns)

    def open_buffer(self) -> Any:
        """The file mapped read-only (a context manager), checked not to have shrunk.

        The scan's own map when it was kept (:meth:`keep_buffer`) and the file still has the
        size and modification time it was scanned at, else a new map.

        Raises
        ------
        CrampInputError
            If the file cannot be read or is shorter than when it was scanned.
        """
        kept = self._kept
        if kept is not None and not kept.closed and self.unchanged():
            return kept
        where = self._path.name
        try:
            fh = self._path.open("rb")
        except OSError as exc:
            raise CrampInputError(where, f"cannot read the capture ({exc.strerror})") from None
        with fh:
            buf = _map(fh, where)
        if len(buf) < self._size:
            buf.close()
            raise CrampInputError(where, "capture shrank since it was checked")
        return buf

    def __len__(self) -> int:
        return len(self._offsets)

    @property
    def offsets(self) -> array:
        """File offsets of the kept records, in file order (a copy)."""
        return array("q", self._offsets)

    def __iter__(self) -> Iterator[Record]:
        where = self._path.name
        try:
            fh = self._path.open("rb")
        except OSError as exc:
            raise CrampInputError(where, f"cannot read the capture ({exc.strerror})") from None
        with fh, _mapped(fh, where) as buf:
            if len(buf) < self._size:
                raise CrampInputError(where, "capture shrank since it was checked")
            for off in self._offsets:
                frame = _intact(buf, off, self._size)
                if frame is None:
                    raise CrampInputError(where, f"record at byte {off} changed since the "
                                          "capture was checked")
                rtype, b0, b1 = frame
                body = bytes(buf[b0:b1])
                if rtype == RecordType.PACKET:
                    sid, received_s, payload = parse_packet(body)
                    yield PacketRecord(source=self._sources[sid], payload=payload,
                                       received_s=received_s)
                else:
                    yield parse_event(body)


@dataclass(frozen=True, kw_only=True)
class Capture:
    """A scanned capture.

    Attributes
    ----------
    path : Path
        The file.
    session : dict
        Session metadata (empty when the session record is missing).
    records : RecordList
        Packet and event records in file order (iterable any number of times, ``len``).
    damage : CaptureDamage
        What was skipped.
    sources : dict of int to str
        Packet sources defined in the file, by id.
    n_packets, n_events : int
        Kept records of each kind.
    first_s, last_s : float or None
        Earliest and latest host time of a kept record (s since the Unix epoch).
    size_bytes : int
        File size when scanned.
    intact_end : int
        Offset just past the last intact record (where a torn tail starts).
    """

    path: Path
    session: dict[str, Any]
    records: RecordList
    damage: CaptureDamage
    sources: dict[int, str]
    n_packets: int
    n_events: int
    first_s: float | None
    last_s: float | None
    size_bytes: int
    intact_end: int


def read_capture(path: str | Path, *, threads: int = 1, keep_mapped: bool = False) -> Capture:
    """Scan a capture file, keeping every intact record (:func:`scan_then` without a
    ``then``).

    Parameters
    ----------
    path : str or Path
        The capture.
    threads : int
        2: the marker search and the CRC32 passes are split over two threads (the same
        result; for a replay that may use two CPUs).
    keep_mapped : bool
        Keep the scan's map of the file for the records' next passes
        (:meth:`RecordList.open_buffer`; a replay's) until :meth:`RecordList.release`,
        instead of unmapping it now.

    Raises
    ------
    CrampInputError
        If the file cannot be read or is not a capture at all (no magic and no session
        record), or is of a newer format version. Damage inside a capture never raises: it is
        reported in ``Capture.damage``.
    """
    return scan_then(path, _itself, threads=threads, keep_mapped=keep_mapped)


def _itself(capture: Capture) -> Capture:
    return capture


def scan_then(path: str | Path, then: Callable[[Capture], T], *, threads: int = 1,
              keep_mapped: bool = False) -> T:
    """``then(read_capture(path, ...))``; with ``threads=2``, ``then`` runs on the calling
    thread while the CRC32 check finishes on the helper.

    With two threads the records are tabled as an undamaged file's would be while the CRC32
    pass checks them (see the module notes); ``then`` (a replay's run layout, header decode
    and clock fit) then runs on that table too, before the check is awaited. When the check
    finds the guess right (an undamaged file) the value is kept, errors of ``then`` included;
    otherwise the records are tabled again from the check and ``then`` is run again on that
    table, so the value is always that of ``then`` on the one-thread scan's capture.

    Parameters
    ----------
    path : str or Path
        The capture.
    then : callable
        Called with the scanned :class:`Capture`; its value is returned (its error raised).
    threads, keep_mapped
        As for :func:`read_capture`.

    Returns
    -------
    T
        ``then``'s value for the scanned capture.

    Raises
    ------
    CrampInputError
        As :func:`read_capture` does; any error of ``then`` is raised as it is.
    """
    p = Path(path)
    where = p.name
    try:
        fh = p.open("rb")
    except FileNotFoundError:
        raise CrampInputError(where, "file not found") from None
    except IsADirectoryError:
        raise CrampInputError(where, "is a directory, expected a capture file") from None
    except OSError as exc:
        raise CrampInputError(where, f"cannot read the file ({exc.strerror})") from None
    with fh:
        st = os.fstat(fh.fileno())
        size = st.st_size
        if size == 0:
            raise CrampInputError(where, "empty file; expected a capture")
        with _mapped(fh, where, keep=keep_mapped) as buf:

            def scanned(capture: Capture) -> T:
                if keep_mapped:
                    capture.records.keep_buffer(buf)
                return then(capture)

            return _scan(p, buf, size, st.st_mtime_ns, scanned, threads=threads)


@contextlib.contextmanager
def _mapped(fh: Any, where: str, *, keep: bool = False) -> Iterator[Any]:
    """The file mapped read-only for the ``with`` block, unmapped after it where possible
    (``keep``: left mapped for the caller, unless the block raised).

    numpy views of the map (``np.frombuffer``) that are still alive when the block ends (held
    by a reference cycle until the garbage collector runs, or by a caller's result) make
    ``mmap.close`` raise ``BufferError``; the map is then left to be freed with its last view,
    which is safe for a read-only map.
    """
    buf = _map(fh, where)
    kept = False
    try:
        yield buf
        kept = keep
    finally:
        if not kept:
            with contextlib.suppress(BufferError):  # a view still alive: freed with it
                buf.close()


def _map(fh: Any, where: str) -> Any:
    try:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        raise CrampInputError(where, f"cannot map the file ({exc})") from None


def _intact(buf: Buffer, pos: int, size: int) -> tuple[int, int, int] | None:
    """``(type, body start, body end)`` if an intact record starts at ``pos``."""
    if size - pos < RECORD_OVERHEAD or buf[pos:pos + 4] != SYNC:
        return None
    _sync, rtype, length = RECORD_HEAD.unpack_from(buf, pos)
    end = pos + RECORD_HEAD_SIZE + length
    if length > MAX_BODY_BYTES or end + CRC_SIZE > size:
        return None
    crc = zlib.crc32(buf[pos + 4:end])
    if int.from_bytes(buf[end:end + CRC_SIZE], "little") != crc:
        return None
    return rtype, pos + RECORD_HEAD_SIZE, end


def _check_header(p: Path, buf: Buffer, size: int) -> bool:
    """Return True when the header is damaged but the file is still a capture."""
    where = p.name
    head = bytes(buf[:FILE_HEADER_SIZE])
    magic_ok = head[:8] == FILE_MAGIC
    version = None
    if size >= FILE_HEADER_SIZE and int.from_bytes(head[12:16], "little") == zlib.crc32(head[:12]):
        version = int.from_bytes(head[8:10], "little")
    if magic_ok and version is not None:
        if version > FORMAT_VERSION:
            raise CrampInputError(where, f"capture format version {version} is newer than this "
                                  f"program reads ({FORMAT_VERSION}); update the detector")
        return version < 1
    first = _intact(buf, FILE_HEADER_SIZE, size)
    if first is not None and first[0] == RecordType.SESSION:
        return True
    if magic_ok:
        if size < FILE_HEADER_SIZE + RECORD_OVERHEAD:
            raise CrampInputError(where, "capture ends inside its header; it holds no records")
        return True
    raise CrampInputError(where, "not a capture file (its first bytes are not the capture "
                          "magic)")


_SESSION = int(RecordType.SESSION)
_SOURCE = int(RecordType.SOURCE)


def _sources(a: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> tuple[dict[int, str], int]:
    """The sources that the SOURCE records with bodies ``a[b0:b1]`` define, and how many
    of those records do not parse.

    The recorder repeats every source after each sync (``SYNC_INTERVAL_S``), so a night
    holds tens of thousands of identical bodies: each distinct body is parsed once, in the
    order of its first appearance (:func:`~detector.capture.index.distinct_bodies`), and the
    first definition of an id wins.
    """
    sources: dict[int, str] = {}
    bad = 0
    for body, count in distinct_bodies(a, b0, b1):
        try:
            sid, name = parse_source(body)
        except BodyError:
            bad += count
            continue
        sources.setdefault(sid, name)
    return sources, bad


def _payload_heads(walk: FrameWalk, at: np.ndarray) -> np.ndarray:
    """The first :data:`PAYLOAD_HEAD_BYTES` bytes of each packet payload whose head is row
    ``at`` of ``walk.head_rows``: uint8, shape (n, PAYLOAD_HEAD_BYTES), C-contiguous.

    One ``np.take`` of items of that width lying at the payload's offset in each row (a row
    gather as a fancy index would copy them byte by byte)."""
    rows = walk.head_rows
    if not rows.shape[0]:
        return np.zeros((0, PAYLOAD_HEAD_BYTES), dtype=np.uint8)
    items = np.ndarray(shape=(rows.shape[0],), dtype=np.dtype((np.void, PAYLOAD_HEAD_BYTES)),
                       buffer=rows, offset=_PAYLOAD_AT, strides=(rows.strides[0],))
    return np.take(items, at).view(np.uint8).reshape(-1, PAYLOAD_HEAD_BYTES)


def _scan(p: Path, buf: Buffer, size: int, mtime_ns: int, then: Callable[[Capture], T], *,
          threads: int = 1) -> T:
    """``then`` of the capture scanned from ``buf`` (see :func:`scan_then`)."""
    header_damaged = _check_header(p, buf, size)
    a = np.frombuffer(buf, dtype=np.uint8)
    marks = find_markers(a, FILE_HEADER_SIZE, threads=threads)

    def tabled(intact: np.ndarray) -> T:
        return then(_tabled(p, buf, a, walk_markers(marks, intact), size=size,
                            mtime_ns=mtime_ns, header_damaged=header_damaged))

    if threads < 2:
        return tabled(marker_crcs(buf, a, marks))

    def guess() -> tuple[tuple[T] | None, Exception | None]:
        try:
            return (tabled(marks.framed),), None
        except Exception as exc:  # raised below only if the guess was the file's walk
            return None, exc

    # the CRC32 pass (the scan's costliest; zlib and numpy release the GIL) on a helper
    # thread, while the records are tabled here (and ``then`` run on them) as they are if
    # every framed record is intact (an undamaged file); kept when the check finds exactly
    # that, else tabled (and ``then`` run) again
    (value, failure), intact = run_both(guess, lambda: marker_crcs(buf, a, marks))
    if not np.array_equal(intact, marks.framed):
        return tabled(intact)
    if failure is not None:
        raise failure
    assert value is not None
    return value[0]


def _tabled(p: Path, buf: Buffer, a: np.ndarray, walk: FrameWalk, *, size: int, mtime_ns: int,
            header_damaged: bool) -> Capture:
    """The capture made of the records of ``walk``: session, sources, record table, damage."""
    rtype, b0, b1 = walk.rtype, walk.body_start, walk.body_end
    session: dict[str, Any] | None = None
    unreadable = 0
    is_packet = rtype == RecordType.PACKET
    is_event = rtype == RecordType.EVENT
    other = np.flatnonzero(~(is_packet | is_event))
    if (other.size and other[0] == 0 and rtype[0] == _SESSION
            and walk.offset[0] == FILE_HEADER_SIZE):
        try:
            session = parse_session(bytes(buf[int(b0[0]):int(b1[0])]))
        except BodyError:
            unreadable += 1
        other = other[1:]
    source_at = other[rtype[other] == _SOURCE]
    unreadable += int(other.size - source_at.size)  # a second session, an unknown type
    sources, bad_sources = _sources(a, b0[source_at], b1[source_at])
    unreadable += bad_sources
    # packets: source id and receive time read as arrays
    pk_ok = np.flatnonzero(is_packet & ((b1 - b0) >= PACKET_HEAD.size))
    sid_all = np.full(rtype.shape, -1, dtype=np.int64)
    time_all = np.full(rtype.shape, np.nan)
    rows = walk.head_rows.view(RECORD_HEAD_ROW).reshape(-1)
    at = np.take(walk.head_at, pk_ok)  # np.take: a fancy index of strided fields is slow
    sid_all[pk_ok] = np.take(rows["source_id"], at)
    time_all[pk_ok] = np.take(rows["received_s"], at)
    readable = is_packet & np.isfinite(time_all)
    unreadable += int(np.count_nonzero(is_packet & ~readable))
    for k in np.flatnonzero(is_event).tolist():
        try:
            ev = parse_event(bytes(buf[int(b0[k]):int(b1[k])]))
        except BodyError:
            unreadable += 1
            continue
        time_all[k] = ev.at_s
        readable[k] = True
    n_events = int(np.count_nonzero(readable & is_event))
    times = time_all[readable]
    first_s = float(times.min()) if times.size else None
    last_s = float(times.max()) if times.size else None
    defined = np.zeros(1 << 16, dtype=bool)  # by source id (u16): one lookup per packet
    defined[sorted(sources)] = True
    orphan = readable & is_packet & ~defined[np.maximum(sid_all, 0)]
    keep = np.flatnonzero(readable & ~orphan)  # rows kept, gathered with np.take

    def kept_rows(column: np.ndarray) -> np.ndarray:
        # every row kept (an undamaged file): the column itself, not a copy of it (some 4 MB
        # each in an 8-hour night, written to memory touched for the first time)
        return column if keep.shape[0] == column.shape[0] else np.take(column, keep)

    table = RecordTable(offset=kept_rows(walk.offset), is_packet=kept_rows(is_packet),
                        body_start=kept_rows(b0), body_end=kept_rows(b1),
                        source_id=kept_rows(sid_all), time_s=kept_rows(time_all),
                        payload_head=_payload_heads(walk, kept_rows(walk.head_at)))
    kept = array("q")
    kept.frombytes(memoryview(np.ascontiguousarray(table.offset, dtype=np.int64)).cast("B"))
    damage = CaptureDamage(
        torn_tail_bytes=walk.torn_tail_bytes, corrupt_regions=walk.corrupt_regions,
        corrupt_records=walk.corrupt_records, corrupt_bytes=walk.corrupt_bytes,
        unreadable_records=unreadable, orphan_packets=int(np.count_nonzero(orphan)),
        header_damaged=header_damaged, session_missing=session is None,
    )
    return Capture(
        path=p, session=session or {},
        records=RecordList(p, kept, dict(sources), size, table=table, mtime_ns=mtime_ns),
        damage=damage, sources=dict(sources), n_packets=len(kept) - n_events, n_events=n_events,
        first_s=first_s, last_s=last_s, size_bytes=size, intact_end=walk.intact_end,
    )
