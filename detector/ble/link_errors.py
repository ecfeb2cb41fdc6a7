"""Link errors of the BLE sessions: what a failing link raises and how it is told on one line.

A dropped or failing link raises one of :data:`LINK_ERRORS` (the session reconnects), or
:class:`LinkLost` while a request waits for it; :class:`StackCancelled` is a BLE stack
cancelling a request itself. :func:`describe_error` gives the one line the user and the
capture see; :func:`being_cancelled` tells our own cancellation from a cancelled request.
"""

from __future__ import annotations

import asyncio

from bleak.exc import BleakError

__all__ = ["LINK_ERRORS", "LinkLost", "StackCancelled", "being_cancelled", "describe_error"]

LINK_ERRORS: tuple[type[Exception], ...] = (BleakError, TimeoutError, OSError, EOFError)
"""Exceptions a dropped or failing link raises (the session reconnects)."""


class StackCancelled(Exception):
    """A BLE stack cancelled one of our requests itself (bumble does when a link drops)."""


class LinkLost(Exception):
    """The connection dropped (or the device stopped streaming) while waiting for it."""


def describe_error(exc: BaseException) -> str:
    """``TypeName: first line of the message`` (just the type name when there is none)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


def being_cancelled() -> bool:
    """True when the running task itself is being cancelled (not a request it awaited)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
