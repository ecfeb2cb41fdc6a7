"""Recording readers (EDF, EDF+, BDF, CSV) and label readers.

Use :func:`open_recording` to get a :class:`~detector.signals.RecordingSource` from a file and
:func:`read_labels` to get scored events from an events table or EDF+ annotations.

The names below are imported on first use (PEP 562), so that importing one light submodule
(``detector.io.channels``, say, for the command-line options) does not load numpy, pyedflib and
the CSV reader.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detector.io.channels import ChannelMap, parse_axes
    from detector.io.csv_reader import CsvRecording
    from detector.io.edf_reader import EdfRecording
    from detector.io.labels import LabelEvent, read_labels
    from detector.io.open import open_recording

_WHERE = {
    "ChannelMap": "detector.io.channels",
    "parse_axes": "detector.io.channels",
    "CsvRecording": "detector.io.csv_reader",
    "EdfRecording": "detector.io.edf_reader",
    "LabelEvent": "detector.io.labels",
    "read_labels": "detector.io.labels",
    "open_recording": "detector.io.open",
}

__all__ = [
    "ChannelMap",
    "CsvRecording",
    "EdfRecording",
    "LabelEvent",
    "open_recording",
    "parse_axes",
    "read_labels",
]


def __getattr__(name: str) -> Any:
    """Import ``name`` from the submodule that defines it (first access only)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'detector.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
