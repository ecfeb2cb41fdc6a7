"""Crash-safe capture of a recording session: writer, reader, assembly, replay, recovery.

A capture holds the raw notifications of a night with their host receive times, the session
metadata and connection events, in checksummed records (see :mod:`detector.capture.format`
and ``docs/capture.md``). :class:`CaptureRecording` replays it through the same
:class:`StreamAssembler` the live recorder uses.
"""

from __future__ import annotations

from detector.capture.assembler import StreamAssembler, StreamStats, legband_channels
from detector.capture.clockfit import ClockFit, fit_clock
from detector.capture.format import FILE_MAGIC, EventRecord, PacketRecord
from detector.capture.reader import Capture, CaptureDamage, read_capture
from detector.capture.recording import DATA_SOURCE, CaptureRecording
from detector.capture.recover import RecoveryReport, format_report, recover_capture
from detector.capture.writer import CaptureWriteError, CaptureWriter

__all__ = [
    "DATA_SOURCE", "FILE_MAGIC", "Capture", "CaptureDamage", "CaptureRecording",
    "CaptureWriteError", "CaptureWriter", "ClockFit", "EventRecord", "PacketRecord",
    "RecoveryReport", "StreamAssembler", "StreamStats", "fit_clock", "format_report",
    "legband_channels", "read_capture", "recover_capture",
]
