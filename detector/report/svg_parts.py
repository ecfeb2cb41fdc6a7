"""Building blocks of the report's SVG plots: layouts, colours, shapes, value and time axes.

:mod:`detector.report.svg` draws the plots from these: the two :class:`Layout` geometries
(:data:`WIDE`, :data:`NARROW`), the palette, SVG elements as text (:func:`text_el`,
:func:`rect_el`, :func:`line_el`, :func:`open_svg`), a line panel with its y axis, round
ticks (:func:`nice_ticks`), clock-time ticks (:func:`time_ticks`) and the time axis, and the
numeric helpers the plots share (:func:`bin_max`, :func:`line_path`, :func:`runs`).
Coordinates are viewBox units (pixels of the layout's width); nothing here knows a night.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from html import escape

import numpy as np

from detector.report.summary import to_local

EPISODE_FILL = "#d62728"
LYING = "#9ecae1"
UPRIGHT = "#fdae6b"
UNKNOWN = "#e3e3e3"
IN_BED = "#08306b"
EMG_LINE = "#08519c"
ANGLE_LINE = "#00693e"
POOR = "#e6a100"
GAP = "#555555"
GRID = "#d0d0d0"


@dataclass(frozen=True)
class Layout:
    """Geometry of one plot layout (viewBox units)."""

    width: int
    left: int
    right: int
    font: int
    max_time_ticks: int
    tall: float = 1.0
    """Panel heights are multiplied by this (a phone's plot is taller for its width)."""

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right


WIDE = Layout(width=1000, left=64, right=34, font=17, max_time_ticks=14)
NARROW = Layout(width=520, left=54, right=26, font=21, max_time_ticks=5, tall=1.45)


def coord(x: float) -> str:
    """A viewBox coordinate or length as SVG text (one decimal)."""
    return f"{x:.1f}"


def text_el(x: float, y: float, s: str, *, anchor: str = "start", size: int = 17,
          weight: str = "normal", fill: str = "#111") -> str:
    return (f'<text x="{coord(x)}" y="{coord(y)}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(s)}</text>')


def rect_el(x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> str:
    return (f'<rect x="{coord(x)}" y="{coord(y)}" width="{coord(max(w, 0.0))}" height="{coord(h)}" '
            f'fill="{fill}"{extra}/>')


def line_el(x1: float, y1: float, x2: float, y2: float, color: str = "#333",
          extra: str = "") -> str:
    return (f'<line x1="{coord(x1)}" y1="{coord(y1)}" x2="{coord(x2)}" y2="{coord(y2)}" '
            f'stroke="{color}"{extra}/>')


def open_svg(uid: str, lay: Layout, height: float, title: str) -> list[str]:
    return [
        f'<svg viewBox="0 0 {lay.width} {coord(height)}" '
        f'role="img" aria-labelledby="{uid}-title" class="plot" '
        f'font-family="DejaVu Sans, Arial, Helvetica, sans-serif">',
        f'<title id="{uid}-title">{escape(title)}</title>',
        f'<defs><pattern id="{uid}-hatch" width="8" height="8" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="8" height="8" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="8" stroke="{GAP}" stroke-width="3"/></pattern></defs>',
    ]


def bin_max(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Largest finite value in each of ``n_bins`` equal runs of ``values`` (NaN if none).

    Parameters
    ----------
    values : ndarray, shape (n,)
    n_bins : int
        Number of output bins, ``1 <= n_bins <= n``.

    Returns
    -------
    ndarray, shape (n_bins,)
    """
    v = np.asarray(values, dtype=np.float64)
    starts = np.floor(np.arange(n_bins) * (v.shape[0] / n_bins)).astype(np.intp)
    return np.fmax.reduceat(v, starts)


def line_path(x_px: np.ndarray, y_px: np.ndarray) -> str:
    """SVG path data through the points, broken wherever ``y_px`` is NaN."""
    parts: list[str] = []
    pen_down = False
    for x, y in zip(x_px.tolist(), y_px.tolist(), strict=True):
        if math.isnan(y):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f} {y:.1f}")
        pen_down = True
    return " ".join(parts)


def runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of equal integer labels as ``(start, end, label)`` index triples."""
    lab = np.asarray(labels)
    if lab.shape[0] == 0:
        return []
    cut = np.flatnonzero(lab[1:] != lab[:-1]) + 1
    starts = np.concatenate(([0], cut))
    ends = np.concatenate((cut, [lab.shape[0]]))
    return [(int(a), int(b), int(lab[a])) for a, b in zip(starts, ends, strict=True)]


def nice_ceiling(x: float) -> float:
    """Smallest of 1, 2, 2.5, 5 x 10^k that is >= ``x`` (``x`` > 0)."""
    k = 10.0 ** math.floor(math.log10(x))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * k >= x:
            return m * k
    return 10.0 * k


def nice_ticks(lo: float, hi: float, *, max_ticks: int = 5,
               whole: bool = False) -> list[float]:
    """Round tick values from ``lo`` to ``hi`` (both included when they are round).

    ``whole``: only whole numbers (counts).
    """
    span = hi - lo
    if not span > 0:
        return [lo]
    step = nice_ceiling(span / max(1, max_ticks - 1))
    if whole:
        step = max(1.0, math.ceil(step))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = first
    while v <= hi + 1e-9 * step:
        ticks.append(round(v, 10))
        v += step
    return ticks


def panel_title(out: list[str], lay: Layout, y: float, text: str) -> None:
    out.append(text_el(lay.left, y, text, weight="bold", size=lay.font))


def line_panel(out: list[str], lay: Layout, *, x_px: np.ndarray, values: np.ndarray, top: float,
           height: float, lo: float, hi: float, color: str) -> None:
    """A line panel with y ticks and horizontal gridlines (title drawn by the caller)."""
    right = lay.left + lay.plot_w
    out.append(rect_el(lay.left, top, lay.plot_w, height, "#fafafa", ' stroke="#bbbbbb"'))
    for v in nice_ticks(lo, hi, max_ticks=5):
        y = top + height - (v - lo) / (hi - lo) * height
        dash = "" if v == 0 else ' stroke-dasharray="3 4"'
        out.append(line_el(lay.left, y, right, y, "#999" if v == 0 else GRID, dash))
        out.append(text_el(lay.left - 6, y + lay.font * 0.35, f"{v:g}", anchor="end",
                         size=lay.font - 3, fill="#333"))
    finite = np.isfinite(values)
    if not finite.any():
        out.append(text_el(lay.left + lay.plot_w / 2, top + height / 2 + 6, "not measured",
                         anchor="middle", fill="#555", size=lay.font))
        return
    y_px = top + height - (np.clip(values, lo, hi) - lo) / (hi - lo) * height
    y_px = np.where(finite, y_px, np.nan)
    out.append(f'<path d="{line_path(x_px, y_px)}" fill="none" stroke="{color}" '
               f'stroke-width="1.8" stroke-linejoin="round"/>')


def axis_top(values: np.ndarray, floor: float) -> float:
    """Top of a 0-based axis: the first round tick at or above the data (and ``floor``)."""
    finite = values[np.isfinite(values)]
    top = max(float(finite.max()) if finite.size else floor, floor)
    step = nice_ceiling(top / 4.0)
    return float(math.ceil(top / step - 1e-9) * step)


_STEPS_MIN = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360)


def time_ticks(start_utc: datetime, span_s: float, local: tzinfo | None, *,
               max_ticks: int) -> tuple[list[tuple[float, str]], list[float]]:
    """Labelled clock-time ticks and unlabelled minor ticks across a stretch of time.

    Parameters
    ----------
    start_utc : datetime
        Aware start of the axis.
    span_s : float
        Length of the axis (s).
    local : tzinfo or None
        Zone of the clock times.
    max_ticks : int
        Most labelled ticks wanted.

    Returns
    -------
    major : list of (float, str)
        Offsets (s from ``start_utc``) on whole steps of local clock time, with ``HH:MM``.
    minor : list of float
        Offsets of 15-minute marks between them (for steps of an hour or more).
    """
    step_min = next((m for m in _STEPS_MIN if span_s / (60.0 * m) <= max_ticks),
                    _STEPS_MIN[-1])
    here = to_local(start_utc, local)
    # local time runs in whole minutes from the start's minute; offsets in UTC seconds
    base = here.replace(second=0, microsecond=0)
    major: list[tuple[float, str]] = []
    minor: list[float] = []
    minor_step = 15 if step_min >= 60 else None
    t = base
    end = start_utc + timedelta(seconds=span_s)
    while t.astimezone(UTC) <= end:
        offset = (t.astimezone(UTC) - start_utc).total_seconds()
        minute_of_day = t.hour * 60 + t.minute
        if offset >= 0:
            if minute_of_day % step_min == 0:
                major.append((offset, t.strftime("%H:%M")))
            elif minor_step is not None and minute_of_day % minor_step == 0:
                minor.append(offset)
        t = (t.astimezone(UTC) + timedelta(minutes=1)).astimezone(t.tzinfo)
    return major, minor


def time_axis(out: list[str], lay: Layout, *, y_axis: float, top: float,
               x_of: Callable[[float], float], major: list[tuple[float, str]],
               minor: list[float]) -> None:
    right = lay.left + lay.plot_w
    for offset in minor:
        x = x_of(offset)
        out.append(line_el(x, y_axis, x, y_axis + 5))
    for offset, label in major:
        x = x_of(offset)
        out.append(line_el(x, top, x, y_axis, GRID, ' stroke-dasharray="3 4"'))
        out.append(line_el(x, y_axis, x, y_axis + 9))
        anchor = "middle"
        half = 0.6 * lay.font * len(label) / 2
        if x - half < 0:
            anchor = "start"
        elif x + half > lay.width:
            anchor = "end"
        out.append(text_el(x, y_axis + 12 + lay.font, label, anchor=anchor, size=lay.font - 1))
    out.append(line_el(lay.left, y_axis, right, y_axis))
