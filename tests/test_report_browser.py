"""Render the HTML report in a real browser (Debian's headless chromium) and check the PNG.

Skipped only when ``/usr/bin/chromium`` is missing and ``CRAMP_REQUIRE_BROWSER`` is not set;
CI sets it (and installs chromium), so there a missing browser fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from store_helpers import EpisodeSpec, cramp, make_night

from detector.store import save_night

CHROMIUM = Path("/usr/bin/chromium")


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


MEASURE = """<script>
window.addEventListener("load", () => {
  const d = document.documentElement;
  const shown = [...document.querySelectorAll("svg.plot")].filter(
    s => s.getBoundingClientRect().width > 0);
  const plots = shown.map(s => { const r = s.getBoundingClientRect();
    return [r.left, r.top + window.scrollY, r.width, r.height].map(Math.round); });
  let smallest = 1e9;
  const clipped = [];
  for (const s of shown) {
    const box = s.getBoundingClientRect();
    for (const t of s.querySelectorAll("text")) {
      const r = t.getBoundingClientRect();
      if (r.height > 0) smallest = Math.min(smallest, r.height);
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 ||
          r.bottom > box.bottom + 1) clipped.push(t.textContent);
    }
  }
  const wide = [...document.querySelectorAll("body *")].filter(
    e => e.getBoundingClientRect().right > d.clientWidth + 1 && !e.closest(".scroll"))
    .map(e => e.tagName + "." + e.className).slice(0, 5);
  const scrolled = [...document.querySelectorAll(".scroll")].filter(
    e => e.scrollWidth > e.clientWidth + 1).map(e => e.firstElementChild.className);
  const heads = [...document.querySelectorAll("table.episodes thead")].map(
    e => getComputedStyle(e).display);
  const out = document.createElement("pre"); out.id = "measure";
  out.textContent = "MEASURE" + JSON.stringify({scrollWidth: d.scrollWidth,
    clientWidth: d.clientWidth, plots: plots, smallestText: smallest, wide: wide,
    clipped: clipped, scrolled: scrolled, episodeHeads: heads}) + "END";
  document.body.appendChild(out);
  if (window.parent !== window) window.parent.postMessage(out.textContent, "*");
});
</script>"""
MIN_WINDOW = 500
"""Headless Chromium will not make a window narrower than this: a phone-width viewport is an
iframe of that width inside a wider host page (media queries follow the iframe's width)."""


def _viewport(tmp_path: Path, page: Path, width: int, height: int, name: str) -> str:
    """URL showing ``page`` in a viewport ``width`` CSS px wide."""
    if width >= MIN_WINDOW:
        return page.resolve().as_uri()
    host = tmp_path / f"host-{name}.html"
    host.write_text(
        '<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe src="{page.name}" style="border:0;display:block;width:{width}px;'
        f'height:{height}px"></iframe><script>window.addEventListener("message", e => {{'
        'const p = document.createElement("pre"); p.textContent = e.data;'
        "document.body.appendChild(p); });</script></body></html>", encoding="utf-8")
    return host.resolve().as_uri()


def _chromium(tmp_path: Path, url: str, width: int, height: int,
              *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
           f"--window-size={width},{height}", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)


def _report(tmp_path: Path) -> Path:
    db = tmp_path / "e.sqlite3"
    rng = np.random.default_rng(40)
    start = datetime(2024, 3, 3, 21, 0, tzinfo=UTC)
    save_night(make_night(rng=rng, start_utc=start,
                          episodes=(EpisodeSpec(5400.0, 95.0), EpisodeSpec(9000.0, 700.0))),
               db_path=db, recording_sha256="e" * 64, timezone="Europe/Berlin")
    for day, sha in ((1, "a"), (2, "b")):
        save_night(make_night(rng=rng, start_utc=start - timedelta(days=day),
                              episodes=(EpisodeSpec(3600.0 * day, 60.0),)),
                   db_path=db, recording_sha256=sha * 64, timezone="Europe/Berlin")
    report = tmp_path / "report.html"
    cramp(["report", "--db", str(db), "--out", str(report)])
    return report


@pytest.mark.parametrize("width", [1280, 390])
def test_report_renders_in_headless_chromium(tmp_path: Path, width: int) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CRAMP_REQUIRE_BROWSER"):
            pytest.fail("CRAMP_REQUIRE_BROWSER is set but /usr/bin/chromium is missing")
        pytest.skip("/usr/bin/chromium not installed")
    report = _report(tmp_path)
    height = 2400
    # 1. measure the laid-out page: a copy with a script added (the report itself has none)
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"),
                     encoding="utf-8")
    window = max(width, MIN_WINDOW)
    dom = _chromium(tmp_path, _viewport(tmp_path, probe, width, height, "probe"), window,
                    height, "--virtual-time-budget=3000", "--dump-dom")
    found = re.search(r"MEASURE(\{.*?\})END", dom.stdout)
    assert found, f"no measurement from chromium (exit {dom.returncode}): {dom.stderr[-1500:]}"
    m = json.loads(found.group(1))
    assert m["clientWidth"] == width
    assert m["scrollWidth"] <= width, f"page overflows sideways: {m['wide']}"
    assert m["wide"] == []
    # The cramp table fits: on a phone its rows become labelled cards instead of a table to
    # scroll sideways (the column heads are hidden there; each cell carries its own).
    assert m["scrolled"] == [], f"a table must be scrolled sideways: {m['scrolled']}"
    assert m["episodeHeads"]  # the cramp table is there
    assert set(m["episodeHeads"]) == {"none" if width < 700 else "table-header-group"}
    plots = m["plots"]
    assert len(plots) >= 3  # timeline, close-ups, trends: one layout of each shown
    assert all(w >= width * 0.8 for _, _, w, _ in plots), plots  # plots use the page width
    assert m["smallestText"] >= 10, f"plot text only {m['smallestText']} px high"
    assert m["clipped"] == [], f"plot text cut off at the plot's edge: {m['clipped']}"
    # 2. the picture itself
    shot = tmp_path / "shot.png"
    proc = _chromium(tmp_path, _viewport(tmp_path, report, width, height, "shot"), window,
                     height, f"--screenshot={shot}")
    assert shot.exists(), f"chromium wrote no screenshot (exit {proc.returncode}): " \
                          f"{proc.stderr[-2000:]}"
    keep = os.environ.get("CRAMP_SCREENSHOT_DIR")  # to look at them
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / f"report-{width}.png")
    img = decode_png(shot.read_bytes())
    assert img.shape[:2] == (height, window)
    img = img[:, :width]
    rgb = img[..., :3].reshape(-1, 3)
    colours = np.unique(rgb[:: 7], axis=0)
    assert len(colours) > 50, f"only {len(colours)} distinct colours: page looks blank"
    white = np.all(rgb >= 250, axis=1).mean()
    assert 0.3 < white < 0.98, f"{white:.0%} of the page is white"
    # The red episode shading and the dark-blue headings are painted.
    assert np.any((rgb[:, 0] > 200) & (rgb[:, 1] < 120) & (rgb[:, 2] < 120))
    assert np.any((rgb[:, 2] > 90) & (rgb[:, 0] < 40) & (rgb[:, 1] < 80))
    # Every plot region within the screenshot is drawn (not blank): lines and labels in it.
    seen = 0
    for x, y, w, h in plots:
        if y + h > height:
            continue
        region = img[y:y + h, x:x + w, :3].reshape(-1, 3)
        inked = np.any(region < 200, axis=1).mean()
        assert inked > 0.01, f"plot at {x},{y} is blank"
        seen += 1
    assert seen >= 1
    # the first screen holds the night's line and the first plot
    assert plots[0][1] < (1100 if width > 500 else 1600), plots[0]


def test_the_measurements_can_fail(tmp_path: Path) -> None:
    """Positive control for the checks above: cut-off plot text and sideways overflow on a
    390-px viewport are seen."""
    if not CHROMIUM.exists():
        if os.environ.get("CRAMP_REQUIRE_BROWSER"):
            pytest.fail("CRAMP_REQUIRE_BROWSER is set but /usr/bin/chromium is missing")
        pytest.skip("/usr/bin/chromium not installed")
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><svg class="plot" viewBox="0 0 100 50" '
                    'style="width:300px"><text x="60" y="20" font-size="12">runs off the '
                    'edge</text></svg><div style="width:700px">too wide</div>'
                    '<div class="scroll"><table class="wide-table" style="width:900px">'
                    '<tr><td>cell</td></tr></table></div>' + MEASURE
                    + "</body></html>", encoding="utf-8")
    dom = _chromium(tmp_path, _viewport(tmp_path, page, 390, 600, "bad"), MIN_WINDOW, 600,
                    "--virtual-time-budget=3000", "--dump-dom")
    found = re.search(r"MEASURE(\{.*?\})END", dom.stdout)
    assert found, dom.stderr[-1500:]
    m = json.loads(found.group(1))
    assert m["clientWidth"] == 390 and m["scrollWidth"] > 390
    assert m["clipped"] == ["runs off the edge"]
    assert m["wide"]
    assert m["scrolled"] == ["wide-table"]
