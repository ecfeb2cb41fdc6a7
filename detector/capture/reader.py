"""Reading a capture: every intact record kept, damage skipped and counted.

:func:`read_capture` scans the whole file once. A record is intact when its sync marker,
length and CRC32 agree. After damaged bytes the scan resynchronises on the next sync marker
that starts an intact record; damage with no intact record after it is a torn tail. Records
are then read back lazily from the file, so an 8-hour capture is never held in memory.
"""

from __future__ import annotations

import mmap
import os
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detector.capture.format import (
    CRC_SIZE,
    FILE_HEADER_SIZE,
    FILE_MAGIC,
    FORMAT_VERSION,
    MAX_BODY_BYTES,
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
from detector.errors import CrampInputError

Buffer = bytes | mmap.mmap


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


class RecordList:
    """The kept records of a capture, read from the file on each iteration."""

    def __init__(self, path: Path, offsets: array, sources: dict[int, str], size: int) -> None:
        self._path = path
        self._offsets = offsets
        self._sources = sources
        self._size = size

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
        with fh, _map(fh, where) as buf:
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


def read_capture(path: str | Path) -> Capture:
    """Scan a capture file, keeping every intact record.

    Raises
    ------
    CrampInputError
        If the file cannot be read or is not a capture at all (no magic and no session
        record), or is of a newer format version. Damage inside a capture never raises: it is
        reported in ``Capture.damage``.
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
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise CrampInputError(where, "empty file; expected a capture")
        with _map(fh, where) as buf:
            return _scan(p, buf, size)


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


def _resync(buf: Buffer, start: int, size: int) -> int | None:
    q = buf.find(SYNC, start)
    while q != -1:
        if _intact(buf, q, size) is not None:
            return q
        q = buf.find(SYNC, q + 1)
    return None


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


def _scan(p: Path, buf: Buffer, size: int) -> Capture:
    header_damaged = _check_header(p, buf, size)
    offsets = array("q")
    sources: dict[int, str] = {}
    packet_sids: array = array("l")
    session: dict[str, Any] | None = None
    torn = regions = lost_records = corrupt = unreadable = n_events = 0
    first_s: float | None = None
    last_s: float | None = None
    pos = FILE_HEADER_SIZE
    intact_end = pos
    first_record = True
    while pos < size:
        frame = _intact(buf, pos, size)
        if frame is None:
            nxt = _resync(buf, pos + 1, size)
            if nxt is None:
                torn = size - pos
                break
            regions += 1
            corrupt += nxt - pos
            lost_records += max(1, _count(buf, SYNC, pos, nxt))
            pos = nxt
            first_record = False
            continue
        rtype, b0, b1 = frame
        body = bytes(buf[b0:b1])
        try:
            if rtype == RecordType.SESSION and first_record:
                session = parse_session(body)
            elif rtype == RecordType.SOURCE:
                sid, name = parse_source(body)
                sources.setdefault(sid, name)
            elif rtype == RecordType.PACKET:
                sid, t, _payload = parse_packet(body)
                offsets.append(pos)
                packet_sids.append(sid)
                first_s, last_s = _span(first_s, last_s, t)
            elif rtype == RecordType.EVENT:
                ev = parse_event(body)
                offsets.append(pos)
                packet_sids.append(-1)
                n_events += 1
                first_s, last_s = _span(first_s, last_s, ev.at_s)
            else:
                unreadable += 1
        except BodyError:
            unreadable += 1
        first_record = False
        pos = b1 + CRC_SIZE
        intact_end = pos
    kept = array("q")
    orphans = 0
    for off, sid in zip(offsets, packet_sids, strict=True):
        if sid >= 0 and sid not in sources:
            orphans += 1
        else:
            kept.append(off)
    damage = CaptureDamage(
        torn_tail_bytes=torn, corrupt_regions=regions, corrupt_records=lost_records,
        corrupt_bytes=corrupt, unreadable_records=unreadable, orphan_packets=orphans,
        header_damaged=header_damaged, session_missing=session is None,
    )
    return Capture(
        path=p, session=session or {}, records=RecordList(p, kept, dict(sources), size),
        damage=damage, sources=dict(sources), n_packets=len(kept) - n_events, n_events=n_events,
        first_s=first_s, last_s=last_s, size_bytes=size, intact_end=intact_end,
    )


def _span(lo: float | None, hi: float | None, t: float) -> tuple[float, float]:
    return (t if lo is None else min(lo, t)), (t if hi is None else max(hi, t))


def _count(buf: Buffer, needle: bytes, start: int, end: int) -> int:
    n, q = 0, buf.find(needle, start, end)
    while q != -1:
        n += 1
        q = buf.find(needle, q + 1, end)
    return n
