"""A capture scanned on two threads is the capture scanned on one (issue 11, replay speed).

``read_capture(threads=2)`` searches the sync markers in two halves at once and runs the CRC32
check on a helper thread while the records are tabled as if every framed record were intact;
that guess is kept only when the check agrees, else the records are tabled again. Damaged
files (bursts, flipped bits, bare markers, a torn tail) take the second way, undamaged ones
the first: the two counts are checked beside the results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.capture import index, reader
from detector.capture.format import FILE_HEADER_SIZE, SYNC, RecordType, file_header, frame
from detector.capture.halves import each_half, halves, run_both
from detector.capture.writer import CaptureWriter
from tests.capture_damage import damaged


def capture_file(path: Path, bodies: list[bytes], damage: list[tuple[int, bytes]],
                 fake: list[int], cut: int) -> Path:
    """Packet records of ``bodies`` after a session record, then damaged in place."""
    raw = bytearray(file_header() + frame(RecordType.SESSION, b'{"profile": "legband"}'))
    raw += b"".join(frame(RecordType.PACKET, b) for b in bodies)
    path.write_bytes(damaged(raw, damage, fake, cut))
    return path


def described(cap: reader.Capture) -> dict[str, Any]:
    """Everything a scan found, as plain values."""
    table = cap.records.table
    assert table is not None
    return {"session": cap.session, "damage": cap.damage, "sources": cap.sources,
            "n": (cap.n_packets, cap.n_events, len(cap.records)),
            "times": (cap.first_s, cap.last_s), "end": (cap.size_bytes, cap.intact_end),
            "offsets": cap.records.offsets.tolist(),
            "table": {name: getattr(table, name).tolist() for name in (
                "offset", "is_packet", "body_start", "body_end", "source_id", "payload_head")},
            "time_s": np.nan_to_num(table.time_s, nan=-1.0).tolist()}


class CountTables:
    """Counts the tablings of a scan (one per kept guess, two when it is given up)."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = reader._tabled

        def counted(*args: Any, **kwargs: Any) -> reader.Capture:
            self.calls += 1
            return original(*args, **kwargs)

        mp.setattr(reader, "_tabled", counted)


bodies = st.lists(st.one_of(st.binary(min_size=10, max_size=40), st.just(SYNC * 3),
                            st.just(b"\x00" + SYNC + b"\x03\x05\x00\x00\x00")),
                  min_size=1, max_size=25)
damage = st.lists(st.tuples(st.integers(0, 2000), st.binary(min_size=1, max_size=12)),
                  max_size=3)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bodies=bodies, damage=damage, cut=st.integers(0, 30),
       fake=st.lists(st.integers(0, 2000), max_size=2))
def test_two_threads_scan_what_one_scans(tmp_path: Path, bodies: list[bytes],
                                        damage: list[tuple[int, bytes]], cut: int,
                                        fake: list[int]) -> None:
    path = capture_file(tmp_path / "d.cramp", bodies, damage, fake, cut)
    one = described(reader.read_capture(path, threads=1))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(index, "PARALLEL_MIN_WORDS", 8)  # split even these small files
        mp.setattr(index, "SCAN_CHUNK_WORDS", 4)
        tables = CountTables(mp)
        two = described(reader.read_capture(path, threads=2))
    assert two == one
    assert tables.calls in (1, 2)


def test_the_guess_is_kept_for_an_undamaged_file_and_given_up_for_a_damaged_one(
        tmp_path: Path) -> None:
    """Positive and negative control of the guess: one tabling when every framed record is
    intact, two when one CRC32 fails (and the damage is reported as on one thread)."""
    good = capture_file(tmp_path / "g.cramp", [bytes([k]) * 30 for k in range(40)], [], [], 0)
    raw = bytearray(good.read_bytes())
    raw[FILE_HEADER_SIZE + 700] ^= 0x01  # a body byte: that record's CRC32 fails
    bad = tmp_path / "b.cramp"
    bad.write_bytes(bytes(raw))
    for path, calls in ((good, 1), (bad, 2)):
        with pytest.MonkeyPatch.context() as mp:
            tables = CountTables(mp)
            two = reader.read_capture(path, threads=2)
        assert tables.calls == calls
        assert described(two) == described(reader.read_capture(path, threads=1))
    assert reader.read_capture(bad, threads=2).damage.corrupt_regions == 1


def test_an_error_of_the_guess_is_raised_only_when_the_guess_was_right(tmp_path: Path) -> None:
    """A tabling that fails on the guess of a damaged file is tabled again from the checked
    records (no error); on an undamaged file the guess is the file, so its error is raised."""
    good = capture_file(tmp_path / "g.cramp", [bytes([k]) * 30 for k in range(40)], [], [], 0)
    raw = bytearray(good.read_bytes())
    raw[FILE_HEADER_SIZE + 700] ^= 0x01
    bad = tmp_path / "b.cramp"
    bad.write_bytes(bytes(raw))
    original = reader._tabled

    def first_fails(*args: Any, **kwargs: Any) -> reader.Capture:
        if not hasattr(first_fails, "done"):
            first_fails.done = True  # type: ignore[attr-defined]
            raise ValueError("the guess failed")
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reader, "_tabled", first_fails)
        assert reader.read_capture(bad, threads=2).damage.corrupt_regions == 1
        del first_fails.done  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match="the guess failed"):
            reader.read_capture(good, threads=2)


def test_a_written_capture_scans_alike_on_two_threads(tmp_path: Path) -> None:
    """A capture of the writer (session, sources, packets, events) across the split of the
    marker search."""
    path = tmp_path / "w.cramp"
    with CaptureWriter(path, session={"profile": "legband"}, background_sync=False) as w:
        for i in range(300):
            w.packet(source="legband:data", payload=bytes([i % 256]) * (20 + i % 7),
                     received_s=1.7e9 + i)
            if i % 50 == 0:
                w.event("status", at_s=1.7e9 + i)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(index, "PARALLEL_MIN_WORDS", 8)
        mp.setattr(index, "SCAN_CHUNK_WORDS", 64)
        two = reader.read_capture(path, threads=2)
    one = reader.read_capture(path, threads=1)
    assert described(two) == described(one)
    assert one.n_packets == 300 and one.n_events == 6 and one.damage.ok


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200), chunk=st.integers(1, 16))
def test_marker_search_in_halves_equals_a_byte_search(data: bytes, chunk: int) -> None:
    pieces = bytearray(data)
    for k in range(0, len(pieces), 37):  # markers at odd and even offsets
        pieces[k:k] = SYNC
    blob = bytes(pieces)
    want, at = [], blob.find(SYNC)
    while at != -1:
        want.append(at)
        at = blob.find(SYNC, at + 1)
    a = np.frombuffer(blob, dtype=np.uint8)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(index, "PARALLEL_MIN_WORDS", 2)
        mp.setattr(index, "SCAN_CHUNK_WORDS", chunk)
        c = index.sync_candidates(a, threads=2)
    got = [int(p) for p in c if blob[p:p + 4] == SYNC]
    assert got == want


def test_halves_cover_the_range_in_order() -> None:
    assert halves(10, threads=1, min_items=1) == [(0, 10)]
    assert halves(10, threads=2, min_items=11) == [(0, 10)]
    assert halves(10, threads=2, min_items=1) == [(0, 5), (5, 10)]
    assert halves(10, threads=2, min_items=1, step=4) == [(0, 4), (4, 10)]
    assert each_half(lambda lo, hi: list(range(lo, hi)), 7, threads=2, min_items=1) \
        == [[0, 1, 2], [3, 4, 5, 6]]


def test_run_both_returns_both_and_raises_either_error() -> None:
    assert run_both(lambda: 1, lambda: 2) == (1, 2)

    def fails(message: str) -> Any:
        raise RuntimeError(message)

    with pytest.raises(RuntimeError, match="helper"):
        run_both(lambda: 1, lambda: fails("helper"))
    with pytest.raises(RuntimeError, match="caller"):
        run_both(lambda: fails("caller"), lambda: 2)
    with pytest.raises(RuntimeError, match="caller"):  # both fail: the caller's
        run_both(lambda: fails("caller"), lambda: fails("helper"))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bodies=bodies, damage=damage, cut=st.integers(0, 30))
def test_then_on_two_threads_gives_then_of_the_one_thread_scan(
        tmp_path: Path, bodies: list[bytes], damage: list[tuple[int, bytes]],
        cut: int) -> None:
    """``scan_then(threads=2)`` runs ``then`` on the guessed table while the CRC32 check
    runs: its value (or error) is ``then`` of the one-thread scan's capture, whether the
    guess was kept (undamaged) or given up (damaged: ``then`` runs again)."""
    path = capture_file(tmp_path / "d.cramp", bodies, damage, [], cut)
    calls: list[int] = []

    def then(cap: reader.Capture) -> dict[str, Any]:
        calls.append(len(cap.records))
        if cap.n_packets % 3 == 1:  # an error of then: raised exactly as on one thread
            raise ValueError(f"{cap.n_packets} packets")
        return described(cap)

    def outcome(threads: int) -> object:
        try:
            return reader.scan_then(path, then, threads=threads)
        except ValueError as exc:
            return str(exc)

    one = outcome(1)
    assert len(calls) == 1
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(index, "PARALLEL_MIN_WORDS", 8)
        assert outcome(2) == one


def test_then_runs_again_when_the_guess_is_given_up(tmp_path: Path) -> None:
    """A flipped byte inside a body (framing intact, CRC32 wrong): the guess tables every
    record, the check does not, so ``then`` runs a second time, on the checked table; an
    undamaged file runs it once (positive control)."""
    good = capture_file(tmp_path / "good.cramp", [bytes(range(20))] * 4, [], [], 0)
    raw = bytearray(good.read_bytes())
    raw[-10] ^= 0xFF  # inside the last record's body
    bad = tmp_path / "bad.cramp"
    bad.write_bytes(bytes(raw))
    for path, expected_calls in ((good, 1), (bad, 2)):
        seen: list[reader.Capture] = []

        def then(cap: reader.Capture, seen: list[reader.Capture] = seen) -> dict[str, Any]:
            seen.append(cap)
            return described(cap)

        assert reader.scan_then(path, then, threads=2) == described(reader.read_capture(path))
        assert len(seen) == expected_calls
    assert reader.read_capture(good).damage.torn_tail_bytes == 0  # (orphans: no sources)
    assert reader.read_capture(bad).damage.torn_tail_bytes == 33  # the last record dropped
