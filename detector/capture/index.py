"""Where the intact records of a capture are: one vectorised pass over the mapped file.

The framing walk of :mod:`detector.capture.reader` (take an intact record, else resynchronise
on the next sync marker that starts one) is done on arrays: every sync marker in the file is
found at once, the framing and CRC32 of each is checked (one ``zlib.crc32`` per marker), and
the walk then only steps in Python where the records stop following one another (damage, or a
marker inside a body). The result is the same as the record-by-record walk.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from detector.capture.format import CRC_SIZE, MAX_BODY_BYTES, RECORD_HEAD_SIZE, SYNC


@dataclass(frozen=True, kw_only=True)
class FrameWalk:
    """Intact records found by :func:`walk_frames`, in file order.

    Attributes
    ----------
    offset : ndarray of int64, shape (n,)
        Byte offset of each intact record's sync marker.
    rtype : ndarray of int64, shape (n,)
        Record type byte.
    body_start, body_end : ndarray of int64, shape (n,)
        Body byte range.
    torn_tail_bytes, corrupt_regions, corrupt_records, corrupt_bytes : int
        As in :class:`~detector.capture.reader.CaptureDamage`.
    intact_end : int
        Offset just past the last intact record.
    """

    offset: np.ndarray
    rtype: np.ndarray
    body_start: np.ndarray
    body_end: np.ndarray
    torn_tail_bytes: int
    corrupt_regions: int
    corrupt_records: int
    corrupt_bytes: int
    intact_end: int


def sync_positions(a: np.ndarray) -> np.ndarray:
    """Offsets of every sync marker in ``a`` (uint8, shape (size,)), ascending."""
    if a.shape[0] < len(SYNC):
        return np.zeros(0, dtype=np.int64)
    c = np.flatnonzero(a[:-(len(SYNC) - 1)] == SYNC[0])
    for k in range(1, len(SYNC)):
        c = c[a[c + k] == SYNC[k]]
    return c.astype(np.int64)


def walk_frames(buf: Any, a: np.ndarray, start: int) -> FrameWalk:
    """Walk the records of a capture from byte ``start``.

    Parameters
    ----------
    buf : bytes or mmap
        The file's bytes, sliced for CRC32.
    a : ndarray of uint8, shape (size,)
        The same bytes as an array.
    start : int
        Offset of the first record (after the file header).
    """
    size = int(a.shape[0])
    c = sync_positions(a)
    c = c[c >= start]
    room = c + RECORD_HEAD_SIZE + CRC_SIZE <= size
    c = c[room]
    rtype = a[c + 4].astype(np.int64)
    length = _u32_at(a, c + 5)
    end = c + RECORD_HEAD_SIZE + length
    framed = (length <= MAX_BODY_BYTES) & (end + CRC_SIZE <= size)
    intact = np.zeros(c.shape, dtype=bool)
    fc, fe = c[framed], end[framed]
    if fc.size:
        stored = _u32_at(a, fe)
        crc32 = zlib.crc32
        crcs = np.fromiter([crc32(buf[x:y]) for x, y in  # type: ignore[index]
                            zip((fc + 4).tolist(), fe.tolist(), strict=True)],
                           dtype=np.int64, count=fc.size)
        intact[framed] = crcs == stored
    nxt = end + CRC_SIZE
    # link[i]: record i is intact and the next marker is where the next record must start
    link = intact.copy()
    link[:-1] &= nxt[:-1] == c[1:]
    if link.size:
        link[-1] = False
    broken = np.flatnonzero(~link)
    good = c[intact]
    taken: list[tuple[int, int]] = []  # runs [i, j) of marker indices taken
    torn = regions = lost = corrupt = 0
    pos = start
    while pos < size:
        i = int(np.searchsorted(c, pos))
        if i < c.size and c[i] == pos and intact[i]:
            j = int(broken[np.searchsorted(broken, i)])  # first index >= i not linked on
            if j == i:
                taken.append((i, i + 1))
                pos = int(nxt[i])
            else:  # i .. j-1 are intact and each is followed by the next; j is checked next
                taken.append((i, j))
                pos = int(c[j])
            continue
        g = int(np.searchsorted(good, pos, side="right"))  # next intact record after pos
        if g >= good.size:
            torn = size - pos
            break
        q = int(good[g])
        regions += 1
        corrupt += q - pos
        lost += max(1, int(np.searchsorted(c, q) - i))
        pos = q
    idx = np.concatenate([np.arange(i, j) for i, j in taken]) if taken \
        else np.zeros(0, dtype=np.int64)
    last_end = int(nxt[idx[-1]]) if idx.size else start
    return FrameWalk(offset=c[idx], rtype=rtype[idx], body_start=c[idx] + RECORD_HEAD_SIZE,
                     body_end=end[idx], torn_tail_bytes=torn,
                     corrupt_regions=regions, corrupt_records=lost, corrupt_bytes=corrupt,
                     intact_end=last_end)


def _u32_at(a: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Little-endian u32 at each offset ``at`` of ``a`` (uint8), as int64."""
    raw = np.ascontiguousarray(a[at[:, None] + np.arange(4)])
    return raw.view("<u4").reshape(-1).astype(np.int64)
