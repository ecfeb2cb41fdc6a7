"""The plain-terminal summary printed by ``cramp report --text``."""

from __future__ import annotations

import textwrap

from detector.causes.render import findings_text
from detector.report.html import NOT_A_DIAGNOSIS, night_title
from detector.report.summary import (
    ReportData,
    episode_label,
    format_clock,
    format_date,
    format_duration,
    format_percent,
    format_rate,
    headline,
    set_aside_lines,
    zone_label,
)


def render_text(data: ReportData) -> str:
    """Return the report as plain text lines (no colours, no box drawing).

    Parameters
    ----------
    data : ReportData
        From :func:`~detector.report.summary.collect_report` (traces not needed).

    Returns
    -------
    str
        Text ending in a newline.
    """
    local = data.local
    last = data.summaries[0]
    lines = [f"{'Last' if len(data.nights) == 1 else 'Latest'} night, "
             f"{format_date(last.night_date)}: {headline(last, local)}.",
             f"Times are in {zone_label(local, data.nights[0].start_utc)}.", ""]
    if data.store_note:
        lines[2:2] = [data.store_note, ""]
    if data.flags:
        lines.append("When to see a clinician:")
        for f in data.flags:
            lines += textwrap.wrap(f.text, width=78, initial_indent="  - ",
                                   subsequent_indent="    ")
    else:
        lines.append("When to see a clinician: none of the warning signs the detector can "
                     "check for was seen.")
    lines.append("")
    for night, s in zip(data.nights, data.summaries, strict=True):
        lines.append(night_title(night, local))
        if s.in_bed_start_utc is not None and s.in_bed_end_utc is not None:
            bed = (f"{format_duration(s.time_in_bed_s)} "
                   f"({format_clock(s.in_bed_start_utc, local)} to "
                   f"{format_clock(s.in_bed_end_utc, local)})")
        else:
            bed = "not found"
        rows = [
            ("Time in bed", bed),
            ("Number of cramps", str(s.n_episodes)),
            ("Total cramp time", format_duration(s.total_cramp_s)),
            ("Longest cramp", format_duration(s.longest_cramp_s) if s.n_episodes else "none"),
            ("First cramp began",
             format_clock(s.first_onset_utc, local) if s.first_onset_utc else "no cramp"),
            ("Cramps per hour in bed", format_rate(s.cramps_per_hour_in_bed)),
            ("Usable signal", format_percent(s.coverage_fraction)),
            ("Gaps in the data", "none" if s.n_gaps == 0
             else f"{format_duration(s.gap_s)} in {s.n_gaps} gap{'s' if s.n_gaps != 1 else ''}"),
            ("Poor electrode contact",
             "none" if s.poor_signal_s == 0 else format_duration(s.poor_signal_s)),
        ]
        width = max(len(k) for k, _ in rows) + 2
        lines += [f"  {k + ':':<{width}}{v}" for k, v in rows]
        for i, (_, e) in enumerate(night.episodes, start=1):
            where = "" if e.in_bed else ", outside the time in bed"
            lines.append(f"  Cramp {i}: began {format_clock(e.onset_utc, local)}, lasted "
                         f"{format_duration(e.duration_s)}, {episode_label(e)}{where}")
        for line in set_aside_lines(night, local):
            lines += textwrap.wrap(line, width=78, initial_indent="  ", subsequent_indent="    ")
        lines.append("")
    if data.trends is not None:
        with_cramps = sum(1 for d in data.trends.days if d.n_episodes > 0)
        lines.append(f"Last weeks: cramps on {with_cramps} of {len(data.trends.days)} recorded "
                     f"nights since {format_date(data.trends.first)}.")
        lines.append("")
    if data.causes is not None:  # ends with the rules' not-a-diagnosis notice
        lines.append(findings_text(data.causes, with_flags=False).rstrip("\n"))
    else:
        lines.append("Possible contributing factors: no diary-based analysis is available yet.")
        lines += textwrap.wrap(NOT_A_DIAGNOSIS, width=78)
    return "\n".join(lines) + "\n"
