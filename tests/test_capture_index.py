"""The vectorised frame walk finds exactly the records a record-by-record walk finds."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.capture.format import (
    CRC_SIZE,
    FILE_HEADER_SIZE,
    MAX_BODY_BYTES,
    RECORD_HEAD,
    RECORD_HEAD_SIZE,
    SYNC,
    RecordType,
    file_header,
    frame,
)
from detector.capture.index import distinct_bodies, walk_frames
from tests.capture_damage import damaged


def reference_walk(buf: bytes, start: int) -> tuple[list[int], int, int, int, int, int]:
    """Take an intact record, else resynchronise on the next marker starting one."""
    size = len(buf)

    def intact(pos: int) -> int | None:  # end of the record's body, or None
        if size - pos < RECORD_HEAD_SIZE + CRC_SIZE or buf[pos:pos + 4] != SYNC:
            return None
        _s, _t, length = RECORD_HEAD.unpack_from(buf, pos)
        end = pos + RECORD_HEAD_SIZE + length
        if length > MAX_BODY_BYTES or end + CRC_SIZE > size:
            return None
        ok = int.from_bytes(buf[end:end + 4], "little") == zlib.crc32(buf[pos + 4:end])
        return end if ok else None

    offsets: list[int] = []
    torn = regions = lost = corrupt = 0
    pos = end_ok = start
    while pos < size:
        end = intact(pos)
        if end is None:
            q = buf.find(SYNC, pos + 1)
            while q != -1 and intact(q) is None:
                q = buf.find(SYNC, q + 1)
            if q == -1:
                torn = size - pos
                break
            regions += 1
            corrupt += q - pos
            n, f = 0, buf.find(SYNC, pos, q)
            while f != -1:
                n, f = n + 1, buf.find(SYNC, f + 1, q)
            lost += max(1, n)
            pos = q
            continue
        offsets.append(pos)
        pos = end_ok = end + CRC_SIZE
    return offsets, torn, regions, lost, corrupt, end_ok


def capture_bytes(bodies: list[bytes]) -> bytes:
    return file_header() + b"".join(frame(RecordType.PACKET, b) for b in bodies)


bodies = st.lists(st.one_of(st.binary(max_size=40), st.just(SYNC * 3),
                            st.just(b"\x00" + SYNC + b"\x03\x05\x00\x00\x00")), max_size=25)
damage = st.lists(st.tuples(st.integers(0, 2000), st.binary(min_size=1, max_size=12)),
                  max_size=4)


@settings(max_examples=300, deadline=None)
@given(bodies=bodies, damage=damage, cut=st.integers(0, 50),
       fake=st.lists(st.integers(0, 2000), max_size=3))
def test_walk_equals_record_by_record_walk(bodies: list[bytes], damage: list[tuple[int, bytes]],
                                           cut: int, fake: list[int]) -> None:
    data = damaged(bytearray(capture_bytes(bodies)), damage, fake, cut)
    walk = walk_frames(data, np.frombuffer(data, dtype=np.uint8), FILE_HEADER_SIZE)
    offsets, torn, regions, lost, corrupt, end_ok = reference_walk(data, FILE_HEADER_SIZE)
    assert walk.offset.tolist() == offsets
    assert (walk.torn_tail_bytes, walk.corrupt_regions, walk.corrupt_records,
            walk.corrupt_bytes, walk.intact_end) == (torn, regions, lost, corrupt, end_ok)


def test_undamaged_and_damaged_positive_control() -> None:
    good = capture_bytes([b"abc", SYNC + b"xx", b"", b"defg"])
    walk = walk_frames(good, np.frombuffer(good, dtype=np.uint8), FILE_HEADER_SIZE)
    assert walk.offset.size == 4 and walk.corrupt_regions == 0 and walk.torn_tail_bytes == 0
    assert walk.intact_end == len(good)
    bad = bytearray(good)
    bad[FILE_HEADER_SIZE + 30] ^= 0xFF  # the second record's last body byte: its CRC fails
    walk = walk_frames(bytes(bad), np.frombuffer(bytes(bad), dtype=np.uint8), FILE_HEADER_SIZE)
    assert walk.offset.tolist() == [16, 51, 64] and walk.corrupt_regions == 1
    assert walk.corrupt_records == 2  # its own marker and the one in its body


def test_a_view_of_the_mapped_capture_outliving_its_block_is_no_error(tmp_path: Path) -> None:
    """A numpy view of the map still alive when the block ends (a reference cycle not yet
    collected, on a busy Dask worker) must not turn into ``BufferError`` in the unmapping."""
    import mmap

    from detector.capture.reader import _mapped

    f = tmp_path / "x.bin"
    f.write_bytes(bytes(range(16)))
    with f.open("rb") as fh, _mapped(fh, "x.bin") as buf:
        view = np.frombuffer(buf, dtype=np.uint8)
    assert view[5] == 5 and view.sum() == sum(range(16))  # still readable after the block
    # positive control: closing a map that a view still holds is the error avoided above
    with f.open("rb") as fh:
        plain = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        held = np.frombuffer(plain, dtype=np.uint8)
        with pytest.raises(BufferError):
            plain.close()
        assert held[3] == 3


def crcs_one_by_one(data: bytes, c: np.ndarray, end: np.ndarray,
                    framed: np.ndarray) -> list[bool]:
    """The record-by-record CRC32 check of every framed marker."""
    return [bool(f) and zlib.crc32(data[x + 4:y]) == int.from_bytes(data[y:y + 4], "little")
            for x, y, f in zip(c.tolist(), end.tolist(), framed.tolist(), strict=True)]


def markers(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sync markers after the header, their body ends, and which of them are framed."""
    from detector.capture.index import _u32_at, sync_positions

    a = np.frombuffer(data, dtype=np.uint8)
    c = sync_positions(a)
    c = c[(c >= FILE_HEADER_SIZE) & (c + RECORD_HEAD_SIZE + CRC_SIZE <= len(data))]
    end = c + RECORD_HEAD_SIZE + _u32_at(a, c + 5)
    return c, end, end + CRC_SIZE <= len(data)


@settings(max_examples=300, deadline=None)
@given(bodies=st.lists(st.binary(max_size=30), min_size=1, max_size=30),
       flips=st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 7)), max_size=4),
       group_bytes=st.sampled_from([1, 40, 100, 1 << 20]))
def test_grouped_crc_check_equals_one_by_one(bodies: list[bytes], flips: list[tuple[int, int]],
                                             group_bytes: int) -> None:
    """Groups of back-to-back records checked by one CRC pass find exactly the intact records
    a per-record check finds, with bits flipped anywhere (several bad records in a group)."""
    from detector.capture.index import check_crcs

    raw = bytearray(capture_bytes(bodies))
    for pos, bit in flips:
        raw[FILE_HEADER_SIZE + pos % (len(raw) - FILE_HEADER_SIZE)] ^= 1 << bit
    data = bytes(raw)
    c, end, framed = markers(data)
    got = check_crcs(data, np.frombuffer(data, dtype=np.uint8), c, end, framed,
                     group_bytes=group_bytes)
    assert got.tolist() == crcs_one_by_one(data, c, end, framed)


def test_grouped_crc_check_finds_one_bad_record_among_many() -> None:
    """Positive control beside the intact case: one flipped bit in the middle of a long run
    of back-to-back records (one group) is found, and only that record is refused."""
    from detector.capture.index import _group_intact, check_crcs

    good = capture_bytes([bytes([k % 251]) * (k % 40) for k in range(500)])
    c, end, framed = markers(good)
    assert check_crcs(good, np.frombuffer(good, dtype=np.uint8), c, end, framed).all()
    zero_crcs = np.array([list(zlib.crc32(bytes(int(m))).to_bytes(4, "little"))
                          for m in (end - c - 4).tolist()], dtype=np.uint8)
    with memoryview(good) as view:  # passed by the one group pass, not record by record
        assert _group_intact(view, c, end, zero_crcs)
    bad = bytearray(good)
    target = 250
    bad[int(c[target]) + RECORD_HEAD_SIZE] ^= 0x10  # a body byte (record 250 has 10 of them)
    data = bytes(bad)
    got = check_crcs(data, np.frombuffer(data, dtype=np.uint8), c, end, framed)
    assert np.flatnonzero(~got).tolist() == [target]
    with memoryview(data) as view:
        assert not _group_intact(view, c, end, zero_crcs)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=9), st.just(SYNC), st.just(SYNC[:3]),
                          st.just(SYNC[1:]), st.just(SYNC[:2] * 2)), max_size=12))
def test_sync_positions_equal_a_byte_search(pieces: list[bytes]) -> None:
    """Every marker at any offset (odd, even, overlapping halves, at the very end) is found."""
    from detector.capture.index import sync_positions

    data = b"".join(pieces)
    want, at = [], data.find(SYNC)
    while at != -1:
        want.append(at)
        at = data.find(SYNC, at + 1)
    assert sync_positions(np.frombuffer(data, dtype=np.uint8)).tolist() == want


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 70_000), min_size=1, max_size=50), st.booleans())
def test_distinct_equals_numpy_unique(values: list[int], small: bool) -> None:
    """Both ways (a count for small values, a sort for large ones) give np.unique's answer."""
    from detector.capture.index import _distinct

    v = np.array([x % 300 for x in values] if small else values, dtype=np.int64)
    distinct, which = _distinct(v)
    want, inverse = np.unique(v, return_inverse=True)
    assert distinct.tolist() == want.tolist() and which.tolist() == inverse.tolist()
    assert distinct[which].tolist() == v.tolist()


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=80), at=st.lists(st.integers(0, 79), max_size=20),
       width=st.integers(1, 40), strided=st.booleans())
def test_rows_at_equal_slices_padded_with_zeros(data: bytes, at: list[int], width: int,
                                                strided: bool) -> None:
    """Each row is the slice of ``width`` bytes at its offset, zeros past the end (offsets
    at the very end, rows wider than the data), from a contiguous or a strided array."""
    from detector.capture.index import rows_at

    at = [p for p in at if p < len(data)]
    arr = np.frombuffer(data, dtype=np.uint8)
    if strided:  # every other byte of a buffer twice as long
        wide = np.zeros(2 * len(data), dtype=np.uint8)
        wide[::2] = arr
        arr = wide[::2]
    got = rows_at(arr, np.array(at, dtype=np.int64), width)
    assert got.shape == (len(at), width) and got.dtype == np.uint8
    assert [bytes(r) for r in got] == [data[p:p + width].ljust(width, b"\0") for p in at]


def test_scan_keeps_each_packets_first_payload_bytes(tmp_path: Path) -> None:
    """The record table's payload heads are the packets' first payload bytes (as many as
    the payload has; the rest is not the payload's)."""
    from detector.capture.reader import PAYLOAD_HEAD_BYTES, read_capture
    from detector.capture.writer import CaptureWriter

    path = tmp_path / "p.cramp"
    payloads = [bytes(range(k, k + n)) for k, n in ((0, 20), (7, 3), (50, 0), (9, 13))]
    with CaptureWriter(path, session={"profile": "legband"}, background_sync=False) as w:
        for i, p in enumerate(payloads):
            w.packet(source="legband:data", payload=p, received_s=1.7e9 + i)
            w.event("status", at_s=1.7e9 + i)
    table = read_capture(path).records.table
    assert table is not None
    heads = table.payload_head[table.is_packet]
    assert heads.shape == (4, PAYLOAD_HEAD_BYTES)
    for p, h in zip(payloads, heads, strict=True):
        n = min(len(p), PAYLOAD_HEAD_BYTES)
        assert bytes(h[:n]) == p[:n]


@settings(max_examples=200)
@given(pool=st.lists(st.binary(max_size=6), min_size=1, max_size=5),
       picks=st.lists(st.integers(0, 9), max_size=40),
       extra=st.lists(st.binary(max_size=6), max_size=5),
       bulk=st.integers(1, 4))
def test_distinct_bodies_counts_like_a_dict(pool: list[bytes], picks: list[int],
                                            extra: list[bytes], bulk: int) -> None:
    """Bodies picked from a small pool (repeats) and a few others, laid end to end with a
    byte between: the distinct bodies and their counts, in order of first occurrence, as a
    dict counting them one by one gives (also past ``bulk`` distinct bodies)."""
    bodies = [pool[k % len(pool)] for k in picks] + extra
    data, start, stop = bytearray(b"\xaa"), [], []
    for body in bodies:
        start.append(len(data))
        data += body
        stop.append(len(data))
        data += b"\xaa"
    expect: dict[bytes, int] = {}
    for body in bodies:
        expect[body] = expect.get(body, 0) + 1
    got = distinct_bodies(np.frombuffer(bytes(data), dtype=np.uint8),
                          np.array(start, dtype=np.int64), np.array(stop, dtype=np.int64),
                          bulk=bulk)
    assert got == list(expect.items())
