"""Recording readers (EDF, EDF+, BDF, CSV) and label readers.

Use :func:`open_recording` to get a :class:`~detector.signals.RecordingSource` from a file and
:func:`read_labels` to get scored events from an events table or EDF+ annotations.
"""

from __future__ import annotations

from detector.io.channels import ChannelMap, parse_axes
from detector.io.csv_reader import CsvRecording
from detector.io.edf_reader import EdfRecording
from detector.io.labels import LabelEvent, read_labels
from detector.io.open import open_recording

__all__ = [
    "ChannelMap",
    "CsvRecording",
    "EdfRecording",
    "LabelEvent",
    "open_recording",
    "parse_axes",
    "read_labels",
]
