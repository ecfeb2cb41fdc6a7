"""Crash-safe capture of a recording session: writer, reader, assembly, replay, recovery.

A capture holds the raw notifications of a night with their host receive times, the session
metadata and connection events, in checksummed records (see :mod:`detector.capture.format`
and ``docs/capture.md``). :class:`CaptureRecording` replays it through the same
:class:`StreamAssembler` the live recorder uses.

The names below are imported from their modules on first use: a replay loads only the
reader, the assembler and the replay, not the writer and the recovery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detector.capture.assembler import StreamAssembler, StreamStats, legband_channels
    from detector.capture.clockfit import ClockFit, fit_clock
    from detector.capture.format import FILE_MAGIC, EventRecord, PacketRecord
    from detector.capture.reader import Capture, CaptureDamage, read_capture
    from detector.capture.recording import DATA_SOURCE, CaptureRecording
    from detector.capture.recover import RecoveryReport, format_report, recover_capture
    from detector.capture.writer import CaptureWriteError, CaptureWriter

_HOME = {
    "StreamAssembler": "assembler", "StreamStats": "assembler", "legband_channels": "assembler",
    "ClockFit": "clockfit", "fit_clock": "clockfit",
    "FILE_MAGIC": "format", "EventRecord": "format", "PacketRecord": "format",
    "Capture": "reader", "CaptureDamage": "reader", "read_capture": "reader",
    "DATA_SOURCE": "recording", "CaptureRecording": "recording",
    "RecoveryReport": "recover", "format_report": "recover", "recover_capture": "recover",
    "CaptureWriteError": "writer", "CaptureWriter": "writer",
}

__all__ = [
    "DATA_SOURCE", "FILE_MAGIC", "Capture", "CaptureDamage", "CaptureRecording",
    "CaptureWriteError", "CaptureWriter", "ClockFit", "EventRecord", "PacketRecord",
    "RecoveryReport", "StreamAssembler", "StreamStats", "fit_clock", "format_report",
    "legband_channels", "read_capture", "recover_capture",
]


def __getattr__(name: str) -> Any:
    """The package's names, each from its module (imported on first use)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"detector.capture.{home}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
