"""Render the HTML report in a real browser (Debian's headless chromium) and check the PNG.

Skipped only when ``/usr/bin/chromium`` is missing and ``CRAMP_REQUIRE_BROWSER`` is not set;
CI sets it (and installs chromium), so there a missing browser fails the test.
"""

from __future__ import annotations

import os
import struct
import subprocess
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from store_helpers import EpisodeSpec, cramp, make_night

from detector.store import save_night

CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1200, 2000


def decode_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit RGB/RGBA/grey PNG into an array of shape (height, width, channels).

    Rows are unfiltered all at once along anti-diagonals (each pixel depends only on its
    left, upper and upper-left neighbours), so numpy does the work, not a Python loop.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, color, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace != 0:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {color})")
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    raw = raw.reshape(height, 1 + width * channels)
    kinds = raw[:, 0].astype(np.int32)
    filt = raw[:, 1:].reshape(height, width, channels).astype(np.int32)
    out = np.zeros((height + 1, width + 1, channels), dtype=np.int32)  # zero border
    rows_all = np.arange(height)
    for d in range(height + width - 1):
        r = rows_all[max(0, d - width + 1): min(height, d + 1)]
        x = d - r
        a = out[r + 1, x]        # left
        b = out[r, x + 1]        # up
        c = out[r, x]            # up-left
        k = kinds[r][:, None]
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        pred = np.select([k == 1, k == 2, k == 3, k == 4], [a, b, (a + b) // 2, paeth], 0)
        out[r + 1, x + 1] = (filt[r, x] + pred) & 0xFF
    return out[1:, 1:].astype(np.uint8)


def test_png_decoder_on_known_pixels() -> None:
    # 3x2 RGB image, rows filtered with Sub and Paeth, written by hand.
    pixels = np.array([[[10, 20, 30], [40, 50, 60], [70, 80, 90]],
                       [[15, 25, 35], [5, 255, 0], [1, 2, 3]]], dtype=np.int32)
    row0 = pixels[0].copy()
    row0[1:] = (pixels[0][1:] - pixels[0][:-1]) & 0xFF  # Sub
    up, cur = pixels[0], pixels[1]
    row1 = np.zeros_like(cur)
    for x in range(3):
        a = cur[x - 1] if x else np.zeros(3, dtype=np.int32)
        c = up[x - 1] if x else np.zeros(3, dtype=np.int32)
        b = up[x]
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        row1[x] = (cur[x] - pred) & 0xFF
    raw = bytes([1]) + row0.astype(np.uint8).tobytes() + bytes([4]) + row1.astype(
        np.uint8).tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 2, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    np.testing.assert_array_equal(decode_png(png), pixels)


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CRAMP_REQUIRE_BROWSER"):
            pytest.fail("CRAMP_REQUIRE_BROWSER is set but /usr/bin/chromium is missing")
        pytest.skip("/usr/bin/chromium not installed")
    db = tmp_path / "e.sqlite3"
    rng = np.random.default_rng(40)
    save_night(make_night(rng=rng, start_utc=datetime(2024, 3, 3, 21, 0, tzinfo=UTC),
                          episodes=(EpisodeSpec(5400.0, 95.0), EpisodeSpec(9000.0, 700.0))),
               db_path=db, recording_sha256="e" * 64, timezone="Europe/Berlin")
    report = tmp_path / "report.html"
    cramp(["report", "--db", str(db), "--out", str(report)])
    shot = tmp_path / "shot.png"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
           f"--window-size={WIDTH},{HEIGHT}", report.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)
    assert shot.exists(), f"chromium wrote no screenshot (exit {proc.returncode}): " \
                          f"{proc.stderr[-2000:]}"
    img = decode_png(shot.read_bytes())
    assert img.shape[:2] == (HEIGHT, WIDTH)
    rgb = img[..., :3].reshape(-1, 3)
    colours = np.unique(rgb[:: 7], axis=0)
    assert len(colours) > 50, f"only {len(colours)} distinct colours: page looks blank"
    white = np.all(rgb >= 250, axis=1).mean()
    assert 0.3 < white < 0.98, f"{white:.0%} of the page is white"
    # The red episode shading and the dark-blue headings are painted.
    assert np.any((rgb[:, 0] > 200) & (rgb[:, 1] < 120) & (rgb[:, 2] < 120))
    assert np.any((rgb[:, 2] > 90) & (rgb[:, 0] < 40) & (rgb[:, 1] < 80))
