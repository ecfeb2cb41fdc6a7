"""Signal data model: unit-explicit channel descriptions and blocks of samples.

Canonical units inside the package: EMG in microvolts (``uV``), acceleration in standard
gravity (``g``). Readers convert from the file's units on the way in.

Times are seconds from the recording start; the recording's ``start_utc`` anchors them to UTC.
A *gap* is an interval where a channel has no samples. Gaps are explicit: a block whose
``start_sample`` is past the end of the previous block of the same channel opens a gap, and the
pipeline never interpolates across it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

import numpy as np

ChannelRole = Literal["emg", "shank_acc", "foot_acc"]
ROLES: tuple[ChannelRole, ...] = ("emg", "shank_acc", "foot_acc")
ROLE_UNITS: dict[str, str] = {"emg": "uV", "shank_acc": "g", "foot_acc": "g"}
ROLE_WIDTH: dict[str, int] = {"emg": 1, "shank_acc": 3, "foot_acc": 3}


@dataclass(frozen=True, kw_only=True)
class ChannelSpec:
    """Description of one pipeline channel.

    Attributes
    ----------
    role : {"emg", "shank_acc", "foot_acc"}
        What the channel measures. Accelerometer roles have three axes.
    fs : float
        Sampling rate in Hz.
    unit : str
        Canonical unit of the samples: ``"uV"`` for EMG, ``"g"`` for accelerometers.
    source_labels : tuple of str
        Labels of the file's signals the channel was built from (one, or three for x, y, z).
    rails : tuple of float, optional
        Lowest and highest value the recording system can represent, in ``unit``. Samples at a
        rail are saturated. ``None`` when the source does not say.
    """

    role: ChannelRole
    fs: float
    unit: str
    source_labels: tuple[str, ...] = ()
    rails: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown channel role {self.role!r}; expected one of {ROLES}")
        if not (np.isfinite(self.fs) and self.fs > 0):
            raise ValueError(f"channel {self.role}: fs must be a positive number of Hz")
        if self.unit != ROLE_UNITS[self.role]:
            raise ValueError(
                f"channel {self.role}: unit must be {ROLE_UNITS[self.role]!r}, got {self.unit!r}"
            )

    @property
    def width(self) -> int:
        """Number of columns of a block of this channel (1 for EMG, 3 for accelerometers)."""
        return ROLE_WIDTH[self.role]


@dataclass(frozen=True, kw_only=True)
class SignalBlock:
    """A contiguous run of samples of one channel.

    Attributes
    ----------
    data : ndarray, shape (n,) for EMG or (n, 3) for accelerometers
        Samples in the channel's canonical unit (uV or g), float64.
    fs : float
        Sampling rate in Hz.
    start_sample : int
        Index of ``data[0]`` counted at ``fs`` from the recording start, so that sample ``i``
        lies at ``(start_sample + i) / fs`` seconds from the start.
    """

    data: np.ndarray
    fs: float
    start_sample: int

    @property
    def n_samples(self) -> int:
        """Number of samples in the block."""
        return int(self.data.shape[0])

    @property
    def start_s(self) -> float:
        """Time of the first sample, seconds from the recording start."""
        return self.start_sample / self.fs

    @property
    def end_sample(self) -> int:
        """Index one past the last sample."""
        return self.start_sample + self.n_samples


@dataclass(frozen=True, kw_only=True)
class Gap:
    """An interval with no samples on one channel.

    Attributes
    ----------
    role : str
        Channel role the gap belongs to.
    start_s, end_s : float
        Start and end of the gap, seconds from the recording start.
    samples_missing : int
        Number of samples that should have been there.
    """

    role: str
    start_s: float
    end_s: float
    samples_missing: int

    @property
    def duration_s(self) -> float:
        """Length of the gap in seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True, kw_only=True)
class RecordingInfo:
    """What a reader knows about a recording before the samples are read.

    Attributes
    ----------
    path : str
        File the recording comes from.
    start_utc : datetime
        Time of the recording start, timezone-aware UTC.
    duration_s : float
        Nominal length in seconds.
    channels : dict of str to ChannelSpec
        The pipeline channels found, keyed by role.
    leg : {"left", "right", "unknown"}
        Leg the band was on, if the file says.
    file_format : str
        Short name of the file format (``"edf"``, ``"edf+"``, ``"bdf"``, ``"csv"``...).
    notes : tuple of str
        Remarks the reader made (e.g. unit assumptions).
    """

    path: str
    start_utc: datetime
    duration_s: float
    channels: dict[str, ChannelSpec]
    leg: str = "unknown"
    file_format: str = ""
    notes: tuple[str, ...] = field(default=())


class RecordingSource(Protocol):
    """A recording that can be streamed into the pipeline.

    ``blocks(chunk_s)`` yields ``(role, SignalBlock)`` pairs in roughly ascending time, about
    ``chunk_s`` seconds each, so that memory use stays bounded for an 8-hour night.
    """

    info: RecordingInfo

    def blocks(self, chunk_s: float) -> Iterator[tuple[str, SignalBlock]]:
        """Yield the recording's samples as ``(role, block)`` pairs, ``chunk_s`` s at a time."""
        ...

    def close(self) -> None:
        """Release the file handle."""
        ...
