"""Ctrl-C and SIGTERM end a night cleanly: one handler set-up for every recording command."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def stop_on_signals(request_stop: Callable[[], None]) -> Iterator[None]:
    """Call ``request_stop`` on SIGINT/SIGTERM while the block runs (inside a running loop).

    Loops without signal support (Windows' proactor loop) get plain signal handlers that hand
    the stop to the loop thread-safely. Every handler is put back as it was afterwards.
    """
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, request_stop)
            handled.append(sig)
        except (NotImplementedError, RuntimeError):  # no loop signal support here
            previous[sig] = signal.signal(
                sig, lambda *_: loop.call_soon_threadsafe(request_stop))
    try:
        yield
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        for sig, old in previous.items():
            signal.signal(sig, old)
