"""Hypothesis fuzzing of the capture reader: random, mutated and truncated bytes.

Only CrampInputError may escape, and every record whose bytes were not touched is kept.
"""

from __future__ import annotations

import struct
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.capture.format import FILE_MAGIC, EventRecord, PacketRecord
from detector.capture.reader import read_capture
from detector.capture.writer import CaptureWriter
from detector.errors import CrampInputError

FUZZ = settings(max_examples=150, deadline=None)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@cache
def valid_capture() -> tuple[bytes, tuple[tuple[int, int, object], ...]]:
    """A capture's bytes and, for each packet/event record, (start, end, record)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "v.capture"
        written: list[PacketRecord | EventRecord] = []
        with CaptureWriter(path, session={"profile": "legband"}, background_sync=False) as w:
            for i in range(12):
                src = ("legband:data", "legband:status")[i % 2]
                payload = bytes((i * 7 + k) % 256 for k in range(8 + i))
                w.packet(source=src, payload=payload, received_s=1.7e9 + i)
                written.append(PacketRecord(source=src, payload=payload, received_s=1.7e9 + i))
                if i in (1, 6):
                    w.flush()  # definitions repeated: no single damage orphans a packet
                if i % 4 == 3:
                    w.event("gap", at_s=1.7e9 + i, role="emg", samples=i)
                    written.append(EventRecord(kind="gap", at_s=1.7e9 + i,
                                               fields={"role": "emg", "samples": i}))
        raw = path.read_bytes()
    spans: list[tuple[int, int, object]] = []
    pos, it = 16, iter(written)
    while pos < len(raw):
        rtype, length = struct.unpack_from("<BI", raw, pos + 4)
        end = pos + 13 + length
        if rtype in (3, 4):
            spans.append((pos, end, next(it)))
        pos = end
    return raw, tuple(spans)


def read_all(path: Path) -> list[object] | None:
    """Records of a file, or None when it is refused with CrampInputError."""
    try:
        return list(read_capture(path).records)
    except CrampInputError:
        return None


@FUZZ
@given(data=st.binary(max_size=600), with_magic=st.booleans())
def test_random_bytes_only_raise_cramp_input_error(workdir: Path, data: bytes,
                                                   with_magic: bool) -> None:
    path = workdir / "random.capture"
    path.write_bytes((FILE_MAGIC + data) if with_magic else data)
    records = read_all(path)
    assert records is None or records == []  # random bytes never forge a CRC-checked record


@FUZZ
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_truncation_keeps_every_record_before_the_cut(workdir: Path, cut: int) -> None:
    raw, spans = valid_capture()
    cut = cut % (len(raw) + 1)
    path = workdir / "cut.capture"
    path.write_bytes(raw[:cut])
    records = read_all(path)
    intact = [rec for _s, e, rec in spans if e <= cut]
    if records is None:  # refused only when nothing but (part of) the header remains
        assert not intact
        return
    assert records == intact
    cap = read_capture(path)
    assert cap.damage.torn_tail_bytes == cut - cap.intact_end
    assert cap.damage.corrupt_bytes == 0


@FUZZ
@given(pos=st.integers(min_value=0, max_value=10_000),
       burst=st.binary(min_size=1, max_size=8), cut=st.one_of(st.none(), st.integers(0, 10_000)))
def test_mutations_keep_every_untouched_record(workdir: Path, pos: int, burst: bytes,
                                               cut: int | None) -> None:
    raw, spans = valid_capture()
    pos = pos % len(raw)
    mutated = bytearray(raw)
    mutated[pos:pos + len(burst)] = burst[:len(raw) - pos]
    end = len(raw) if cut is None else max(pos + 1, cut % (len(raw) + 1))
    data = bytes(mutated[:end])
    changed = [i for i in range(min(len(data), len(raw))) if data[i] != raw[i]]
    path = workdir / "mut.capture"
    path.write_bytes(data)
    records = read_all(path)
    if records is None:  # only when the magic (and the session record) was hit, or no record
        assert data[:8] != FILE_MAGIC or len(data) < 16 + 13
        return
    if not changed:
        assert records == [rec for _s, e, rec in spans if e <= len(data)]
        return
    first, last = changed[0], changed[-1]
    before = [rec for _s, e, rec in spans if e <= first]
    after = [rec for s, e, rec in spans if s > last and e <= len(data)]
    assert records[:len(before)] == before
    kept_after = [rec for rec in records if rec in after]
    missing = [rec for rec in after if rec not in kept_after]
    assert kept_after == [rec for rec in after if rec in kept_after]  # order kept
    # an intact packet after the damage is dropped only when its source definition was
    # destroyed and the file ends before the writer repeated it; the reader counts those
    assert all(isinstance(rec, PacketRecord) for rec in missing)
    assert len(missing) <= read_capture(path).damage.orphan_packets
    # anything else returned must be an original record (no forged records)
    originals = [rec for _s, _e, rec in spans]
    assert all(rec in originals for rec in records)
