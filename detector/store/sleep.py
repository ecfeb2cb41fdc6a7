"""Nights as sleep periods: the recordings of one person's sleep, merged by time.

The store keeps one ``nights`` row per recording. A *sleep night* is what a person means by a
night: one sleep period, however many recordings it took. Two bands (one per leg, or a leg band
and a foot band) record side by side; a reconnect after a dropout starts a new file. So the
recordings of one night date are merged when they overlap or follow each other within
:data:`SAME_NIGHT_GAP_S`. Two recordings that overlap in time from the same kind of source on
the same leg cannot be one person's sleep (one band cannot record twice at once): they are
kept as separate nights of that date (two demo runs of one evening, say).

The replays store holds unrelated files (sample recordings, tuning replays): there every
recording is its own night (``one_per_recording=True``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from detector.episode import Episode
from detector.store.nights import StoredNight

SAME_NIGHT_GAP_S = 3 * 3600.0
"""Recordings of one night date this close (s) or closer belong to one sleep period."""
SAME_SOURCE_OVERLAP_S = 60.0
"""Two same-source recordings overlapping longer than this (s) are separate nights."""


@dataclass(frozen=True, kw_only=True)
class SleepNight:
    """One sleep period of one person: its recordings, merged by time.

    Attributes
    ----------
    night_date : date
        Local date of the evening the night began.
    seq : int
        1 for the first (or only) night of the date, 2 for a second one, ...
    n_on_date : int
        Number of separate nights of that date.
    recordings : tuple of StoredNight
        By start time.
    """

    night_date: date
    seq: int
    n_on_date: int
    recordings: tuple[StoredNight, ...]

    @property
    def start_utc(self) -> datetime:
        """Start of the earliest recording."""
        return min(r.start_utc for r in self.recordings)

    @property
    def end_utc(self) -> datetime:
        """End of the latest recording."""
        return max(r.end_utc for r in self.recordings)

    @property
    def duration_s(self) -> float:
        """From the first start to the last end (s)."""
        return (self.end_utc - self.start_utc).total_seconds()

    @property
    def key(self) -> str:
        """Stable id: the date, plus ``-2``, ``-3`` for further nights of the date."""
        return self.night_date.isoformat() + ("" if self.seq == 1 else f"-{self.seq}")

    @property
    def episodes(self) -> list[tuple[StoredNight, Episode]]:
        """Every episode of every recording with its recording, by onset time."""
        pairs = [(r, e) for r in self.recordings for e in r.episodes]
        return sorted(pairs, key=lambda p: (p[1].onset_utc, p[0].night_id))

    @property
    def legs(self) -> frozenset[str]:
        """Legs with a cramp."""
        return frozenset(e.leg for r in self.recordings for e in r.episodes)


def _source(r: StoredNight) -> tuple[str, str, tuple[str, ...]]:
    return r.leg, r.file_format, tuple(sorted(r.channels))


def _overlap_s(a: StoredNight, b: StoredNight) -> float:
    return (min(a.end_utc, b.end_utc) - max(a.start_utc, b.start_utc)).total_seconds()


def _fits(group: list[StoredNight], r: StoredNight) -> bool:
    start = min(g.start_utc for g in group) - timedelta(seconds=SAME_NIGHT_GAP_S)
    end = max(g.end_utc for g in group) + timedelta(seconds=SAME_NIGHT_GAP_S)
    if r.start_utc > end or r.end_utc < start:
        return False
    return not any(_source(g) == _source(r) and _overlap_s(g, r) > SAME_SOURCE_OVERLAP_S
                   for g in group)


def group_sleep_nights(recordings: list[StoredNight], *, one_per_recording: bool = False
                       ) -> list[SleepNight]:
    """Merge stored recordings into sleep nights.

    Parameters
    ----------
    recordings : list of StoredNight
        Any stored recordings (any dates).
    one_per_recording : bool
        Make every recording its own night (unrelated files, as in the replays store).

    Returns
    -------
    list of SleepNight
        Oldest first: by date, then by start time.
    """
    by_date: dict[date, list[StoredNight]] = {}
    for r in sorted(recordings, key=lambda r: (r.start_utc, r.night_id)):
        by_date.setdefault(r.night_date, []).append(r)
    out: list[SleepNight] = []
    for d in sorted(by_date):
        groups: list[list[StoredNight]] = []
        for r in by_date[d]:
            home = None if one_per_recording else next(
                (g for g in groups if _fits(g, r)), None)
            if home is None:
                groups.append([r])
            else:
                home.append(r)
        out.extend(SleepNight(night_date=d, seq=i, n_on_date=len(groups), recordings=tuple(g))
                   for i, g in enumerate(groups, start=1))
    return out
