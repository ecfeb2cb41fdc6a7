"""What one band session makes of the night: capture header, recorder, status, summary.

:class:`SessionOutputs` is the half of :class:`~detector.ble.link.BandSessionBase` that turns
the night into its outputs, whatever the connection does:

- the capture header (:meth:`~SessionOutputs._session_meta`): profile, device, settings,
  detector version, leg and the band's own entries;
- the night's :class:`~detector.night.recorder.NightRecorder`, observed live, and the night so
  far for the episode store (:meth:`~SessionOutputs.partial_result`);
- the session's state and status snapshots, told to the observer;
- at the end (:meth:`~SessionOutputs._finish`): the band's last samples through the recorder,
  the capture closed, the :class:`~detector.ble.session_types.SessionSummary`.

The hooks each band implements for these (:attr:`~SessionOutputs.channels`,
:meth:`~SessionOutputs.counts`, :meth:`~SessionOutputs._flush_band`, ...) are declared here;
the state they read (the clock, the counters, the capture writer, the recorder) is made by
:meth:`BandSessionBase.__init__ <detector.ble.link.BandSessionBase>`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from bleak import BleakClient
from bleak.backends.device import BLEDevice

from detector import __version__
from detector.ble.capture_guard import GuardedWriter
from detector.ble.session_types import (
    SessionConfig,
    SessionObserver,
    SessionSnapshot,
    SessionSummary,
    StreamCounts,
)
from detector.ble.timebase import Timebase
from detector.capture.writer import CaptureWriteError
from detector.config import DetectorConfig
from detector.night.recorder import NightRecorder
from detector.pipeline.result import NightResult
from detector.signals import ChannelSpec, RecordingInfo

__all__ = ["SessionOutputs"]


class SessionOutputs(abc.ABC):
    """The capture header, recorder, status and summary of one band session (a supervisor base).

    The attributes below are set by :class:`~detector.ble.link.BandSessionBase`.
    """

    profile_name: ClassVar[str]
    device: BLEDevice
    capture_path: Path
    timebase: Timebase
    config: SessionConfig
    detector_config: DetectorConfig
    observer: SessionObserver
    leg: str
    session_info: dict[str, Any]
    state: str
    connections: int
    dropouts: int
    corrupt_packets: int
    battery_pct: int | None
    remarks: list[str]
    last_summary: SessionSummary | None
    write_error: CaptureWriteError | None
    recorder: NightRecorder | None
    _writer: GuardedWriter | None
    _client: BleakClient | None

    @property
    @abc.abstractmethod
    def channels(self) -> dict[str, ChannelSpec]:
        """Pipeline channels the session produces (what the live display shows)."""

    # ----------------------------------------------------------------- capture header
    def _session_meta(self, device_info: dict[str, str]) -> dict[str, Any]:
        return {
            "profile": self.profile_name,
            **self._profile_meta(),
            "device": {"address": self.device.address, "name": self.device.name or ""},
            "device_info": device_info,
            "config": self.config.to_dict(),
            "host_start_utc": datetime.fromtimestamp(self.timebase.now_s(), UTC).isoformat(),
            "detector_version": __version__,
            "leg": self.leg,
            **self._extra_meta(),
            **self.session_info,
        }

    # ----------------------------------------------------------------------- recorder
    def _make_recorder(self, channels: Mapping[str, ChannelSpec],
                       start_utc: datetime) -> NightRecorder:
        """The night's :class:`~detector.night.recorder.NightRecorder`, observed live.

        Raises
        ------
        CrampInputError
            The channels allow no detection.
        """
        return NightRecorder(
            channels, config=self.detector_config, start_utc=start_utc, leg=self.leg,
            on_block=lambda role, block: self.observer.on_block(role, block),
            on_episode=lambda ev, *, start_utc: self.observer.on_episode(ev,
                                                                         start_utc=start_utc))

    def partial_result(self) -> NightResult | None:
        """The night so far (episodes that have ended, trace, gaps), for the episode store.

        ``None`` before the pipeline has its first samples. The recording is identified by the
        capture path and the start time, as the final result is, so storing both updates one
        night.
        """
        if self.recorder is None:
            return None
        return self.recorder.result(self._recording_info())

    def _recording_info(self) -> RecordingInfo:
        assert self.recorder is not None
        return RecordingInfo(
            path=str(self.capture_path), start_utc=self.recorder.start_utc,
            duration_s=self._duration_s(), channels=self.channels, leg=self.leg,
            file_format="capture", notes=tuple(self.remarks))

    def _finish(self, reason: str) -> SessionSummary:
        self._set_state("ended")
        now = self.timebase.now_s()
        self._flush_band(now)
        result = None
        if self.recorder is not None:
            self.recorder.finish()
            result = self.recorder.result(self._recording_info())
        for remark in self.remarks:
            self.observer.on_note(remark)
        if self._writer is not None:
            self._writer.event("stop", at_s=now, reason=reason)
            self._writer.close()
        self.last_summary = SessionSummary(
            reason=reason if self.write_error is None else "capture not writable",
            start_utc=self._night_start_utc(), end_utc=datetime.fromtimestamp(now, UTC),
            capture_path=self.capture_path if self._writer is not None else None,
            counts=self.counts(), connections=self.connections, dropouts=self.dropouts,
            result=result, corrupt_packets=self.corrupt_packets)
        if self.write_error is not None:
            raise CaptureWriteError(f"{self.write_error}; the night stopped there, and what "
                                    "was recorded until then is kept in that capture")
        return self.last_summary

    # ------------------------------------------------------------------------- status
    def snapshot(self) -> SessionSnapshot:
        """Current status."""
        client = self._client
        return SessionSnapshot(
            state=self.state, now_s=self.timebase.now_s(), battery_pct=self.battery_pct,
            contact=self._contact(), counts=self.counts(),
            episodes=self.recorder.episodes if self.recorder is not None else 0,
            in_cramp=self.recorder.in_cramp if self.recorder is not None else False,
            connections=self.connections, dropouts=self.dropouts,
            mtu=client.mtu_size if client is not None and client.is_connected else None)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.observer.on_status(self.snapshot())

    # -------------------------------------------------------------------------- hooks
    @abc.abstractmethod
    def counts(self) -> dict[str, StreamCounts]:
        """Sample counts per pipeline role."""

    @abc.abstractmethod
    def _flush_band(self, now_s: float) -> None:
        """End of the night: push what the band's assembly still holds into the pipeline."""

    @abc.abstractmethod
    def _night_start_utc(self) -> datetime | None:
        """Start of the night's recording (``None`` if streaming never began)."""

    @abc.abstractmethod
    def _duration_s(self) -> float:
        """Seconds of signal on the night's timeline so far."""

    def _profile_meta(self) -> dict[str, Any]:
        """Capture-header entries placed right after ``profile``."""
        return {}

    def _extra_meta(self) -> dict[str, Any]:
        """Capture-header entries placed after ``leg``."""
        return {}

    def _contact(self) -> tuple[bool, ...] | None:
        """Electrode contact per lead, when the band reports it."""
        return None
