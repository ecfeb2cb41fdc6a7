"""A night from a Polar PMD accelerometer (on the foot) or a Myo armband (on the calf) over BLE.

Both sessions work as :class:`~detector.ble.session.LegBandSession` does, minus what these
devices cannot do (no backfill: what is measured while the link is down is lost):

- ``bleak-retry-connector`` connections in a reconnect-forever loop with capped exponential
  backoff (:class:`~detector.ble.timebase.Backoff`) and a data watchdog;
- on every connection the streams are started again (both devices stop streaming when the
  link drops);
- every notification goes to the crash-safe capture (sources ``polar:control``/``polar:acc``,
  ``myo:emg0``..``myo:emg3``/``myo:imu``) with the host receive time, then through the
  assembler of :mod:`detector.capture.other_sources` (the same one replay uses) into the
  :class:`~detector.pipeline.chain.NightPipeline`, with the same observer events.

A Polar alone gives a foot accelerometer only: no cramp can be detected from it (the pipeline
needs the calf EMG or a shank accelerometer). The capture is recorded and the live display
runs; the night's summary has no result and a note says what detection needs. A Myo on the
calf gives EMG and its IMU as the shank accelerometer: full detection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from detector import __version__
from detector.ble.scan import MYO_PROFILE, POLAR_PMD_PROFILE, profile_of
from detector.ble.session import DEVICE_INFO_UUIDS
from detector.ble.session_types import (
    NullObserver,
    SessionConfig,
    SessionObserver,
    SessionSnapshot,
    SessionSummary,
    StreamCounts,
)
from detector.ble.timebase import Backoff, Timebase
from detector.capture.other_sources import (
    MYO_EMG_SOURCES,
    MYO_GAP_NOTE,
    MYO_IMU_SOURCE,
    POLAR_ACC_SOURCE,
    POLAR_CONTROL_SOURCE,
    Blocks,
    MyoAssembler,
    PolarAccAssembler,
    push_notification,
)
from detector.capture.writer import CaptureWriter
from detector.config import DetectorConfig
from detector.episode import EpisodeEnded, EpisodeEvent
from detector.errors import CrampInputError
from detector.pipeline.chain import NightPipeline
from detector.pipeline.result import NightResult
from detector.profiles.myo import (
    MYO,
    NEVER_SLEEP,
    STREAM_RAW_EMG_AND_IMU,
    ClassifierMode,
    EmgMode,
    ImuMode,
    build_set_mode_command,
)
from detector.profiles.polar_pmd import (
    POLAR_PMD,
    AccSettings,
    ControlPointResponse,
    MeasurementStopped,
    MeasurementType,
    build_get_settings_command,
    build_start_acc_command,
    build_stop_command,
    parse_control_point_message,
    settings_from_response,
)
from detector.signals import ChannelSpec, RecordingInfo

POLAR_FOOT_ACC = AccSettings(sample_rate_hz=52, resolution_bits=16, range_g=8)
"""Polar Verity Sense accelerometer at 52 Hz, 16 bit, +-8 g (an H10 would use 50 Hz)."""
DETECTION_NEEDS = ("a Polar on the foot alone cannot detect cramps: detection needs the calf "
                   "EMG or a shank accelerometer (the capture is recorded for later)")
DROPOUT_ERRORS = (BleakError, TimeoutError, OSError, EOFError)


class _Dropout(Exception):
    """The link dropped (or the device stopped streaming) while waiting for it."""


class _BandSession:
    """What the Polar and Myo sessions share: connection loop, capture, pipeline, observers."""

    profile_name = ""
    sources: tuple[str, ...] = ()

    def __init__(self, device: BLEDevice, *, capture_path: Path, timebase: Timebase,
                 config: SessionConfig, detector_config: DetectorConfig,
                 assembler: PolarAccAssembler | MyoAssembler,
                 client_kwargs: Mapping[str, Any] | None = None,
                 observer: SessionObserver | None = None, leg: str = "unknown",
                 until_s: float | None = None,
                 session_info: Mapping[str, Any] | None = None) -> None:
        self.device = device
        self.capture_path = capture_path
        self.timebase = timebase
        self.config = config
        self.detector_config = detector_config
        self.assembler = assembler
        self.client_kwargs = dict(client_kwargs or {})
        self.observer: SessionObserver = observer or NullObserver()
        self.leg = leg
        self.until_s = until_s
        self.session_info = dict(session_info or {})
        self.state = "connecting"
        self.connect_pending = False
        self.connections = 0
        self.dropouts = 0
        self.corrupt_packets = 0
        self.callback_cpu_s = 0.0
        self.remarks: list[str] = []
        self._writer: CaptureWriter | None = None
        self._pipeline: NightPipeline | None = None
        self._can_detect = True
        self._client: BleakClient | None = None
        self._link_lost = asyncio.Event()
        self._stop = asyncio.Event()
        self._last_data_s = 0.0
        self._episodes = 0
        self._in_cramp = False
        self._start_utc: datetime | None = None

    # ------------------------------------------------------------------ public control
    @property
    def channels(self) -> dict[str, ChannelSpec]:
        """Channels the session produces (what the live display shows)."""
        return dict(self.assembler.channels)

    def request_stop(self) -> None:
        """Stop the night at the next opportunity."""
        self._stop.set()

    async def run(self) -> SessionSummary:
        """Record until the morning time or :meth:`request_stop`."""
        backoff = Backoff(initial_s=self.config.backoff_initial_s,
                          max_s=self.config.backoff_max_s)
        reason = "stopped"
        while not self._stop.is_set():
            if self._morning():
                reason = "morning"
                break
            delay = backoff.next_delay_s()
            if delay > 0 and await self._sleep(delay):
                continue
            client = await self._connect()
            if client is None:
                continue
            outcome = await self._serve(client)
            if outcome in ("stopped", "morning"):
                reason = outcome
                with contextlib.suppress(*DROPOUT_ERRORS, _Dropout, CrampInputError):
                    await self._stop_streams(client)
                await self._disconnect(client)
                break
            await self._disconnect(client)
            if outcome == "streamed":
                backoff.reset()
        return self._finish(reason)

    # -------------------------------------------------------------------- connection
    async def _connect(self) -> BleakClient | None:
        self._set_state("connecting" if self.connections == 0 else "reconnecting")
        self._link_lost = asyncio.Event()
        self.connect_pending = True
        attempt = asyncio.ensure_future(establish_connection(
            BleakClient, self.device, self.device.name or self.device.address,
            disconnected_callback=self._on_disconnected,
            max_attempts=self.config.connect_attempts, timeout=self.config.connect_timeout_s,
            mtu=self.config.mtu, **self.client_kwargs))
        waits: list[asyncio.Future[Any]] = [attempt, asyncio.ensure_future(self._stop.wait())]
        if self.until_s is not None:
            waits.append(asyncio.ensure_future(
                self.timebase.sleep(self.until_s - self.timebase.now_s())))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.connect_pending = False
            for w in waits[1:]:
                w.cancel()
        if not attempt.done():
            attempt.cancel()
            with contextlib.suppress(asyncio.CancelledError, *DROPOUT_ERRORS):
                await attempt
            return None
        try:
            client = attempt.result()
        except DROPOUT_ERRORS as exc:
            self.observer.on_note(f"connection failed: {exc}")
            return None
        self.connections += 1
        self._client = client
        return client

    def _on_disconnected(self, client: BleakClient) -> None:
        if client is self._client:
            self._link_lost.set()

    async def _disconnect(self, client: BleakClient) -> None:
        self._client = None
        if client.is_connected:
            with contextlib.suppress(*DROPOUT_ERRORS):
                await client.disconnect()
        self._link_lost.set()

    async def _serve(self, client: BleakClient) -> str:
        try:
            profile = profile_of([s.uuid for s in client.services], client.name)
            if profile != self.profile_name:
                raise CrampInputError(f"device {self.device.address}",
                                      f"serves the {profile or 'unknown'} profile; expected "
                                      f"{self.profile_name}")
            now = self.timebase.now_s()
            if self._writer is None:
                self._writer = CaptureWriter(self.capture_path,
                                             session=self._session_meta(await self._info(client)))
            self._writer.event("connected", at_s=now, address=self.device.address,
                               mtu=client.mtu_size, connection=self.connections)
            self.assembler.new_connection()
            self._set_state("starting")
            await self._start_streams(client)
            self._last_data_s = self.timebase.now_s()
            self._set_state("streaming")
            return await self._watch()
        except _Dropout:
            return "lost"
        except DROPOUT_ERRORS as exc:
            self.observer.on_note(f"link error: {exc}")
            return "lost"
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling() > 0:
                raise
            return "lost"
        finally:
            if self._writer is not None and not self._stop.is_set() and not self._morning():
                self.dropouts += 1
                self._writer.event("disconnected", at_s=self.timebase.now_s(),
                                   reason="link lost")
                self.observer.on_note("band disconnected; reconnecting")

    async def _info(self, client: BleakClient) -> dict[str, str]:
        info: dict[str, str] = {}
        for key, uuid in DEVICE_INFO_UUIDS.items():
            with contextlib.suppress(BleakError):
                info[key] = bytes(await client.read_gatt_char(uuid)).decode("utf-8", "replace")
        return info

    def _session_meta(self, device_info: dict[str, str]) -> dict[str, Any]:
        return {"profile": self.profile_name,
                "device": {"address": self.device.address, "name": self.device.name or ""},
                "device_info": device_info, "config": self.config.to_dict(),
                "host_start_utc": datetime.fromtimestamp(self.timebase.now_s(), UTC).isoformat(),
                "detector_version": __version__, "leg": self.leg, **self._extra_meta(),
                **self.session_info}

    async def _watch(self) -> str:
        tick_s = min(0.5, self.config.watchdog_s / 4, self.config.status_every_s)
        last_status = -1e18
        while True:
            if self._stop.is_set():
                return "stopped"
            if self._morning():
                return "morning"
            if self._link_lost.is_set():
                return "streamed"
            now = self.timebase.now_s()
            if now - self._last_data_s > self.config.watchdog_s:
                self.observer.on_note(
                    f"no data for {now - self._last_data_s:.0f} s: treating it as a dropout")
                return "streamed"
            if now - last_status >= self.config.status_every_s:
                last_status = now
                self.observer.on_status(self.snapshot())
            await self._sleep(tick_s, also=self._link_lost)

    def _morning(self) -> bool:
        return self.until_s is not None and self.timebase.now_s() >= self.until_s

    async def _sleep(self, duration_s: float, also: asyncio.Event | None = None) -> bool:
        """Sleep; return True early if a stop was requested (or ``also`` is set)."""
        waits = [asyncio.ensure_future(self._stop.wait())]
        if also is not None:
            waits.append(asyncio.ensure_future(also.wait()))
        sleeper = asyncio.ensure_future(self.timebase.sleep(duration_s))
        try:
            await asyncio.wait([sleeper, *waits], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, *waits):
                task.cancel()
        return self._stop.is_set()

    # -------------------------------------------------------------- device specifics
    def _extra_meta(self) -> dict[str, Any]:
        return {}

    async def _start_streams(self, client: BleakClient) -> None:
        """Subscribe and start streaming (each subclass)."""

    async def _stop_streams(self, client: BleakClient) -> None:
        """Stop streaming at the end of the night (each subclass)."""

    # ----------------------------------------------------------------- notifications
    def _take(self, source: str, value: bytearray) -> None:
        cpu0 = time.process_time()
        payload = bytes(value)
        now = self.timebase.now_s()
        if source != POLAR_CONTROL_SOURCE:
            self._last_data_s = now
        if self._writer is not None:
            self._writer.packet(source=source, payload=payload, received_s=now)
        try:
            blocks = push_notification(self.assembler, source, payload, now)
        except CrampInputError:
            self.corrupt_packets += 1
            blocks = []
        self._feed(blocks)
        self.callback_cpu_s += time.process_time() - cpu0

    def _feed(self, blocks: Blocks) -> None:
        if not blocks:
            return
        if self._start_utc is None and self.assembler.start_unix_s is not None:
            self._start_utc = datetime.fromtimestamp(self.assembler.start_unix_s, UTC)
            try:
                self._pipeline = NightPipeline(self.channels, config=self.detector_config,
                                               start_utc=self._start_utc, leg=self.leg)
            except CrampInputError:
                self._can_detect = False
                self.remarks.append(DETECTION_NEEDS)
                self.observer.on_note(DETECTION_NEEDS)
        for role, block in blocks:
            self.observer.on_block(role, block)
            if self._pipeline is not None:
                for ev in self._pipeline.push(role, block):
                    self._emit(ev)

    def _emit(self, event: EpisodeEvent) -> None:
        assert self._pipeline is not None
        if isinstance(event, EpisodeEnded):
            self._episodes += 1
            self._in_cramp = False
        else:
            self._in_cramp = True
        self.observer.on_episode(event, start_utc=self._pipeline.start_utc)

    # ---------------------------------------------------------------------- results
    def _recording_info(self) -> RecordingInfo:
        assert self._start_utc is not None
        tracks = self.assembler.tracks
        return RecordingInfo(
            path=str(self.capture_path), start_utc=self._start_utc,
            duration_s=max((t.frontier / t.spec.fs for t in tracks.values()), default=0.0),
            channels=self.channels, leg=self.leg, file_format="capture",
            notes=tuple(self.remarks))

    def partial_result(self) -> NightResult | None:
        """The night so far (for the live episode store); ``None`` without a pipeline."""
        if self._pipeline is None:
            return None
        return self._pipeline.result(self._recording_info())

    def _finish(self, reason: str) -> SessionSummary:
        self._set_state("ended")
        now = self.timebase.now_s()
        self._feed(self.assembler.flush())
        result = None
        if self._pipeline is not None:
            for ev in self._pipeline.flush():
                self._emit(ev)
            result = self._pipeline.result(self._recording_info())
        for remark in self.remarks:
            self.observer.on_note(remark)
        if self._writer is not None:
            self._writer.event("stop", at_s=now, reason=reason)
            self._writer.close()
        return SessionSummary(
            reason=reason, start_utc=self._start_utc, end_utc=datetime.fromtimestamp(now, UTC),
            capture_path=self.capture_path if self._writer is not None else None,
            counts=self.counts(), connections=self.connections, dropouts=self.dropouts,
            result=result, corrupt_packets=self.corrupt_packets)

    def counts(self) -> dict[str, StreamCounts]:
        """Sample counts per pipeline role (no backfill on these devices)."""
        return {role: StreamCounts(received=t.received, backfilled=0, lost=t.lost,
                                   duplicates=t.duplicates)
                for role, t in self.assembler.tracks.items() if t.received or t.lost}

    def snapshot(self) -> SessionSnapshot:
        """Current status."""
        client = self._client
        return SessionSnapshot(
            state=self.state, now_s=self.timebase.now_s(), battery_pct=None, contact=None,
            counts=self.counts(), episodes=self._episodes, in_cramp=self._in_cramp,
            connections=self.connections, dropouts=self.dropouts,
            mtu=client.mtu_size if client is not None and client.is_connected else None)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.observer.on_status(self.snapshot())


class PolarSession(_BandSession):
    """Record one night from a Polar PMD sensor strapped to the foot (``foot_acc`` only).

    Parameters are those of :class:`~detector.ble.session.LegBandSession`, plus ``acc``: the
    accelerometer settings to start (default :data:`POLAR_FOOT_ACC`).
    """

    profile_name = POLAR_PMD_PROFILE

    def __init__(self, device: BLEDevice, *, capture_path: Path, timebase: Timebase,
                 config: SessionConfig, detector_config: DetectorConfig,
                 acc: AccSettings = POLAR_FOOT_ACC, **kwargs: Any) -> None:
        self.acc = acc
        super().__init__(device, capture_path=capture_path, timebase=timebase, config=config,
                         detector_config=detector_config,
                         assembler=PolarAccAssembler(fs=acc.sample_rate_hz,
                                                     range_g=acc.range_g), **kwargs)
        self._pending: tuple[int, asyncio.Future[ControlPointResponse]] | None = None
        self._cmd_lock = asyncio.Lock()

    def _extra_meta(self) -> dict[str, Any]:
        return {"polar": {"fs_hz": self.acc.sample_rate_hz, "range_g": self.acc.range_g,
                          "resolution_bits": self.acc.resolution_bits}}

    async def _start_streams(self, client: BleakClient) -> None:
        await client.start_notify(POLAR_PMD.control_point_uuid, self._on_control)
        await client.start_notify(POLAR_PMD.data_uuid, self._on_data)
        offered = settings_from_response(await self._command(
            client, build_get_settings_command(MeasurementType.ACC)))
        if offered.sample_rates_hz and self.acc.sample_rate_hz not in offered.sample_rates_hz:
            raise CrampInputError("polar accelerometer",
                                  f"{self.acc.sample_rate_hz} Hz not offered (offers "
                                  f"{', '.join(map(str, offered.sample_rates_hz))} Hz)")
        answer = await self._command(client, build_start_acc_command(self.acc))
        if not answer.ok:
            raise CrampInputError("polar control point",
                                  f"START ACC refused with {answer.status_name}")

    async def _stop_streams(self, client: BleakClient) -> None:
        await self._command(client, build_stop_command(MeasurementType.ACC))

    async def _command(self, client: BleakClient, payload: bytes) -> ControlPointResponse:
        async with self._cmd_lock:
            if self._link_lost.is_set():
                raise _Dropout()
            future: asyncio.Future[ControlPointResponse] = (
                asyncio.get_running_loop().create_future())
            self._pending = (payload[0], future)
            if self._writer is not None:
                self._writer.packet(source="polar:command", payload=payload,
                                    received_s=self.timebase.now_s())
            try:
                await client.write_gatt_char(POLAR_PMD.control_point_uuid, payload,
                                             response=True)
                sleeper = asyncio.ensure_future(
                    self.timebase.sleep(self.config.command_timeout_s))
                lost = asyncio.ensure_future(self._link_lost.wait())
                try:
                    await asyncio.wait([future, sleeper, lost],
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
                    lost.cancel()
                if future.done():
                    return future.result()
                if self._link_lost.is_set():
                    raise _Dropout()
                raise TimeoutError("the Polar sensor did not answer a control-point command")
            finally:
                self._pending = None

    def _on_control(self, _char: BleakGATTCharacteristic, value: bytearray) -> None:
        self._take(POLAR_CONTROL_SOURCE, value)
        try:
            msg = parse_control_point_message(bytes(value))
        except CrampInputError:
            return
        if isinstance(msg, MeasurementStopped):
            self.observer.on_note("the Polar sensor stopped streaming; restarting it")
            self._link_lost.set()
            return
        pending = self._pending
        if pending is not None and pending[0] == msg.opcode and not pending[1].done():
            pending[1].set_result(msg)

    def _on_data(self, _char: BleakGATTCharacteristic, value: bytearray) -> None:
        self._take(POLAR_ACC_SOURCE, value)


class MyoSession(_BandSession):
    """Record one night from a Myo armband on the calf (EMG + IMU accelerometer as shank).

    Parameters are those of :class:`~detector.ble.session.LegBandSession`. The Myo's packets
    carry no counters, so a gap after a reconnection is estimated from the host clock.
    """

    profile_name = MYO_PROFILE

    def __init__(self, device: BLEDevice, *, capture_path: Path, timebase: Timebase,
                 config: SessionConfig, detector_config: DetectorConfig,
                 **kwargs: Any) -> None:
        super().__init__(device, capture_path=capture_path, timebase=timebase, config=config,
                         detector_config=detector_config, assembler=MyoAssembler(), **kwargs)
        self.remarks.append(MYO_GAP_NOTE)
        self._gap_events = 0

    async def _start_streams(self, client: BleakClient) -> None:
        for k, uuid in enumerate(MYO.emg_data_uuids):
            await client.start_notify(uuid, self._emg_callback(MYO_EMG_SOURCES[k]))
        await client.start_notify(MYO.imu_data_uuid, self._on_imu)
        for command in (NEVER_SLEEP, STREAM_RAW_EMG_AND_IMU):
            if self._writer is not None:
                self._writer.packet(source="myo:command", payload=command,
                                    received_s=self.timebase.now_s())
            await client.write_gatt_char(MYO.command_uuid, command, response=True)

    async def _stop_streams(self, client: BleakClient) -> None:
        stop = build_set_mode_command(emg_mode=EmgMode.NONE, imu_mode=ImuMode.NONE,
                                      classifier_mode=ClassifierMode.DISABLED)
        await client.write_gatt_char(MYO.command_uuid, stop, response=True)

    def _emg_callback(self, source: str) -> Any:
        def on_emg(_char: BleakGATTCharacteristic, value: bytearray) -> None:
            self._take(source, value)
            self._note_gaps()
        return on_emg

    def _on_imu(self, _char: BleakGATTCharacteristic, value: bytearray) -> None:
        self._take(MYO_IMU_SOURCE, value)
        self._note_gaps()

    def _note_gaps(self) -> None:
        gaps = [g for t in self.assembler.tracks.values() for g in t.gaps]
        for gap in gaps[self._gap_events:]:
            if self._writer is not None:
                self._writer.event("gap", at_s=self.timebase.now_s(), stream=gap.role,
                                   samples_missing=gap.samples_missing, estimated=True)
            self.observer.on_note(f"{gap.role}: about {gap.duration_s:.1f} s missed while "
                                  "disconnected (estimated from the host clock)")
        self._gap_events = len(gaps)
