"""Plots as inline SVG text, drawn with plain Python and numpy (no plotting library).

Every function returns one ``<svg>`` element sized by its ``viewBox`` so it scales to the page
width. Each plot comes in two layouts (:data:`~detector.report.svg_parts.WIDE` for a desk
screen or paper, :data:`~detector.report.svg_parts.NARROW` for a phone: fewer pixels across,
so the same text is relatively larger); the page shows one of them by width. Panel titles sit
above the panels with their units; y axes have ticks and gridlines; the time axis has
clock-time ticks (whole hours, 15-min marks). Ids inside an SVG are prefixed with ``uid`` so
several plots can share one page. The shapes, axes and palette the plots are drawn with are
:mod:`detector.report.svg_parts`.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, tzinfo

import numpy as np

from detector.episode import Episode
from detector.report.summary import format_clock, format_date
from detector.report.svg_parts import (
    ANGLE_LINE,
    EMG_LINE,
    EPISODE_FILL,
    GRID,
    IN_BED,
    LYING,
    POOR,
    UNKNOWN,
    UPRIGHT,
    WIDE,
    Layout,
    axis_top,
    bin_max,
    coord,
    line_el,
    line_panel,
    nice_ceiling,
    nice_ticks,
    open_svg,
    panel_title,
    rect_el,
    runs,
    text_el,
    time_axis,
    time_ticks,
)
from detector.store.nights import DayTotals, StoredNight

ANGLE_RANGE_DEG = (-20.0, 60.0)
"""The foot-angle axis, the same on every night and close-up (degrees of plantar flexion)."""


def timeline_svg(night: StoredNight, *, local: tzinfo | None, uid: str,
                 layout: Layout = WIDE, window: tuple[datetime, datetime] | None = None,
                 numbers: dict[int, int] | None = None) -> str:
    """One recording's night in one picture.

    Rows: in bed, posture (lying / up), muscle activity (EMG envelope, highest value per
    pixel, µV), foot angle (degrees, fixed scale :data:`ANGLE_RANGE_DEG`), signal problems
    (gaps hatched, poor signal amber). Episodes are shaded red and numbered. Requires
    ``night.trace``.

    Parameters
    ----------
    night : StoredNight
        With a per-second trace.
    local : tzinfo or None
        Zone of the clock-time axis (``None`` = the machine's zone).
    uid : str
        Prefix for ids inside the SVG.
    layout : Layout
        :data:`WIDE` or :data:`NARROW`.
    window : (datetime, datetime), optional
        Time span of the x axis (the whole sleep night, so several recordings line up);
        the recording's own span by default.
    numbers : dict of int to int, optional
        Number shown for the episode at each index of ``night.episodes`` (night-wide
        numbering); 1, 2, ... by default.
    """
    trace = night.trace
    if trace is None or trace.n_seconds == 0:
        raise ValueError("timeline_svg needs a night with a per-second trace")
    lay = layout
    n = trace.n_seconds
    t0_utc, t1_utc = window if window is not None else (night.start_utc, night.utc_at(n))
    shift = (night.start_utc - t0_utc).total_seconds()  # recording start on the axis (s)
    span = max((t1_utc - t0_utc).total_seconds(), 1.0)

    def x_of(t_axis_s: float) -> float:
        return lay.left + min(max(t_axis_s, 0.0), span) / span * lay.plot_w

    def x_rec(t_s: float) -> float:
        return x_of(t_s + shift)

    n_bins = min(n, max(1, round(lay.plot_w * min(1.0, n / span))))
    x_px = np.array([x_rec((i + 0.5) * n / n_bins) for i in range(n_bins)])
    f = lay.font
    row = f + 10
    y_bed = row
    y_post = y_bed + 20 + row
    y_emg = y_post + 20 + row
    h_emg = round(140 * lay.tall)
    y_ang = y_emg + h_emg + row + 4
    h_ang = round(110 * lay.tall)
    y_sig = y_ang + h_ang + row + 4
    y_axis = y_sig + 26
    height = y_axis + f + 22
    out = open_svg(uid, lay, height,
                    f"Timeline of the night of {format_date(night.night_date)}")
    # in bed
    panel_title(out, lay, y_bed - 6, "In bed")
    out.append(rect_el(lay.left, y_bed, lay.plot_w, 18, "#f2f2f2"))
    periods = list(night.in_bed_periods)
    for a, b in periods:
        out.append(rect_el(x_rec(a), y_bed, x_rec(b) - x_rec(a), 18, IN_BED))
    if not periods:
        need = night.parameters.get("in_bed", {}).get("min_rest_s")
        why = (f" (it takes {round(float(need) / 60)} min of lying still)"
               if isinstance(need, int | float) and need > 0 else "")
        out.append(text_el(lay.left + 8, y_bed + 14, f"no in-bed period found{why}",
                         size=f - 4, fill="#333"))
    # posture
    panel_title(out, lay, y_post - 6, "Lying down or up")
    lying = bin_max(trace.lying, n_bins)
    code = np.where(np.isnan(lying), 2, np.where(lying >= 0.5, 1, 0))
    colors = {0: UPRIGHT, 1: LYING, 2: UNKNOWN}
    edges = [x_rec(i * n / n_bins) for i in range(n_bins + 1)]
    for a, b, c in runs(code):
        out.append(rect_el(edges[a], y_post, edges[b] - edges[a], 20, colors[c]))
    # EMG envelope
    emg = bin_max(trace.emg_envelope_uv, n_bins)
    panel_title(out, lay, y_emg - 8, "Muscle activity (EMG, µV)")
    line_panel(out, lay, x_px=x_px, values=emg, top=y_emg, height=h_emg, lo=0.0,
           hi=axis_top(emg, 10.0), color=EMG_LINE)
    # foot angle, one fixed scale for every night
    ang = bin_max(trace.plantar_flexion_deg, n_bins)
    panel_title(out, lay, y_ang - 8, "Toes pointed down (foot angle, degrees)" if lay is WIDE
           else "Toes pointed down (degrees)")
    lo, hi = ANGLE_RANGE_DEG
    line_panel(out, lay, x_px=x_px, values=ang, top=y_ang, height=h_ang, lo=lo, hi=hi,
           color=ANGLE_LINE)
    # signal problems
    panel_title(out, lay, y_sig - 6, "Signal problems")
    out.append(rect_el(lay.left, y_sig, lay.plot_w, 16, "#f2f2f2"))
    for q in night.quality_periods:
        out.append(rect_el(x_rec(q.start_s), y_sig, max(x_rec(q.end_s) - x_rec(q.start_s), 2.0),
                         16, POOR))
    rows = ((y_post, 20.0), (y_emg, float(h_emg)), (y_ang, float(h_ang)))  # not the titles
    for g in night.gaps:
        w = max(x_rec(g.end_s) - x_rec(g.start_s), 2.0)
        out.append(rect_el(x_rec(g.start_s), y_sig, w, 16, f"url(#{uid}-hatch)"))
        for top, h in rows:
            out.append(rect_el(x_rec(g.start_s), top, w, h, f"url(#{uid}-hatch)",
                             ' opacity="0.45"'))
    # outside this recording, when the axis spans a longer night (several recordings)
    end_x = x_rec(float(n))
    for x0, x1 in ((lay.left, x_rec(0.0)), (end_x, lay.left + lay.plot_w)):
        if x1 - x0 > 0.5:
            for top, h in rows:
                out.append(rect_el(x0, top, x1 - x0, h, "#ffffff", ' opacity="0.75"'))
    # episodes
    for i, e in enumerate(night.episodes):
        x0, x1 = x_rec(e.onset_s), x_rec(e.offset_s)
        w = max(x1 - x0, 3.0)
        for top, h in rows:
            out.append(rect_el(x0, top, w, h, EPISODE_FILL, ' opacity="0.35"'))
        label = str((numbers or {}).get(i, i + 1))
        out.append(f'<circle cx="{coord(x0 + w / 2)}" cy="{y_emg + 14}" r="{f * 0.7:.1f}" '
                   f'fill="{EPISODE_FILL}"/>')
        out.append(text_el(x0 + w / 2, y_emg + 14 + f * 0.33, label, anchor="middle",
                         size=f - 3, weight="bold", fill="#ffffff"))
    major, minor = time_ticks(t0_utc, span, local, max_ticks=lay.max_time_ticks)
    time_axis(out, lay, y_axis=y_axis, top=y_bed, x_of=x_of, major=major, minor=minor)
    out.append("</svg>")
    return "".join(out)


def _relative(seconds: float) -> str:
    s = round(seconds)
    if s == 0:
        return "start"
    m, r = divmod(abs(s), 60)
    return f"{'+' if s > 0 else '-'}{m}:{r:02d}"


def closeup_svg(night: StoredNight, episode: Episode, *, number: int, local: tzinfo | None,
                uid: str, margin_s: float = 60.0, layout: Layout = WIDE) -> str:
    """EMG envelope and foot angle from ``margin_s`` before to ``margin_s`` after an episode.

    The x axis counts minutes and seconds from the cramp's start (``-1:00``, ``start``,
    ``+0:30``...).

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
    layout : Layout
        :data:`WIDE` or :data:`NARROW`.
    """
    trace = night.trace
    if trace is None or trace.n_seconds == 0:
        raise ValueError("closeup_svg needs a night with a per-second trace")
    lay = layout
    n = trace.n_seconds
    a = max(0, math.floor(episode.onset_s - margin_s))
    b = min(n, math.ceil(episode.offset_s + margin_s))
    if b <= a:
        a, b = max(0, min(a, n - 1)), min(n, max(a, 0) + 1)
    span = float(b - a)

    def x_of(t_s: float) -> float:
        return lay.left + (min(max(t_s, a), b) - a) / span * lay.plot_w

    x_px = np.array([x_of(t + 0.5) for t in range(a, b)])
    emg = np.asarray(trace.emg_envelope_uv[a:b], dtype=np.float64)
    ang = np.asarray(trace.plantar_flexion_deg[a:b], dtype=np.float64)
    f = lay.font
    y_emg = f + 12
    h_emg = round(120 * lay.tall)
    y_ang = y_emg + h_emg + f + 18
    h_ang = round(100 * lay.tall)
    y_axis = y_ang + h_ang
    height = y_axis + 2 * f + 26
    title = (f"Close-up of cramp {number}: {format_clock(episode.onset_utc, local)}, "
             f"one minute either side")
    out = open_svg(uid, lay, height, title)
    panel_title(out, lay, y_emg - 8, "Muscle activity (EMG, µV)")
    line_panel(out, lay, x_px=x_px, values=emg, top=y_emg, height=h_emg, lo=0.0,
           hi=axis_top(emg, 10.0), color=EMG_LINE)
    panel_title(out, lay, y_ang - 8, "Toes pointed down (degrees)")
    lo, hi = ANGLE_RANGE_DEG
    line_panel(out, lay, x_px=x_px, values=ang, top=y_ang, height=h_ang, lo=lo, hi=hi,
           color=ANGLE_LINE)
    out.append(rect_el(x_of(episode.onset_s), y_emg,
                     max(x_of(episode.offset_s) - x_of(episode.onset_s), 3.0),
                     y_ang + h_ang - y_emg, EPISODE_FILL, ' opacity="0.2"'))
    for g in night.gaps:
        if g.end_s > a and g.start_s < b:
            out.append(rect_el(x_of(g.start_s), y_emg, max(x_of(g.end_s) - x_of(g.start_s), 2.0),
                             y_ang + h_ang - y_emg, f"url(#{uid}-hatch)", ' opacity="0.5"'))
    n_ticks = lay.max_time_ticks
    step = next((s for s in (15, 30, 60, 120, 300, 600, 1800) if span / s <= n_ticks), 3600)
    tick = float(math.ceil((a - episode.onset_s) / step) * step)
    major: list[tuple[float, str]] = []
    while episode.onset_s + tick <= b:
        major.append((episode.onset_s + tick, _relative(tick)))
        tick += step
    time_axis(out, lay, y_axis=y_axis, top=y_emg, x_of=x_of, major=major, minor=[])
    out.append(text_el(lay.left + lay.plot_w / 2, height - 6,
                     "minutes:seconds from the start of the cramp", anchor="middle",
                     size=f - 3, fill="#333"))
    out.append("</svg>")
    return "".join(out)


def _bars(out: list[str], lay: Layout, *, top: float, height: float, title: str,
          values: list[tuple[int, float]], n_slots: int, hi: float,
          zero_marks: bool, whole: bool = False) -> None:
    """Bar panel: ``values`` as (slot index, value); gridlines and y ticks (``whole``:
    counts, whole-number ticks)."""
    panel_title(out, lay, top - 8, title)
    out.append(rect_el(lay.left, top, lay.plot_w, height, "#fafafa", ' stroke="#bbbbbb"'))
    right = lay.left + lay.plot_w
    for v in nice_ticks(0.0, hi, max_ticks=5, whole=whole):
        y = top + height - v / hi * height
        out.append(line_el(lay.left, y, right, y, GRID, ' stroke-dasharray="3 4"'))
        out.append(text_el(lay.left - 6, y + lay.font * 0.35, f"{v:g}", anchor="end",
                         size=lay.font - 3, fill="#333"))
    slot = lay.plot_w / n_slots
    for i, v in values:
        x = lay.left + i * slot + slot * 0.15
        if v <= 0:
            if zero_marks:
                out.append(rect_el(x, top + height - 4, slot * 0.7, 4, "#2ca02c"))
            continue
        bh = min(v / hi, 1.0) * height
        out.append(rect_el(x, top + height - bh, slot * 0.7, bh, EPISODE_FILL))


def _slot_axis(out: list[str], lay: Layout, *, y_axis: float, labels: list[tuple[int, str]],
               n_slots: int) -> None:
    slot = lay.plot_w / n_slots
    out.append(line_el(lay.left, y_axis, lay.left + lay.plot_w, y_axis))
    for i, label in labels:
        x = lay.left + (i + 0.5) * slot
        out.append(line_el(x, y_axis, x, y_axis + 7))
        out.append(text_el(x, y_axis + 10 + lay.font, label, anchor="middle", size=lay.font - 2))


def trend_svg(days: list[DayTotals], *, first: date, last: date, uid: str,
              layout: Layout = WIDE) -> str:
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
    layout : Layout
        :data:`WIDE` or :data:`NARROW`.
    """
    n_days = (last - first).days + 1
    if n_days < 1:
        raise ValueError("trend_svg: last must not be before first")
    lay = layout
    count_hi = nice_ceiling(max([d.n_episodes for d in days] + [2]))
    mins_hi = nice_ceiling(max([d.total_cramp_s / 60.0 for d in days] + [5.0]))
    f = lay.font
    h = round(130 * lay.tall)
    y1 = f + 12
    y2 = y1 + h + f + 22
    y_axis = y2 + h
    height = y_axis + f + 24
    out = open_svg(uid, lay, height,
                    f"Cramps per night from {format_date(first)} to {format_date(last)}")
    slots = [((d.night_date - first).days, d) for d in days
             if 0 <= (d.night_date - first).days < n_days]
    _bars(out, lay, top=y1, height=h, title="Cramps per night", n_slots=n_days,
          hi=count_hi, values=[(i, float(d.n_episodes)) for i, d in slots], zero_marks=True,
          whole=True)
    minutes_title = ("Total cramp time (minutes per night)" if lay is WIDE
                     else "Cramp minutes per night")
    _bars(out, lay, top=y2, height=h, title=minutes_title,
          n_slots=n_days, hi=mins_hi,
          values=[(i, d.total_cramp_s / 60.0) for i, d in slots], zero_marks=True)
    every = max(1, math.ceil(n_days / (lay.max_time_ticks + 1)))
    labels = [(i, f"{(first + timedelta(days=i)).day} "
                  f"{(first + timedelta(days=i)).strftime('%b')}")
              for i in range(0, n_days, every)]
    _slot_axis(out, lay, y_axis=y_axis, labels=labels, n_slots=n_days)
    out.append("</svg>")
    return "".join(out)


NIGHT_HOURS: tuple[int, ...] = (*range(18, 24), *range(0, 12))
"""Clock hours of the time-of-night histogram, 18:00 to 12:00."""


def hour_histogram_svg(onset_hours: list[float], *, uid: str, layout: Layout = WIDE) -> str:
    """Histogram of cramp onsets by hour of the night (local clock, 18:00 to 12:00).

    Parameters
    ----------
    onset_hours : list of float
        Local clock hour (0..24) of each onset; onsets from 12:00 to 18:00 are counted in a
        note, not drawn.
    uid : str
        Prefix for ids inside the SVG.
    layout : Layout
        :data:`WIDE` or :data:`NARROW`.
    """
    lay = layout
    counts = {hr: 0 for hr in NIGHT_HOURS}
    daytime = 0
    for hour in onset_hours:
        hr = int(hour) % 24
        if hr in counts:
            counts[hr] += 1
        else:
            daytime += 1
    hi = nice_ceiling(max([*counts.values(), 2]))
    f = lay.font
    h = round(130 * lay.tall)
    top = f + 12
    y_axis = top + h
    height = y_axis + f + 24 + (f + 8 if daytime else 0)
    out = open_svg(uid, lay, height, "Cramps by hour of the night")
    _bars(out, lay, top=top, height=h,
          title="Cramps by hour of the night (when they began)" if lay is WIDE
          else "Cramps by hour they began",
          n_slots=len(NIGHT_HOURS), hi=hi, zero_marks=False, whole=True,
          values=[(i, float(counts[hr])) for i, hr in enumerate(NIGHT_HOURS)])
    every = 2 if lay is WIDE else 3
    labels = [(i, f"{hr:02d}:00" if lay is WIDE else f"{hr:02d}")
              for i, hr in enumerate(NIGHT_HOURS) if i % every == 0]
    _slot_axis(out, lay, y_axis=y_axis, labels=labels, n_slots=len(NIGHT_HOURS))
    if daytime:
        out.append(text_el(lay.left, height - 6, f"{daytime} more began between 12:00 and 18:00",
                         size=f - 3, fill="#333"))
    out.append("</svg>")
    return "".join(out)

