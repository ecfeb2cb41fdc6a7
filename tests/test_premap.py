"""Maps made ahead of the readers (issue 11, start-up): the premapped file, once, unchanged.

:func:`detector.io.premap.premap` maps a replay's first file on a helper thread while the
imports run; the readers take that map instead of mapping the file again. A map is handed over
once, and only while the file is the one mapped; the readers give the same samples with it as
without it. The capture scan's map is kept for the replay's later passes
(``read_capture(keep_mapped=True)``) while the file is unchanged.
"""

from __future__ import annotations

import mmap
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from io_helpers import standard_signals, write_edf

from detector.capture.reader import read_capture
from detector.io import ChannelMap, EdfRecording
from detector.io import premap as premap_module
from detector.io.premap import premap, take_premapped

REPO = Path(__file__).resolve().parents[1]
needs_populate = pytest.mark.skipif(not hasattr(mmap, "MAP_POPULATE"),
                                    reason="premapping needs MAP_POPULATE (Linux)")


@needs_populate
def test_a_premapped_file_is_handed_over_once_with_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 64)
    assert take_premapped(path) is None  # nothing started for it
    premap(path)
    buf = take_premapped(str(path))  # the same file by another spelling of its path
    assert buf is not None and bytes(buf) == path.read_bytes()
    assert take_premapped(path) is None  # handed over once
    buf.close()


def _premapped_now(path: Path) -> None:
    """Start the premap of ``path`` and wait until its helper thread has mapped it."""
    premap(path)
    premap_module._PENDING[os.path.abspath(path)].done.wait()


@needs_populate
def test_a_file_changed_after_its_premap_is_not_handed_over(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * 5000)
    _premapped_now(path)
    control = take_premapped(path)
    assert control is not None  # unchanged: handed over
    control.close()
    _premapped_now(path)
    path.write_bytes(b"b" * 6000)
    assert take_premapped(path) is None
    _premapped_now(path)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # same size, touched
    assert take_premapped(path) is None


def test_premap_never_raises_and_gives_nothing_for_what_it_cannot_map(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in (tmp_path / "missing.edf", tmp_path, tmp_path / "empty.edf"):
        if path.name == "empty.edf":
            path.write_bytes(b"")
        premap(path)
        assert take_premapped(path) is None
    big = tmp_path / "big.edf"
    big.write_bytes(b"x" * 100)
    monkeypatch.setattr(premap_module, "PREMAP_MAX_BYTES", 99)
    premap(big)
    assert take_premapped(big) is None  # larger than the limit: left to the reader
    if hasattr(mmap, "MAP_POPULATE"):  # control: at the limit it is premapped
        monkeypatch.setattr(premap_module, "PREMAP_MAX_BYTES", 100)
        premap(big)
        buf = take_premapped(big)
        assert buf is not None
        buf.close()


@needs_populate
def test_an_edf_read_through_its_premap_gives_the_same_blocks(tmp_path: Path) -> None:
    path = write_edf(tmp_path / "n.edf", standard_signals(np.random.default_rng(31), seconds=6))

    def blocks() -> list[tuple[str, int, np.ndarray]]:
        with EdfRecording(path, channel_map=ChannelMap()) as rec:
            return [(role, b.start_sample, b.data.copy()) for role, b in rec.blocks(2.0)]

    plain = blocks()
    premap(path)
    mapped = blocks()
    assert take_premapped(path) is None  # the reader took the map
    assert [(r, s) for r, s, _ in mapped] == [(r, s) for r, s, _ in plain]
    assert all(np.array_equal(a, b) for (_, _, a), (_, _, b) in zip(mapped, plain, strict=True))


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
