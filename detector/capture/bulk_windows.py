"""A capture's records in windows, one band's data packets as rows of bytes (bulk replay).

:func:`record_windows` walks the records as :class:`~detector.capture.reader.RecordList`
gives them; :func:`table_windows` reads the same windows straight from the mapped file with the
record table the scan made (no record object per data packet, no second CRC pass), when the
file is still the one scanned. Each window lists its records in file order: ``None`` for a
data packet of the band (its bytes are the next row of the window's matrix), else the record.
A packet longer than the matrix's ``width`` (more than a BLE notification can carry: only a
doctored file has one) is given as its record, whole, so that it takes the one-packet path and
is decoded or refused exactly as it would be packet by packet.
:func:`table_records` gives the records themselves from the table (the bands replayed packet
by packet): the same records as the list, without checking each CRC a second time.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

import numpy as np

from detector.capture.format import PacketRecord, Record, parse_event, parse_packet
from detector.capture.reader import Capture

Window = tuple[list[Record | None], np.ndarray, np.ndarray, list[float]]
"""``(items, matrix, lengths, received_s)``: records (``None`` for a data packet), the data
packets' first ``width`` bytes (uint8, shape (m, width + 3), zero-padded), their lengths and
their receive times (s)."""


def _matrix(payloads: list[bytes], width: int) -> np.ndarray:
    mat = np.zeros((len(payloads), width + 3), dtype=np.uint8)
    if payloads:
        cut = b"".join(bytes(p[:width]).ljust(width, b"\x00") for p in payloads)
        mat[:, :width] = np.frombuffer(cut, dtype=np.uint8).reshape(-1, width)
    return mat


def record_windows(capture: Capture, *, source: str, width: int,
                   window: int) -> Iterator[Window]:
    """Windows of ``window`` records, read record by record."""
    records = iter(capture.records)
    while chunk := list(itertools.islice(records, window)):
        items: list[Record | None] = []
        data: list[PacketRecord] = []
        for rec in chunk:
            if isinstance(rec, PacketRecord) and rec.source == source \
                    and len(rec.payload) <= width:
                items.append(None)
                data.append(rec)
            else:
                items.append(rec)
        lengths = np.fromiter((len(r.payload) for r in data), dtype=np.int64, count=len(data))
        yield items, _matrix([r.payload for r in data], width), lengths, \
            [r.received_s for r in data]


def table_windows(capture: Capture, *, source: str, width: int,
                  window: int) -> Iterator[Window] | None:
    """The same windows from the mapped file and the scan's record table.

    Returns None (read the records instead) when there is no table or the file's size or
    modification time changed since the scan.
    """
    records = capture.records
    table = records.table
    if table is None:
        return None
    buf = records.open_buffer()
    if not records.unchanged():
        buf.close()
        return None
    sids = np.asarray([k for k, v in capture.sources.items() if v == source], dtype=np.int64)
    return _walk(capture, buf, sids, width, window)


def _walk(capture: Capture, buf: object, sids: np.ndarray, width: int,
          window: int) -> Iterator[Window]:
    table = capture.records.table
    assert table is not None
    a = np.frombuffer(buf, dtype=np.uint8)  # type: ignore[call-overload]
    try:
        n = table.offset.shape[0]
        for lo in range(0, n, window):
            hi = min(n, lo + window)
            fits = table.body_end[lo:hi] - table.payload_start[lo:hi] <= width
            mine = table.is_packet[lo:hi] & np.isin(table.source_id[lo:hi], sids) & fits
            rows = np.flatnonzero(mine) + lo
            start = table.payload_start[rows]
            lengths = table.body_end[rows] - start
            mat = np.zeros((rows.size, width + 3), dtype=np.uint8)
            if rows.size:  # only the columns some row reaches (the rest stay zero)
                cols = np.arange(min(width, int(lengths.max())))
                at = start[:, None] + cols
                inside = cols < lengths[:, None]
                mat[:, :cols.size] = np.where(inside, a[np.where(inside, at, 0)], 0)
            items: list[Record | None] = []
            for k, is_mine in enumerate(mine.tolist(), start=lo):
                if is_mine:
                    items.append(None)
                    continue
                body = bytes(a[table.body_start[k]:table.body_end[k]])
                if table.is_packet[k]:
                    sid, received_s, payload = parse_packet(body)
                    items.append(PacketRecord(source=capture.sources[sid], payload=payload,
                                              received_s=received_s))
                else:
                    items.append(parse_event(body))
            yield items, mat, lengths, table.time_s[rows].tolist()
    finally:
        del a
        with contextlib.suppress(BufferError):  # a view still alive: freed with it
            buf.close()  # type: ignore[attr-defined]


def table_records(capture: Capture) -> Iterator[Record] | None:
    """The records of ``capture`` in file order, read with the scan's record table.

    The same :class:`~detector.capture.format.PacketRecord` and
    :class:`~detector.capture.format.EventRecord` objects as iterating ``capture.records``
    (source, payload bytes and receive time as the scan read them). Returns None (iterate the
    list instead) when there is no table or the file changed since the scan.
    """
    records = capture.records
    table = records.table
    if table is None:
        return None
    buf = records.open_buffer()
    if not records.unchanged():
        buf.close()
        return None
    return _records(capture, buf)


def _records(capture: Capture, buf: object) -> Iterator[Record]:
    table = capture.records.table
    assert table is not None
    sources = capture.sources
    try:
        rows = zip(table.is_packet.tolist(), table.source_id.tolist(),
                   table.payload_start.tolist(), table.body_start.tolist(),
                   table.body_end.tolist(), table.time_s.tolist(), strict=True)
        for is_packet, sid, p0, b0, b1, t in rows:
            if is_packet:
                yield PacketRecord(source=sources[sid], payload=buf[p0:b1],  # type: ignore[index]
                                   received_s=t)
            else:
                yield parse_event(buf[b0:b1])  # type: ignore[index]
    finally:
        with contextlib.suppress(BufferError):
            buf.close()  # type: ignore[attr-defined]
