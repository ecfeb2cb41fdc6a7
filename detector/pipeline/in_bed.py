"""In-bed period from posture and movement (after GGIR's HDCZA idea, adapted to a calf band).

On a calf band the shank lies near horizontal in bed, so a block counts as *rest* when the leg
is mostly lying and mostly still. Rest blocks separated by short wake stretches are bridged;
bridged stretches holding enough rest in total (``min_rest_s``, at most half the recording)
form in-bed periods, clipped to the night window. Without an accelerometer only the night
window can be given (:func:`assumed_in_bed_periods`).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from detector.config import InBedConfig
from detector.pipeline.night_window import NightWindow


def rest_blocks(lying: np.ndarray, moving: np.ndarray, *, block_len: int,
                max_movement_fraction: float) -> np.ndarray:
    """Rest flag per block from per-second posture and movement.

    Parameters
    ----------
    lying : ndarray, shape (n_seconds,)
        Fraction of each second lying (NaN unknown).
    moving : ndarray, shape (n_seconds,)
        Fraction of each second in gross movement (NaN unknown).
    block_len : int
        Seconds per block.
    max_movement_fraction : float
        Largest moving fraction of a rest block.

    Returns
    -------
    ndarray of bool, shape (ceil(n_seconds / block_len),)
    """
    n = lying.shape[0]
    n_blocks = -(-n // block_len)
    pad = n_blocks * block_len - n
    ly = np.concatenate([lying, np.full(pad, np.nan)]).reshape(n_blocks, block_len)
    mv = np.concatenate([moving, np.full(pad, np.nan)]).reshape(n_blocks, block_len)
    known = ~np.isnan(ly)
    with np.errstate(invalid="ignore", divide="ignore"):
        lying_frac = np.where(known, ly, 0).sum(1) / known.sum(1)
        moving_frac = np.where(~np.isnan(mv), mv, 0).sum(1) / (~np.isnan(mv)).sum(1)
        return (known.sum(1) * 2 >= block_len) & (lying_frac >= 0.5) & (
            moving_frac <= max_movement_fraction)


def min_rest_s(config: InBedConfig, *, recording_s: float) -> float:
    """Shortest rest that makes an in-bed period in a recording this long (s).

    ``config.min_rest_s``, but at most half the recording (and at least one block): a short
    nap or a one-hour test night spent lying still is an in-bed period too.
    """
    return min(config.min_rest_s, max(config.block_s, 0.5 * recording_s))


def assumed_in_bed_periods(*, duration_s: float, start_utc: datetime,
                           window: NightWindow) -> list[tuple[float, float]]:
    """Without posture (no accelerometer): the part of the recording in the night window.

    All that can be known is when the sleeper meant to be in bed; the result says so.
    """
    return [(a, b) for a, b in window.overlap_s(start_utc, 0.0, duration_s) if b > a]


def in_bed_periods(lying: np.ndarray, moving: np.ndarray, *, config: InBedConfig,
                   start_utc: datetime, window: NightWindow) -> list[tuple[float, float]]:
    """In-bed periods (start_s, end_s) from per-second posture and movement.

    Returns an empty list when posture is unknown throughout (no accelerometer); see
    :func:`assumed_in_bed_periods` for that case.
    """
    if lying.size == 0 or np.all(np.isnan(lying)):
        return []
    block_len = max(1, round(config.block_s))
    rest = rest_blocks(lying, moving, block_len=block_len,
                       max_movement_fraction=config.max_movement_fraction)
    max_gap = int(config.max_gap_fill_s // block_len)
    shortest_s = min_rest_s(config, recording_s=float(lying.shape[0]))
    min_rest = int(np.ceil(shortest_s / block_len - 1e-9))
    runs = _runs(rest)
    # bridge short wake stretches between rest runs
    merged: list[list[int]] = []
    for s, e in runs:
        if merged and s - merged[-1][1] <= max_gap:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    total_s = float(lying.shape[0])
    out: list[tuple[float, float]] = []
    for s, e in merged:
        # the rest inside the bridged stretch, in total: a short night broken by a cramp and a
        # walk to stretch it out is still a night in bed
        rested = sum(re - rs for rs, re in runs if rs >= s and re <= e)
        if rested < min_rest:
            continue
        for a, b in window.overlap_s(start_utc, s * block_len, min(e * block_len, total_s)):
            if b - a >= shortest_s:
                out.append((a, b))
    return out


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(),
                    strict=True))
