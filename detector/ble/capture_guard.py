"""The crash-safe capture of a BLE night, guarded: a failed write is reported, never raised.

:class:`GuardedWriter` wraps the night's :class:`~detector.capture.writer.CaptureWriter` for
:class:`~detector.ble.link.BandSessionBase`: the first failed write (disk full) goes to a
callback, which ends the night, and nothing more is written, so the file ends cleanly where
it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from detector.capture.writer import CaptureWriteError, CaptureWriter

__all__ = ["GuardedWriter"]


class GuardedWriter:
    """The night's capture writer; a write that fails (disk full) is reported once, not raised.

    After the first failure nothing more is written (the file ends cleanly where it was).
    """

    def __init__(self, writer: CaptureWriter, *,
                 on_error: Callable[[CaptureWriteError], None]) -> None:
        self.writer = writer
        self.on_error = on_error
        self.failed = False

    def packet(self, *, source: str, payload: bytes, received_s: float) -> None:
        """See :meth:`~detector.capture.writer.CaptureWriter.packet`."""
        if not self.failed:
            try:
                self.writer.packet(source=source, payload=payload, received_s=received_s)
            except CaptureWriteError as exc:
                self._fail(exc)

    def event(self, kind: str, *, at_s: float, **fields: Any) -> None:
        """See :meth:`~detector.capture.writer.CaptureWriter.event`."""
        if not self.failed:
            try:
                self.writer.event(kind, at_s=at_s, **fields)
            except CaptureWriteError as exc:
                self._fail(exc)

    def close(self) -> None:
        """Fsync and close (a failure to sync is reported like a failed write)."""
        try:
            self.writer.close()
        except CaptureWriteError as exc:
            self._fail(exc)

    def _fail(self, exc: CaptureWriteError) -> None:
        self.failed = True
        self.on_error(exc)
