"""Interval arithmetic on (start, end) pairs, shared by the replay table, exports and report."""

from __future__ import annotations


def merge_intervals(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Union of intervals, sorted; touching intervals merge; empty ones are dropped.

    Parameters
    ----------
    intervals : list of (float, float)
        ``(start, end)`` pairs in any order, any unit (seconds in this package).

    Returns
    -------
    list of (float, float)
        Disjoint, sorted intervals covering the same points.
    """
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out
