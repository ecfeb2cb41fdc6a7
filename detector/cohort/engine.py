"""The compute engine: a Dask distributed client, started when the first task needs it.

By default a ``LocalCluster`` of worker *processes* on this machine (one thread each, so the
numpy-heavy pipeline does not fight over the GIL), listening on 127.0.0.1 only. With a
scheduler address (``--scheduler tcp://HOST:PORT`` or the ``DASK_SCHEDULER_ADDRESS``
convention) the same code uses an existing cluster: one started by hand, by dask-jobqueue
on Slurm, on Kubernetes... Workers must see the recordings under the same paths.

:func:`map_unordered` keeps at most ``max_in_flight`` tasks submitted at a time, so a cohort
of thousands of nights never has thousands of results waiting in memory.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from detector.errors import CrampInputError

T = TypeVar("T")

_RESIZE_CHECK_S = 5.0
"""How often the in-flight window follows workers joining the cluster (s)."""
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
"""Environment variable naming an existing scheduler (the Dask convention)."""


@dataclass(frozen=True, kw_only=True)
class EngineOptions:
    """Where tasks run.

    Attributes
    ----------
    scheduler : str, optional
        Address of an existing scheduler (``tcp://HOST:PORT``); otherwise the
        ``DASK_SCHEDULER_ADDRESS`` environment variable; otherwise a ``LocalCluster``.
    workers : int, optional
        Worker processes of the ``LocalCluster`` (default: the machine's CPU count).
    memory_per_worker : str, optional
        Memory limit of each local worker (``"2GiB"``); a worker above it is restarted and
        its night reported as failed. Default: the machine's memory shared out.
    connect_timeout_s : float
        How long to wait for an existing scheduler (s).
    """

    scheduler: str | None = None
    workers: int | None = None
    memory_per_worker: str | None = None
    connect_timeout_s: float = 20.0

    def address(self) -> str | None:
        """The scheduler address to connect to, or ``None`` for a ``LocalCluster``."""
        return self.scheduler or os.environ.get(SCHEDULER_ENV) or None


class Engine:
    """A Dask client, created on first use and closed with the engine (a context manager).

    Parameters
    ----------
    options : EngineOptions
        Where to run.
    """

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self._client: Any = None
        self._cluster: Any = None

    @property
    def started(self) -> bool:
        """Whether a client exists (a run that found nothing to do never starts one)."""
        return self._client is not None

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (started now if needed)."""
        if self._client is None:
            self._client = self._start()
        return self._client

    def _start(self) -> Any:
        from distributed import Client, LocalCluster

        address = self.options.address()
        if address is not None:
            where = "--scheduler" if self.options.scheduler else SCHEDULER_ENV
            if "://" not in address:
                raise CrampInputError(where, f"expected an address like tcp://HOST:PORT, "
                                             f"got {address!r}")
            try:
                return Client(address, timeout=f"{self.options.connect_timeout_s}s")
            except (OSError, TimeoutError) as exc:
                raise CrampInputError(where, f"cannot reach the Dask scheduler at {address} "
                                             f"({exc})") from None
        workers = self.options.workers or os.cpu_count() or 1
        self._cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, memory_limit=self.options.memory_per_worker or "auto",
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # health routes, any port
            silence_logs=40)
        return Client(self._cluster)

    def n_threads(self) -> int:
        """Worker threads the cluster has now (at least 1)."""
        return max(1, sum(self.client.nthreads().values()))

    def close(self) -> None:
        """Close the client and any cluster this engine started."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def map_unordered(engine: Engine, fn: Callable[..., Any], items: Iterable[T], *,
                  args_of: Callable[[T], tuple[Any, ...]], kwargs: dict[str, Any],
                  name: str, max_in_flight: int | None = None) -> Iterator[tuple[T, Any]]:
    """Run ``fn(*args_of(item), **kwargs)`` for every item on the engine, yielding as done.

    Parameters
    ----------
    engine : Engine
        Where to run.
    fn : callable
        Module-level task function (importable on the workers).
    items : iterable
        One task each.
    args_of : callable
        Positional arguments of the task for an item.
    kwargs : dict
        Keyword arguments shared by every task (small: they travel with each task).
    name : str
        Prefix of the task keys (shown on a dashboard).
    max_in_flight : int, optional
        Tasks submitted at once (default 4 per worker thread, following workers that join
        while it runs).

    Yields
    ------
    (item, result)
        In completion order; results never depend on that order.
    """
    from distributed import as_completed

    it = iter(items)
    client = engine.client
    limit = max_in_flight or 4 * engine.n_threads()
    pending: dict[Any, T] = {}
    queue = as_completed()

    def submit_next() -> bool:
        for item in it:
            fut = client.submit(_call, fn, args_of(item), kwargs, pure=False,
                                key=f"{name}-{os.urandom(6).hex()}")
            pending[fut] = item
            queue.add(fut)
            return True
        return False

    while len(pending) < limit and submit_next():
        continue
    checked = time.monotonic()
    for fut in queue:
        item = pending.pop(fut)
        try:
            result = fut.result()
        except Exception as exc:  # a lost worker (e.g. over its memory limit), not our code
            result = {"error": f"worker failed ({type(exc).__name__}: {exc})"}
        fut.release()
        if max_in_flight is None and time.monotonic() - checked > _RESIZE_CHECK_S:
            limit = max(limit, 4 * engine.n_threads())  # workers joining (e.g. jobqueue)
            checked = time.monotonic()
        while len(pending) < limit and submit_next():
            continue
        yield item, result


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> Any:
    return fn(*args, **(kwargs or {}))


def progress_bar(total: int, *, desc: str) -> Any:
    """A tqdm bar on stderr (disabled when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total, unit="night", desc=desc, file=sys.stderr, leave=False,
                disable=not sys.stderr.isatty(), dynamic_ncols=True)
