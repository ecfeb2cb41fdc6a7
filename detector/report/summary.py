"""The numbers of a night and the red flags, computed from stored nights.

Everything the HTML and text reports show comes from here, so both say the same.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from detector.causes.engine import CauseReport, evaluate, evaluate_store
from detector.causes.history import History, NightFacts, facts_from_nights
from detector.causes.profile import Profile
from detector.causes.rules import default_rules
from detector.causes.wording import format_clock as format_clock
from detector.causes.wording import format_date as format_date
from detector.causes.wording import format_duration as format_duration
from detector.causes.wording import to_local
from detector.episode import Episode
from detector.errors import CrampInputError
from detector.intervals import merge_intervals as merge_intervals
from detector.store.night_queries import load_nights_on, night_dates
from detector.store.nights import DayTotals, StoredNight
from detector.store.sleep import SleepNight, group_sleep_nights

LONG_CRAMP_S = 600.0
"""A cramp longer than this (10 min) is a reason to see a clinician promptly."""
FREQUENT_NIGHTS = 3
"""Cramps on at least this many of the last :data:`RECENT_DAYS` nights: see a clinician."""
RECENT_DAYS = 7
TREND_DAYS = 56
"""Trends cover at most the last eight weeks up to the newest night in the report."""
MIN_TREND_DAYS = 7
"""The trend axis spans at least a week."""


@dataclass(frozen=True, kw_only=True)
class NightSummary:
    """Summary numbers of one night (one sleep period, all its recordings together).

    Attributes
    ----------
    key : str
        The night's id in the report (``YYYY-MM-DD``, ``-2`` for a second night of a date).
    night_date : date
    legs : tuple of str
        Legs with a band (``"left"``, ``"right"``, ``"unknown"``), one per recording.
    start_utc, end_utc : datetime
        First recording start and last recording end.
    in_bed_start_utc, in_bed_end_utc : datetime or None
        Start of the first and end of the last in-bed period of any recording.
    time_in_bed_s : float
        Length of the union of the in-bed periods (s).
    n_episodes, n_in_bed : int
        All cramps, and those during the in-bed period.
    total_cramp_s, longest_cramp_s : float
        Sum and maximum of episode durations (s); 0 without episodes.
    first_onset_utc : datetime or None
    cramp_legs : tuple of str
        Legs with a cramp, sorted.
    longest_onset_utc : datetime or None
    cramps_per_hour_in_bed : float or None
        ``n_in_bed`` / hours in bed; ``None`` when no in-bed period was found.
    coverage_fraction : float or None
        Fraction of the recorded time with usable signal (0..1), weighted by length.
    n_gaps : int
        Number of data gaps (overlapping gaps of several channels count once).
    gap_s : float
        Time without data (s).
    poor_signal_s : float
        Time with unusable signal that is not a gap (flat or saturated: electrode lift) (s).
    """

    key: str
    night_date: date
    legs: tuple[str, ...]
    start_utc: datetime
    end_utc: datetime
    in_bed_start_utc: datetime | None
    in_bed_end_utc: datetime | None
    time_in_bed_s: float
    n_episodes: int
    n_in_bed: int
    total_cramp_s: float
    longest_cramp_s: float
    first_onset_utc: datetime | None
    cramp_legs: tuple[str, ...]
    longest_onset_utc: datetime | None
    cramps_per_hour_in_bed: float | None
    coverage_fraction: float | None
    n_gaps: int
    gap_s: float
    poor_signal_s: float


def _coverage(night: StoredNight) -> float | None:
    if night.coverage_fraction is not None:
        return night.coverage_fraction
    if night.duration_s <= 0:
        return None
    gaps = merge_intervals([(g.start_s, g.end_s) for g in night.gaps])
    missing = sum(b - a for a, b in gaps) + sum(q.end_s - q.start_s
                                                for q in night.quality_periods)
    return max(0.0, 1.0 - missing / night.duration_s)


def summarize_night(night: StoredNight | SleepNight) -> NightSummary:
    """Compute the summary numbers of one night (a sleep night, or a single recording)."""
    if isinstance(night, StoredNight):
        night = SleepNight(night_date=night.night_date, seq=1, n_on_date=1,
                           recordings=(night,))
    recs = night.recordings
    pairs = night.episodes
    eps = [e for _, e in pairs]
    bed = merge_intervals([(r.start_utc.timestamp() + a, r.start_utc.timestamp() + b)
                           for r in recs for a, b in r.in_bed_periods])
    time_in_bed = float(sum(b - a for a, b in bed))
    n_in_bed = sum(1 for e in eps if e.in_bed)
    n_gaps, gap_s = 0, 0.0
    for r in recs:
        gaps = merge_intervals([(g.start_s, g.end_s) for g in r.gaps])
        n_gaps += len(gaps)
        gap_s += float(sum(b - a for a, b in gaps))
    weights = [(c, r.duration_s) for r in recs if (c := _coverage(r)) is not None]
    total_w = sum(w for _, w in weights)
    coverage = (sum(c * w for c, w in weights) / total_w) if total_w > 0 else None
    longest = max(eps, key=lambda e: e.duration_s, default=None)
    return NightSummary(
        key=night.key,
        night_date=night.night_date,
        legs=tuple(r.leg for r in recs),
        start_utc=night.start_utc,
        end_utc=night.end_utc,
        in_bed_start_utc=datetime.fromtimestamp(bed[0][0], UTC) if bed else None,
        in_bed_end_utc=datetime.fromtimestamp(bed[-1][1], UTC) if bed else None,
        time_in_bed_s=time_in_bed,
        n_episodes=len(eps),
        n_in_bed=n_in_bed,
        total_cramp_s=float(sum(e.duration_s for e in eps)),
        longest_cramp_s=float(longest.duration_s) if longest else 0.0,
        first_onset_utc=eps[0].onset_utc if eps else None,
        cramp_legs=tuple(sorted({e.leg for e in eps})),
        longest_onset_utc=longest.onset_utc if longest else None,
        cramps_per_hour_in_bed=n_in_bed / (time_in_bed / 3600.0) if time_in_bed > 0 else None,
        coverage_fraction=coverage,
        n_gaps=n_gaps,
        gap_s=gap_s,
        poor_signal_s=float(sum(q.end_s - q.start_s for r in recs
                                for q in r.quality_periods)),
    )


def headline(s: NightSummary, local: tzinfo | None) -> str:
    """The night in one line: ``"2 cramps, longest 2 min 30 s, first at 02:17, right calf"``.

    Parameters
    ----------
    s : NightSummary
    local : tzinfo or None
        Zone of the clock time.
    """
    if s.n_episodes == 0 or s.first_onset_utc is None:
        return "no cramp recorded"
    first = format_clock(s.first_onset_utc, local)
    if s.n_episodes == 1:
        text = f"1 cramp, {format_duration(s.longest_cramp_s)}, at {first}"
    else:
        text = (f"{s.n_episodes} cramps, longest {format_duration(s.longest_cramp_s)}, "
                f"first at {first}")
    legs = set(s.cramp_legs) & {"left", "right"}
    if legs == {"left", "right"}:
        return text + ", both calves"
    if legs:
        return text + f", {legs.pop()} calf"
    return text


@dataclass(frozen=True, kw_only=True)
class RedFlag:
    """A reason to see a clinician, from the cause rules' red flags.

    Attributes
    ----------
    kind : str
        Rule id, e.g. ``"long_cramp"``, ``"frequent"``, ``"both_legs"``, ``"very_frequent"``,
        ``"new_medicine"`` or a warning sign from the diary.
    urgent : bool
        ``True`` when the advice is to see a clinician promptly.
    night_date : date
        Night the flag is about (the newest night of the period when not about one night).
    text : str
        Plain-words sentence for the reader.
    """

    kind: str
    urgent: bool
    night_date: date
    text: str


def flags_of(report: CauseReport) -> list[RedFlag]:
    """The red-flag findings of a cause report as :class:`RedFlag` items, urgent first."""
    return [RedFlag(kind=f.rule_id, urgent=f.level == "urgent",
                    night_date=f.night_date or report.last, text=f.text)
            for f in report.red_flags]


def red_flags(
    nights: list[StoredNight], recent: list[DayTotals], *, local: tzinfo | None,
    one_per_recording: bool = False,
) -> list[RedFlag]:
    """Red flags the detector itself can see (no diary, no profile), most urgent first.

    Parameters
    ----------
    nights : list of StoredNight
        The nights in the report.
    recent : list of DayTotals
        Stored nights of the :data:`RECENT_DAYS` days up to the newest night in the report.
    local : tzinfo or None
        Zone for the clock times in the text (``None`` = the machine's zone).

    Returns
    -------
    list of RedFlag
    """
    facts = {t.night_date: NightFacts(night_date=t.night_date, n_episodes=t.n_episodes,
                                      legs=frozenset(t.legs), longest_cramp_s=0.0,
                                      longest_onset_utc=None) for t in recent}
    facts.update(facts_from_nights(nights, one_per_recording=one_per_recording))
    dates = [n.night_date for n in nights] or [t.night_date for t in recent]
    if not dates:
        return []
    report = evaluate(History(nights=facts, diary={}, profile=Profile()), first=min(dates),
                      last=max(dates), rules=default_rules(), local=local)
    return flags_of(report)


def recent_window(newest: date) -> tuple[date, date]:
    """First and last night date of the red-flag window ending at ``newest``."""
    return newest - timedelta(days=RECENT_DAYS - 1), newest


def trend_window(newest: date) -> tuple[date, date]:
    """First and last night date of the trend plots ending at ``newest``."""
    return newest - timedelta(days=TREND_DAYS - 1), newest


# ------------------------------------------------------------------ formatting


def zone_label(local: tzinfo | None, at: datetime) -> str:
    """Name of the zone times are shown in, e.g. ``"Europe/Berlin (CET)"``."""
    here = to_local(at, local)
    abbr = here.tzname() or here.strftime("%z")
    if local is None:
        return f"{abbr}, this computer's time zone"
    key = getattr(local, "key", None)
    return f"{key} ({abbr})" if key and key != abbr else abbr


def format_rate(value: float | None) -> str:
    """Cramps per hour with two decimals, or ``"not known"``."""
    return "not known" if value is None else f"{value:.2f}"


def format_percent(fraction: float | None) -> str:
    """A fraction as a whole percent, or ``"not known"``."""
    return "not known" if fraction is None else f"{100.0 * fraction:.0f}%"


def episode_label(e: Episode) -> str:
    """Which leg, in words."""
    return {"left": "left leg", "right": "right leg"}.get(e.leg, "leg not recorded")


def set_aside_lines(night: SleepNight, local: tzinfo | None) -> list[str]:
    """One sentence per contraction that was announced live and then set aside by a later
    look (in time order over the night's recordings), so an alert seen in the night is
    accounted for in the morning; empty when there was none."""
    runs = sorted(((rec.utc_at(w.onset_s), w) for rec in night.recordings
                   for w in rec.set_aside), key=lambda p: p[0])
    return [f"An alert at {format_clock(at, local)} was set aside after "
            f"{format_duration(max(0.0, w.withdrawn_s - w.onset_s))}: {w.reason}. "
            "It is not counted as a cramp." for at, w in runs]


# ------------------------------------------------------------------ collecting


@dataclass(frozen=True, kw_only=True)
class Trends:
    """Nights of the trend window, for the plots over several nights.

    Attributes
    ----------
    days : list of DayTotals
        One per night date with a stored night (the worst night when a date has several).
    onset_hours : list of float
        Local clock hour (0..24) of every cramp onset in the window.
    first, last : date
        The window.
    """

    days: list[DayTotals]
    onset_hours: list[float]
    first: date
    last: date


@dataclass(frozen=True, kw_only=True)
class ReportData:
    """Everything a report shows, read from the store.

    Attributes
    ----------
    nights : list of SleepNight
        The nights in the report, newest first (each one sleep period, all its recordings).
    summaries : list of NightSummary
        One per night, same order.
    flags : list of RedFlag
        Red flags, most urgent first.
    trends : Trends or None
        ``None`` with fewer than two stored nights in the trend window.
    local : tzinfo or None
        Display zone (``None`` = the machine's zone).
    generated_utc : datetime
        When the report was made.
    causes : CauseReport or None
        Findings of the cause rules over the reported nights (red flags, factors, advice).
    store_note : str
        What kind of nights these are when not the sleeper's own (demo or replays store).
    """

    nights: list[SleepNight]
    summaries: list[NightSummary]
    flags: list[RedFlag]
    trends: Trends | None
    local: tzinfo | None
    generated_utc: datetime
    causes: CauseReport | None = None
    store_note: str = ""


STORE_NOTES: dict[str, str] = {
    "demo": "Simulated demo nights (the demo store), not nights of yours.",
    "replays": "Replayed recordings (the replays store: sample files and tuning replays), each "
               "shown as its own night; not nights of yours.",
}
"""The notice at the top of a report of a store that does not hold the sleeper's nights."""


def trends_of(recordings: list[StoredNight], *, first: date, last: date,
              local: tzinfo | None, one_per_recording: bool = False) -> Trends:
    """Per-night totals and cramp onset hours of the recordings dated ``first`` to ``last``."""
    worst: dict[date, DayTotals] = {}
    hours: list[float] = []
    for night in group_sleep_nights(recordings, one_per_recording=one_per_recording):
        if not first <= night.night_date <= last:
            continue
        eps = [e for _, e in night.episodes]
        for e in eps:
            here = to_local(e.onset_utc, local)
            hours.append(here.hour + here.minute / 60.0)
        t = DayTotals(night_date=night.night_date, n_nights=night.n_on_date,
                      n_episodes=len(eps), total_cramp_s=float(sum(e.duration_s for e in eps)),
                      legs=tuple(sorted({e.leg for e in eps})))
        prev = worst.get(night.night_date)
        if prev is None or (t.n_episodes, t.total_cramp_s) > (prev.n_episodes,
                                                              prev.total_cramp_s):
            worst[night.night_date] = t
    days = [worst[d] for d in sorted(worst)]
    if days:  # the axis starts shortly before the first stored night, showing a week or more
        first = max(first, min(days[0].night_date - timedelta(days=1),
                               last - timedelta(days=MIN_TREND_DAYS - 1)))
    return Trends(days=days, onset_hours=hours, first=first, last=last)


def collect_report(conn: sqlite3.Connection, dates: list[date], *, local: tzinfo | None,
                   generated_utc: datetime, with_trace: bool = True,
                   one_per_recording: bool = False, store_kind: str | None = None
                   ) -> ReportData:
    """Read the nights of ``dates`` and compute summaries, findings, red flags and trends.

    Parameters
    ----------
    conn : sqlite3.Connection
        Open episode store.
    dates : list of date
        Night dates to report (at least one, each with a stored night).
    local : tzinfo or None
        Display zone.
    generated_utc : datetime
        Time stamp shown in the report.
    with_trace : bool
        Load the per-second traces (needed for the plots, not for the text summary).
    one_per_recording : bool
        Every recording is its own night (the replays store); else recordings of one sleep
        period are merged into one night.
    store_kind : str, optional
        ``"demo"`` or ``"replays"`` put a notice at the top (:data:`STORE_NOTES`).

    Raises
    ------
    CrampInputError
        If ``dates`` is empty or a date has no stored night.
    """
    if not dates:
        raise CrampInputError("episode store", "no nights stored yet")
    recordings: list[StoredNight] = []
    for d in sorted(set(dates)):
        on_date = load_nights_on(conn, d, with_trace=with_trace)
        if not on_date:
            raise CrampInputError("--night", f"no night dated {d.isoformat()} in the store")
        recordings.extend(on_date)
    nights = group_sleep_nights(recordings, one_per_recording=one_per_recording)[::-1]
    newest = max(dates)
    causes = evaluate_store(conn, dates, rules=default_rules(), local=local,
                            one_per_recording=one_per_recording)
    first, last = trend_window(newest)
    window = [n for d in night_dates(conn) if first <= d <= last
              for n in load_nights_on(conn, d, with_trace=False)]
    trends = trends_of(window, first=first, last=last, local=local,
                       one_per_recording=one_per_recording)
    return ReportData(
        nights=nights,
        summaries=[summarize_night(n) for n in nights],
        flags=flags_of(causes),
        causes=causes,
        trends=trends if len(trends.days) >= 2 else None,
        local=local,
        generated_utc=generated_utc,
        store_note=STORE_NOTES.get(store_kind or "", ""),
    )
