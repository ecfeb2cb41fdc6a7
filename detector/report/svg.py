"""Plots as inline SVG text, drawn with plain Python and numpy (no plotting library).

Every function returns one ``<svg>`` element sized by its ``viewBox`` so it scales to the page
width. Ids inside an SVG are prefixed with ``uid`` so several plots can share one page.
"""

from __future__ import annotations

import math
from datetime import UTC, date, timedelta, tzinfo
from html import escape

import numpy as np

from detector.episode import Episode
from detector.report.summary import format_clock, format_date, to_local
from detector.store.nights import DayTotals, StoredNight

WIDTH = 1000
LEFT = 190
RIGHT = 20
PLOT_W = WIDTH - LEFT - RIGHT
FONT = 17

EPISODE_FILL = "#d62728"
LYING = "#9ecae1"
UPRIGHT = "#fdae6b"
UNKNOWN = "#e3e3e3"
IN_BED = "#08306b"
EMG_LINE = "#08519c"
ANGLE_LINE = "#00693e"
POOR = "#e6a100"
GAP = "#555555"


def _f(x: float) -> str:
    return f"{x:.1f}"


def _text(x: float, y: float, s: str, *, anchor: str = "start", size: int = FONT,
          weight: str = "normal", fill: str = "#111") -> str:
    return (f'<text x="{_f(x)}" y="{_f(y)}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(s)}</text>')


def _rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> str:
    return (f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(max(w, 0.0))}" height="{_f(h)}" '
            f'fill="{fill}"{extra}/>')


def _open_svg(uid: str, height: float, title: str) -> list[str]:
    return [
        f'<svg viewBox="0 0 {WIDTH} {_f(height)}" '
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


def _panel(out: list[str], *, label: str, unit_note: str, x_px: np.ndarray,
           values: np.ndarray, top: float, height: float, lo: float, hi: float,
           color: str) -> None:
    out.append(_rect(LEFT, top, PLOT_W, height, "#fafafa", ' stroke="#bbbbbb"'))
    out.append(_text(LEFT - 10, top + height / 2 - 4, label, anchor="end", weight="bold"))
    out.append(_text(LEFT - 10, top + height / 2 + 16, unit_note, anchor="end", size=14))
    for v in (lo, hi):
        y = top + height - (v - lo) / (hi - lo) * height
        out.append(_text(LEFT + 4, y + (16 if v == hi else -4), f"{v:g}", size=13,
                         fill="#555"))
    if lo < 0 < hi:
        y0 = top + height - (0 - lo) / (hi - lo) * height
        out.append(f'<line x1="{LEFT}" y1="{_f(y0)}" x2="{LEFT + PLOT_W}" y2="{_f(y0)}" '
                   f'stroke="#999" stroke-dasharray="4 4"/>')
    finite = np.isfinite(values)
    if not finite.any():
        out.append(_text(LEFT + PLOT_W / 2, top + height / 2 + 6, "not measured",
                         anchor="middle", fill="#555"))
        return
    y_px = top + height - (np.clip(values, lo, hi) - lo) / (hi - lo) * height
    y_px = np.where(finite, y_px, np.nan)
    out.append(f'<path d="{line_path(x_px, y_px)}" fill="none" stroke="{color}" '
               f'stroke-width="1.6" stroke-linejoin="round"/>')


def _scale_hi(values: np.ndarray, floor: float) -> float:
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else floor
    return nice_ceiling(max(top, floor))


def _hour_ticks(night: StoredNight, span_s: float, local: tzinfo | None
                ) -> list[tuple[float, str]]:
    step_h = 1 if span_s <= 14 * 3600 else 2 if span_s <= 28 * 3600 else 6
    first = to_local(night.start_utc, local).replace(minute=0, second=0, microsecond=0)
    t_utc = first.astimezone(UTC)
    ticks = []
    while (offset := (t_utc - night.start_utc).total_seconds()) <= span_s:
        here = to_local(t_utc, local)
        if offset >= 0 and here.minute == 0 and here.hour % step_h == 0:
            ticks.append((offset, format_clock(t_utc, local)))
        t_utc += timedelta(hours=1)
    return ticks


def timeline_svg(night: StoredNight, *, local: tzinfo | None, uid: str) -> str:
    """The whole night in one picture.

    Rows: in-bed period, posture (lying / upright), EMG envelope (highest value per pixel),
    foot angle, signal problems (gaps hatched, poor signal in amber). Episodes are shaded red
    and numbered as in the episode table. Requires ``night.trace``.

    Parameters
    ----------
    night : StoredNight
        With a per-second trace.
    local : tzinfo or None
        Zone of the clock-time axis (``None`` = the machine's zone).
    uid : str
        Prefix for ids inside the SVG.
    """
    trace = night.trace
    if trace is None or trace.n_seconds == 0:
        raise ValueError("timeline_svg needs a night with a per-second trace")
    n = trace.n_seconds
    n_bins = min(n, PLOT_W)
    span = float(n)

    def x_of(t_s: float) -> float:
        return LEFT + min(max(t_s, 0.0), span) / span * PLOT_W

    bin_w = PLOT_W / n_bins
    x_px = LEFT + (np.arange(n_bins) + 0.5) * bin_w
    y_bed, y_post, y_emg, y_ang, y_sig, y_axis = 12, 42, 80, 240, 380, 410
    out = _open_svg(uid, y_axis + 40, f"Timeline of the night of {format_date(night.night_date)}")
    # in bed
    out.append(_text(LEFT - 10, y_bed + 17, "In bed", anchor="end", weight="bold"))
    out.append(_rect(LEFT, y_bed, PLOT_W, 22, "#f2f2f2"))
    for a, b in night.in_bed_periods:
        out.append(_rect(x_of(a), y_bed, x_of(b) - x_of(a), 22, IN_BED))
    # posture
    out.append(_text(LEFT - 10, y_post + 19, "Lying / up", anchor="end", weight="bold"))
    lying = bin_max(trace.lying, n_bins)
    code = np.where(np.isnan(lying), 2, np.where(lying >= 0.5, 1, 0))
    colors = {0: UPRIGHT, 1: LYING, 2: UNKNOWN}
    for a, b, c in runs(code):
        out.append(_rect(LEFT + a * bin_w, y_post, (b - a) * bin_w, 26, colors[c]))
    # EMG envelope
    emg = bin_max(trace.emg_envelope_uv, n_bins)
    _panel(out, label="Muscle activity", unit_note="EMG, µV", x_px=x_px, values=emg,
           top=y_emg, height=140, lo=0.0, hi=_scale_hi(emg, 10.0), color=EMG_LINE)
    # foot angle
    ang = bin_max(trace.plantar_flexion_deg, n_bins)
    finite = ang[np.isfinite(ang)]
    lo = min(-10.0, math.floor(float(finite.min()) / 10) * 10) if finite.size else -10.0
    _panel(out, label="Toes pointed", unit_note="foot angle, °", x_px=x_px,
           values=ang, top=y_ang, height=120, lo=lo, hi=_scale_hi(ang, 45.0),
           color=ANGLE_LINE)
    # signal problems
    out.append(_text(LEFT - 10, y_sig + 17, "Signal problems", anchor="end", weight="bold"))
    out.append(_rect(LEFT, y_sig, PLOT_W, 22, "#f2f2f2"))
    for q in night.quality_periods:
        out.append(_rect(x_of(q.start_s), y_sig, max(x_of(q.end_s) - x_of(q.start_s), 2.0),
                         22, POOR))
    for g in night.gaps:
        w = max(x_of(g.end_s) - x_of(g.start_s), 2.0)
        out.append(_rect(x_of(g.start_s), y_sig, w, 22, f"url(#{uid}-hatch)"))
        out.append(_rect(x_of(g.start_s), y_post, w, y_ang + 120 - y_post,
                         f"url(#{uid}-hatch)", ' opacity="0.45"'))
    # episodes
    for i, e in enumerate(night.episodes, start=1):
        x0, x1 = x_of(e.onset_s), x_of(e.offset_s)
        w = max(x1 - x0, 3.0)
        out.append(_rect(x0, y_post, w, y_ang + 120 - y_post, EPISODE_FILL,
                         ' opacity="0.35"'))
        out.append(f'<circle cx="{_f(x0 + w / 2)}" cy="{y_emg + 14}" r="11" '
                   f'fill="{EPISODE_FILL}"/>')
        out.append(_text(x0 + w / 2, y_emg + 19, str(i), anchor="middle", size=14,
                         weight="bold", fill="#ffffff"))
    # time axis
    out.append(f'<line x1="{LEFT}" y1="{y_axis}" x2="{LEFT + PLOT_W}" y2="{y_axis}" '
               f'stroke="#333"/>')
    for offset, label in _hour_ticks(night, span, local):
        x = x_of(offset)
        out.append(f'<line x1="{_f(x)}" y1="{y_axis}" x2="{_f(x)}" y2="{y_axis + 7}" '
                   f'stroke="#333"/>')
        out.append(_text(x, y_axis + 27, label, anchor="middle", size=15))
    out.append("</svg>")
    return "".join(out)


def closeup_svg(night: StoredNight, episode: Episode, *, number: int, local: tzinfo | None,
                uid: str, margin_s: float = 60.0) -> str:
    """EMG envelope and foot angle from ``margin_s`` before to ``margin_s`` after an episode.

    Parameters
    ----------
    night : StoredNight
        With a per-second trace.
    episode : Episode
        One of ``night.episodes``.
    number : int
        Episode number shown in the title (as in the episode table).
    local : tzinfo or None
        Zone of the clock times.
    uid : str
        Prefix for ids inside the SVG.
    margin_s : float
        Seconds shown on each side of the episode.
    """
    trace = night.trace
    if trace is None or trace.n_seconds == 0:
        raise ValueError("closeup_svg needs a night with a per-second trace")
    n = trace.n_seconds
    a = max(0, math.floor(episode.onset_s - margin_s))
    b = min(n, math.ceil(episode.offset_s + margin_s))
    if b <= a:
        a, b = max(0, min(a, n - 1)), min(n, max(a, 0) + 1)
    span = float(b - a)

    def x_of(t_s: float) -> float:
        return LEFT + (min(max(t_s, a), b) - a) / span * PLOT_W

    x_px = np.array([x_of(t + 0.5) for t in range(a, b)])
    emg = np.asarray(trace.emg_envelope_uv[a:b], dtype=np.float64)
    ang = np.asarray(trace.plantar_flexion_deg[a:b], dtype=np.float64)
    y_emg, y_ang, y_axis = 14, 150, 260
    title = (f"Close-up of cramp {number}: {format_clock(episode.onset_utc, local)}, "
             f"one minute either side")
    out = _open_svg(uid, y_axis + 40, title)
    _panel(out, label="Muscle activity", unit_note="EMG, µV", x_px=x_px, values=emg,
           top=y_emg, height=120, lo=0.0, hi=_scale_hi(emg, 10.0), color=EMG_LINE)
    finite = ang[np.isfinite(ang)]
    lo = min(-10.0, math.floor(float(finite.min()) / 10) * 10) if finite.size else -10.0
    _panel(out, label="Toes pointed", unit_note="foot angle, °", x_px=x_px,
           values=ang, top=y_ang, height=100, lo=lo, hi=_scale_hi(ang, 45.0),
           color=ANGLE_LINE)
    out.append(_rect(x_of(episode.onset_s), y_emg,
                     max(x_of(episode.offset_s) - x_of(episode.onset_s), 3.0),
                     y_ang + 100 - y_emg, EPISODE_FILL, ' opacity="0.2"'))
    for g in night.gaps:
        if g.end_s > a and g.start_s < b:
            out.append(_rect(x_of(g.start_s), y_emg, max(x_of(g.end_s) - x_of(g.start_s), 2.0),
                             y_ang + 100 - y_emg, f"url(#{uid}-hatch)", ' opacity="0.5"'))
    out.append(f'<line x1="{LEFT}" y1="{y_axis}" x2="{LEFT + PLOT_W}" y2="{y_axis}" '
               f'stroke="#333"/>')
    step = 30 if span <= 600 else 60 if span <= 1800 else 300
    first_tick = math.ceil((a - episode.onset_s) / step) * step
    tick = float(first_tick)
    while episode.onset_s + tick <= b:
        x = x_of(episode.onset_s + tick)
        out.append(f'<line x1="{_f(x)}" y1="{y_axis}" x2="{_f(x)}" y2="{y_axis + 7}" '
                   f'stroke="#333"/>')
        label = "start" if tick == 0 else f"{tick:+.0f} s"
        out.append(_text(x, y_axis + 27, label, anchor="middle", size=15))
        tick += step
    out.append("</svg>")
    return "".join(out)


def trend_svg(days: list[DayTotals], *, first: date, last: date, uid: str) -> str:
    """Bar charts of cramps per night and total cramp minutes per night.

    Nights with a recording but no cramp get a small green mark at zero; dates without a
    recording have nothing, so "no data" is not shown as "no cramp".

    Parameters
    ----------
    days : list of DayTotals
        Stored nights between ``first`` and ``last``.
    first, last : date
        Date range of the x axis (inclusive).
    uid : str
        Prefix for ids inside the SVG.
    """
    n_days = (last - first).days + 1
    if n_days < 1:
        raise ValueError("trend_svg: last must not be before first")
    slot = PLOT_W / n_days
    count_hi = nice_ceiling(max([d.n_episodes for d in days] + [2]))
    mins_hi = nice_ceiling(max([d.total_cramp_s / 60.0 for d in days] + [5.0]))
    y1, y2, h, y_axis = 16, 190, 140, 350
    title = (f"Cramps per night from {format_date(first)} to {format_date(last)}")
    out = _open_svg(uid, y_axis + 40, title)
    panels = ((y1, "Cramps", "per night", count_hi, lambda d: float(d.n_episodes)),
              (y2, "Cramp time", "minutes per night", mins_hi,
               lambda d: d.total_cramp_s / 60.0))
    for top, label, unit, hi, value in panels:
        out.append(_rect(LEFT, top, PLOT_W, h, "#fafafa", ' stroke="#bbbbbb"'))
        out.append(_text(LEFT - 10, top + h / 2 - 4, label, anchor="end", weight="bold"))
        out.append(_text(LEFT - 10, top + h / 2 + 16, unit, anchor="end", size=14))
        out.append(_text(LEFT + 4, top + 16, f"{hi:g}", size=13, fill="#555"))
        for d in days:
            i = (d.night_date - first).days
            if not 0 <= i < n_days:
                continue
            x = LEFT + i * slot + slot * 0.15
            v = value(d)
            if v <= 0:
                out.append(_rect(x, top + h - 4, slot * 0.7, 4, "#2ca02c"))
                continue
            bh = min(v / hi, 1.0) * h
            out.append(_rect(x, top + h - bh, slot * 0.7, bh, EPISODE_FILL))
    out.append(f'<line x1="{LEFT}" y1="{y_axis}" x2="{LEFT + PLOT_W}" y2="{y_axis}" '
               f'stroke="#333"/>')
    label_every = max(1, math.ceil(n_days / 8))
    for i in range(0, n_days, label_every):
        d = first + timedelta(days=i)
        x = LEFT + (i + 0.5) * slot
        out.append(f'<line x1="{_f(x)}" y1="{y_axis}" x2="{_f(x)}" y2="{y_axis + 7}" '
                   f'stroke="#333"/>')
        out.append(_text(x, y_axis + 27, f"{d.day} {d.strftime('%b')}", anchor="middle",
                         size=15))
    out.append("</svg>")
    return "".join(out)
