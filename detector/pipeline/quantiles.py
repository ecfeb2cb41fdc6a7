"""Percentiles and NaN-ignoring medians of 1-D arrays, without importing numpy.ma.

``np.percentile`` with the default linear method calls ``np.unique``, which imports
``numpy.ma`` (about 10 ms, a twentieth of a floor, once per process) for a test it does not
need here; ``np.nanmedian`` of a short array goes through ``numpy.ma`` itself. These give the
same values, bit for bit (a property test compares them with numpy's).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detector.pipeline.nanmedian import nanmedian_rows


def percentile(values: np.ndarray, q: float | Sequence[float]) -> np.ndarray:
    """Percentiles of ``values`` as ``np.percentile(values, q)`` (method ``"linear"``).

    Parameters
    ----------
    values : ndarray, shape (n,), n >= 1
        Samples (float); any NaN makes every percentile NaN, as in numpy.
    q : float or sequence of float
        Percentiles in [0, 100].

    Returns
    -------
    ndarray
        Shape ``()`` for a scalar ``q``, ``(len(q),)`` otherwise.

    Raises
    ------
    ValueError
        If ``values`` is empty or not 1-D.
    """
    if values.ndim != 1 or values.shape[0] == 0:
        raise ValueError(f"percentile needs a non-empty 1-D array, got shape {values.shape}")
    srt = np.sort(values)
    n = srt.shape[0]
    at = (n - 1) * (np.asarray(q, dtype=float) / 100.0)  # the virtual index
    below = np.floor(at)
    top = at >= n - 1
    lo = np.where(top, n - 1, below).astype(np.intp)
    hi = np.where(top, n - 1, below + 1).astype(np.intp)
    gamma = np.where(top, at + 1.0 - n, at - below)  # numpy's weight past the end
    a, b = srt[lo], srt[hi]
    diff = b - a
    out = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    if np.isnan(srt[-1]):
        out = np.full_like(out, np.nan)
    return out


def nanmedian(values: np.ndarray) -> float:
    """Median of ``values`` (shape (n,)) ignoring NaN, as ``np.nanmedian``; NaN when none."""
    return float(nanmedian_rows(values.reshape(1, -1))[0])


def median(values: np.ndarray) -> float:
    """Median of ``values`` (shape (n,), n >= 1) as ``np.median``: NaN if any value is NaN.

    Raises
    ------
    ValueError
        If ``values`` is empty or not 1-D.
    """
    if values.ndim != 1 or values.shape[0] == 0:
        raise ValueError(f"median needs a non-empty 1-D array, got shape {values.shape}")
    if np.isnan(values).any():
        return float("nan")
    return float(nanmedian_rows(values.reshape(1, -1))[0])
