"""A night's recording from a LegBand over BLE: connect, stream, survive dropouts, detect live.

:class:`LegBandSession` keeps one band streaming until the morning time, a stop request or the
band's battery running out:

- connection establishment with ``bleak-retry-connector`` (a new ``BleakClient`` each time),
  wrapped in a reconnect-forever loop with capped exponential backoff;
- on every connection: check the profile from the services, subscribe to the control point
  (indications), status, battery and data, and either start the run (first connection) or
  ask the band to BACKFILL every stream from the first sequence number not received;
- a watchdog: seconds without data is a dropout (disconnect, reconnect, backfill);
- every notification goes to the crash-safe capture with the host receive time, then through
  the :class:`~detector.capture.assembler.StreamAssembler` into the
  :class:`~detector.pipeline.chain.NightPipeline`, whose episode events reach the observer
  (the terminal) as they happen.

Time comes from a :class:`~detector.ble.timebase.Timebase` (wall clock, or a simulated night).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from detector import __version__
from detector.ble.scan import LEGBAND_PROFILE, profile_of
from detector.ble.session_types import (
    NullObserver,
    SessionConfig,
    SessionObserver,
    SessionSnapshot,
    SessionSummary,
    StreamCounts,
    observers,
)
from detector.ble.timebase import Backoff, Timebase
from detector.ble.tracker import LostRange, StreamTracker, unwrap
from detector.capture.assembler import StreamAssembler, legband_channels
from detector.capture.writer import CaptureWriter
from detector.config import DetectorConfig
from detector.episode import EpisodeEnded, EpisodeEvent
from detector.errors import CrampInputError
from detector.pipeline.chain import NightPipeline
from detector.pipeline.result import NightResult
from detector.profiles.legband import LEGBAND, LegBandProfile, Status
from detector.profiles.legband_codec import (
    BackfillCommand,
    BandStatus,
    Command,
    ControlResponse,
    SetRangeCommand,
    SetRateCommand,
    StartCommand,
    StopCommand,
    TimeSyncCommand,
    decode_data_packet,
    decode_response,
    decode_status,
    encode_command,
)
from detector.signals import ChannelSpec, RecordingInfo, SignalBlock

__all__ = ["LegBandSession", "SessionConfig", "SessionObserver", "SessionSnapshot",
           "SessionSummary", "StreamCounts", "observers"]

BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
EDGE_MARGIN_S = 0.25
"""When the asked packet has left the band's buffer, the next BACKFILL aims this many seconds
(doubling on each refusal) past the oldest packet still held, which moves on meanwhile."""
DEVICE_INFO_UUIDS: dict[str, str] = {
    "manufacturer": "00002a29-0000-1000-8000-00805f9b34fb",
    "model": "00002a24-0000-1000-8000-00805f9b34fb",
    "serial_number": "00002a25-0000-1000-8000-00805f9b34fb",
    "hardware_revision": "00002a27-0000-1000-8000-00805f9b34fb",
    "firmware_revision": "00002a26-0000-1000-8000-00805f9b34fb",
    "software_revision": "00002a28-0000-1000-8000-00805f9b34fb",
}


class _LinkLost(Exception):
    """The connection dropped while waiting for the band."""


@dataclass
class _Run:
    """One acquisition run (START to STOP) of the band."""

    start_utc: datetime
    start_ticks: int
    trackers: dict[int, StreamTracker]
    assembler: StreamAssembler
    offsets: dict[str, int]


class LegBandSession:
    """Record one night from one LegBand.

    Parameters
    ----------
    device : BLEDevice
        The band (from a scan).
    capture_path : Path
        Capture file to create (must not exist).
    timebase : Timebase
        Session clock.
    config : SessionConfig
        Streams, MTU, timeouts.
    detector_config : DetectorConfig
        Pipeline thresholds.
    client_kwargs : dict, optional
        Extra ``BleakClient`` keyword arguments (e.g. ``backend=``).
    observer : SessionObserver, optional
        Live output.
    leg : str
        ``"left"``, ``"right"`` or ``"unknown"``.
    until_s : float, optional
        Session time (UNIX s) at which the night ends (the morning).
    session_info : dict, optional
        Extra metadata for the capture header (e.g. the simulation's parameters).
    profile : LegBandProfile
        The band's profile.
    """

    def __init__(self, device: BLEDevice, *, capture_path: Path, timebase: Timebase,
                 config: SessionConfig, detector_config: DetectorConfig,
                 client_kwargs: Mapping[str, Any] | None = None,
                 observer: SessionObserver | None = None, leg: str = "unknown",
                 until_s: float | None = None, session_info: Mapping[str, Any] | None = None,
                 profile: LegBandProfile = LEGBAND) -> None:
        self.device = device
        self.capture_path = capture_path
        self.timebase = timebase
        self.config = config
        self.detector_config = detector_config
        self.client_kwargs = dict(client_kwargs or {})
        self.observer: SessionObserver = observer or NullObserver()
        self.leg = leg
        self.until_s = until_s
        self.session_info = dict(session_info or {})
        self.profile = profile
        self.state = "connecting"
        self.connect_pending = False
        self.connections = 0
        self.dropouts = 0
        self.corrupt_packets = 0
        self.battery_pct: int | None = None
        self.band_status: BandStatus | None = None
        self.callback_cpu_s = 0.0
        self._specs = {name: profile.stream_named(name) for name in config.streams}
        self._writer: CaptureWriter | None = None
        self._run: _Run | None = None
        self._pipeline: NightPipeline | None = None
        self._early: list[tuple[bytes, float]] | None = None
        self._client: BleakClient | None = None
        self._link_lost = asyncio.Event()
        self._stop = asyncio.Event()
        self._cmd_lock = asyncio.Lock()
        self._pending: tuple[int, asyncio.Future[ControlResponse]] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_data_s = 0.0
        self._last_status_s = -1e18
        self._battery_empty = False
        self._episodes = 0
        self._in_cramp = False
        self._role_end: dict[str, int] = {}
        self._channels = self._channel_specs()

    # ------------------------------------------------------------------ public control
    def request_stop(self) -> None:
        """Stop the night at the next opportunity (SIGINT/SIGTERM handlers call this)."""
        self._stop.set()

    @property
    def channels(self) -> dict[str, ChannelSpec]:
        """Pipeline channels the session produces."""
        return dict(self._channels)

    async def run(self) -> SessionSummary:
        """Record until the morning time, :meth:`request_stop` or an empty battery."""
        backoff = Backoff(initial_s=self.config.backoff_initial_s,
                          max_s=self.config.backoff_max_s)
        reason = "stopped"
        try:
            while True:
                if self._stop.is_set():
                    break
                if self._morning():
                    reason = "morning"
                    break
                delay = backoff.next_delay_s()
                if delay > 0 and await self._sleep_unless_stopped(delay):
                    continue
                client = await self._connect()
                if client is None:
                    continue
                outcome = await self._serve(client)
                if outcome in ("stopped", "morning"):
                    reason = outcome
                    await self._finish_band(client)
                    await self._disconnect(client)
                    break
                await self._disconnect(client)
                if self._battery_empty:
                    reason = "battery empty"
                    self.observer.on_note("the band's battery is empty: the night ends here")
                    break
                if outcome == "streamed":
                    backoff.reset()
        finally:
            self._cancel_tasks()
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
        stop = asyncio.ensure_future(self._stop.wait())
        waits: list[asyncio.Future[Any]] = [attempt, stop]
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
            with contextlib.suppress(asyncio.CancelledError, BleakError, TimeoutError, OSError):
                await attempt
            return None
        try:
            client = attempt.result()
        except (BleakError, TimeoutError, OSError, EOFError) as exc:
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
            with contextlib.suppress(BleakError, TimeoutError, OSError, EOFError):
                await client.disconnect()
        self._link_lost.set()

    async def _serve(self, client: BleakClient) -> str:
        """Set up one connection and watch it; return why it ended."""
        try:
            await self._setup(client)
            self._last_data_s = self.timebase.now_s()
            self._set_state("streaming")
            return await self._watch()
        except _LinkLost:
            return "lost"
        except (BleakError, TimeoutError, OSError, EOFError) as exc:
            self.observer.on_note(f"link error: {exc}")
            return "lost"
        except asyncio.CancelledError:
            if _being_cancelled():
                raise
            return "lost"  # bumble cancels a GATT request whose link dropped
        finally:
            now = self.timebase.now_s()
            if self._writer is not None and not self._stop.is_set() and not self._morning():
                self.dropouts += 1
                self._writer.event("disconnected", at_s=now, reason="link lost")
                self.observer.on_note("band disconnected; reconnecting")

    async def _setup(self, client: BleakClient) -> None:
        uuids = [s.uuid for s in client.services]
        profile = profile_of(uuids, client.name)
        if profile != LEGBAND_PROFILE:
            raise CrampInputError(
                f"device {self.device.address}",
                f"serves the {profile or 'unknown'} profile; cramp record streams LegBand "
                "bands only")
        now = self.timebase.now_s()
        if self._writer is None:
            info = await self._device_info(client)
            self._writer = CaptureWriter(self.capture_path, session=self._session_meta(info))
        self._writer.event("connected", at_s=now, address=self.device.address,
                           mtu=client.mtu_size, connection=self.connections)
        self._last_data_s = now
        await client.start_notify(self.profile.control_uuid, self._on_control)
        await client.start_notify(self.profile.status_uuid, self._on_status)
        with contextlib.suppress(BleakError):
            await client.start_notify(BATTERY_LEVEL_UUID, self._on_battery)
        await client.start_notify(self.profile.data_uuid, self._on_data)
        status = decode_status(await client.read_gatt_char(self.profile.status_uuid))
        self._apply_status(status)
        await self._command(client, TimeSyncCommand(round(self.timebase.now_s() * 1e6)))
        if self._run is None or not status.streaming:
            await self._start_run(client, status)
        else:
            self.observer.on_note(f"reconnected (MTU {client.mtu_size}); asking for backfill")
            for tracker in self._run.trackers.values():
                tracker.backfill_end = None
                tracker.stalls = 0
                self._spawn(self._request_backfill(tracker, force=True))

    async def _device_info(self, client: BleakClient) -> dict[str, str]:
        info: dict[str, str] = {}
        for key, uuid in DEVICE_INFO_UUIDS.items():
            with contextlib.suppress(BleakError):
                info[key] = bytes(await client.read_gatt_char(uuid)).decode("utf-8", "replace")
        return info

    def _session_meta(self, device_info: dict[str, str]) -> dict[str, Any]:
        return {
            "profile": LEGBAND_PROFILE,
            "protocol_version": self.profile.data.version,
            "device": {"address": self.device.address, "name": self.device.name or ""},
            "device_info": device_info,
            "config": self.config.to_dict(),
            "host_start_utc": datetime.fromtimestamp(self.timebase.now_s(), UTC).isoformat(),
            "detector_version": __version__,
            "leg": self.leg,
            **self.session_info,
        }

    # ---------------------------------------------------------------- run start / stop
    async def _start_run(self, client: BleakClient, status: BandStatus) -> None:
        self._set_state("starting")
        if status.streaming:
            await self._expect_ok(client, StopCommand())
        for name, (rate, full_scale) in self.config.streams.items():
            sid = self._specs[name].stream_id
            await self._expect_ok(client, SetRateCommand(sid, rate))
            await self._expect_ok(client, SetRangeCommand(sid, full_scale))
        mask = 0
        for spec in self._specs.values():
            mask |= spec.mask_bit
        self._early = []
        try:
            answer = await self._expect_ok(client, StartCommand(mask))
        except BaseException:
            self._early = None
            raise
        now = self.timebase.now_s()
        previous = self._run
        start_utc = datetime.fromtimestamp(now, UTC)
        offsets = dict.fromkeys(self._channels, 0)
        if previous is not None:
            # the band restarted: a new run, placed on the night's timeline by host time
            elapsed = now - previous.start_utc.timestamp()
            offsets = {r: max(self._role_end.get(r, 0), round(elapsed * c.fs))
                       for r, c in self._channels.items()}
            self.observer.on_note("the band had restarted; a new acquisition run began")
        trackers = {spec.stream_id: StreamTracker(spec=spec, profile=self.profile)
                    for spec in self._specs.values()}
        assembler = StreamAssembler(profile=self.profile, channels=self._channels,
                                    hold_s=self.config.hold_s, counter_origin=0)
        run_start = answer.result.run_start_ticks
        self._run = _Run(start_utc=start_utc if previous is None else previous.start_utc,
                         start_ticks=run_start, trackers=trackers, assembler=assembler,
                         offsets=offsets)
        if self._pipeline is None:
            self._pipeline = NightPipeline(self._channels, config=self.detector_config,
                                           start_utc=start_utc, leg=self.leg)
        assert self._writer is not None
        self._writer.event("config", at_s=now, run_start_ticks=run_start,
                           streams={k: list(v) for k, v in self.config.streams.items()},
                           mtu=client.mtu_size, sample_offsets=offsets)
        early, self._early = self._early, None
        for payload, received_s in early:
            ticks = int.from_bytes(payload[8:12], "little") if len(payload) >= 12 else 0
            if unwrap(ticks, reference=run_start, modulus=1 << 32) >= run_start:
                self._take_packet(payload, received_s)

    async def _finish_band(self, client: BleakClient) -> None:
        """Morning or user stop with the link up: let backfills finish, then STOP the band."""
        self._set_state("stopping")
        run = self._run
        if run is None:
            return
        deadline = self.timebase.now_s() + self.config.stop_drain_s
        while (any(t.has_hole or t.requesting for t in run.trackers.values())
               and self.timebase.now_s() < deadline and not self._link_lost.is_set()):
            for t in run.trackers.values():
                self._maybe_backfill(t)
            await self.timebase.sleep(0.05)
        try:
            await self._expect_ok(client, StopCommand())
            await self.timebase.sleep(0.5)  # the partial packets STOP flushes
        except (_LinkLost, BleakError, TimeoutError, OSError, EOFError, CrampInputError):
            return
        except asyncio.CancelledError:
            if _being_cancelled():
                raise

    def _finish(self, reason: str) -> SessionSummary:
        self._set_state("ended")
        now = self.timebase.now_s()
        result = None
        run = self._run
        if run is not None and self._pipeline is not None:
            for t in run.trackers.values():
                lost = t.give_up(t.max_end) if t.has_hole else None
                if lost is not None:
                    self._report_lost(lost, now)
            self._feed(run.assembler.flush(), run)
            for ev in self._pipeline.flush():
                self._emit(ev)
            result = self._pipeline.result(self._recording_info())
        if self._writer is not None:
            self._writer.event("stop", at_s=now, reason=reason)
            self._writer.close()
        summary = SessionSummary(
            reason=reason, start_utc=run.start_utc if run else None,
            end_utc=datetime.fromtimestamp(now, UTC),
            capture_path=self.capture_path if self._writer is not None else None,
            counts=self.counts(), connections=self.connections, dropouts=self.dropouts,
            result=result, corrupt_packets=self.corrupt_packets)
        return summary

    # ------------------------------------------------------------------------ watching
    async def _watch(self) -> str:
        tick_s = min(0.5, self.config.watchdog_s / 4, self.config.status_every_s)
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
            run = self._run
            if run is not None:
                for t in run.trackers.values():
                    if (t.backfill_end is not None
                            and now - t.backfill_progress_s > self.config.backfill_stall_s):
                        t.backfill_end = None
                    self._maybe_backfill(t)
            if now - self._last_status_s >= self.config.status_every_s:
                self._last_status_s = now
                self.observer.on_status(self.snapshot())
            await self._sleep_unless_stopped(tick_s, also=self._link_lost)

    def _morning(self) -> bool:
        return self.until_s is not None and self.timebase.now_s() >= self.until_s

    async def _sleep_unless_stopped(self, duration_s: float,
                                    also: asyncio.Event | None = None) -> bool:
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

    # ------------------------------------------------------------------------ commands
    async def _command(self, client: BleakClient, command: Command) -> ControlResponse:
        async with self._cmd_lock:
            if self._link_lost.is_set():
                raise _LinkLost()
            future: asyncio.Future[ControlResponse] = asyncio.get_running_loop().create_future()
            payload = encode_command(command, profile=self.profile)
            self._pending = (payload[0], future)
            if self._writer is not None:
                self._writer.packet(source="legband:command", payload=payload,
                                    received_s=self.timebase.now_s())
            try:
                await client.write_gatt_char(self.profile.control_uuid, payload, response=True)
                return await self._await_response(future)
            finally:
                self._pending = None

    async def _await_response(self, future: asyncio.Future[ControlResponse]) -> ControlResponse:
        sleeper = asyncio.ensure_future(self.timebase.sleep(self.config.command_timeout_s))
        lost = asyncio.ensure_future(self._link_lost.wait())
        try:
            await asyncio.wait([future, sleeper, lost], return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            lost.cancel()
        if future.done():
            return future.result()
        if self._link_lost.is_set():
            raise _LinkLost()
        raise TimeoutError("the band did not answer a control-point command")

    async def _expect_ok(self, client: BleakClient, command: Command) -> ControlResponse:
        answer = await self._command(client, command)
        if not answer.ok:
            raise CrampInputError("legband control point", f"{type(command).__name__} refused "
                                  f"with status {Status(answer.status).name}")
        return answer

    def _maybe_backfill(self, tracker: StreamTracker) -> None:
        if (tracker.has_hole and not tracker.requesting and tracker.backfill_end is None
                and self._client is not None and not self._link_lost.is_set()
                and self._early is None):
            self._spawn(self._request_backfill(tracker))

    async def _request_backfill(self, tracker: StreamTracker, *, force: bool = False) -> None:
        client = self._client
        if tracker.requesting or client is None or (not force and not tracker.has_hole):
            return
        tracker.requesting = True
        try:
            if tracker.has_hole and not tracker.note_request():
                lost = tracker.give_up()
                if lost is not None:
                    self._report_lost(lost, self.timebase.now_s())
            seq = tracker.backfill_seq()
            for attempt in range(6):
                answer = await self._command(client, BackfillCommand(tracker.stream_id, seq))
                if answer.status == Status.NOT_AVAILABLE and answer.result is not None:
                    # the oldest packet held moves on while we ask: aim a little past it
                    seq = (answer.result.oldest_seq + self._edge_margin(tracker) * 2 ** attempt
                           ) % self.profile.data.seq_modulus
                    continue
                if answer.ok:
                    lost = tracker.on_backfill_result(
                        first_u32=answer.result.first_sample, n_samples=answer.result.n_samples,
                        now_s=self.timebase.now_s())
                    if lost is not None:
                        self._report_lost(lost, self.timebase.now_s())
                break
        except (_LinkLost, BleakError, TimeoutError, OSError, EOFError):
            return
        except asyncio.CancelledError:
            if _being_cancelled():
                raise
        finally:
            tracker.requesting = False

    def _edge_margin(self, tracker: StreamTracker) -> int:
        """Packets the band cuts in ``EDGE_MARGIN_S`` while nobody is connected (MTU 23)."""
        rate = self.config.streams[tracker.spec.name][0]
        per_packet = max(1, self.profile.samples_per_packet(
            tracker.stream_id, att_mtu=self.profile.att_mtu_default))
        return max(1, round(EDGE_MARGIN_S * rate / per_packet))

    def _report_lost(self, lost: LostRange, now_s: float) -> None:
        spec = self.profile.stream(lost.stream_id)
        rate = self.config.streams[spec.name][0]
        if self._writer is not None:
            self._writer.event("gap", at_s=now_s, stream=spec.name, start_sample=lost.start_sample,
                               end_sample=lost.end_sample, samples_missing=lost.samples_missing)
        self.observer.on_note(
            f"{spec.name}: {lost.samples_missing} samples ({lost.samples_missing / rate:.1f} s) "
            "were no longer on the band: recorded as a gap")

    # ----------------------------------------------------------------- notifications
    def _on_control(self, _char: BleakGATTCharacteristic, value: bytearray) -> None:
        payload = bytes(value)
        if self._writer is not None:
            self._writer.packet(source="legband:control", payload=payload,
                                received_s=self.timebase.now_s())
        try:
            answer = decode_response(payload, profile=self.profile)
        except CrampInputError:
            self.corrupt_packets += 1
            return
        pending = self._pending
        if pending is not None and pending[0] == answer.opcode and not pending[1].done():
            pending[1].set_result(answer)

    def _on_status(self, _char: BleakGATTCharacteristic, value: bytearray) -> None:
        payload = bytes(value)
        if self._writer is not None:
            self._writer.packet(source="legband:status", payload=payload,
                                received_s=self.timebase.now_s())
        try:
            self._apply_status(decode_status(payload, profile=self.profile))
        except CrampInputError:
            self.corrupt_packets += 1

    def _apply_status(self, status: BandStatus) -> None:
        old = self.band_status
        self.band_status = status
        self._set_battery(status.battery_pct)
        if self._writer is not None and (old is None or old.contact != status.contact
                                         or old.battery_low != status.battery_low):
            self._writer.event("status", at_s=self.timebase.now_s(),
                               battery_pct=status.battery_pct, contact=list(status.contact),
                               battery_low=status.battery_low, streaming=status.streaming,
                               dropped_packets=status.dropped_packets)
            if old is not None and old.contact != status.contact and not all(status.contact):
                leads = [n for n, on in zip(self.profile.leads, status.contact, strict=True)
                         if not on]
                self.observer.on_note(f"electrode off the skin: {', '.join(leads)}")

    def _on_battery(self, _char: BleakGATTCharacteristic, value: bytearray) -> None:
        payload = bytes(value)
        if self._writer is not None:
            self._writer.packet(source="battery:level", payload=payload,
                                received_s=self.timebase.now_s())
        if len(payload) == 1 and payload[0] <= 100:
            self._set_battery(payload[0])

    def _set_battery(self, pct: int) -> None:
        self.battery_pct = pct
        if pct == 0:
            self._battery_empty = True

    def _on_data(self, _char: BleakGATTCharacteristic, value: bytearray) -> None:
        cpu0 = time.process_time()
        payload = bytes(value)
        now = self.timebase.now_s()
        self._last_data_s = now
        if self._writer is not None:
            self._writer.packet(source="legband:data", payload=payload, received_s=now)
        if self._early is not None:
            self._early.append((payload, now))
        elif self._run is not None:
            self._take_packet(payload, now)
        self.callback_cpu_s += time.process_time() - cpu0

    def _take_packet(self, payload: bytes, now: float) -> None:
        run = self._run
        assert run is not None
        try:
            packet = decode_data_packet(payload, profile=self.profile)
        except CrampInputError:
            self.corrupt_packets += 1
            return
        tracker = run.trackers.get(packet.stream_id)
        if tracker is None:
            return
        _, live_gap = tracker.on_packet(first_u32=packet.first_sample,
                                        n_samples=packet.n_samples, seq16=packet.seq,
                                        backfill=packet.backfill, now_s=now)
        if live_gap or (packet.backfill and tracker.backfill_end is None):
            self._maybe_backfill(tracker)
        try:
            blocks = run.assembler.push(payload, received_s=now)
        except CrampInputError:
            self.corrupt_packets += 1
            return
        self._feed(blocks, run)

    def _feed(self, blocks: list[tuple[str, SignalBlock]], run: _Run) -> None:
        pipeline = self._pipeline
        if pipeline is None:
            return
        for role, block in blocks:
            offset = run.offsets.get(role, 0)
            if offset:
                block = SignalBlock(data=block.data, fs=block.fs,
                                    start_sample=block.start_sample + offset)
            self._role_end[role] = max(self._role_end.get(role, 0), block.end_sample)
            self.observer.on_block(role, block)
            for ev in pipeline.push(role, block):
                self._emit(ev)

    def _emit(self, event: EpisodeEvent) -> None:
        assert self._pipeline is not None
        if isinstance(event, EpisodeEnded):
            self._episodes += 1
            self._in_cramp = False
        else:
            self._in_cramp = True
        self.observer.on_episode(event, start_utc=self._pipeline.start_utc)

    def partial_result(self) -> NightResult | None:
        """The night so far (episodes that have ended, trace, gaps), for the episode store.

        ``None`` before the first samples. The recording is identified by the capture path and
        the start time, as the final result is, so storing both updates one night.
        """
        if self._pipeline is None:
            return None
        return self._pipeline.result(self._recording_info())

    def _recording_info(self) -> RecordingInfo:
        assert self._pipeline is not None
        return RecordingInfo(
            path=str(self.capture_path), start_utc=self._pipeline.start_utc,
            duration_s=max((n / self._channels[r].fs for r, n in self._role_end.items()),
                           default=0.0),
            channels=dict(self._channels), leg=self.leg, file_format="capture")

    # ------------------------------------------------------------------------- helpers
    def _channel_specs(self) -> dict[str, ChannelSpec]:
        rates: dict[str, float] = {}
        scales: dict[str, float] = {}
        names: dict[str, str] = {}
        for name, spec in self._specs.items():
            if spec.kind == "envelope":
                raise CrampInputError("streams", "the on-band EMG envelope cannot feed the "
                                      "pipeline; record emg_raw")
            rate, full_scale = self.config.streams[name]
            rates[spec.role], scales[spec.role], names[spec.role] = float(rate), full_scale, name
        return legband_channels(rates_hz=rates, full_scales=scales, profile=self.profile,
                                streams=names)

    def counts(self) -> dict[str, StreamCounts]:
        """Sample counts per pipeline role."""
        out: dict[str, StreamCounts] = {}
        if self._run is None:
            return out
        for t in self._run.trackers.values():
            out[t.spec.role] = StreamCounts(received=t.received, backfilled=t.backfilled,
                                            lost=t.lost, duplicates=t.duplicates)
        return out

    def snapshot(self) -> SessionSnapshot:
        """Current status."""
        client = self._client
        return SessionSnapshot(
            state=self.state, now_s=self.timebase.now_s(), battery_pct=self.battery_pct,
            contact=self.band_status.contact if self.band_status else None,
            counts=self.counts(), episodes=self._episodes, in_cramp=self._in_cramp,
            connections=self.connections, dropouts=self.dropouts,
            mtu=client.mtu_size if client is not None and client.is_connected else None)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.observer.on_status(self.snapshot())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()


def _being_cancelled() -> bool:
    """True when the running task itself is being cancelled (not a request it awaited)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
