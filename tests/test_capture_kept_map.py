"""The capture scan's map kept for a replay's later passes (issue 11, page faults).

``read_capture(keep_mapped=True)`` (what :func:`~detector.capture.recording.open_capture`
asks) keeps the scan's map of the file, its pages already mapped in, and
:meth:`RecordList.open_buffer` hands it to the later passes while the file has the size and
modification time it was scanned at; a changed file, or a released map, is mapped anew.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from detector.capture.reader import read_capture
from detector.capture.recording import open_capture

REPO = Path(__file__).resolve().parents[1]


def test_a_kept_scan_map_serves_the_later_passes_while_the_file_is_unchanged(
        tmp_path: Path) -> None:
    path = tmp_path / "c.cramp"
    shutil.copyfile(REPO / "recordings" / "sample_capture.cramp", path)
    cap = read_capture(path, keep_mapped=True)
    first = cap.records.open_buffer()
    assert cap.records.open_buffer() is first  # the scan's map, kept
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    fresh = cap.records.open_buffer()
    assert fresh is not first and bytes(fresh) == bytes(first)  # changed: mapped anew
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    cap.records.release()
    assert cap.records.open_buffer() is not first  # released: mapped anew
    plain = read_capture(path)  # control: by default each pass maps the file itself
    assert plain.records.open_buffer() is not plain.records.open_buffer()


def test_a_replay_pass_reads_the_same_blocks_from_the_kept_map(tmp_path: Path) -> None:
    path = tmp_path / "c.cramp"
    shutil.copyfile(REPO / "recordings" / "sample_capture.cramp", path)

    def blocks(keep: bool) -> list[tuple[str, int, np.ndarray]]:
        rec = open_capture(path)
        if not keep:
            rec.capture.records.release()
        with rec:
            return [(role, b.start_sample, b.data.copy()) for role, b in rec.blocks(60.0)]

    kept, plain = blocks(True), blocks(False)
    assert [(r, s) for r, s, _ in kept] == [(r, s) for r, s, _ in plain]
    assert len(kept) > 3
    assert all(np.array_equal(a, b) for (_, _, a), (_, _, b) in zip(kept, plain, strict=True))
