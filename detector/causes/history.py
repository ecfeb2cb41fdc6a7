"""What the cause rules look at: one set of facts per night date, the diary and the profile.

:func:`load_history` reads them from the episode store; the engine
(:mod:`detector.causes.engine`) and the condition evaluators
(:mod:`detector.causes.condition_eval`) only read a :class:`History`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from detector.causes.diary import DiaryEntry, load_entries
from detector.causes.profile import Profile, load_profile
from detector.store.night_queries import load_nights_on, night_dates
from detector.store.nights import StoredNight


@dataclass(frozen=True, kw_only=True)
class NightFacts:
    """What the detector saw on one night date (all recordings of that date together).

    Attributes
    ----------
    night_date : date
    n_episodes : int
    legs : frozenset of str
        Legs with a cramp.
    longest_cramp_s : float
        0 without cramps.
    longest_onset_utc : datetime or None
        Start of the longest cramp.
    n_sleep_nights, n_cramp_sleep_nights : int
        Separate sleep nights on this date (two unrelated demo runs of one evening, or files in
        the replays store, are two) and how many of them had a cramp. The other measures are
        of the worst of them; these two are what the period's night counts add up.
    """

    night_date: date
    n_episodes: int
    legs: frozenset[str]
    longest_cramp_s: float
    longest_onset_utc: datetime | None
    n_sleep_nights: int = 1
    n_cramp_sleep_nights: int | None = None

    @property
    def cramp_sleep_nights(self) -> int:
        """Sleep nights of this date with a cramp (1 or 0 when not counted separately)."""
        if self.n_cramp_sleep_nights is not None:
            return self.n_cramp_sleep_nights
        return 1 if self.n_episodes > 0 else 0


def facts_from_nights(nights: Iterable[StoredNight], *, one_per_recording: bool = False
                      ) -> dict[date, NightFacts]:
    """Combine stored recordings into one :class:`NightFacts` per night date.

    Recordings are first merged into sleep nights (:mod:`detector.store.sleep`): counts and
    legs are per sleep night. A date with several separate nights (two demo runs of one
    evening) gets the facts of its worst night, so nothing is summed across nights.
    """
    from detector.store.sleep import group_sleep_nights

    out: dict[date, NightFacts] = {}
    for night in group_sleep_nights(list(nights), one_per_recording=one_per_recording):
        eps = [e for _, e in night.episodes]
        longest = max(eps, key=lambda e: e.duration_s, default=None)
        facts = NightFacts(
            night_date=night.night_date, n_episodes=len(eps),
            legs=frozenset(e.leg for e in eps),
            longest_cramp_s=longest.duration_s if longest else 0.0,
            longest_onset_utc=longest.onset_utc if longest else None)
        prev = out.get(night.night_date)
        out[night.night_date] = facts if prev is None else _worse(prev, facts)
    return out


def _worse(a: NightFacts, b: NightFacts) -> NightFacts:
    """Per measure, the worse of two separate nights of one date."""
    longest = a if a.longest_cramp_s >= b.longest_cramp_s else b
    legs = a.legs if len(a.legs) >= len(b.legs) else b.legs
    return NightFacts(night_date=a.night_date, n_episodes=max(a.n_episodes, b.n_episodes),
                      legs=legs, longest_cramp_s=longest.longest_cramp_s,
                      longest_onset_utc=longest.longest_onset_utc,
                      n_sleep_nights=a.n_sleep_nights + b.n_sleep_nights,
                      n_cramp_sleep_nights=a.cramp_sleep_nights + b.cramp_sleep_nights)


@dataclass(frozen=True, kw_only=True)
class History:
    """Everything the rules look at: recorded nights, diary entries and the profile."""

    nights: Mapping[date, NightFacts]
    diary: Mapping[date, DiaryEntry]
    profile: Profile


def load_history(conn: sqlite3.Connection, *, last: date, one_per_recording: bool = False
                 ) -> History:
    """Read every night, diary entry and the profile up to the night date ``last``.

    ``one_per_recording``: every recording is its own night (the replays store).
    """
    nights = [n for d in night_dates(conn) if d <= last
              for n in load_nights_on(conn, d, with_trace=False)]
    return History(nights=facts_from_nights(nights, one_per_recording=one_per_recording),
                   diary=load_entries(conn, None, last),
                   profile=load_profile(conn))
