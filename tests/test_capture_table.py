"""The scan's record table equals one built record by record: kept packets and events, their
source ids and times, orphan and unreadable counts, the first and last times."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.capture.format import (
    FILE_HEADER_SIZE,
    PACKET_HEAD,
    RECORD_HEAD_SIZE,
    BodyError,
    RecordType,
    event_body,
    file_header,
    frame,
    parse_event,
    parse_source,
    session_body,
    source_body,
)
from detector.capture.reader import PAYLOAD_HEAD_BYTES, read_capture

Record = tuple[RecordType, bytes]


def packet(source_id: int, received_s: float, payload: bytes) -> Record:
    """A packet record; ``received_s`` may be NaN (a body the writer would refuse)."""
    return RecordType.PACKET, PACKET_HEAD.pack(source_id, received_s) + payload


records = st.lists(st.one_of(
    st.builds(packet, st.integers(1, 4), st.sampled_from([1.7e9, 1.7e9 + 3.5, 1.6e9, math.nan]),
              st.binary(max_size=30)),
    st.builds(lambda b: (RecordType.PACKET, b), st.binary(max_size=PACKET_HEAD.size - 1)),
    st.builds(lambda t: (RecordType.EVENT, event_body("gap", t, {"role": "emg"})),
              st.sampled_from([1.7e9 + 1.0, 1.5e9, 1.8e9])),
    st.just((RecordType.EVENT, b"\x00" * 5)),
    st.builds(lambda i: (RecordType.SOURCE, source_body(i, f"s{i}")), st.integers(1, 3)),
), max_size=40)


def build(tmp: Path, body: list[Record]) -> tuple[Path, list[tuple[int, Record]]]:
    """A capture of a session then ``body``; each record with its file offset."""
    placed: list[tuple[int, Record]] = []
    raw = bytearray(file_header())
    for rec in [(RecordType.SESSION, session_body({"profile": "legband"})), *body]:
        placed.append((len(raw), rec))
        raw += frame(*rec)
    path = tmp / "t.capture"
    path.write_bytes(bytes(raw))
    return path, placed


def reference(placed: list[tuple[int, Record]]) -> dict[str, object]:
    """The table and counts, one record at a time."""
    defined = {parse_source(b)[0] for _, (t, b) in placed if t == RecordType.SOURCE}
    rows: list[tuple[int, bool, int, int, int, float, bytes]] = []
    times: list[float] = []
    unreadable = orphans = events = 0
    for offset, (rtype, body) in placed:
        start = offset + RECORD_HEAD_SIZE
        if rtype == RecordType.PACKET:
            if len(body) < PACKET_HEAD.size or math.isnan(PACKET_HEAD.unpack_from(body)[1]):
                unreadable += 1
                continue
            sid, t = PACKET_HEAD.unpack_from(body)
            times.append(t)
            if sid not in defined:
                orphans += 1
                continue
            rows.append((offset, True, start, start + len(body), sid, t,
                         body[PACKET_HEAD.size:PACKET_HEAD.size + PAYLOAD_HEAD_BYTES]))
        elif rtype == RecordType.EVENT:
            try:
                t = parse_event(body).at_s
            except BodyError:
                unreadable += 1
                continue
            events += 1
            times.append(t)
            rows.append((offset, False, start, start + len(body), -1, t, b""))
    return {"rows": rows, "unreadable": unreadable, "orphans": orphans, "events": events,
            "first": min(times) if times else None, "last": max(times) if times else None}


def scanned(path: Path, threads: int) -> dict[str, object]:
    c = read_capture(path, threads=threads)
    t = c.records.table
    assert t is not None
    for column in (t.offset, t.body_start, t.body_end, t.source_id):
        assert column.dtype == np.int64
    assert t.time_s.dtype == np.float64 and t.is_packet.dtype == bool
    rows = [(int(o), bool(p), int(b0), int(b1), int(s), float(x),
             bytes(h[:max(0, min(PAYLOAD_HEAD_BYTES, int(b1) - int(b0) - PACKET_HEAD.size))])
             if p else b"")
            for o, p, b0, b1, s, x, h in zip(t.offset, t.is_packet, t.body_start, t.body_end,
                                             t.source_id, t.time_s, t.payload_head, strict=True)]
    return {"rows": rows, "unreadable": c.damage.unreadable_records,
            "orphans": c.damage.orphan_packets, "events": c.n_events,
            "first": c.first_s, "last": c.last_s}


@settings(max_examples=200, deadline=None)
@given(body=records, threads=st.sampled_from([1, 2]))
def test_record_table_equals_a_record_by_record_reading(tmp_path_factory: pytest.TempPathFactory,
                                                         body: list[Record],
                                                         threads: int) -> None:
    path, placed = build(tmp_path_factory.mktemp("table"), body)
    assert scanned(path, threads) == reference(placed)


def test_positive_control_every_kind_of_row_is_counted(tmp_path: Path) -> None:
    """One file with kept packets, an orphan, a short and a NaN-time packet, a readable and
    an unreadable event: each lands where the reference puts it, none is empty."""
    body = [(RecordType.SOURCE, source_body(1, "a")), packet(1, 1.7e9, b"abc"),
            packet(2, 1.6e9, b"orphan"), (RecordType.PACKET, b"\x01"), packet(1, math.nan, b""),
            (RecordType.EVENT, event_body("gap", 1.8e9, {})), (RecordType.EVENT, b"\x00"),
            packet(1, 1.7e9 + 1, b"defgh")]
    path, placed = build(tmp_path, body)
    got = scanned(path, 1)
    assert got == reference(placed)
    assert [r[1] for r in got["rows"]] == [True, False, True]  # type: ignore[index]
    assert [r[4] for r in got["rows"]] == [1, -1, 1]  # type: ignore[index]
    assert got["orphans"] == 1 and got["events"] == 1 and got["unreadable"] == 3
    assert got["first"] == 1.6e9 and got["last"] == 1.8e9  # the orphan's time counts
    assert placed[0][0] == FILE_HEADER_SIZE
