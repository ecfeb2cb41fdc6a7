"""Per-second summary of the epoch features (the night's timeline)."""

from __future__ import annotations

import numpy as np

from detector.config import DetectorConfig
from detector.pipeline.features import EpochFeatures
from detector.pipeline.result import NightTrace

_COLUMNS = ("emg_envelope_uv", "emg_baseline_uv", "lying", "movement_g",
            "plantar_flexion_deg", "tremor_g", "valid")


class TraceBuilder:
    """Stream processor: epoch features in, one row per second kept for :class:`NightTrace`.

    Parameters
    ----------
    config : DetectorConfig
        Supplies the epoch length.
    """

    def __init__(self, *, config: DetectorConfig) -> None:
        self.eps = round(1.0 / config.epoch_s)
        self._pending = np.empty((0, len(_COLUMNS)))
        self._rows: list[np.ndarray] = []

    def push(self, f: EpochFeatures, baseline_uv: np.ndarray, *, emg_present: bool) -> None:
        """Add epochs with their resting level (uV), shape (n,)."""
        valid = f.emg_valid if emg_present else ~f.acc_missing
        cols = np.column_stack([f.envelope_uv, baseline_uv, f.lying, f.movement_g,
                                f.plantar_flexion_deg, f.tremor_g, valid.astype(float)])
        buf = np.concatenate([self._pending, cols])
        n_sec = buf.shape[0] // self.eps
        if n_sec:
            self._rows.append(_nanmean_blocks(buf[: n_sec * self.eps], self.eps))
        self._pending = buf[n_sec * self.eps:]

    def result(self) -> NightTrace:
        """The trace so far (a trailing partial second is averaged on its own)."""
        rows = list(self._rows)
        if self._pending.shape[0]:
            rows.append(_nanmean_blocks(self._pending, self._pending.shape[0]))
        table = np.concatenate(rows) if rows else np.empty((0, len(_COLUMNS)))
        return NightTrace(**{name: table[:, i].copy() for i, name in enumerate(_COLUMNS)})


def _nanmean_blocks(x: np.ndarray, size: int) -> np.ndarray:
    """Mean over consecutive row blocks ignoring NaN, shape (n // size, c)."""
    blocks = x.reshape(-1, size, x.shape[1])
    valid = ~np.isnan(blocks)
    total = np.where(valid, blocks, 0.0).sum(axis=1)
    count = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)
