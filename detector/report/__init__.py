"""The morning report: night summaries, plots and red flags from the episode store."""

from detector.report.html import NOT_A_DIAGNOSIS, render_html
from detector.report.summary import (
    NightSummary,
    RedFlag,
    ReportData,
    collect_report,
    red_flags,
    summarize_night,
)
from detector.report.text import render_text

__all__ = [
    "NOT_A_DIAGNOSIS",
    "NightSummary",
    "RedFlag",
    "ReportData",
    "collect_report",
    "red_flags",
    "render_html",
    "render_text",
    "summarize_night",
]
