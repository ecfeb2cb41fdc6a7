"""The pipeline's worker thread: calls run one after another, their results or errors returned.

:class:`concurrent.futures.ThreadPoolExecutor` would do the same, but importing it loads
:mod:`logging` (and more): about 5 ms, paid while a replay's second core waits for its first
block, since the worker starts with the first one. This is the part of it the pipeline uses:
one thread, calls in the order submitted, :meth:`Job.result` waiting for one, an error raised
there in the caller.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_STOP = None
"""What the queue carries to end the thread."""


class Job(Generic[T]):
    """One call submitted to a :class:`Worker`."""

    __slots__ = ("_done", "_error", "_value")

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

    def result(self) -> T:
        """Wait until the call has run; return its value, or raise its error here."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> None:
        try:
            self._value = fn(*args)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc
        finally:
            self._done.set()


class Worker:
    """One daemon thread running submitted calls in order.

    The thread holds the queue, not this object: a worker dropped without :meth:`shutdown`
    (its pipeline abandoned on an error) ends its thread when it is garbage-collected.

    Parameters
    ----------
    name : str
        The thread's name.
    """

    def __init__(self, *, name: str) -> None:
        self._queue: SimpleQueue[tuple[Job[Any], Callable[..., Any], tuple[Any, ...]] | None] \
            = SimpleQueue()
        self._thread = threading.Thread(target=_serve, args=(self._queue,), name=name,
                                        daemon=True)
        self._thread.start()
        self._stop = weakref.finalize(self, self._queue.put, _STOP)

    def submit(self, fn: Callable[..., T], *args: Any) -> Job[T]:
        """Queue ``fn(*args)``; it runs after the calls queued before it."""
        job: Job[T] = Job()
        self._queue.put((job, fn, args))
        return job

    def shutdown(self) -> None:
        """Let the queued calls run, then end the thread and wait for it."""
        self._stop()
        self._thread.join()


def _serve(queue: SimpleQueue[tuple[Job[Any], Callable[..., Any], tuple[Any, ...]] | None]
           ) -> None:
    """The worker thread: run queued calls until told to stop."""
    while True:
        item = queue.get()
        if item is None:
            return
        job, fn, args = item
        job._run(fn, args)
        del job, fn, args, item  # hold no block beyond its call
