"""The vectorised frame walk finds exactly the records a record-by-record walk finds."""

from __future__ import annotations

import struct
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
from detector.capture.index import walk_frames


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
    raw = bytearray(capture_bytes(bodies))
    for pos, burst in damage:  # overwrite bytes anywhere after the header
        at = FILE_HEADER_SIZE + pos % max(1, len(raw) - FILE_HEADER_SIZE)
        raw[at:at + len(burst)] = burst
    for pos in fake:  # bare sync markers with a length that points nowhere
        at = FILE_HEADER_SIZE + pos % max(1, len(raw) - FILE_HEADER_SIZE)
        raw[at:at] = SYNC + struct.pack("<BI", 3, pos)
    data = bytes(raw[:max(FILE_HEADER_SIZE, len(raw) - cut)])
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
