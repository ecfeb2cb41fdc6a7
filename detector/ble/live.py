"""What the sleeper sees in the terminal during a night: a status line, cramps as they start.

:class:`LiveDisplay` is a :class:`~detector.ble.session.SessionObserver`. On a terminal the
status line is redrawn in place; otherwise (a log file, a test) one status line is printed every
``log_every_s`` seconds of session time. When a cramp starts, the first aid is printed at once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TextIO

import numpy as np

from detector.ble.session_types import SessionSnapshot, SessionSummary
from detector.episode import EpisodeEnded, EpisodeEvent, EpisodeStarted, EpisodeWithdrawn
from detector.signals import ChannelSpec, SignalBlock

FIRST_AID = ("Cramp: pull your toes toward your shin, or stand and lean toward a wall; "
             "massage the calf.")
"""The seed's first aid, shown when a cramp starts (no drugs, no remedies)."""

QUALITY_WINDOW_S = 10.0
"""Seconds of recent signal the per-channel quality is judged on."""


@dataclass
class ChannelQuality:
    """Recent signal quality of one channel: ``ok``, ``flat``, ``saturated`` or ``no data``.

    Parameters
    ----------
    spec : ChannelSpec
        The channel (its ``fs`` and rails).
    flat_uv : float
        EMG standard deviation below which the trace counts as flat (electrode off).
    """

    spec: ChannelSpec
    flat_uv: float = 0.3
    _recent: list[np.ndarray] = field(default_factory=list)
    _n: int = 0
    last_end_sample: int = 0

    def push(self, block: SignalBlock) -> None:
        """Add a block; keep about :data:`QUALITY_WINDOW_S` seconds."""
        self._recent.append(block.data)
        self._n += block.n_samples
        self.last_end_sample = block.end_sample
        limit = round(QUALITY_WINDOW_S * self.spec.fs)
        while self._recent and self._n - self._recent[0].shape[0] >= limit:
            self._n -= self._recent.pop(0).shape[0]

    def label(self) -> str:
        """One word for the status line."""
        if not self._recent:
            return "no data"
        x = np.concatenate(self._recent)
        if self.spec.rails is not None:
            lo, hi = self.spec.rails
            if np.mean((x <= lo) | (x >= hi)) > 0.01:
                return "saturated"
        if self.spec.role == "emg" and float(np.std(x)) < self.flat_uv:
            return "flat"
        return "ok"


class LiveDisplay:
    """Terminal output of a recording session.

    Parameters
    ----------
    channels : dict of str to ChannelSpec
        The session's pipeline channels.
    out : text stream
        Where to write (default stdout).
    tz : tzinfo, optional
        Zone for clock times (default: the machine's).
    live_line : bool, optional
        Redraw one status line in place; default: when ``out`` is a terminal.
    log_every_s : float
        Without a live line, seconds of session time between printed status lines.
    now_s : callable, optional
        Session clock (UNIX s) used to time-stamp remarks; default: the last status time.
    """

    def __init__(self, channels: dict[str, ChannelSpec], *, out: TextIO | None = None,
                 tz: tzinfo | None = None, live_line: bool | None = None,
                 log_every_s: float = 600.0, now_s: Callable[[], float] | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self._now_s = now_s
        self.tz = tz
        self.live_line = self.out.isatty() if live_line is None else live_line
        self.log_every_s = log_every_s
        self.quality = {role: ChannelQuality(spec) for role, spec in channels.items()}
        self.lines: list[str] = []
        self._last_logged_s: float | None = None
        self._line_open = False
        self._last_snapshot: SessionSnapshot | None = None

    # ------------------------------------------------------------------ observer API
    def on_block(self, role: str, block: SignalBlock) -> None:
        """Track recent quality."""
        q = self.quality.get(role)
        if q is not None:
            q.push(block)

    def on_episode(self, event: EpisodeEvent, *, start_utc: datetime) -> None:
        """Print a cramp's start (with first aid) at once, its end, or that a later look
        withdrew it (it is then not in the morning log)."""
        if isinstance(event, EpisodeStarted):
            at = self._clock(start_utc + timedelta(seconds=event.onset_s))
            self._say(f"[{at}] {FIRST_AID}")
        elif isinstance(event, EpisodeWithdrawn):
            at = self._clock(start_utc + timedelta(seconds=event.withdrawn_s))
            self._say(f"[{at}] not a cramp after all: {event.reason}; it is not logged")
        elif isinstance(event, EpisodeEnded):
            e = event.episode
            at = self._clock(e.onset_utc + timedelta(seconds=e.duration_s))
            self._say(f"[{at}] cramp over: {e.duration_s:.0f} s"
                      + ("" if e.plantar_flexion_deg is None
                         else f", foot pointed {e.plantar_flexion_deg:.0f} deg"))

    def on_status(self, snapshot: SessionSnapshot) -> None:
        """Redraw (terminal) or log (periodically) the status line."""
        self._last_snapshot = snapshot
        text = self.status_text(snapshot)
        if self.live_line:
            self.out.write("\r\x1b[2K" + text)
            self.out.flush()
            self._line_open = True
            return
        due = (self._last_logged_s is None
               or snapshot.now_s - self._last_logged_s >= self.log_every_s)
        if due or snapshot.state in ("ended",):
            self._last_logged_s = snapshot.now_s
            self._say(text)

    def on_note(self, text: str) -> None:
        """Print a remark on its own line."""
        if self._now_s is not None:
            now: float | None = self._now_s()
        else:
            now = self._last_snapshot.now_s if self._last_snapshot else None
        stamp = "" if now is None else f"[{self._clock(datetime.fromtimestamp(now, UTC))}] "
        self._say(stamp + text)

    # ------------------------------------------------------------------------ text
    def status_text(self, s: SessionSnapshot) -> str:
        """The status line for a snapshot."""
        battery = "-" if s.battery_pct is None else f"{s.battery_pct}%"
        quality = " ".join(f"{_short(r)}:{q.label()}" for r, q in self.quality.items())
        if s.contact is not None and not all(s.contact):
            quality += " electrode-off"
        received = sum(c.received for c in s.counts.values())
        lost = sum(c.lost for c in s.counts.values())
        backfilled = sum(c.backfilled for c in s.counts.values())
        cramp = " CRAMP NOW" if s.in_cramp else ""
        return (f"{self._clock(datetime.fromtimestamp(s.now_s, UTC))} {s.state}"
                f" | signal {quality} | battery {battery} | samples {received:,} received,"
                f" {lost:,} lost, {backfilled:,} backfilled | dropouts {s.dropouts}"
                f" | cramps {s.episodes}{cramp}")

    def summary(self, summary: SessionSummary) -> None:
        """Print the end-of-night summary."""
        lines = [f"night ended: {summary.reason}"]
        if summary.start_utc is not None:
            lines.append(f"  recorded {self._clock(summary.start_utc)} - "
                         f"{self._clock(summary.end_utc)}, {summary.connections} connection(s),"
                         f" {summary.dropouts} dropout(s)")
        for role, c in summary.counts.items():
            lines.append(f"  {role}: {c.received:,} samples received ({c.backfilled:,} by "
                         f"backfill), {c.lost:,} lost, {c.duplicates:,} duplicates dropped")
        if summary.result is not None:
            n = len(summary.result.episodes)
            lines.append(f"  {n} cramp episode(s); {len(summary.result.gaps)} data gap(s)")
        if summary.capture_path is not None:
            lines.append(f"  capture: {summary.capture_path}")
        for line in lines:
            self._say(line)

    def _say(self, text: str) -> None:
        if self._line_open:
            self.out.write("\r\x1b[2K")
            self._line_open = False
        self.lines.append(text)
        self.out.write(text + "\n")
        self.out.flush()

    def _clock(self, t: datetime) -> str:
        return f"{t.astimezone(self.tz):%H:%M:%S}"


def _short(role: str) -> str:
    return {"emg": "EMG", "shank_acc": "shank", "foot_acc": "foot"}.get(role, role)
