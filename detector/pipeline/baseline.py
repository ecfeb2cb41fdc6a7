"""Adaptive resting EMG level, estimated causally from the recent past.

The envelope is summarised in blocks (``block_s``, median of the valid epochs); the resting
level for an epoch is a low percentile of the medians of the blocks completed before it, over
``window_s``. A long cramp therefore does not raise its own baseline until it fills most of the
window. Until the first block completes, that block's own epochs so far are used.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from detector.config import EmgConfig
from detector.pipeline.quantiles import percentile


class RestingBaseline:
    """Stream processor: envelope per epoch in, resting level per epoch out (uV).

    Parameters
    ----------
    config : EmgConfig
        ``baseline_block_s``, ``baseline_window_s``, ``baseline_percentile``,
        ``baseline_floor_uv``.
    epochs_per_s : int
        Epochs per second.
    floor : float, optional
        Lowest level returned, in the signal's unit; ``config.baseline_floor_uv`` by default
        (pass one in g when tracking the calf tremor's resting level).
    """

    def __init__(self, *, config: EmgConfig, epochs_per_s: int,
                 floor: float | None = None) -> None:
        self.block_epochs = max(1, round(config.baseline_block_s * epochs_per_s))
        self.window_blocks = max(1, round(config.baseline_window_s / config.baseline_block_s))
        self.percentile = config.baseline_percentile
        self.floor_uv = config.baseline_floor_uv if floor is None else floor
        self._history = np.full(self.window_blocks, np.nan)  # medians of past blocks
        self._n_blocks = 0
        self._current = np.empty(0)  # envelope of epochs in the open block
        self._level = np.nan          # level applying to the open block

    def push(self, envelope_uv: np.ndarray) -> np.ndarray:
        """Return the resting level for each epoch of ``envelope_uv`` (NaN = invalid epoch).

        Parameters
        ----------
        envelope_uv : ndarray, shape (n,)

        Returns
        -------
        ndarray, shape (n,)
            Resting level (uV); NaN while no valid block has been seen yet.
        """
        n = envelope_uv.shape[0]
        out = np.empty(n)
        pos = 0
        while pos < n:
            room = self.block_epochs - self._current.shape[0]
            take = min(room, n - pos)
            seg = envelope_uv[pos: pos + take]
            self._current = np.concatenate([self._current, seg])
            if self._n_blocks == 0:
                # first block: running low percentile of what has been seen so far
                out[pos: pos + take] = self._first_block_levels(seg)
            else:
                out[pos: pos + take] = self._level
            pos += take
            if self._current.shape[0] == self.block_epochs:
                self._close_block()
                # the whole remaining stretch of complete blocks can be vectorised
                n_full = (n - pos) // self.block_epochs
                if n_full > 0 and self._n_blocks > 0:
                    blocks = envelope_uv[pos: pos + n_full * self.block_epochs].reshape(
                        n_full, self.block_epochs)
                    medians = _nanmedian_rows(blocks)
                    series = np.concatenate([self._history, medians])
                    windows = sliding_window_view(series, self.window_blocks)[: n_full + 1]
                    levels = _nanpercentile_rows(windows, self.percentile)
                    out[pos: pos + n_full * self.block_epochs] = np.repeat(
                        levels[:n_full], self.block_epochs)
                    self._history = series[-self.window_blocks:]
                    self._n_blocks += n_full
                    self._level = self._apply_floor(levels[n_full])
                    pos += n_full * self.block_epochs
        return out

    def _first_block_levels(self, seg: np.ndarray) -> np.ndarray:
        start = self._current.shape[0] - seg.shape[0]
        levels = np.empty(seg.shape[0])
        for i in range(seg.shape[0]):
            seen = self._current[: start + i + 1]
            seen = seen[~np.isnan(seen)]
            levels[i] = (self._apply_floor(float(percentile(seen, self.percentile)))
                         if seen.size else np.nan)
        return levels

    def _close_block(self) -> None:
        median = _nanmedian_rows(self._current[None, :])[0]
        self._history = np.concatenate([self._history[1:], [median]])
        self._n_blocks += 1
        self._current = np.empty(0)
        level = _nanpercentile_rows(self._history[None, :], self.percentile)[0]
        self._level = self._apply_floor(level)

    def _apply_floor(self, level: float) -> float:
        return level if np.isnan(level) else max(level, self.floor_uv)


def _nanmedian_rows(rows: np.ndarray) -> np.ndarray:
    """Median of each row ignoring NaN; NaN if fewer than half the row is valid."""
    valid = ~np.isnan(rows)
    enough = valid.sum(axis=1) * 2 >= rows.shape[1]
    filled = np.where(valid, rows, np.inf)
    srt = np.sort(filled, axis=1)
    k = valid.sum(axis=1)
    idx_lo = np.maximum((k - 1) // 2, 0)
    idx_hi = np.maximum(k // 2, 0)
    r = np.arange(rows.shape[0])
    med = 0.5 * (srt[r, idx_lo] + srt[r, idx_hi])
    return np.where(enough & (k > 0), med, np.nan)


def _nanpercentile_rows(rows: np.ndarray, q: float) -> np.ndarray:
    """Percentile of each row ignoring NaN (linear interpolation); NaN for all-NaN rows."""
    valid = ~np.isnan(rows)
    k = valid.sum(axis=1)
    srt = np.sort(np.where(valid, rows, np.inf), axis=1)
    pos = (k - 1).clip(min=0) * (q / 100.0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, (k - 1).clip(min=0))
    r = np.arange(rows.shape[0])
    frac = pos - lo
    with np.errstate(invalid="ignore"):
        val = srt[r, lo] * (1 - frac) + srt[r, hi] * frac
    return np.where(k > 0, val, np.nan)
