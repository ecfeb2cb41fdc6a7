"""The simulated LegBand's control point: START, STOP, settings, time sync, calibration, BACKFILL.

:class:`ControlPointHandlers` is the half of :class:`~firmware_sim.firmware.Firmware` that
executes control-point writes as the band's firmware does: decode, refuse what the band's
state does not allow (with the status code the band answers with), act, and answer with the
encoded response. It never raises for bad input. The state it acts on (streams, settings,
the transmit queue, the clock) is made by :class:`~firmware_sim.firmware.Firmware`, which
also provides the packetising methods a STOP flushes through.
"""

from __future__ import annotations

import abc
import math
from collections import deque
from collections.abc import Callable

import numpy as np

from detector.profiles.legband import LegBandProfile, Opcode, Status
from detector.profiles.legband_control import (
    BackfillCommand,
    BackfillResult,
    BackfillUnavailable,
    CalibrateNeutralCommand,
    CalibrationResult,
    Command,
    ControlPointError,
    ControlResponse,
    RangeResult,
    RateResult,
    SetRangeCommand,
    SetRateCommand,
    StartCommand,
    StartResult,
    StopCommand,
    TimeSyncCommand,
    TimeSyncResult,
    command_opcode,
    decode_command,
    encode_response,
)
from firmware_sim.firmware_config import FirmwareConfig
from firmware_sim.stream_ring import BackfillCursor, StreamRun

__all__ = ["ControlPointHandlers"]


class ControlPointHandlers(abc.ABC):
    """Execute control-point commands on the firmware's state (a base of the firmware model).

    The attributes below are set by :class:`~firmware_sim.firmware.Firmware`, which also
    provides the abstract methods.
    """

    config: FirmwareConfig
    profile: LegBandProfile
    neutral_mg: tuple[int, ...] | None
    last_time_sync: tuple[int, int] | None
    _now_s: float
    _powered: bool
    _streaming: bool
    _rate: dict[int, int]
    _range: dict[int, int]
    _runs: dict[int, StreamRun]
    _queue: deque[bytes]
    _backfills: deque[BackfillCursor]
    _dropped_run: int

    @abc.abstractmethod
    def rtc_ticks(self, t_s: float) -> int:
        """Band RTC time at true time ``t_s`` (ticks, u32)."""

    @abc.abstractmethod
    def _produce(self, run: StreamRun, k_end: int) -> None:
        """Sample ``run`` up to sample ``k_end`` into its ring buffer."""

    @abc.abstractmethod
    def _cut_packets(
        self, run: StreamRun, *, flush: bool = False
    ) -> list[tuple[int, int, int, bytes]]:
        """Packets of the samples not yet packed (all of them with ``flush``)."""

    @abc.abstractmethod
    def _enqueue(self, payload: bytes) -> None:
        """Put a notification in the transmit queue (dropped when it is full)."""

    def handle_command(self, payload: bytes) -> bytes:
        """Execute a control-point write; return the encoded response to indicate.

        Never raises for bad input: malformed or refused commands get an error status.
        """
        try:
            command = decode_command(payload, profile=self.profile)
            response = self._execute(command)
        except ControlPointError as exc:
            response = ControlResponse(opcode=exc.opcode, status=exc.status)
        return encode_response(response, profile=self.profile)

    def _execute(self, command: Command) -> ControlResponse:
        if not self._powered:
            raise self._refuse(command_opcode(command), Status.INVALID_STATE, "battery empty")
        handlers: dict[type, Callable[[Command], ControlResponse]] = {
            StartCommand: self._cmd_start,
            StopCommand: self._cmd_stop,
            SetRateCommand: self._cmd_set,
            SetRangeCommand: self._cmd_set,
            TimeSyncCommand: self._cmd_time_sync,
            CalibrateNeutralCommand: self._cmd_calibrate,
            BackfillCommand: self._cmd_backfill,
        }
        return handlers[type(command)](command)

    @staticmethod
    def _refuse(opcode: Opcode, status: Status, problem: str) -> ControlPointError:
        return ControlPointError(opcode, status, problem)

    def _cmd_start(self, command: Command) -> ControlResponse:
        assert isinstance(command, StartCommand)
        if self._streaming:
            raise self._refuse(Opcode.START, Status.INVALID_STATE, "already streaming")
        self._runs = {}
        for spec in self.profile.streams:
            if command.stream_mask & spec.mask_bit:
                ppm = self.config.accel_clock_ppm if spec.kind == "accel" else self.config.clock_ppm
                self._runs[spec.stream_id] = StreamRun(
                    spec, rate_hz=self._rate[spec.stream_id],
                    full_scale=self._range[spec.stream_id], ppm=ppm,
                    run_start_s=self._now_s, buffer_s=self.config.buffer_s,
                )  # fmt: skip
        self._streaming = True
        self._dropped_run = 0
        self._queue.clear()
        self._backfills.clear()
        return ControlResponse(opcode=Opcode.START, status=Status.SUCCESS,
                               result=StartResult(self.rtc_ticks(self._now_s)))  # fmt: skip

    def _cmd_stop(self, command: Command) -> ControlResponse:
        if not self._streaming:
            raise self._refuse(Opcode.STOP, Status.INVALID_STATE, "not streaming")
        for run in self._runs.values():
            self._produce(run, run.count_by(self._now_s))
            for *_, payload in self._cut_packets(run, flush=True):
                self._enqueue(payload)
        self._streaming = False
        return ControlResponse(opcode=Opcode.STOP, status=Status.SUCCESS)

    def _cmd_set(self, command: Command) -> ControlResponse:
        assert isinstance(command, SetRateCommand | SetRangeCommand)
        opcode = Opcode.SET_RATE if isinstance(command, SetRateCommand) else Opcode.SET_RANGE
        if self._streaming:
            raise self._refuse(opcode, Status.INVALID_STATE, "settings change only when stopped")
        if isinstance(command, SetRateCommand):
            self._rate[command.stream_id] = command.rate_hz
            result: RateResult | RangeResult = RateResult(command.stream_id, command.rate_hz)
        else:
            self._range[command.stream_id] = command.full_scale
            result = RangeResult(command.stream_id, command.full_scale)
        return ControlResponse(opcode=opcode, status=Status.SUCCESS, result=result)

    def _cmd_time_sync(self, command: Command) -> ControlResponse:
        assert isinstance(command, TimeSyncCommand)
        ticks = self.rtc_ticks(self._now_s)
        self.last_time_sync = (command.host_time_us, ticks)
        return ControlResponse(opcode=Opcode.TIME_SYNC, status=Status.SUCCESS,
                               result=TimeSyncResult(command.host_time_us, ticks))  # fmt: skip

    def _cmd_calibrate(self, command: Command) -> ControlResponse:
        op = Opcode.CALIBRATE_NEUTRAL
        vectors: list[int] = []
        for name in ("shank_acc", "foot_acc"):
            run = self._runs.get(self.profile.stream_named(name).stream_id)
            n = 0 if run is None else math.ceil(self.config.calibration_s * run.rate_hz)
            if run is None or not self._streaming or run.produced < n:
                raise self._refuse(op, Status.INVALID_STATE, f"{name} needs streaming data")
            g = run.read(run.produced - n, n).astype(np.float64) * run.lsb
            if np.std(np.linalg.norm(g, axis=1)) > self.config.calibration_motion_g:
                raise self._refuse(op, Status.MOTION_DETECTED, f"{name} is moving")
            vectors += [int(v) for v in np.clip(np.rint(g.mean(axis=0) * 1000), -32768, 32767)]
        self.neutral_mg = tuple(vectors)
        return ControlResponse(opcode=op, status=Status.SUCCESS,
                               result=CalibrationResult(*vectors))  # fmt: skip

    def _cmd_backfill(self, command: Command) -> ControlResponse:
        assert isinstance(command, BackfillCommand)
        run = self._runs.get(command.stream_id)
        if run is None:
            raise self._refuse(Opcode.BACKFILL, Status.INVALID_STATE, "stream not in this run")
        if command.from_seq == run.next_seq % (1 << 16):
            first: int | None = run.packed
        else:
            first = run.resolve(command.from_seq)
        if first is None:
            oldest = BackfillUnavailable(command.stream_id, run.oldest_seq() % (1 << 16))
            return ControlResponse(opcode=Opcode.BACKFILL, status=Status.NOT_AVAILABLE,
                                   result=oldest)  # fmt: skip
        n = run.packed - first
        full_seq = run.next_seq - ((run.next_seq - command.from_seq) % (1 << 16))
        if n > 0:
            self._backfills.append(BackfillCursor(command.stream_id, first, run.packed, full_seq))
        result = BackfillResult(command.stream_id, command.from_seq,
                                first % (1 << 32), n)  # fmt: skip
        return ControlResponse(opcode=Opcode.BACKFILL, status=Status.SUCCESS, result=result)
