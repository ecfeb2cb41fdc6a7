"""The night window: local clock hours in which the sleeper is expected in bed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from detector.config import ConfigError, parse_night_window


def resolve_timezone(name: str | None) -> tzinfo:
    """The IANA zone ``name``, or the machine's local zone for ``None``.

    Raises
    ------
    ConfigError
        If the zone name is unknown.
    """
    if name is None:
        local = datetime.now(UTC).astimezone().tzinfo
        return local if local is not None else UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("in_bed.timezone", f"unknown time zone {name!r}") from None


class NightWindow:
    """Decides whether a moment falls inside the configured local night window.

    Parameters
    ----------
    window : str or None
        ``"HH:MM-HH:MM"`` (may wrap past midnight) or ``None`` for "always".
    tz : tzinfo
        Zone in which the window's clock times are read.
    """

    def __init__(self, window: str | None, *, tz: tzinfo) -> None:
        self.tz = tz
        self.bounds = None if window is None else parse_night_window(window,
                                                                     where="night window")

    def contains(self, when_utc: datetime) -> bool:
        """Whether ``when_utc`` (aware) lies inside the window in local time."""
        if self.bounds is None:
            return True
        local = when_utc.astimezone(self.tz)
        minute = local.hour * 60 + local.minute + local.second / 60.0
        start, end = self.bounds
        if start < end:
            return start <= minute < end
        return minute >= start or minute < end

    def overlap_s(self, start_utc: datetime, start_s: float, end_s: float) -> list[
            tuple[float, float]]:
        """Parts of ``[start_s, end_s)`` (s from ``start_utc``) inside the window, per minute.

        Resolution is one minute, enough for in-bed periods.
        """
        if self.bounds is None:
            return [(start_s, end_s)] if end_s > start_s else []
        out: list[tuple[float, float]] = []
        t = start_s
        cur: float | None = None
        while t < end_s:
            step = min(60.0, end_s - t)
            inside = self.contains(start_utc + timedelta(seconds=t))
            if inside and cur is None:
                cur = t
            elif not inside and cur is not None:
                out.append((cur, t))
                cur = None
            t += step
        if cur is not None:
            out.append((cur, end_s))
        return out
