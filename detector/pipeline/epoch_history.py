"""The episode detector's kept per-epoch history, chunk by chunk, and windows read from it.

A run's onset, decay and evidence windows look back tens of epochs; chunks hold thousands.
So the history keeps each pushed chunk as it came and a window copies only the pieces of the
chunks it overlaps, never a join of everything kept (which would grow with the chunk size).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from detector.pipeline.features import EpochFeatures


class HistoryChunk(NamedTuple):
    """What the detector keeps of one pushed chunk (each array shape (n_epochs,))."""

    features: EpochFeatures
    """The chunk's epoch features."""
    rest_uv: np.ndarray
    """Resting EMG level (uV)."""
    active: np.ndarray
    """Active flags, with the EMG-only hold."""
    tremor_rest_g: np.ndarray
    """Resting tremor level (g)."""
    tonic_ref_uv: np.ndarray
    """The standing tonic reference: highest settled resting EMG level up to each epoch (uV)."""
    strong: np.ndarray
    """The activity threshold's own flags, without the hold."""
    hold_angle_deg: np.ndarray
    """The foot's angle as a held lull reads it (deg; NaN where moving or unknown, see
    :meth:`~detector.pipeline.episodes.EpisodeDetector._held_through`)."""
    emg_rests: np.ndarray
    """The EMG seen at rest (the accelerometer case's veto); False without EMG."""


class EpochHistory:
    """Kept chunks of per-epoch detector state, oldest first."""

    def __init__(self) -> None:
        self.chunks: list[HistoryChunk] = []

    def append(self, chunk: HistoryChunk) -> None:
        """Keep the next chunk (it follows the last one); its arrays become read-only, since
        windows hand out views of them."""
        for value in (*chunk[1:], *(getattr(chunk.features, f.name)
                                    for f in dataclasses.fields(chunk.features))):
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
        self.chunks.append(chunk)

    def clear(self) -> None:
        """Forget everything (end of stream)."""
        self.chunks.clear()

    def trim(self, keep_from: int) -> None:
        """Drop the chunks that end at or before epoch ``keep_from``."""
        while self.chunks and (self.chunks[0].features.first_epoch
                               + self.chunks[0].features.n_epochs) <= keep_from:
            self.chunks.pop(0)

    @property
    def first_epoch(self) -> int:
        """First epoch still kept (the history must not be empty)."""
        return self.chunks[0].features.first_epoch

    def _overlaps(self, start: int, stop: int) -> list[tuple[int, int, int]]:
        """``(chunk, lo, hi)`` of the kept chunks holding epochs ``[start, stop)`` (indices in
        the chunk; the first chunk's empty range if none)."""
        kept = []
        for i, c in enumerate(self.chunks):
            first = c.features.first_epoch
            if first >= stop:  # the chunks follow each other: none further on overlaps
                break
            lo = max(start, first) - first
            hi = min(stop - first, c.features.envelope_uv.shape[0])
            if hi > lo:
                kept.append((i, lo, hi))
        if kept:
            return kept
        first = self.chunks[0].features.first_epoch
        lo = max(start, first) - first
        return [(0, lo, lo)]

    def column(self, name: str, start: int, stop: int) -> np.ndarray:
        """The per-epoch array ``name`` (a :class:`HistoryChunk` field other than
        ``features``) over epochs ``[start, stop)``: read-only, a view of the kept chunk when
        the window lies in one (most windows: they are short beside a chunk)."""
        parts = self._overlaps(start, stop)
        if len(parts) == 1:
            i, lo, hi = parts[0]
            return _read_only(getattr(self.chunks[i], name)[lo:hi])
        return np.concatenate([getattr(self.chunks[i], name)[lo:hi] for i, lo, hi in parts])

    def feature(self, name: str, start: int, stop: int) -> np.ndarray:
        """The :class:`EpochFeatures` array ``name`` (one that every chunk has, not
        ``incline_deg`` or ``pull_deg``) over epochs ``[start, stop)``, as
        ``window(start, stop)[0]`` holds it, without slicing the other features: read-only."""
        parts = self._overlaps(start, stop)
        if len(parts) == 1:
            i, lo, hi = parts[0]
            return _read_only(getattr(self.chunks[i].features, name)[lo:hi])
        return np.concatenate([getattr(self.chunks[i].features, name)[lo:hi]
                               for i, lo, hi in parts])

    def window(self, start: int, stop: int) -> tuple[EpochFeatures, np.ndarray, np.ndarray]:
        """Features, resting EMG level (uV) and active flags over epochs ``[start, stop)``
        (read-only; views of the kept chunk when the window lies in one)."""
        parts = self._overlaps(start, stop)
        if len(parts) == 1:
            i, lo, hi = parts[0]
            feats = self.chunks[i].features.slice(lo, hi)
        else:
            feats = EpochFeatures.concat([self.chunks[i].features.slice(lo, hi)
                                          for i, lo, hi in parts])
        return feats, self.column("rest_uv", start, stop), self.column("active", start, stop)

    def locate(self, epoch: int) -> tuple[HistoryChunk, int] | None:
        """The kept chunk holding ``epoch`` and the epoch's index in it, or ``None``."""
        for c in self.chunks:
            i = epoch - c.features.first_epoch
            if 0 <= i < c.features.n_epochs:
                return c, i
        return None

    def tonic_ref_at(self, epoch: int) -> float:
        """The standing tonic reference at ``epoch`` (uV; NaN if not kept or not yet set)."""
        hit = self.locate(epoch)
        return float(hit[0].tonic_ref_uv[hit[1]]) if hit is not None else float("nan")


def _read_only(view: np.ndarray) -> np.ndarray:
    """``view`` flagged read-only, so a caller cannot change the kept history through it."""
    view = view.view()
    view.flags.writeable = False
    return view
