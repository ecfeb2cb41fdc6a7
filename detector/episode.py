"""The cramp episode record and the live events announcing it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Episode:
    """One detected cramp.

    Attributes
    ----------
    onset_s, offset_s : float
        Start and end, seconds from the recording start.
    onset_utc : datetime
        Start as a timezone-aware UTC time.
    leg : {"left", "right", "unknown"}
        Leg the band was on.
    in_bed : bool
        Whether the episode happened in the in-bed period (lying, inside the night window).
    peak_emg_uv, mean_emg_uv : float or None
        Peak and mean EMG envelope (RMS, uV) over the episode; ``None`` without EMG.
    plantar_flexion_deg : float or None
        Median foot-to-shank angle beyond neutral while the episode lasted (deg, positive =
        toes pointed); ``None`` without both accelerometers or when it could not be measured.
    confidence : float
        Score from 0 to 1 of how strongly the evidence points to a cramp.
    evidence : tuple of str
        The kinds of evidence seen (e.g. ``"sustained_emg"``, ``"plantar_flexion"``).
    quality_notes : tuple of str
        Signal-quality remarks about the episode (e.g. ``"ended at data gap"``).
    """

    onset_s: float
    offset_s: float
    onset_utc: datetime
    leg: str
    in_bed: bool
    peak_emg_uv: float | None
    mean_emg_uv: float | None
    plantar_flexion_deg: float | None
    confidence: float
    evidence: tuple[str, ...]
    quality_notes: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        """Length of the episode in seconds."""
        return self.offset_s - self.onset_s

    def to_dict(self) -> dict[str, Any]:
        """Return the episode as JSON-ready values (times as ISO 8601 UTC strings)."""
        return {
            "onset_s": round(self.onset_s, 3),
            "offset_s": round(self.offset_s, 3),
            "duration_s": round(self.duration_s, 3),
            "onset_utc": self.onset_utc.isoformat().replace("+00:00", "Z"),
            "leg": self.leg,
            "in_bed": self.in_bed,
            "peak_emg_uv": _round(self.peak_emg_uv, 2),
            "mean_emg_uv": _round(self.mean_emg_uv, 2),
            "plantar_flexion_deg": _round(self.plantar_flexion_deg, 1),
            "confidence": round(self.confidence, 3),
            "evidence": list(self.evidence),
            "quality_notes": list(self.quality_notes),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True, kw_only=True)
class EpisodeStarted:
    """Live event: a contraction has met the cramp criterion (sustained long enough).

    Attributes
    ----------
    onset_s : float
        Start of the contraction, seconds from the recording start.
    confirmed_s : float
        Time at which the criterion was met (``onset_s + min_duration_s``).
    """

    onset_s: float
    confirmed_s: float


@dataclass(frozen=True, kw_only=True)
class EpisodeEnded:
    """Live event: an episode has ended; ``episode`` is its final record."""

    episode: Episode


@dataclass(frozen=True, kw_only=True)
class EpisodeWithdrawn:
    """Live event: an announced contraction (:class:`EpisodeStarted` with this ``onset_s``)
    was shown by a later, longer look not to be a cramp (e.g. the stride rhythm of walking).
    It never becomes an :class:`Episode`: no :class:`EpisodeEnded` follows, and every consumer
    (live display, band counters, live store, replay) drops it.

    Attributes
    ----------
    onset_s : float
        Start of the withdrawn contraction, seconds from the recording start.
    withdrawn_s : float
        Time at which the later look was complete (seconds from the recording start).
    reason : str
        What the later look showed (plain words, e.g. ``"rhythmic activity (walking)"``).
    """

    onset_s: float
    withdrawn_s: float
    reason: str


EpisodeEvent = EpisodeStarted | EpisodeEnded | EpisodeWithdrawn
