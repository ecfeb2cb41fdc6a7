"""The morning report as one self-contained HTML file.

Nothing is loaded from anywhere: the styles are inline and the plots are inline SVG. Text is
large and plain, times are local with the zone named, and the page prints on paper.
"""

from __future__ import annotations

from datetime import tzinfo
from html import escape
from pathlib import PurePath

from detector import __version__
from detector.causes.engine import CauseReport
from detector.causes.render import STRENGTH_WORDS, no_diary_sentence
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
    to_local,
    zone_label,
)
from detector.report.svg import (
    EPISODE_FILL,
    IN_BED,
    LYING,
    POOR,
    UNKNOWN,
    UPRIGHT,
    closeup_svg,
    timeline_svg,
    trend_svg,
)
from detector.store.nights import StoredNight

NOT_A_DIAGNOSIS = (
    "This is not a diagnosis. The leg band records muscle activity and foot position, and "
    "this report shows what it recorded. Please talk to a clinician about any health worry."
)

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #ffffff; color: #111111; font-size: 20px; line-height: 1.5;
  font-family: "DejaVu Sans", Verdana, Arial, Helvetica, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 2.1em; margin: 0.2em 0; }
h2 { font-size: 1.55em; margin: 1.6em 0 0.5em; padding-bottom: 0.15em;
  border-bottom: 3px solid #08306b; }
h3 { font-size: 1.25em; margin: 1.3em 0 0.4em; }
p { margin: 0.5em 0; max-width: 60em; }
.lead { font-size: 1.25em; }
.notice { background: #fff6dc; border-left: 8px solid #e6a100; padding: 12px 16px; }
dl.summary { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr));
  gap: 12px; margin: 0.5em 0; }
dl.summary div { border: 2px solid #c8c8c8; border-radius: 8px; padding: 10px 14px; }
dl.summary dt { font-size: 0.95em; color: #333333; }
dl.summary dd { margin: 0; font-size: 1.35em; font-weight: bold; }
dl.summary dd small { font-size: 0.7em; font-weight: normal; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; }
th, td { border: 1px solid #b0b0b0; padding: 8px 10px; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
td.num { text-align: right; }
ul.flags { padding-left: 0; list-style: none; }
ul.flags li { border-left: 8px solid #e6a100; background: #fff6dc; padding: 10px 14px;
  margin: 8px 0; }
ul.flags li.urgent { border-left-color: #b00020; background: #fde8ea; }
ul.flags li { font-size: 1.1em; }
ul.flags .badge { text-transform: uppercase; letter-spacing: 0.03em; margin-right: 0.4em; }
ul.flags li.urgent .badge { color: #b00020; }
ul.findings { padding-left: 0; list-style: none; }
ul.findings li { border-left: 6px solid #08306b; padding: 6px 12px; margin: 6px 0; }
ul.findings li.unsupported, ul.findings li.weak { border-left-color: #9a9a9a; }
ul.findings li.association { border-left-color: #2b7a3d; }
ul.findings li.advice { border-left-color: #4a7ab0; }
ul.findings .advice { display: block; font-style: italic; }
figure { margin: 1em 0; }
figcaption { font-size: 0.95em; color: #222222; }
svg.plot { display: block; width: 100%; height: auto; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 22px; font-size: 0.9em; margin: 6px 0; }
.swatch { display: inline-block; width: 1.1em; height: 1.1em; vertical-align: -0.15em;
  margin-right: 6px; border: 1px solid #777777; }
.hatch { background: repeating-linear-gradient(45deg, #555555 0 3px, #ffffff 3px 8px); }
footer { margin-top: 3em; font-size: 0.85em; color: #333333; }
@media print {
  body { font-size: 12pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  h3 { break-after: avoid; }
  figure, dl.summary, tr, ul.flags li { break-inside: avoid; }
  section.night { break-before: page; }
  ul.flags li, .notice { border-left-width: 4pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _item(key: str, value: float | int | None, label: str, shown: str,
          note: str = "") -> str:
    data = "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)
    small = f" <small>{_e(note)}</small>" if note else ""
    return (f'<div><dt>{_e(label)}</dt><dd data-key="{key}" data-value="{_e(data)}">'
            f"{_e(shown)}{small}</dd></div>")


def _summary_block(s: NightSummary, local: tzinfo | None) -> str:
    bed = ""
    if s.in_bed_start_utc is not None and s.in_bed_end_utc is not None:
        bed = (f"{format_clock(s.in_bed_start_utc, local)} to "
               f"{format_clock(s.in_bed_end_utc, local)}")
    outside = s.n_episodes - s.n_in_bed
    items = [
        _item("time_in_bed_s", s.time_in_bed_s, "Time in bed",
              format_duration(s.time_in_bed_s) if s.in_bed_start_utc else "not found", bed),
        _item("n_episodes", s.n_episodes, "Number of cramps", str(s.n_episodes),
              f"{outside} outside the time in bed" if outside else ""),
        _item("total_cramp_s", s.total_cramp_s, "Total cramp time",
              format_duration(s.total_cramp_s)),
        _item("longest_cramp_s", s.longest_cramp_s, "Longest cramp",
              format_duration(s.longest_cramp_s) if s.n_episodes else "none"),
        _item("first_onset_utc",
              None if s.first_onset_utc is None else int(s.first_onset_utc.timestamp()),
              "First cramp began",
              format_clock(s.first_onset_utc, local) if s.first_onset_utc else "no cramp"),
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


def _episode_table(night: StoredNight, local: tzinfo | None) -> str:
    if not night.episodes:
        return "<p>No cramp was found in this recording.</p>"
    rows = []
    for i, e in enumerate(night.episodes, start=1):
        notes = list(e.quality_notes)
        if not e.in_bed:
            notes.insert(0, "outside the time in bed")
        if e.duration_s > LONG_CRAMP_S:
            notes.insert(0, "longer than 10 minutes")
        peak = "not measured" if e.peak_emg_uv is None else f"{e.peak_emg_uv:.0f}"
        angle = ("not measured" if e.plantar_flexion_deg is None
                 else f"{e.plantar_flexion_deg:.0f}")
        rows.append(
            f'<tr data-onset-utc="{_e(e.onset_utc.isoformat())}" '
            f'data-duration-s="{e.duration_s:.6g}">'
            f"<td>{i}</td><td>{_e(format_clock(e.onset_utc, local))}</td>"
            f"<td>{_e(format_duration(e.duration_s))}</td><td>{_e(episode_label(e))}</td>"
            f'<td class="num">{_e(peak)}</td><td class="num">{_e(angle)}</td>'
            f'<td class="num">{round(100 * e.confidence)}%</td>'
            f"<td>{_e('; '.join(notes)) or '&nbsp;'}</td></tr>")
    return ("<table><thead><tr><th>No.</th><th>Began</th><th>Lasted</th><th>Leg</th>"
            "<th>Highest muscle activity (µV)</th><th>Toes pointed (degrees)</th>"
            "<th>How sure</th><th>Notes</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>")


def _night_section(night: StoredNight, s: NightSummary, local: tzinfo | None,
                   several_on_date: bool) -> str:
    title = f"Night of {format_date(night.night_date)}"
    if several_on_date or night.leg != "unknown":
        title += {"left": ", band on the left leg", "right": ", band on the right leg"}.get(
            night.leg, ", band leg not recorded")
    uid = f"n{night.night_id}"
    rec = (f"Recorded from {format_clock(night.start_utc, local)} to "
           f"{format_clock(night.end_utc, local)} "
           f"({format_duration(night.duration_s)}, file {PurePath(night.recording_path).name}).")
    parts = [f'<section class="night" id="night-{night.night_id}">', f"<h2>{_e(title)}</h2>",
             f"<p>{_e(rec)}</p>", "<h3>Summary</h3>", _summary_block(s, local),
             "<h3>The night at a glance</h3>"]
    if night.trace is None or night.trace.n_seconds == 0:
        parts.append("<p>The detailed second-by-second record of this night is not in the "
                     "store, so the picture of the night cannot be drawn.</p>")
    else:
        parts.append(f"<figure>{timeline_svg(night, local=local, uid=uid + 't')}"
                     f"<figcaption>{_legend()}The blue line is the calf muscle's activity "
                     "(highest value in each short stretch); the green line is how far the "
                     "toes point down. Numbers mark the cramps in the table below."
                     "</figcaption></figure>")
    parts += ["<h3>Cramps</h3>", _episode_table(night, local)]
    if night.episodes and night.trace is not None and night.trace.n_seconds > 0:
        parts.append("<h3>Close-up of each cramp</h3>")
        for i, e in enumerate(night.episodes, start=1):
            svg = closeup_svg(night, e, number=i, local=local, uid=f"{uid}c{i}")
            parts.append(f"<figure>{svg}<figcaption>Cramp {i}: began "
                         f"{_e(format_clock(e.onset_utc, local))}, lasted "
                         f"{_e(format_duration(e.duration_s))}. Shaded: the cramp; one minute "
                         "before and after is shown.</figcaption></figure>")
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
    parts = ["<h2>Possible contributing factors</h2>"]
    if causes is None:
        return parts[0] + "<p>No diary-based analysis is available yet.</p>"
    missing = no_diary_sentence(causes)
    if missing:
        parts.append(f"<p>{_e(missing)} When evening diary entries are kept (for example "
                     "activity, drinks and medicines), this section shows which of them tend "
                     "to go with nights with cramps. Going together does not prove that one "
                     "leads to the other.</p>")
    elif not any(f.kind == "factor" for f in causes.findings):
        parts.append("<p>None of the rated factors applies to these nights"
                     f"{'' if causes.n_cramp_nights else ' (no cramps were recorded)'}.</p>")
    parts.append(_factor_items(causes))
    advice = [f for f in causes.findings if f.kind == "advice"]
    if advice:
        parts.append("<h3>What you can do</h3><ul class=\"findings\">" + "".join(
            f'<li class="advice" data-finding="{_e(f.rule_id)}">{_e(f.text)}</li>'
            for f in advice) + "</ul>")
    parts.append(f'<p class="notice">{_e(causes.not_a_diagnosis)}</p>')
    return "".join(parts)


def _findings(data: ReportData) -> str:
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
    parts.append(
        "<p>See a clinician promptly, whatever this report shows, if a calf is swollen, red "
        "or warm, if a cramp does not ease with stretching, or if you have muscle weakness, "
        "wasting or numbness.</p>")
    parts.append(_causes_section(data.causes))
    parts.append("</section>")
    return "".join(parts)


def _trends(data: ReportData) -> str:
    if not data.trend_days:
        return ""
    svg = trend_svg(data.trend_days, first=data.trend_first, last=data.trend_last,
                    uid="trend")
    n = len(data.trend_days)
    with_cramps = sum(1 for d in data.trend_days if d.n_episodes > 0)
    return (f'<section id="trends"><h2>The last weeks</h2><p>{n} recorded nights from '
            f"{_e(format_date(data.trend_first))} to {_e(format_date(data.trend_last))}; "
            f"cramps on {with_cramps} of them.</p><figure>{svg}<figcaption>Red bars: cramps "
            "(top) and minutes of cramp (bottom) per night. A small green mark: recorded, no "
            "cramp. No mark: no recording that night.</figcaption></figure></section>")


def _about(data: ReportData) -> str:
    versions = sorted({n.detector_version for n in data.nights})
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
        f"<p>Made by the night-cramp detector version {_e(__version__)}; nights analysed "
        f"with version {_e(', '.join(versions))}.</p></section>")


def render_html(data: ReportData) -> str:
    """Build the report page.

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
    if len(dates) == 1:
        heading = f"Night of {format_date(dates[0])}"
    else:
        heading = (f"{len(dates)} nights, from {format_date(dates[0])} to "
                   f"{format_date(dates[-1])}")
    zone = zone_label(data.local, data.nights[0].start_utc)
    generated = to_local(data.generated_utc, data.local)
    per_date: dict[object, int] = {}
    for n in data.nights:
        per_date[n.night_date] = per_date.get(n.night_date, 0) + 1
    sections = "".join(
        _night_section(n, s, data.local, per_date[n.night_date] > 1)
        for n, s in zip(data.nights, data.summaries, strict=True))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Night cramp report: {_e(heading)}</title><style>{_CSS}</style></head>"
        "<body><main><header><h1>Night cramp report</h1>"
        f'<p class="lead">{_e(heading)}</p>'
        f"<p>All times are local times in {_e(zone)}.</p>"
        f'<p class="notice"><strong>{_e(NOT_A_DIAGNOSIS)}</strong></p></header>'
        f"{_findings(data)}{sections}{_trends(data)}{_about(data)}"
        f"<footer><p>Report made on {_e(format_date(generated.date()))} at "
        f"{_e(generated.strftime('%H:%M'))}.</p></footer>"
        "</main></body></html>\n")
