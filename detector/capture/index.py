"""Where the intact records of a capture are: one vectorised pass over the mapped file.

The framing walk of :mod:`detector.capture.reader` (take an intact record, else resynchronise
on the next sync marker that starts one) is done on arrays: every sync marker in the file is
found at once, the framing and CRC32 of each is checked, and the walk then only steps in Python
where the records stop following one another (damage, or a marker inside a body). The result is
the same as the record-by-record walk.

The CRC32s are checked a group of back-to-back records at a time (:func:`check_crcs`): one
``zlib.crc32`` pass over the group's bytes with each record's stored CRC XORed with that of a
zero record of its length, and the sync markers between the records XORed out. That is the
group minus (XOR) a stand-in of the same layout whose records are zeros with their correct CRC,
and the CRC's linear part (no initial value, no final XOR) of that difference is zero exactly
when the group and the stand-in have the same CRC32. A record whose stored CRC is right leaves
the CRC register in a state that depends only on its length (the CRC residue), so the two agree
when every record of the group is intact; one bad record always makes them differ (each
record's deviation reaches the end through an invertible map), and a group that fails is
checked record by record. Per-record calls cost about 1 us each in Python (half a million in an
8-hour capture); a group is up to 1 MiB, so an 8-hour capture needs about a hundred. The only
difference from checking every record on its own: two or more bad records in one group whose
deviations cancel exactly (about 2^-32 for independent damage; never for the same damage at the
same place in two records, since the CRC-32 polynomial is primitive and a group is far shorter
than its period) would be taken as intact.

Every scattered read of the records (marker bytes, type, length, a packet's head and its
payload's first bytes) is one row gather of :data:`HEAD_ROW_BYTES` bytes at each marker: the
markers lie all over the mapped file, so each gather costs a cache and TLB miss per record
(tens of ms for half a million records), whatever its width.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from detector.capture.format import CRC_SIZE, MAX_BODY_BYTES, RECORD_HEAD_SIZE, SYNC
from detector.capture.halves import each_half


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
    head_rows : ndarray of uint8, shape (m, HEAD_ROW_BYTES)
        The first :data:`HEAD_ROW_BYTES` bytes from each sync marker candidate (what lies
        past a short record's end is the next bytes of the file; zeros past the file's end).
    head_at : ndarray of int64, shape (n,)
        Row of ``head_rows`` that is each intact record's (see :attr:`head`).
    torn_tail_bytes, corrupt_regions, corrupt_records, corrupt_bytes : int
        As in :class:`~detector.capture.reader.CaptureDamage`.
    intact_end : int
        Offset just past the last intact record.
    """

    offset: np.ndarray
    rtype: np.ndarray
    body_start: np.ndarray
    body_end: np.ndarray
    head_rows: np.ndarray
    head_at: np.ndarray
    torn_tail_bytes: int
    corrupt_regions: int
    corrupt_records: int
    corrupt_bytes: int
    intact_end: int

    @property
    def head(self) -> np.ndarray:
        """The first :data:`HEAD_ROW_BYTES` bytes of each intact record, uint8, shape
        (n, HEAD_ROW_BYTES) (a copy; :attr:`head_rows` indexed by :attr:`head_at`)."""
        return self.head_rows[self.head_at]


HEAD_ROW_BYTES = 32
"""Bytes read at each sync marker by the scan: the record head (9), a packet record's head
(source id and receive time, 10) and the first 13 bytes of its payload (a LegBand data
header is 12)."""
RECORD_HEAD_ROW = np.dtype({
    "names": ["sync", "rtype", "length", "source_id", "received_s"],
    "formats": ["<u4", "u1", "<u4", "<u2", "<f8"],
    "offsets": [0, 4, 5, 9, 11], "itemsize": HEAD_ROW_BYTES})
"""A row of :data:`HEAD_ROW_BYTES` bytes read at a sync marker, as fields: the record head
(sync marker, type, body length) and a packet record's head (source id, receive time), each
little-endian at its byte offset (unaligned: read through a view, no copy of the rows)."""
SCAN_CHUNK_WORDS = 1 << 17
"""16-bit words compared at a time when looking for sync markers (256 KiB of the file: the
comparison masks stay in cache)."""


def sync_candidates(a: np.ndarray, *, threads: int = 1) -> np.ndarray:
    """Offsets in ``a`` (uint8) where a sync marker may start, ascending: every marker, and
    a few other places (about 2 per 128 KiB of random bytes) whose next bytes are to be checked.

    One pass over the bytes as little-endian 16-bit words at even offsets: a marker at an
    even offset ``2 i`` shows its first two bytes as word ``i``, one at an odd offset
    ``2 i - 1`` its bytes 1 and 2 (the two patterns differ, so a word shows at most one), and
    the word indices come out ascending, so the offsets do too. With ``threads=2`` the two
    halves of the words are searched at once (:mod:`detector.capture.halves`).
    """
    size = int(a.shape[0])
    if size < len(SYNC):
        return np.zeros(0, dtype=np.int64)
    words = a[:2 * (size // 2)].view("<u2")
    parts = each_half(lambda w0, w1: _candidates_in(words, w0, w1), words.shape[0],
                      threads=threads, min_items=PARALLEL_MIN_WORDS, step=SCAN_CHUNK_WORDS)
    c = np.concatenate([p for part in parts for p in part])
    return c[(c >= 0) & (c <= size - len(SYNC))]


PARALLEL_MIN_WORDS = 1 << 22
"""Words (8 MiB of a file) from which :func:`sync_candidates` searches two halves at once."""


def _candidates_in(words: np.ndarray, w_lo: int, w_hi: int) -> list[np.ndarray]:
    """:func:`sync_candidates` of words ``[w_lo, w_hi)`` (their offsets in the whole, one
    array per chunk of :data:`SCAN_CHUNK_WORDS`; the first may be -1)."""
    first = int.from_bytes(SYNC[:2], "little")
    second = int.from_bytes(SYNC[1:3], "little")
    hit = np.empty(SCAN_CHUNK_WORDS, dtype=bool)
    odd = np.empty(SCAN_CHUNK_WORDS, dtype=bool)
    parts = []
    for w0 in range(w_lo, w_hi, SCAN_CHUNK_WORDS):
        chunk = words[w0:min(w0 + SCAN_CHUNK_WORDS, w_hi)]
        k = chunk.shape[0]
        np.equal(chunk, first, out=hit[:k])
        np.equal(chunk, second, out=odd[:k])
        np.bitwise_or(hit[:k], odd[:k], out=hit[:k])
        i = np.flatnonzero(hit[:k])
        parts.append(2 * (i + w0) - odd[i])
    return parts


def sync_positions(a: np.ndarray) -> np.ndarray:
    """Offsets of every sync marker in ``a`` (uint8, shape (size,)), ascending."""
    c = sync_candidates(a)
    return c[_is_marker(rows_at(a, c, len(SYNC)))]


def _is_marker(rows: np.ndarray) -> np.ndarray:
    """Rows (uint8, shape (n, >= 4)) that start with the sync marker."""
    return np.ascontiguousarray(rows[:, :4]).view("<u4").reshape(-1) == _SYNC_U32


@dataclass(frozen=True, kw_only=True)
class Markers:
    """The sync markers of a capture and the record each would start, before any CRC32.

    Attributes
    ----------
    offset : ndarray of int64, shape (m,)
        Byte offset of each sync marker at or after the first record's place, ascending.
    rtype, end : ndarray of int64, shape (m,)
        Type byte and body end of the record each marker would start.
    framed : ndarray of bool, shape (m,)
        Markers whose length field fits the limit and the file (only they can be intact).
    head_rows : ndarray of uint8, shape (k, HEAD_ROW_BYTES)
        As in :class:`FrameWalk` (a row per candidate, ``k >= m``).
    head_row : ndarray of int64, shape (m,)
        Row of ``head_rows`` of each marker.
    start, size : int
        Offset of the first record; file size.
    """

    offset: np.ndarray
    rtype: np.ndarray
    end: np.ndarray
    framed: np.ndarray
    head_rows: np.ndarray
    head_row: np.ndarray
    start: int
    size: int


def find_markers(a: np.ndarray, start: int, *, threads: int = 1) -> Markers:
    """Every sync marker from byte ``start`` of ``a`` (the file's bytes, uint8) and the
    type, length and framing of the record it would start (one row gather at each).

    ``threads=2`` searches the two halves of the file at once (:func:`sync_candidates`).
    """
    size = int(a.shape[0])
    c = sync_candidates(a, threads=threads)
    c = c[(c >= start) & (c + RECORD_HEAD_SIZE + CRC_SIZE <= size)]
    rows = rows_at(a, c, HEAD_ROW_BYTES)  # the one scattered read of the records
    fields = rows.view(RECORD_HEAD_ROW).reshape(-1)
    is_marker = fields["sync"] == _SYNC_U32
    every = bool(is_marker.all())  # no false candidate: rows, c and the fields as they are
    marker = np.arange(c.size) if every else np.flatnonzero(is_marker)
    if every:
        rtype = fields["rtype"].astype(np.int64)
        length = fields["length"].astype(np.int64)
    else:  # only the markers' (np.take: a fancy index of strided fields is slow)
        c = np.take(c, marker)
        rtype = np.take(fields["rtype"], marker).astype(np.int64)
        length = np.take(fields["length"], marker).astype(np.int64)
    end = c + RECORD_HEAD_SIZE + length
    framed = (length <= MAX_BODY_BYTES) & (end + CRC_SIZE <= size)
    return Markers(offset=c, rtype=rtype, end=end, framed=framed, head_rows=rows,
                   head_row=marker, start=start, size=size)


def marker_crcs(buf: Any, a: np.ndarray, m: Markers) -> np.ndarray:
    """Which of the markers ``m`` start an intact record (:func:`check_crcs`), bool (m,)."""
    return check_crcs(buf, a, m.offset, m.end, m.framed)


def walk_frames(buf: Any, a: np.ndarray, start: int, *, threads: int = 1) -> FrameWalk:
    """Walk the records of a capture from byte ``start``.

    Parameters
    ----------
    buf : bytes or mmap
        The file's bytes, sliced for CRC32.
    a : ndarray of uint8, shape (size,)
        The same bytes as an array.
    start : int
        Offset of the first record (after the file header).
    threads : int
        2: the marker search is split in two halves run at once; the walk is the same.
    """
    m = find_markers(a, start, threads=threads)
    return walk_markers(m, marker_crcs(buf, a, m))


def walk_markers(m: Markers, intact: np.ndarray) -> FrameWalk:
    """The framing walk over markers ``m``, given which start an intact record.

    Parameters
    ----------
    m : Markers
        From :func:`find_markers`.
    intact : ndarray of bool, shape (m,)
        From :func:`marker_crcs` (or a guess of it, e.g. ``m.framed``: the walk a file would
        give if every framed record's CRC32 were right).
    """
    c, rtype, end, size, start = m.offset, m.rtype, m.end, m.size, m.start
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
    runs: list[tuple[int, int]] = []  # the runs taken, those that follow one another joined
    for i, j in taken:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], j)
        else:
            runs.append((i, j))
    if runs == [(0, c.size)]:  # an undamaged file: every marker starts a record
        head_at = m.head_row
        offset = c
    else:
        idx = np.concatenate([np.arange(i, j) for i, j in runs]) if runs \
            else np.zeros(0, dtype=np.int64)
        head_at, offset = np.take(m.head_row, idx), np.take(c, idx)
        rtype, end = np.take(rtype, idx), np.take(end, idx)
    last_end = int(end[-1]) + CRC_SIZE if offset.size else start
    return FrameWalk(offset=offset, rtype=rtype, body_start=offset + RECORD_HEAD_SIZE,
                     body_end=end, head_rows=m.head_rows, head_at=head_at, torn_tail_bytes=torn,
                     corrupt_regions=regions, corrupt_records=lost, corrupt_bytes=corrupt,
                     intact_end=last_end)


CRC_GROUP_BYTES = 1 << 20
"""Records starting within this many bytes of a run's group start are checked together."""


def check_crcs(buf: Any, a: np.ndarray, c: np.ndarray, end: np.ndarray, framed: np.ndarray, *,
               group_bytes: int = CRC_GROUP_BYTES) -> np.ndarray:
    """Which framed markers start a record whose stored CRC32 agrees with its bytes.

    Parameters
    ----------
    buf : bytes or mmap
        The file's bytes.
    a : ndarray of uint8, shape (size,)
        The same bytes as an array.
    c : ndarray of int64, shape (n,)
        Offsets of the sync markers, ascending.
    end : ndarray of int64, shape (n,)
        Body end of the record each marker would start (where its CRC32 is stored).
    framed : ndarray of bool, shape (n,)
        Markers whose length field fits the file (the others are never intact).
    group_bytes : int
        Span of a group of back-to-back records checked by one pass (see the module notes).

    Returns
    -------
    ndarray of bool, shape (n,)
        ``crc32(file[c + 4:end]) == u32le(file[end:end + 4])`` for framed markers, else False.
    """
    n = int(c.shape[0])
    intact = np.zeros(n, dtype=bool)
    if not n:
        return intact
    nxt = end + CRC_SIZE
    # contig[k]: markers k and k + 1 are both framed and record k + 1 starts where k ends
    contig = framed[:-1] & framed[1:] & (nxt[:-1] == c[1:])
    singles: list[np.ndarray] = []
    # the stand-in's CRC bytes: that of a zero record of each length in a run (one per length)
    in_run = np.concatenate((contig, [False])) | np.concatenate(([False], contig))
    covered = np.where(in_run, end - c - 4, 0)
    lengths, which = _distinct(covered)
    zero_crcs = np.array([zlib.crc32(bytes(m)) for m in lengths.tolist()],
                         dtype="<u4")[which].view(np.uint8).reshape(n, 4)
    run_starts = np.flatnonzero(framed & ~np.concatenate(([False], contig)))
    run_ends = np.append(np.flatnonzero(~contig), n - 1)  # a run ends at its first ~contig
    groups: list[tuple[int, int]] = []  # markers [i, j) of two or more back-to-back records
    for s in run_starts.tolist():
        e = int(run_ends[np.searchsorted(run_ends, s)]) + 1  # run is markers s .. e - 1
        if e - s == 1:
            singles.append(np.array([s]))
            continue
        # a new group at the first marker at or past each multiple of group_bytes from
        # the run's first marker (as (c - c[s]) // group_bytes steps)
        span = int(c[e - 1] - c[s]) // group_bytes
        firsts = np.searchsorted(c[s:e], int(c[s]) + group_bytes * np.arange(1, span + 1))
        cuts = ascending_distinct(firsts) + s
        for i, j in zip([s, *cuts.tolist()], [*cuts.tolist(), e], strict=True):
            if j - i > 1:
                groups.append((i, j))
            else:
                singles.append(np.arange(i, j))
    for (i, j), ok in zip(groups, _groups_intact(buf, c, end, zero_crcs, groups), strict=True):
        if ok:
            intact[i:j] = True
        else:
            singles.append(np.arange(i, j))
    if singles:
        k = np.concatenate(singles)
        crc32 = zlib.crc32
        crcs = np.fromiter([crc32(buf[x:y]) for x, y in  # type: ignore[index]
                            zip((c[k] + 4).tolist(), end[k].tolist(), strict=True)],
                           dtype=np.int64, count=k.size)
        intact[k] = crcs == _u32_at(a, end[k])
    return intact


def _groups_intact(buf: Any, c: np.ndarray, end: np.ndarray, zero_crcs: np.ndarray,
                   groups: list[tuple[int, int]]) -> list[bool]:
    """:func:`_group_intact` of each group ``[i, j)`` of markers, in order, through one
    scratch buffer as long as the longest group (not a fresh 1 MiB array per group)."""
    if not groups:
        return []
    longest = max(int(end[j - 1]) + CRC_SIZE - int(c[i]) - 4 for i, j in groups)
    scratch = np.empty(longest, dtype=np.uint8)
    with memoryview(buf) as view:
        return [_group_intact(view, c[i:j], end[i:j], zero_crcs[i:j], scratch=scratch)
                for i, j in groups]


def ascending_distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of an ascending array (``np.unique`` of it, which would import
    ``numpy.ma``, some 10 ms once per process, to ask whether the array is masked)."""
    if not values.size:
        return values.copy()
    step = np.empty(values.shape, dtype=bool)
    step[0] = True
    np.not_equal(values[1:], values[:-1], out=step[1:])
    return values[step]


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of non-negative ints, by a count when they
    are small (record lengths: no sort of half a million values)."""
    if values.size and int(values.max()) < 1 << 16:
        present = np.flatnonzero(np.bincount(values))
        index = np.zeros(int(present[-1]) + 1, dtype=np.int64)
        index[present] = np.arange(present.size)
        return present, index[values]
    distinct, which = np.unique(values, return_inverse=True)
    return distinct, which.reshape(-1)


_SYNC_U32 = int.from_bytes(SYNC, "little")
_SYNC_HIGH = np.uint64(_SYNC_U32 << 32)  # the marker as the high half of a little-endian u64


def _group_intact(view: memoryview, c: np.ndarray, end: np.ndarray,
                  zero_crcs: np.ndarray, *, scratch: np.ndarray | None = None) -> bool:
    """Whether the back-to-back records at markers ``c`` (bodies ending at ``end``) all hold
    their correct CRC32: one pass over their bytes minus a stand-in of the same layout.

    ``zero_crcs`` (uint8, shape (n, 4)) is the little-endian CRC32 of ``end - c - 4`` zero
    bytes for each record (what its CRC field holds in the stand-in). The group's bytes are
    copied and XORed with the stand-in's non-zero bytes (those CRCs, and the sync markers
    between the records); the linear part of the CRC (``zlib.crc32(x, 0xFFFFFFFF) ^
    0xFFFFFFFF``: no initial value, no final XOR) of that difference is zero exactly when the
    group's CRC32 equals the stand-in's (both have the same length). The difference is
    formed in ``scratch`` (uint8, at least as long as the group's bytes) when given.
    """
    base = int(c[0]) + 4  # the first record's CRC covers its bytes from here
    stop = int(end[-1]) + CRC_SIZE
    group = np.frombuffer(view[base:stop], dtype=np.uint8)
    if scratch is None:
        diff = group.copy()
    else:
        diff = scratch[:stop - base]
        np.copyto(diff, group)
    crcs = np.ascontiguousarray(zero_crcs).view("<u4").reshape(-1)
    # each record but the last: its CRC field and the next record's sync marker right after
    # it (the records are back to back), XORed as one little-endian u64 at every byte offset
    # (unaligned, writeable); the last record's CRC field as a u32
    if end.shape[0] > 1:
        pairs = np.ndarray(shape=(stop - base - 7,), dtype="<u8", buffer=diff, strides=(1,))
        pairs[end[:-1] - base] ^= crcs[:-1].astype(np.uint64) | _SYNC_HIGH
    last = np.ndarray(shape=(1,), dtype="<u4", buffer=diff, offset=int(end[-1]) - base)
    last ^= crcs[-1]
    return zlib.crc32(diff, 0xFFFFFFFF) == 0xFFFFFFFF


def rows_at(a: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """``a[at[i]:at[i] + width]`` for every i (``0 <= at[i] < size``), shape (n, width),
    uint8, C-contiguous; zeros past the end of ``a``.

    One gather of ``width``-byte items from a view of ``a`` with an item at every byte
    offset.
    """
    n = int(at.shape[0])
    size = int(a.shape[0])
    at = np.asarray(at, dtype=np.int64)
    whole = at <= size - width
    if n and size >= width and bool(whole.all()):
        return _items(a, width)[at].view(np.uint8).reshape(n, width)
    out = np.zeros((n, width), dtype=np.uint8)
    if size >= width and whole.any():
        out[whole] = _items(a, width)[at[whole]].view(np.uint8).reshape(-1, width)
    for i in np.flatnonzero(~whole).tolist():  # the last few offsets: a short row
        p = int(at[i])
        out[i, :size - p] = a[p:]
    return out


def _items(a: np.ndarray, width: int) -> np.ndarray:
    """``a`` (uint8, contiguous) as ``size - width + 1`` overlapping items of ``width`` bytes
    (item k = bytes k .. k + width - 1); a strided ``a`` is copied first."""
    a = np.ascontiguousarray(a)
    return np.ndarray(shape=(int(a.shape[0]) - width + 1,), dtype=np.dtype((np.void, width)),
                      buffer=a, strides=(1,))


DISTINCT_BODIES_BULK = 16
"""Distinct bodies :func:`distinct_bodies` peels off in bulk (one vector comparison each)
before it counts the rest one record at a time."""


def distinct_bodies(a: np.ndarray, start: np.ndarray, stop: np.ndarray, *,
                    bulk: int = DISTINCT_BODIES_BULK) -> list[tuple[bytes, int]]:
    """The distinct byte strings ``a[start[i]:stop[i]]`` and how often each occurs, in the
    order of their first occurrence.

    A capture repeats each source record after every sync (tens of thousands of copies of a
    few bodies): the bodies of each length are gathered as rows, and the most common case, a
    few distinct bodies, takes one row comparison per distinct body; past ``bulk`` of them
    (a damaged or unusual file) the remaining rows are counted one by one.

    Parameters
    ----------
    a : ndarray of uint8, shape (size,)
        The file's bytes.
    start, stop : ndarray of int64, shape (n,)
        Byte ranges (``start <= stop <= size``).
    bulk : int
        Distinct bodies found by vector comparison before the one-by-one count.

    Returns
    -------
    list of (bytes, int)
    """
    lengths = stop - start
    found: list[tuple[int, bytes, int]] = []  # (first occurrence, body, count)
    for width in _distinct(lengths)[0].tolist():
        sel = np.flatnonzero(lengths == width)
        if width == 0:
            found.append((int(sel[0]), b"", int(sel.size)))
            continue
        rows = rows_at(a, start[sel], width)
        left = np.arange(sel.size)
        for _ in range(bulk):
            if not left.size:
                break
            same = (rows[left] == rows[left[0]]).all(axis=1)
            found.append((int(sel[left[0]]), rows[left[0]].tobytes(), int(same.sum())))
            left = left[~same]
        counts: dict[bytes, list[int]] = {}
        for i in left.tolist():
            entry = counts.setdefault(rows[i].tobytes(), [int(sel[i]), 0])
            entry[1] += 1
        found += [(first, body, count) for body, (first, count) in counts.items()]
    found.sort(key=lambda f: f[0])
    return [(body, count) for _first, body, count in found]


def byte_rows(a: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """``a[at[i]:at[i] + width]`` for every i, shape (n, width), uint8, C-contiguous."""
    if not at.shape[0]:
        return np.zeros((0, width), dtype=np.uint8)
    return rows_at(a, at, width)


def _u32_at(a: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Little-endian u32 at each offset ``at`` of ``a`` (uint8), as int64."""
    return byte_rows(a, at, 4).view("<u4").reshape(-1).astype(np.int64)
