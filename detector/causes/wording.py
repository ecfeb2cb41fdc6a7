"""Plain-words dates, clock times and durations, shared by the findings and the report."""

from __future__ import annotations

from datetime import date, datetime, tzinfo


def format_duration(seconds: float) -> str:
    """Plain-words duration: ``"45 s"``, ``"2 min 5 s"``, ``"7 h 45 min"``, ``"under 1 s"``."""
    if 0 < seconds < 0.5:
        return "under 1 s"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        m, r = divmod(s, 60)
        return f"{m} min {r} s" if r else f"{m} min"
    h, r = divmod(round(seconds / 60.0), 60)
    return f"{h} h {r} min" if r else f"{h} h"


def to_local(t: datetime, local: tzinfo | None) -> datetime:
    """Convert an aware time to ``local`` (``None`` = the machine's zone)."""
    return t.astimezone(local) if local is not None else t.astimezone()


def format_clock(t: datetime, local: tzinfo | None) -> str:
    """Local 24-hour clock time, ``"02:13"``."""
    return to_local(t, local).strftime("%H:%M")


def format_date(d: date) -> str:
    """Plain-words date: ``"Sunday 3 March 2024"``."""
    return f"{d.strftime('%A')} {d.day} {d.strftime('%B %Y')}"
