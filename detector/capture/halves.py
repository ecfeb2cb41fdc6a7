"""Two parts of one scan at once: the second on a helper thread, the first on the caller's.

The costly steps of opening a capture (the sync-marker search, the CRC32 passes) are numpy
loops and ``zlib.crc32`` calls over large buffers, which release the GIL while they run: two
independent parts of them (two halves of the file's words; the CRC32 check beside the
tabling of the records) use two cores. Each part does exactly the work one pass would do on
its items, so the result is the same.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_both(first: Callable[[], T], second: Callable[[], T]) -> tuple[T, T]:
    """``(first(), second())``, with ``second`` run on a helper thread meanwhile.

    An exception of either is raised here (``first``'s if both fail), after the helper has
    finished (nothing keeps running in the background).
    """
    box: list[T] = []
    failed: list[BaseException] = []

    def helper() -> None:
        try:
            box.append(second())
        except BaseException as exc:  # raised in the caller below
            failed.append(exc)

    thread = threading.Thread(target=helper, name="cramp-scan", daemon=True)
    thread.start()
    try:
        one = first()
    finally:
        thread.join()
    if failed:
        raise failed[0]
    return one, box[0]


def halves(n: int, *, threads: int, min_items: int, step: int = 1) -> list[tuple[int, int]]:
    """Index ranges ``[lo, hi)`` covering ``range(n)`` in order: two (split at a multiple of
    ``step`` near the middle) when ``threads >= 2`` and ``n >= min_items``, else one.
    """
    if threads < 2 or n < max(min_items, 2 * step):
        return [(0, n)]
    mid = (n // 2) // step * step
    return [(0, mid), (mid, n)]


def each_half(work: Callable[[int, int], T], n: int, *, threads: int, min_items: int,
              step: int = 1) -> list[T]:
    """``work(lo, hi)`` for each range of :func:`halves`, the two at once; results in order."""
    parts = halves(n, threads=threads, min_items=min_items, step=step)
    if len(parts) == 1:
        return [work(0, n)]
    (a0, a1), (b0, b1) = parts
    return list(run_both(lambda: work(a0, a1), lambda: work(b0, b1)))
