"""The morning report as one self-contained HTML file.

Nothing is loaded from anywhere: the styles are inline and the plots are inline SVG. Text is
large and plain, times are local with the zone named, and the page prints on paper.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from html import escape
from pathlib import PurePath

from detector import __version__
from detector.causes.engine import CauseReport
from detector.causes.render import STRENGTH_WORDS, VERDICT_WORDS, no_diary_sentence
from detector.episode import Episode
from detector.report.html_style import REPORT_CSS
from detector.report.summary import (
    LONG_CRAMP_S,
    NightSummary,
    ReportData,
    episode_label,
    format_clock,
    format_date,
    format_duration,
    format_percent,
    format_rate,
    headline,
    set_aside_lines,
    to_local,
    zone_label,
)
from detector.report.svg import closeup_svg, hour_histogram_svg, timeline_svg, trend_svg
from detector.report.svg_parts import (
    EPISODE_FILL,
    IN_BED,
    LYING,
    NARROW,
    POOR,
    UNKNOWN,
    UPRIGHT,
    WIDE,
    Layout,
)
from detector.store.nights import StoredNight
from detector.store.sleep import SleepNight

NOT_A_DIAGNOSIS = (
    "This is not a diagnosis. The leg band records muscle activity and foot position, and "
    "this report shows what it recorded. Please talk to a clinician about any health worry."
)


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _item(key: str, value: float | int | None, label: str, shown: str,
          note: str = "") -> str:
    data = "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)
    small = f" <small>{_e(note)}</small>" if note else ""
    return (f'<div><dt>{_e(label)}</dt><dd data-key="{key}" data-value="{_e(data)}">'
            f"{_e(shown)}{small}</dd></div>")


def _both(make: Callable[[Layout], str]) -> str:
    """A plot in both layouts; the page shows the one that fits its width."""
    return f'<div class="wide">{make(WIDE)}</div><div class="narrow">{make(NARROW)}</div>'


def _summary_block(s: NightSummary, local: tzinfo | None) -> str:
    bed = ""
    if s.in_bed_start_utc is not None and s.in_bed_end_utc is not None:
        bed = (f"{format_clock(s.in_bed_start_utc, local)} to "
               f"{format_clock(s.in_bed_end_utc, local)}")
    outside = s.n_episodes - s.n_in_bed
    items = [
        _item("n_episodes", s.n_episodes, "Number of cramps", str(s.n_episodes),
              f"{outside} outside the time in bed" if outside else ""),
        _item("longest_cramp_s", s.longest_cramp_s, "Longest cramp",
              format_duration(s.longest_cramp_s) if s.n_episodes else "none"),
        _item("total_cramp_s", s.total_cramp_s, "Total cramp time",
              format_duration(s.total_cramp_s)),
        _item("first_onset_utc",
              None if s.first_onset_utc is None else int(s.first_onset_utc.timestamp()),
              "First cramp began",
              format_clock(s.first_onset_utc, local) if s.first_onset_utc else "no cramp"),
        _item("time_in_bed_s", s.time_in_bed_s, "Time in bed",
              format_duration(s.time_in_bed_s) if s.in_bed_start_utc else "not found", bed),
        _item("cramps_per_hour_in_bed", s.cramps_per_hour_in_bed, "Cramps per hour in bed",
              format_rate(s.cramps_per_hour_in_bed)),
        _item("coverage_fraction", s.coverage_fraction, "Usable signal",
              format_percent(s.coverage_fraction), "of the recording"),
        _item("gap_s", s.gap_s, "Gaps in the data",
              "none" if s.n_gaps == 0 else format_duration(s.gap_s),
              f"in {s.n_gaps} gap{'s' if s.n_gaps != 1 else ''}" if s.n_gaps else ""),
        _item("poor_signal_s", s.poor_signal_s, "Poor electrode contact",
              "none" if s.poor_signal_s == 0 else format_duration(s.poor_signal_s),
              "cramps cannot be seen then" if s.poor_signal_s else ""),
    ]
    return f'<dl class="summary">{"".join(items)}</dl>'


def _legend() -> str:
    def sw(color: str, text: str, cls: str = "") -> str:
        style = "" if cls else f' style="background:{color}"'
        return f'<span><span class="swatch {cls}"{style}></span>{_e(text)}</span>'

    return ('<div class="legend">'
            + sw(IN_BED, "in bed") + sw(LYING, "lying down") + sw(UPRIGHT, "sitting or up")
            + sw(UNKNOWN, "posture not known") + sw(EPISODE_FILL, "cramp (numbered)")
            + sw(POOR, "poor electrode contact") + sw("", "no data", "hatch")
            + "</div>")


def _band_words(rec: StoredNight) -> str:
    return {"left": "band on the left leg", "right": "band on the right leg"}.get(
        rec.leg, "band leg not recorded")


def _episode_table(night: SleepNight, local: tzinfo | None) -> str:
    pairs = night.episodes
    if not pairs:
        return "<p>No cramp was found in this night's recording.</p>"
    rows = []
    for i, (_, e) in enumerate(pairs, start=1):
        notes = list(e.quality_notes)
        if not e.in_bed:
            notes.insert(0, "outside the time in bed")
        if e.duration_s > LONG_CRAMP_S:
            notes.insert(0, "longer than 10 minutes")
        peak = "not measured" if e.peak_emg_uv is None else f"{e.peak_emg_uv:.0f}"
        angle = ("not measured" if e.plantar_flexion_deg is None
                 else f"{e.plantar_flexion_deg:.0f}")
        cells = ((None, str(i)), ("time", format_clock(e.onset_utc, local)),
                 ("time", format_duration(e.duration_s)), ("time", episode_label(e)),
                 ("num", peak), ("num", angle), ("num", f"{round(100 * e.confidence)}%"),
                 (None, "; ".join(notes)))
        rows.append(
            f'<tr data-onset-utc="{_e(e.onset_utc.isoformat())}" '
            f'data-duration-s="{e.duration_s:.6g}">'
            + "".join(_cell(head, css, text) for head, (css, text) in zip(
                _EPISODE_HEADS, cells, strict=True))
            + "</tr>")
    return ('<div class="scroll"><table class="episodes"><thead><tr>'
            + "".join(f"<th>{_e(h)}</th>" for h in _EPISODE_HEADS)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")


_EPISODE_HEADS = ("No.", "Began", "Lasted", "Leg", "Highest muscle activity (µV)",
                  "Toes pointed (degrees)", "How sure", "Notes")
"""Column heads of the cramp table; on a phone each cell repeats its head (``data-head``)."""


def _cell(head: str, css: str | None, text: str) -> str:
    """One cell of the cramp table, labelled with its column head for the phone layout."""
    cls = f' class="{css}"' if css else ""
    return f'<td{cls} data-head="{_e(head)}">{_e(text) or "&nbsp;"}</td>'


def night_title(night: SleepNight, local: tzinfo | None) -> str:
    """Heading of a night: its date, and its times when the date has several nights."""
    title = f"Night of {format_date(night.night_date)}"
    legs = sorted({r.leg for r in night.recordings})
    if len(night.recordings) == 1 or len(legs) == 1:
        title += ", " + _band_words(night.recordings[0])
    else:
        title += ", bands on " + " and ".join(
            {"left": "the left leg", "right": "the right leg"}.get(leg, "a leg not recorded")
            for leg in legs)
    if night.n_on_date > 1:
        file = (f"{PurePath(night.recordings[0].recording_path).name}, "
                if len(night.recordings) == 1 else "")
        title += (f" (night {night.seq} of {night.n_on_date} on this date: {file}"
                  f"{format_clock(night.start_utc, local)} to "
                  f"{format_clock(night.end_utc, local)})")
    return title


def _night_section(night: SleepNight, s: NightSummary, local: tzinfo | None, *,
                   first: bool) -> str:
    """One night: its picture first, then its numbers, cramp table and close-ups."""
    uid = f"n{s.key.replace('-', '')}"
    line = headline(s, local)
    parts = [f'<section class="night" id="night-{_e(s.key)}">',
             f"<h2>{_e(night_title(night, local))}</h2>"]
    if not first:  # the first night's line is already at the top of the page
        parts.append(f'<p class="headline">{_e(line[:1].upper() + line[1:])}</p>')
    parts.append("<h3>The night at a glance</h3>")
    window = (night.start_utc, night.end_utc)
    numbers: dict[tuple[int, int], int] = {}  # (recording, id of the episode) -> number
    for k, (rec, e) in enumerate(night.episodes, start=1):
        numbers[(rec.night_id, id(e))] = k
    for j, rec in enumerate(night.recordings):
        rec_words = (f"{_band_words(rec)[:1].upper()}{_band_words(rec)[1:]}: recorded from "
                     f"{format_clock(rec.start_utc, local)} to {format_clock(rec.end_utc, local)}"
                     f" ({format_duration(rec.duration_s)}, file "
                     f"{PurePath(rec.recording_path).name}).")
        parts.append(f'<p class="meta">{_e(rec_words)}</p>')
        if rec.trace is None or rec.trace.n_seconds == 0:
            parts.append("<p>The detailed second-by-second record of this recording is not in "
                         "the store, so the picture of the night cannot be drawn.</p>")
            continue
        nums = {i: numbers[(rec.night_id, id(e))] for i, e in enumerate(rec.episodes)}

        def plot(lay: Layout, rec: StoredNight = rec, nums: dict[int, int] = nums,
                 j: int = j) -> str:
            return timeline_svg(rec, local=local, uid=f"{uid}r{j}t{lay.width}", layout=lay,
                                window=window, numbers=nums)

        parts.append(f"<figure>{_both(plot)}</figure>")
    if any(r.trace is not None and r.trace.n_seconds > 0 for r in night.recordings):
        parts.append(f'<p class="caption">{_legend()}Blue line: the calf muscle\'s activity '
                     "(highest value in each short stretch). Green line: how far the toes "
                     "point down. Numbers mark the cramps in the table below.</p>")
    parts += ["<h3>The night in numbers</h3>", _summary_block(s, local),
              "<h3>Cramps</h3>", _episode_table(night, local)]
    parts += [f'<p class="meta set-aside">{_e(line)}</p>'
              for line in set_aside_lines(night, local)]
    pairs = [(rec, e) for rec, e in night.episodes
             if rec.trace is not None and rec.trace.n_seconds > 0]
    if pairs:
        parts.append("<h3>Close-up of each cramp</h3>")
        for rec, e in pairs:
            k = numbers[(rec.night_id, id(e))]

            def close(lay: Layout, rec: StoredNight = rec, e: Episode = e, k: int = k) -> str:
                return closeup_svg(rec, e, number=k, local=local, uid=f"{uid}c{k}w{lay.width}",
                                   layout=lay)

            parts.append(f"<figure>{_both(close)}<figcaption>Cramp {k}: began "
                         f"{_e(format_clock(e.onset_utc, local))}, lasted "
                         f"{_e(format_duration(e.duration_s))}, {_e(episode_label(e))}. "
                         "Shaded: the cramp; one minute before and after is shown."
                         "</figcaption></figure>")
    parts.append("</section>")
    return "".join(parts)


def _factor_items(causes: CauseReport) -> str:
    rows = []
    for f in causes.findings:
        if f.kind not in ("factor", "association"):
            continue
        if f.kind == "factor":
            badge = f"{f.name}: {STRENGTH_WORDS.get(f.strength or '', '')}"
            cls = f"factor {f.strength}"
        else:
            badge, cls = "Your nights", "association"
        advice = f' <span class="advice">{_e(f.advice)}</span>' if f.advice else ""
        rows.append(f'<li class="{_e(cls)}" data-finding="{_e(f.rule_id)}"'
                    f' data-strength="{_e(f.strength or "")}">'
                    f'<strong class="badge">{_e(badge)}</strong> {_e(f.text)}{advice}</li>')
    return f'<ul class="findings">{"".join(rows)}</ul>' if rows else ""


def _causes_section(causes: CauseReport | None) -> str:
    parts = ['<section id="factors"><h2>Possible contributing factors</h2>']
    if causes is None:
        return parts[0] + "<p>No diary-based analysis is available yet.</p></section>"
    missing = no_diary_sentence(causes)
    if missing:
        parts.append(f"<p>{_e(missing)} With evening diary entries (for example activity, "
                     "drinks and medicines), this section shows which of them tend to go with "
                     "nights with cramps. Going together does not prove that one leads to the "
                     "other.</p>")
    elif not any(f.kind == "factor" for f in causes.findings):
        parts.append("<p>None of the rated factors applies to these nights"
                     f"{'' if causes.n_cramp_nights else ' (no cramps were recorded)'}.</p>")
    parts.append(_factor_items(causes))
    claims = [f for f in causes.findings if f.kind == "claim"]
    if claims:
        parts.append("<h3>What the evidence says about claims that concern you</h3>"
                     '<ul class="findings">' + "".join(
                         f'<li class="{_e(f.strength or "")}" data-finding="{_e(f.rule_id)}">'
                         f'<strong class="badge">{_e(f.name)}: '
                         f'{_e(VERDICT_WORDS.get(f.strength or "", ""))}</strong> '
                         f'{_e(f.text)} <span class="meta">Source: {_e(f.source)}.</span></li>'
                         for f in claims) + "</ul>")
    advice = [f for f in causes.findings if f.kind == "advice"]
    if advice:
        parts.append("<h3>What you can do</h3><ul class=\"findings\">" + "".join(
            f'<li class="advice" data-finding="{_e(f.rule_id)}">{_e(f.text)}</li>'
            for f in advice) + "</ul>")
    parts.append("</section>")
    return "".join(parts)


def _flags(data: ReportData) -> str:
    parts = ['<section id="findings"><h2>When to see a clinician</h2>']
    if data.flags:
        items = "".join(
            f'<li class="{"urgent" if f.urgent else "advice"}" data-flag="{_e(f.kind)}">'
            f'<strong class="badge">{"Urgent" if f.urgent else "See a clinician"}</strong> '
            f"{_e(f.text)}</li>" for f in data.flags)
        parts.append(f'<ul class="flags">{items}</ul>')
    else:
        parts.append("<p>None of the warning signs the detector can check for was seen: no "
                     "cramp longer than 10 minutes, no cramps on 3 or more of the last 7 "
                     "nights, and no cramps in both legs on one night.</p>")
    parts.append("</section>")
    return "".join(parts)


def _trends(data: ReportData) -> str:
    t = data.trends
    if t is None:
        return ""
    n = len(t.days)
    with_cramps = sum(1 for d in t.days if d.n_episodes > 0)

    def bars(lay: Layout) -> str:
        return trend_svg(t.days, first=t.first, last=t.last, uid=f"trend{lay.width}",
                         layout=lay)

    def hours(lay: Layout) -> str:
        return hour_histogram_svg(t.onset_hours, uid=f"hours{lay.width}", layout=lay)

    hist = ""
    if t.onset_hours:
        hist = (f"<figure>{_both(hours)}<figcaption>When the cramps began, by hour of the "
                f"night ({len(t.onset_hours)} cramp{'s' if len(t.onset_hours) != 1 else ''}"
                ").</figcaption></figure>")
    return (f'<section id="trends"><h2>The last weeks</h2><p>{n} recorded nights from '
            f"{_e(format_date(t.first))} to {_e(format_date(t.last))}; "
            f"cramps on {with_cramps} of them.</p><figure>{_both(bars)}<figcaption>Red bars: "
            "cramps and minutes of cramp per night. A small green mark: recorded, no cramp. "
            "No mark: no recording that night.</figcaption></figure>"
            f"{hist}</section>")


def _about(data: ReportData) -> str:
    versions = sorted({r.detector_version for n in data.nights for r in n.recordings})
    return (
        '<section id="about"><h2>What the words mean</h2><dl>'
        "<dt><strong>Cramp</strong></dt><dd>The calf muscle stayed tight for at least 10 "
        "seconds, usually with the toes forced to point down. Shorter twitches and leg "
        "movements during sleep are not counted.</dd>"
        "<dt><strong>Muscle activity (EMG)</strong></dt><dd>The electrical signal of the calf "
        "muscle picked up by the band's skin electrodes, in microvolts (µV). It is high while "
        "the muscle is tight.</dd>"
        "<dt><strong>Toes pointed (foot angle)</strong></dt><dd>How far the foot is bent "
        "down from its resting position, in degrees, from the band's two motion sensors.</dd>"
        "<dt><strong>Time in bed</strong></dt><dd>The time the leg lay still and flat during "
        "the night, as the motion sensors saw it.</dd>"
        "<dt><strong>Gaps and poor electrode contact</strong></dt><dd>Stretches without data "
        "(for example the band was out of range) or with an electrode off the skin. A cramp "
        "during these times cannot be seen, so they are not counted as cramp-free.</dd>"
        "<dt><strong>How sure</strong></dt><dd>How strongly the signals point to a cramp, "
        "from 0% to 100%.</dd></dl>"
        f'<p class="meta">Made by the night-cramp detector version {_e(__version__)}; nights '
        f"analysed with version {_e(', '.join(versions))}.</p></section>")


def _footer(data: ReportData) -> str:
    generated = to_local(data.generated_utc, data.local)
    disclaimer = data.causes.not_a_diagnosis if data.causes is not None else NOT_A_DIAGNOSIS
    return (
        f'<footer><p><strong>{_e(disclaimer)}</strong></p>'
        "<p>See a clinician promptly, whatever this report shows, if a calf is swollen, red "
        "or warm, if a cramp does not ease with stretching, or if you have muscle weakness, "
        "wasting or numbness.</p>"
        f"<p>Report made on {_e(format_date(generated.date()))} at "
        f"{_e(generated.strftime('%H:%M'))}.</p></footer>")


def render_html(data: ReportData) -> str:
    """Build the report page.

    First screen: the last night in one line, red flags, then that night's picture. The
    other nights follow, then trends, contributing factors, the words explained, and the
    disclaimers once at the end.

    Parameters
    ----------
    data : ReportData
        Nights, summaries, flags and trends from :func:`~detector.report.summary.collect_report`.

    Returns
    -------
    str
        A complete HTML document that refers to no other file or address.
    """
    dates = sorted({n.night_date for n in data.nights})
    if len(data.nights) == 1:
        heading = f"Night of {format_date(dates[0])}"
    elif len(dates) == 1:
        heading = f"{len(data.nights)} nights dated {format_date(dates[0])}"
    else:
        heading = (f"{len(data.nights)} nights, from {format_date(dates[0])} to "
                   f"{format_date(dates[-1])}")
    zone = zone_label(data.local, data.nights[0].start_utc)
    last, s_last = data.nights[0], data.summaries[0]
    line = headline(s_last, data.local)
    which = "Last night" if len(data.nights) == 1 else "Latest night"
    sections = "".join(_night_section(n, s, data.local, first=i == 0)
                       for i, (n, s) in enumerate(zip(data.nights, data.summaries,
                                                      strict=True)))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Night cramp report: {_e(heading)}</title><style>{REPORT_CSS}</style></head>"
        "<body><main><header><h1>Night cramp report</h1>"
        f'<p class="headline" id="last-night" data-night="{_e(s_last.key)}">{_e(which)}, '
        f"{_e(format_date(last.night_date))}: {_e(line)}.<small>{_e(heading)}. Times are "
        f"in {_e(zone)}.</small></p>"
        + (f'<p class="notice" id="store-note">{_e(data.store_note)}</p>' if data.store_note
           else "") + "</header>"
        f"{_flags(data)}{sections}{_trends(data)}{_causes_section(data.causes)}{_about(data)}"
        f"{_footer(data)}</main></body></html>\n")
