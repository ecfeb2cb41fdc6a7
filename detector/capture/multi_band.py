"""A night recorded from several bands: one capture per band, replayed together.

A multi-band night writes one crash-safe capture per band and a small *night manifest*
(``*.night.json``, 0600) naming them, the leg each band is on, and the night's time origin
(``night_start_unix_s``: the host time the night began). :class:`MultiBandRecording` streams
the captures of one leg as one recording: each band's samples are put on the night's time
base by :func:`band_offset_samples` (its first sample's time less the origin, in samples of
its own rate), and the blocks of all bands are merged in time order. The live recorder
(:mod:`detector.ble.multi_band`) places the blocks with the same function and the same
per-band start times (the bands' assemblers give the same start from the same packets), so a
replayed night gives the pipeline what the live run gave it.

Each band keeps its own gaps (a dropout of one band leaves the others untouched); a band
that started streaming after the night began shows a gap from the origin to its first
sample.

One band may cover both legs (a 4-channel Ganglion with a channel on each calf): its entry's
leg is ``"both"`` and its roles carry their leg (``emg@left``, ``emg@right``); each leg's
replay takes that band's roles of its own leg (:func:`split_role`).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from detector.errors import CrampInputError
from detector.night.band_drift import DriftGrid, drift_grid
from detector.safe_files import write_private_text
from detector.signals import ChannelSpec, Gap, RecordingInfo, SignalBlock

MANIFEST_SUFFIX = ".night.json"
MANIFEST_FORMAT = "cramp-night/1"
EARLY_DRIFT_SEGMENT_S = 10.0
"""Drift segment of a manifest without ``drift_segment_s`` (written before the field, when
the segment was fixed at 10 s)."""


BOTH_LEGS = "both"
"""Leg of a band entry that covers both legs (its roles say which is which)."""


def split_role(role: str) -> tuple[str, str | None]:
    """``"emg@left"`` -> ``("emg", "left")``; a role without a leg -> ``(role, None)``."""
    base, sep, leg = role.partition("@")
    return base, (leg if sep else None)


def entry_legs(entry: BandEntry) -> tuple[str, ...]:
    """The legs a band entry covers (both legs: from its roles)."""
    if entry.leg != BOTH_LEGS:
        return (entry.leg,)
    return tuple(sorted({leg for r in entry.roles if (leg := split_role(r)[1]) is not None}))


def night_legs(entries: list[BandEntry]) -> list[str]:
    """Every leg of a night, sorted."""
    return sorted({leg for e in entries for leg in entry_legs(e)})


def band_offset_samples(start_unix_s: float, *, night_start_unix_s: float, fs: float) -> int:
    """Samples from the night's origin to a band's first sample (its own rate ``fs``).

    The start is taken at microsecond resolution (as a capture header's time) so that live
    and replay place a band identically.
    """
    start = datetime.fromtimestamp(start_unix_s, UTC).timestamp()
    return round((start - night_start_unix_s) * fs)


@dataclass(frozen=True, kw_only=True)
class BandEntry:
    """One band of a multi-band night.

    Attributes
    ----------
    capture : str
        Capture file name, relative to the manifest's directory.
    band : str
        Band kind (a name of :data:`detector.bands.registry.BANDS`).
    leg : str
        ``"left"``, ``"right"`` or ``"unknown"``.
    roles : tuple of str
        Pipeline roles the band feeds (``emg``, ``shank_acc``, ``foot_acc``).
    """

    capture: str
    band: str
    leg: str
    roles: tuple[str, ...]

    @property
    def label(self) -> str:
        """How lines name this band: kind, leg and roles (``polar_pmd (left, foot_acc)``).

        The roles tell apart the two bands of a pair, which share kind and leg.
        """
        return f"{self.band} ({self.leg}, {'/'.join(self.roles)})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"capture": self.capture, "band": self.band, "leg": self.leg,
                "roles": list(self.roles)}


def write_manifest(path: Path, *, night_start_unix_s: float, entries: list[BandEntry],
                   drift_segment_s: float = EARLY_DRIFT_SEGMENT_S) -> None:
    """Write the night manifest (owner-only, replaced atomically); ``drift_segment_s`` is the
    drift segment the live run placed the bands with (the config's ``band_drift_segment_s``),
    so that a replay places them the same way."""
    doc = {"format": MANIFEST_FORMAT, "night_start_unix_s": night_start_unix_s,
           "drift_segment_s": drift_segment_s, "bands": [e.to_dict() for e in entries]}
    write_private_text(path, json.dumps(doc, indent=2) + "\n")


def read_manifest(path: Path) -> tuple[float, list[BandEntry]]:
    """Read a night manifest: its origin and its bands (:func:`read_night_manifest`)."""
    start, entries, _segment = read_night_manifest(path)
    return start, entries


def read_night_manifest(path: Path) -> tuple[float, list[BandEntry], float]:
    """Read a night manifest: origin (host s), bands, drift segment (s).

    Raises
    ------
    CrampInputError
        Not a manifest, or a field missing or of the wrong type.
    """
    where = Path(path).name
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CrampInputError(where, f"cannot read the night manifest ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise CrampInputError(where, f"not a night manifest (expected format "
                              f"{MANIFEST_FORMAT!r})")
    start, bands = doc.get("night_start_unix_s"), doc.get("bands")
    if not isinstance(start, int | float) or not isinstance(bands, list) or not bands:
        raise CrampInputError(where, "needs a number night_start_unix_s and a list of bands")
    entries = []
    for k, b in enumerate(bands):
        ok = isinstance(b, dict) and all(isinstance(b.get(f), str)
                                         for f in ("capture", "band", "leg")) \
            and isinstance(b.get("roles"), list)
        if not ok or "/" in b["capture"] or b["capture"].startswith("."):
            raise CrampInputError(where, f"bands[{k}] needs capture (a file name), band, leg "
                                  "and roles")
        entries.append(BandEntry(capture=b["capture"], band=b["band"], leg=b["leg"],
                                 roles=tuple(str(r) for r in b["roles"])))
    segment = doc.get("drift_segment_s", EARLY_DRIFT_SEGMENT_S)
    if isinstance(segment, bool) or not isinstance(segment, int | float) or not segment > 0:
        raise CrampInputError(where, "drift_segment_s must be a positive number")
    return float(start), entries, float(segment)


class MultiBandRecording:
    """The bands of one leg of a multi-band night, streamed as one recording.

    Parameters
    ----------
    path : Path
        The night manifest.
    leg : str, optional
        Leg to replay; required when the night has bands on both legs.
    min_emg_fs_hz : float, optional
        Slowest EMG rate accepted (Hz).

    Raises
    ------
    CrampInputError
        A bad manifest, a missing or unusable capture, two bands feeding one role of a leg.
    """

    def __init__(self, path: Path, *, leg: str | None = None,
                 min_emg_fs_hz: float | None = None) -> None:
        from detector.capture.recording import open_capture

        self.path = Path(path)
        where = self.path.name
        self.night_start_unix_s, entries, self.drift_segment_s = read_night_manifest(self.path)
        legs = night_legs(entries)
        if leg is None and len(legs) > 1:
            raise CrampInputError(where, "the night has bands on both legs; choose one with "
                                  "--leg " + " or ".join(legs))
        self.leg = leg or legs[0]
        chosen = [e for e in entries if self.leg in entry_legs(e)]
        if not chosen:
            raise CrampInputError(where, f"no band on the {self.leg} leg")
        self.sources = []
        self._bands = [e.band for e in chosen]
        channels: dict[str, ChannelSpec] = {}
        self.offsets: list[dict[str, int]] = []
        self._drift: dict[tuple[int, str], DriftGrid | None] = {}
        """Per (band, role): the drift placement of a band indexed by its own clock."""
        self.renames: list[dict[str, str]] = []
        """Per band: its role -> the leg's role (roles of the other leg left out)."""
        notes: list[str] = []
        ends: list[float] = []
        for e in chosen:
            src = open_capture(self.path.parent / e.capture, min_emg_fs_hz=min_emg_fs_hz)
            start = src.info.start_utc.timestamp()
            offsets, renames = {}, {}
            for role, spec in src.info.channels.items():
                base, role_leg = split_role(role)
                if role_leg not in (None, self.leg):
                    continue
                if base in channels:
                    raise CrampInputError(where, f"two bands feed {base} of the {self.leg} leg")
                channels[base] = spec
                renames[role] = base
                offsets[role] = band_offset_samples(start, fs=spec.fs,
                                                    night_start_unix_s=self.night_start_unix_s)
            self.renames.append(renames)
            self.sources.append(src)
            self.offsets.append(offsets)
            notes.extend(f"{e.band} ({e.capture}): {n}" for n in src.info.notes)
            ends.append(start - self.night_start_unix_s + src.info.duration_s)
        self.info = RecordingInfo(
            path=str(self.path), start_utc=datetime.fromtimestamp(self.night_start_unix_s, UTC),
            duration_s=max(ends), channels=channels,
            leg=self.leg if self.leg in ("left", "right") else "unknown",
            file_format="multi-band capture", notes=tuple(notes))

    def blocks(self, chunk_s: float) -> Iterator[tuple[str, SignalBlock]]:
        """Yield ``(role, block)`` pairs of all bands in time order, on the night's time base."""
        streams = [self._shifted(k, src.blocks(chunk_s)) for k, src in enumerate(self.sources)]
        for _t, _k, role, block in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
            yield role, block

    def _shifted(self, k: int, blocks: Iterator[tuple[str, SignalBlock]]
                 ) -> Iterator[tuple[float, int, str, SignalBlock]]:
        for role, block in blocks:
            if role not in self.renames[k]:
                continue  # the other leg's channel of a band on both legs
            if (k, role) not in self._drift:
                self._drift[(k, role)] = drift_grid(self._bands[k],
                                                    getattr(self.sources[k], "_last", None),
                                                    role, fs_hz=block.fs,
                                                    segment_s=self.drift_segment_s)
            grid = self._drift[(k, role)]
            if grid is not None:
                placed = grid.place(block)
                if placed is None:
                    continue
                block = placed
            shifted = SignalBlock(data=block.data, fs=block.fs,
                                  start_sample=block.start_sample + self.offsets[k][role])
            yield shifted.start_sample / shifted.fs, k, self.renames[k][role], shifted

    @property
    def gaps(self) -> list[Gap]:
        """Each band's gaps, on the night's time base."""
        out = []
        for k, src in enumerate(self.sources):
            for g in src.gaps:
                if g.role not in self.renames[k]:
                    continue
                role = self.renames[k][g.role]
                fs = self.info.channels[role].fs
                grid = self._drift.get((k, g.role))
                start = round(g.start_s * fs)
                drift = grid.shift_at(start - 1) if grid is not None else 0
                shift = self.offsets[k][g.role] + drift  # samples, as the live blocks move
                # in samples, then seconds: the live pipeline's gap is index / fs too
                out.append(Gap(role=role, start_s=(start + shift) / fs,
                               end_s=(round(g.end_s * fs) + shift) / fs,
                               samples_missing=g.samples_missing))
        return out

    def close(self) -> None:
        """Close every band's capture."""
        for src in self.sources:
            src.close()

    def __enter__(self) -> MultiBandRecording:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
