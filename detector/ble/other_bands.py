"""A night from a Polar PMD accelerometer (on the foot) or a Myo armband (on the calf) over BLE.

Both sessions work as :class:`~detector.ble.session.LegBandSession` does (the connection
supervisor of :class:`~detector.ble.link.BandSessionBase`), minus what these devices cannot do
(no backfill: what is measured while the link is down is lost):

- ``bleak-retry-connector`` connections in a reconnect-forever loop with capped exponential
  backoff (:class:`~detector.ble.timebase.Backoff`) and a data watchdog;
- on every connection the streams are started again (both devices stop streaming when the
  link drops);
- every notification goes to the crash-safe capture (sources ``polar:control``/``polar:acc``,
  ``myo:emg0``..``myo:emg3``/``myo:imu``) with the host receive time, then through the
  assembler of :mod:`detector.capture.other_sources` (the same one replay uses) into the
  night's :class:`~detector.night.recorder.NightRecorder`, with the same observer events.

A Polar alone gives a foot accelerometer only: no cramp can be detected from it (the pipeline
needs the calf EMG or a shank accelerometer). The capture is recorded and the live display
runs; the night's summary has no result and a note says what detection needs. A Myo on the
calf gives EMG and its IMU as the shank accelerometer: full detection.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice

from detector.ble.link import BandSessionBase
from detector.ble.link_errors import LINK_ERRORS, LinkLost
from detector.ble.scan import MYO_PROFILE, POLAR_PMD_PROFILE
from detector.ble.session_types import SessionConfig, SessionObserver, StreamCounts
from detector.ble.timebase import Timebase
from detector.capture.other_sources import (
    MYO_EMG_SOURCES,
    MYO_GAP_NOTE,
    MYO_IMU_SOURCE,
    MyoAssembler,
    push_notification,
)
from detector.capture.polar_source import (
    POLAR_ACC_SOURCE,
    POLAR_CONTROL_SOURCE,
    PolarAccAssembler,
)
from detector.capture.role_track import Blocks
from detector.config import DetectorConfig
from detector.errors import CrampInputError
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
from detector.signals import ChannelSpec

POLAR_FOOT_ACC = AccSettings(sample_rate_hz=52, resolution_bits=16, range_g=8)
"""Polar Verity Sense accelerometer at 52 Hz, 16 bit, +-8 g (an H10 would use 50 Hz)."""
DETECTION_NEEDS = ("a Polar on the foot alone cannot detect cramps: detection needs the calf "
                   "EMG or a shank accelerometer (the capture is recorded for later)")
DROPOUT_ERRORS = LINK_ERRORS


class _BandSession(BandSessionBase):
    """What the Polar and Myo sessions share: an assembler (:mod:`detector.capture.other_sources`).

    Parameters are those of :class:`~detector.ble.link.BandSessionBase`, plus ``assembler``.
    """

    sources: tuple[str, ...] = ()
    status_each_link = True

    def __init__(self, device: BLEDevice, *, capture_path: Path, timebase: Timebase,
                 config: SessionConfig, detector_config: DetectorConfig,
                 assembler: PolarAccAssembler | MyoAssembler,
                 client_kwargs: Mapping[str, Any] | None = None,
                 observer: SessionObserver | None = None, leg: str = "unknown",
                 until_s: float | None = None,
                 session_info: Mapping[str, Any] | None = None) -> None:
        super().__init__(device, capture_path=capture_path, timebase=timebase, config=config,
                         detector_config=detector_config, client_kwargs=client_kwargs,
                         observer=observer, leg=leg, until_s=until_s,
                         session_info=session_info)
        self.assembler = assembler
        self._can_detect = True
        self._start_utc: datetime | None = None

    @property
    def channels(self) -> dict[str, ChannelSpec]:
        """Channels the session produces (what the live display shows)."""
        return dict(self.assembler.channels)

    # -------------------------------------------------------------- device specifics
    def _link_up(self) -> None:
        self.assembler.new_connection()
        self._set_state("starting")

    async def _finish_band(self, client: BleakClient) -> None:
        try:
            await self._stop_streams(client)
        except LinkLost:
            return
        except Exception as exc:
            self._count_fault("stopping the band", exc)

    @abc.abstractmethod
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
                self.recorder = self._make_recorder(self.channels, self._start_utc)
            except CrampInputError:
                self._can_detect = False
                self.remarks.append(DETECTION_NEEDS)
                self.observer.on_note(DETECTION_NEEDS)
        if self.recorder is not None:
            self.recorder.push_blocks(blocks)
            return
        for role, block in blocks:
            self.observer.on_block(role, block)

    # ---------------------------------------------------------------------- results
    def _duration_s(self) -> float:
        return max((t.frontier / t.spec.fs for t in self.assembler.tracks.values()),
                   default=0.0)

    def _flush_band(self, now_s: float) -> None:
        self._feed(self.assembler.flush())

    def _night_start_utc(self) -> datetime | None:
        return self._start_utc

    def counts(self) -> dict[str, StreamCounts]:
        """Sample counts per pipeline role (no backfill on these devices)."""
        return {role: StreamCounts(received=t.received, backfilled=0, lost=t.lost,
                                   duplicates=t.duplicates)
                for role, t in self.assembler.tracks.items() if t.received or t.lost}


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
                         assembler=PolarAccAssembler(
                             fs=acc.sample_rate_hz, range_g=acc.range_g,
                             clock_trust_s=detector_config.polar_clock_trust_s), **kwargs)

    def _extra_meta(self) -> dict[str, Any]:
        return {"polar": {"fs_hz": self.acc.sample_rate_hz, "range_g": self.acc.range_g,
                          "resolution_bits": self.acc.resolution_bits,
                          "clock_trust_s": self.assembler.clock_trust_s}}

    async def _start_streams(self, client: BleakClient) -> None:
        await self._subscribe(client, POLAR_PMD.control_point_uuid, self._on_control)
        await self._subscribe(client, POLAR_PMD.data_uuid, self._on_data)
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
        answer: ControlPointResponse = await self._exchange(
            client, payload, uuid=POLAR_PMD.control_point_uuid, source="polar:command",
            who="the Polar sensor")
        return answer

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
        self._answer(msg.opcode, msg)

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
            await self._subscribe(client, uuid, self._emg_callback(MYO_EMG_SOURCES[k]))
        await self._subscribe(client, MYO.imu_data_uuid, self._on_imu)
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
