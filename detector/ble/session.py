"""A night's recording from a LegBand over BLE: connect, stream, survive dropouts, detect live.

:class:`LegBandSession` keeps one band streaming until the morning time, a stop request or the
band's battery running out. :class:`~detector.ble.link.BandSessionBase` supervises the link:

- connection establishment with ``bleak-retry-connector`` (a new ``BleakClient`` each time),
  wrapped in a reconnect-forever loop with capped exponential backoff;
- on every connection: check the profile from the services, subscribe to the control point
  (indications), status, battery and data, and either start the run (first connection) or
  ask the band to BACKFILL every stream from the first sequence number not received;
- a watchdog: seconds without data is a dropout (disconnect, reconnect, backfill);
- every notification goes to the crash-safe capture with the host receive time; data packets
  are decoded once, tracked for backfill here, and handed to the night's
  :class:`~detector.night.recorder.NightRecorder` (assembly, online clock, pipeline), whose
  episode events reach the observer (the terminal) as they happen.

The control-point commands, their answers and the BACKFILL requests are those of the base
:class:`~detector.ble.legband_commands.LegBandCommands`; the runs (START, STOP, a band that
restarted), the status, battery and data notifications and the counts are here.

Time comes from a :class:`~detector.ble.timebase.Timebase` (wall clock, or a simulated night).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from detector.ble.legband_commands import LegBandCommands
from detector.ble.link_errors import LinkLost, being_cancelled
from detector.ble.scan import LEGBAND_PROFILE
from detector.ble.session_types import (
    SessionConfig,
    SessionObserver,
    SessionSnapshot,
    SessionSummary,
    StreamCounts,
    observers,
)
from detector.ble.timebase import Timebase
from detector.ble.tracker import StreamTracker, unwrap
from detector.capture.assembler import legband_channels
from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.profiles.legband import LEGBAND, LegBandProfile
from detector.profiles.legband_codec import (
    BandStatus,
    decode_data_packet,
    decode_status,
)
from detector.profiles.legband_control import (
    SetRangeCommand,
    SetRateCommand,
    StartCommand,
    StopCommand,
    TimeSyncCommand,
)
from detector.signals import ChannelSpec

__all__ = ["LegBandSession", "SessionConfig", "SessionObserver", "SessionSnapshot",
           "SessionSummary", "StreamCounts", "observers"]

BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"


@dataclass
class _Run:
    """One acquisition run (START to STOP) of the band: the backfill bookkeeping.

    The run's samples (assembly, offsets, clock) are the recorder's
    (:class:`~detector.night.legband.LegBandRuns`).
    """

    start_utc: datetime
    start_ticks: int
    trackers: dict[int, StreamTracker]


class LegBandSession(LegBandCommands):
    """Record one night from one LegBand.

    Parameters are those of :class:`~detector.ble.link.BandSessionBase` (the band from a scan,
    the capture file to create, the session clock, streams and timeouts, pipeline thresholds,
    ``BleakClient`` arguments, live output, leg, morning time, capture-header metadata), plus
    ``profile``: the band's :class:`~detector.profiles.legband.LegBandProfile` (default
    ``LEGBAND``).
    """

    profile_name = LEGBAND_PROFILE

    def __init__(self, device: BLEDevice, *, capture_path: Path, timebase: Timebase,
                 config: SessionConfig, detector_config: DetectorConfig,
                 client_kwargs: Mapping[str, Any] | None = None,
                 observer: SessionObserver | None = None, leg: str = "unknown",
                 until_s: float | None = None, session_info: Mapping[str, Any] | None = None,
                 profile: LegBandProfile = LEGBAND) -> None:
        super().__init__(device, capture_path=capture_path, timebase=timebase, config=config,
                         detector_config=detector_config, client_kwargs=client_kwargs,
                         observer=observer, leg=leg, until_s=until_s,
                         session_info=session_info)
        self.profile = profile
        self.band_status: BandStatus | None = None
        self._specs = {name: profile.stream_named(name) for name in config.streams}
        self._run: _Run | None = None
        self._early: list[tuple[bytes, float]] | None = None
        self._battery_empty = False
        self._channels = self._channel_specs()

    # ------------------------------------------------------------------ public control
    @property
    def channels(self) -> dict[str, ChannelSpec]:
        """Pipeline channels the session produces."""
        return dict(self._channels)

    # -------------------------------------------------------------------- connection
    async def _start_streams(self, client: BleakClient) -> None:
        await self._subscribe(client, self.profile.control_uuid, self._on_control)
        await self._subscribe(client, self.profile.status_uuid, self._on_status)
        with contextlib.suppress(BleakError):
            await self._subscribe(client, BATTERY_LEVEL_UUID, self._on_battery)
        await self._subscribe(client, self.profile.data_uuid, self._on_data)
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

    def _profile_expected(self) -> str:
        return "cramp record streams LegBand bands only"

    def _profile_meta(self) -> dict[str, Any]:
        return {"protocol_version": self.profile.data.version}

    def _band_end(self) -> str | None:
        if not self._battery_empty:
            return None
        self.observer.on_note("the band's battery is empty: the night ends here")
        return "battery empty"

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
        if self.recorder is None:
            self.recorder = self._make_recorder(self._channels, start_utc)
            self.recorder.use_legband(profile=self.profile, hold_s=self.config.hold_s)
        elapsed = 0.0
        if previous is not None:
            # the band restarted: a new run, placed on the night's timeline by host time
            elapsed = now - previous.start_utc.timestamp()
            self.observer.on_note("the band had restarted; a new acquisition run began")
        trackers = {spec.stream_id: StreamTracker(spec=spec, profile=self.profile)
                    for spec in self._specs.values()}
        run_start = answer.result.run_start_ticks
        self._run = _Run(start_utc=start_utc if previous is None else previous.start_utc,
                         start_ticks=run_start, trackers=trackers)
        offsets = self.recorder.start_run(run_start_ticks=run_start, elapsed_s=elapsed)
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
        except LinkLost:
            return
        except asyncio.CancelledError as exc:
            if being_cancelled():
                raise
            self._count_fault("stopping the band", exc)
        except Exception as exc:
            self._count_fault("stopping the band", exc)

    def _flush_band(self, now_s: float) -> None:
        run = self._run
        if run is None or self.recorder is None:
            return
        for t in run.trackers.values():
            lost = t.give_up(t.max_end) if t.has_hole else None
            if lost is not None:
                self._report_lost(lost, now_s)
        self.recorder.finish_assembly()
        self._note_unreceived_tail(now_s, run)

    def _note_unreceived_tail(self, now_s: float, run: _Run) -> None:
        """Say so when the night ends long after the last sample (the link was down)."""
        assert self.recorder is not None
        elapsed_s = now_s - run.start_utc.timestamp()
        behind = [(r, elapsed_s - self.recorder.role_end.get(r, 0) / c.fs)
                  for r, c in self._channels.items()]
        worst = max(behind, key=lambda rb: rb[1], default=None)
        if worst is not None and worst[1] > max(10.0, 2.0 * self.config.watchdog_s):
            self.remarks.append(
                f"the last {worst[1]:.0f} s of the night were not received (the link was "
                "down at the end; they were never on this machine)")

    def _night_start_utc(self) -> datetime | None:
        return self._run.start_utc if self._run else None

    # ------------------------------------------------------------------------ watching
    def _on_watch_tick(self, now_s: float) -> None:
        run = self._run
        if run is not None:
            for t in run.trackers.values():
                if (t.backfill_end is not None
                        and now_s - t.backfill_progress_s > self.config.backfill_stall_s):
                    t.backfill_end = None
                self._maybe_backfill(t)

    # ----------------------------------------------------------------- notifications
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
        assert self.recorder is not None
        try:
            self.recorder.packet(packet, received_s=now)
        except CrampInputError:
            self.corrupt_packets += 1

    def _duration_s(self) -> float:
        return self.recorder.duration_s() if self.recorder is not None else 0.0

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
        """Sample counts per pipeline role, from the recorder's assembly (the one count).

        ``received`` is the samples kept (first arrivals, not late for a declared gap);
        ``lost`` is the samples in declared gaps (a hole becomes a gap once it can no longer be
        backfilled, so it is counted up to the hold time after the note that reports it).
        """
        if self.recorder is None or self.recorder.legband is None:
            return {}
        return {role: StreamCounts(received=st.received - st.duplicates - st.late,
                                   backfilled=st.backfilled, lost=st.lost,
                                   duplicates=st.duplicates)
                for role, st in self.recorder.legband.stats().items()}

    def _contact(self) -> tuple[bool, ...] | None:
        return self.band_status.contact if self.band_status else None
