"""What a recording session reports: its settings, status snapshots, summary, observers.

:class:`~detector.ble.session.LegBandSession` tells a :class:`SessionObserver` (the terminal
display, the live episode store...) about blocks, episode events, status and remarks;
:func:`observers` combines several.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from detector.episode import EpisodeEvent
from detector.pipeline.result import NightResult
from detector.signals import SignalBlock


@dataclass(frozen=True, kw_only=True)
class SessionConfig:
    """How a session runs.

    Attributes
    ----------
    streams : dict of str to (int, int)
        Streams to record, by name, with (rate Hz, full scale in the stream's unit).
    mtu : int
        ATT MTU to ask for (23-247).
    watchdog_s : float
        Seconds without any data notification that count as a dropout.
    backoff_initial_s, backoff_max_s : float
        Reconnect delays: none for the first try, then ``initial`` doubling up to ``max``.
    connect_attempts : int
        Attempts per call of ``bleak_retry_connector.establish_connection``.
    connect_timeout_s : float
        Timeout of one connection attempt (s).
    command_timeout_s : float
        Longest wait for a control-point response (s).
    status_every_s : float
        Period of the observer's status updates (s).
    backfill_stall_s : float
        A backfill that makes no progress for this long is asked again (s).
    hold_s : float
        How far behind the newest sample a hole is kept open for backfill (s).
    stop_drain_s : float
        At the end, how long to wait for running backfills before stopping the band (s).
    setup_timeout_s : float
        Longest GATT set-up of a new connection (subscriptions, status, the run's commands)
        before it counts as a failed connection (s).
    """

    streams: Mapping[str, tuple[int, int]] = field(default_factory=lambda: {
        "emg_raw": (1000, 8192), "shank_acc": (50, 4), "foot_acc": (50, 4)})
    mtu: int = 247
    watchdog_s: float = 5.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    connect_attempts: int = 3
    connect_timeout_s: float = 20.0
    command_timeout_s: float = 10.0
    status_every_s: float = 1.0
    backfill_stall_s: float = 10.0
    hold_s: float = 130.0
    stop_drain_s: float = 10.0
    setup_timeout_s: float = 20.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the capture header)."""
        return {"streams": {k: list(v) for k, v in self.streams.items()}, "mtu": self.mtu,
                "watchdog_s": self.watchdog_s, "hold_s": self.hold_s}


@dataclass(frozen=True, kw_only=True)
class StreamCounts:
    """Samples of one stream: received (new), backfilled (of those), lost, duplicates."""

    received: int
    backfilled: int
    lost: int
    duplicates: int


@dataclass(frozen=True, kw_only=True)
class SessionSnapshot:
    """What the status line shows.

    Attributes
    ----------
    state : str
        ``"connecting"``, ``"starting"``, ``"streaming"``, ``"reconnecting"``, ``"stopping"``
        or ``"ended"``.
    now_s : float
        Session time (UNIX s).
    battery_pct : int or None
    contact : tuple of bool or None
        Electrode contact per lead.
    counts : dict of str to StreamCounts
        Per pipeline role.
    episodes : int
        Episodes finished so far (plus one while a cramp is going on, see ``in_cramp``).
    in_cramp : bool
        A cramp has started and not ended.
    connections, dropouts : int
    mtu : int or None
    """

    state: str
    now_s: float
    battery_pct: int | None
    contact: tuple[bool, ...] | None
    counts: dict[str, StreamCounts]
    episodes: int
    in_cramp: bool
    connections: int
    dropouts: int
    mtu: int | None


@dataclass(frozen=True, kw_only=True)
class SessionSummary:
    """The night as the session saw it.

    Attributes
    ----------
    reason : str
        Why it ended: ``"stopped"``, ``"morning"``, ``"battery empty"``,
        ``"capture not writable"``, ``"cancelled"``, ``"failed"``.
    start_utc, end_utc : datetime or None
        First sample (START answered) and end of the session.
    capture_path : Path or None
        The capture file (``None`` if no band was ever reached).
    counts : dict of str to StreamCounts
        Per pipeline role.
    connections, dropouts : int
    result : NightResult or None
        The pipeline's result (``None`` if the run never started).
    corrupt_packets : int
        Notifications that could not be decoded.
    """

    reason: str
    start_utc: datetime | None
    end_utc: datetime
    capture_path: Path | None
    counts: dict[str, StreamCounts]
    connections: int
    dropouts: int
    result: NightResult | None = field(repr=False)
    """Left out of the repr: ``asyncio.run`` reprs its result when it restores the SIGINT
    handler (a Python 3.11 quirk), and a night's arrays take seconds to format."""
    corrupt_packets: int


class SessionObserver(Protocol):
    """Receives what the terminal (or a test) shows."""

    def on_block(self, role: str, block: SignalBlock) -> None:
        """A block of samples went into the pipeline."""

    def on_episode(self, event: EpisodeEvent, *, start_utc: datetime) -> None:
        """A cramp started, ended, or was withdrawn (``start_utc`` anchors the event's
        seconds)."""

    def on_status(self, snapshot: SessionSnapshot) -> None:
        """Periodic status (every ``status_every_s``) and on state changes."""

    def on_note(self, text: str) -> None:
        """Something worth a line of its own (dropout, reconnection, gap, battery)."""


class NullObserver:
    """Observer that ignores everything (the default)."""

    def on_block(self, role: str, block: SignalBlock) -> None:
        """Ignore."""

    def on_episode(self, event: EpisodeEvent, *, start_utc: datetime) -> None:
        """Ignore."""

    def on_status(self, snapshot: SessionSnapshot) -> None:
        """Ignore."""

    def on_note(self, text: str) -> None:
        """Ignore."""


def observers(*items: SessionObserver) -> SessionObserver:
    """One observer that forwards to several."""
    return _Fanout(items)


class _Fanout:
    def __init__(self, items: tuple[SessionObserver, ...]) -> None:
        self._items = items

    def on_block(self, role: str, block: SignalBlock) -> None:
        """Forward."""
        for o in self._items:
            o.on_block(role, block)

    def on_episode(self, event: EpisodeEvent, *, start_utc: datetime) -> None:
        """Forward."""
        for o in self._items:
            o.on_episode(event, start_utc=start_utc)

    def on_status(self, snapshot: SessionSnapshot) -> None:
        """Forward."""
        for o in self._items:
            o.on_status(snapshot)

    def on_note(self, text: str) -> None:
        """Forward."""
        for o in self._items:
            o.on_note(text)
