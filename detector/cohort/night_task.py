"""One night as one task: the replay adapter, and the hashes that key its result.

:func:`replay_night` is the only place where cohort code calls the replay; everything else
(batch, tune, benchmark) goes through it, so the replay can change underneath in one spot.
It never writes to the sleeper's episode store.

A night's result is keyed by the SHA-256 of the recording's bytes and by the *parameter
hash*: the SHA-256 of the canonical JSON of the detector version, the full detector
configuration and the replay options (channel labels, units, leg...). Same bytes + same
parameter hash = same result, whoever computes it, on whichever worker, in whatever order.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from detector.config import DetectorConfig
from detector.errors import CrampError
from detector.io.channels import ChannelMap


@dataclass(frozen=True, kw_only=True)
class ReplayOptions:
    """How a recording is read, beside the detector configuration.

    Attributes
    ----------
    channel_map : ChannelMap
        Channel labels, units, rate and start time the user gave.
    leg : {"left", "right"}, optional
        Overrides the leg the recording names.
    time_unit : {"s", "ms"}, optional
        Unit of a CSV time column.
    """

    channel_map: ChannelMap = field(default_factory=ChannelMap)
    leg: str | None = None
    time_unit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times as ISO 8601)."""
        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, tuple | list):
                return [plain(v) for v in value]
            return value

        cmap = {k: plain(v) for k, v in asdict(self.channel_map).items()}
        return {"channel_map": cmap, "leg": self.leg, "time_unit": self.time_unit}


def replay_night(path: str, *, config: DetectorConfig, options: ReplayOptions) -> dict[str, Any]:
    """Replay one recording and return its result in the ``cramp replay --json`` shape.

    This is the single adapter between cohort code and the replay; it writes nothing.

    Parameters
    ----------
    path : str
        The recording (capture, EDF/EDF+/BDF, CSV).
    config : DetectorConfig
        Thresholds.
    options : ReplayOptions
        Channel mapping, leg and CSV time unit.

    Returns
    -------
    dict
        ``NightResult.to_dict()``: path, start, duration, mode, leg, episodes, in-bed periods,
        gaps, quality, detector version and parameters.
    """
    from detector.replay import replay_path

    result = replay_path(path, config=config, channel_map=options.channel_map,
                         leg=options.leg, progress=False, time_unit=options.time_unit)
    return result.to_dict()


def parameter_hash(config: DetectorConfig, options: ReplayOptions) -> str:
    """Hex SHA-256 of the detector version, configuration and replay options."""
    from detector import __version__

    doc = {"detector_version": __version__, "config": config.to_dict(),
           "replay": options.to_dict()}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def one_line_error(exc: BaseException) -> str:
    """The error as one line: our own messages as they are, others with their type."""
    text = str(exc) if isinstance(exc, CrampError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


def hash_task(path: str) -> dict[str, Any]:
    """Task: the file's SHA-256 with the size and modification time it was read at.

    Returns ``{"sha256", "size", "mtime_ns"}``, or ``{"error": line}`` if it cannot be read.
    """
    from detector.safe_files import file_sha256

    try:
        st = os.stat(path)
        return {"sha256": file_sha256(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    except OSError as exc:
        return {"error": f"cannot read ({exc.strerror or exc})"}


def replay_task(path: str, *, config: DetectorConfig, options: ReplayOptions
                ) -> dict[str, Any]:
    """Task: :func:`replay_night`, with any error caught and returned as one line.

    Returns ``{"result": dict}`` or ``{"error": line}``: a bad night never stops a batch,
    and exceptions never have to travel back from a worker.
    """
    try:
        return {"result": replay_night(path, config=config, options=options)}
    except Exception as exc:  # one bad night must not stop the others
        return {"error": strip_path(one_line_error(exc), path)}


def replay_config_task(path: str, config: DetectorConfig, options: ReplayOptions
                       ) -> dict[str, Any]:
    """:func:`replay_task` with positional arguments (one configuration per task: tuning)."""
    return replay_task(path, config=config, options=options)


def strip_path(line: str, path: str) -> str:
    """``line`` without a leading ``<path>: `` or ``<file name>: `` (the path is kept apart)."""
    for prefix in (path, Path(path).name):
        if line.startswith(prefix + ": "):
            return line[len(prefix) + 2:]
    return line


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (MiB), for the per-worker figure."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def absolute(path: str | Path) -> str:
    """The absolute form of ``path`` (workers may run in another directory)."""
    return str(Path(path).absolute())
