"""The LegBand data packets of a capture, each placed in its run, as arrays.

A run starts with the START command; packets received while START is answered (before its
``config`` event) belong to the new run when stamped at or after its start, and are dropped
otherwise; packets before the first START (stale ones) belong to no run. A capture without
``config`` events is one run. Only the few command and event records are looked at one by
one; the data packets are placed with array operations, in the order they were received.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from detector.capture.format import EventRecord, parse_event
from detector.capture.reader import Capture
from detector.profiles.legband import Opcode

DATA_SOURCE = "legband:data"
"""Source name of LegBand data notifications in a capture."""
COMMAND_SOURCE = "legband:command"
"""Source name of the control-point commands the recorder wrote."""
TICKS_AT = 8
"""Byte offset of the device ticks in a data packet's payload (u32)."""


@dataclass(frozen=True, kw_only=True)
class RunLayout:
    """Where the runs of a capture start and which data packets belong to each.

    Attributes
    ----------
    run_starts : list of int
        Device ticks at sample 0 of each run (from the ``config`` events), mod 2**32.
    offsets : list of dict of str to int
        Sample offset of each role in each run (``[{}]`` for a capture without runs).
    rows : ndarray of int64, shape (n,)
        Table rows (:class:`~detector.capture.reader.RecordTable`) of the data packets that
        belong to a run, in the order received.
    run : ndarray of int64, shape (n,)
        The run of each of those packets (non-decreasing).
    """

    run_starts: list[int]
    offsets: list[dict[str, int]]
    rows: np.ndarray
    run: np.ndarray


def _ids(capture: Capture, name: str) -> np.ndarray:
    return np.asarray([sid for sid, n in capture.sources.items() if n == name], dtype=np.int64)


def _among(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``np.isin(values, ids)``: one comparison per id for the one or two ids a capture
    defines per source name."""
    if ids.size > 4:
        return np.isin(values, ids)
    out = np.zeros(values.shape, dtype=bool)
    for i in ids.tolist():
        out |= values == i
    return out


def run_layout(capture: Capture, a: np.ndarray, buf: Any) -> RunLayout:
    """Place every data packet of ``capture`` in its run.

    Parameters
    ----------
    capture : Capture
        The scanned capture (its ``records.table`` is used).
    a : ndarray of uint8, shape (size,)
        The file's bytes.
    buf : buffer
        The same bytes (for slicing event bodies).
    """
    table = capture.records.table
    assert table is not None
    data = table.is_packet & _among(table.source_id, _ids(capture, DATA_SOURCE))
    command = table.is_packet & _among(table.source_id, _ids(capture, COMMAND_SOURCE))
    events: list[tuple[int, EventRecord]] = []
    for r in np.flatnonzero(~table.is_packet).tolist():
        events.append((r, parse_event(bytes(buf[int(table.body_start[r]):
                                               int(table.body_end[r])]))))
    run_starts: list[int] = []
    offsets: list[dict[str, int]] = []
    for _r, ev in events:
        if ev.kind == "config":
            ticks = ev.fields.get("run_start_ticks")
            offs = ev.fields.get("sample_offsets") or {}
            if not isinstance(ticks, int) or not isinstance(offs, dict):
                continue
            run_starts.append(ticks % (1 << 32))
            offsets.append({str(r): int(v) for r, v in offs.items()
                            if isinstance(v, int) and v >= 0})
    rows = np.flatnonzero(data)
    if not run_starts:
        return RunLayout(run_starts=[], offsets=[{}], rows=rows,
                         run=np.zeros(rows.shape, dtype=np.int64))
    # the state (run k, starting) after each command or event record, in file order
    controls: list[tuple[int, int, bool]] = []
    first_byte = _payload_bytes(table, a, np.flatnonzero(command), 0, 1)
    start_cmd = {int(r): bool(b.size and b[0] == Opcode.START)
                 for r, b in zip(np.flatnonzero(command).tolist(), first_byte, strict=True)}
    event_at = dict(events)
    k, starting = -1, False
    for r in np.flatnonzero(command | ~table.is_packet).tolist():
        ev = event_at.get(r)
        if ev is not None:
            if ev.kind == "config" and k + 1 < len(run_starts):
                k, starting = k + 1, False
        else:
            starting = start_cmd[r] and k + 1 < len(run_starts)
        controls.append((r, k, starting))
    at = np.asarray([c[0] for c in controls], dtype=np.int64)
    ks = np.asarray([-1] + [c[1] for c in controls], dtype=np.int64)
    st = np.asarray([False] + [c[2] for c in controls], dtype=bool)
    state = np.searchsorted(at, rows)  # index into ks/st: controls before each packet
    run = ks[state]
    starting_now = st[state]
    ticks = _ticks(table, rows)
    new_start = np.asarray([*run_starts, 0], dtype=np.int64)[np.minimum(run + 1,
                                                                        len(run_starts))]
    in_new = (ticks - new_start) % (1 << 32) < (1 << 31)
    run = np.where(starting_now, run + 1, run)
    keep = np.where(starting_now, in_new, run >= 0)
    return RunLayout(run_starts=run_starts, offsets=offsets, rows=rows[keep], run=run[keep])


def _payload_bytes(table: Any, a: np.ndarray, rows: np.ndarray, start: int,
                   count: int) -> list[np.ndarray]:
    """Bytes ``[start, start + count)`` of each payload (fewer where it is shorter)."""
    out = []
    for r in rows.tolist():
        p0 = int(table.payload_start[r]) + start
        out.append(a[p0:min(p0 + count, int(table.body_end[r]))])
    return out


def _ticks(table: Any, rows: np.ndarray) -> np.ndarray:
    """Device ticks of each data packet (0 when its payload is too short to hold them)."""
    p0 = table.payload_start[rows] + TICKS_AT
    enough = p0 + 4 <= table.body_end[rows]
    out = np.zeros(rows.shape, dtype=np.int64)
    if enough.any():  # from the payload bytes the scan read
        b = np.ascontiguousarray(table.payload_head[rows[enough], TICKS_AT:TICKS_AT + 4])
        out[enough] = b.view("<u4").reshape(-1)
    return out
