"""Firmware model of the LegBand: sampling, buffering, packetising and pacing, byte for byte.

The model knows nothing about Bluetooth stacks. A transport (``firmware_sim.gatt``, or a plain
loop in a simulation command) tells it about connections, passes control-point writes to
:meth:`Firmware.handle_command`, and calls :meth:`Firmware.advance_to` with the true time;
``advance_to`` returns the data notifications that reached the air by then. Time is whatever the
caller says, so tests and simulations run as fast as the CPU allows.

What it models
--------------
- Clocks: one crystal (RTC at 32768 Hz and the EMG ADC) off by ``clock_ppm``, and the
  accelerometers' own oscillator off by ``accel_clock_ppm``. Sample ``k`` of a stream at rate
  ``r`` is taken at true time ``run_start + k / (r * (1 + ppm * 1e-6))``.
- ADC: values are rounded to counts of ``full_scale / 32768`` and saturate at the int16 rails.
- On-band EMG envelope: RMS of the mean-removed EMG over ``envelope_window_s`` sampled at
  ``envelope_adc_hz``.
- A ring buffer per stream of at least 120 s, from which BACKFILL resends samples.
- Packets sized to the ATT MTU (and to at most ``max_latency_s`` of samples), sent through a
  bounded transmit queue drained at connection events (``LinkPacing``). When the central is too
  slow the queue overflows: those notifications are dropped, counted and flagged in the status
  (they stay in the ring buffer, so they can be backfilled).
- Battery drain (idle, connection, sensors, per notification), shutting down when empty.
- Faults on demand: scheduled or random disconnects, lost notifications, slow central (pacing),
  electrode lift (contact bit cleared, EMG saturated at the positive rail), battery drain.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from detector.profiles.legband import LEGBAND, LegBandProfile, Opcode, Status, StreamSpec
from detector.profiles.legband_codec import (
    BandStatus,
    DataPacket,
    encode_data_packet,
    encode_status,
)
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
from firmware_sim.feeds import ArrayFeed, ManualClock, ScaledClock, SignalFeed

__all__ = ["ArrayFeed", "BatteryModel", "Firmware", "FirmwareConfig", "FirmwareStats",
           "LinkPacing", "ManualClock", "ScaledClock", "SignalFeed"]


@dataclass(frozen=True, kw_only=True)
class LinkPacing:
    """How fast the link drains: ``packets_per_event`` notifications per connection event."""

    conn_interval_s: float = 0.0075
    packets_per_event: int = 6

    @property
    def packets_per_s(self) -> float:
        """Link capacity in notifications per second."""
        return self.packets_per_event / self.conn_interval_s


@dataclass(frozen=True, kw_only=True)
class BatteryModel:
    """Battery capacity and current draw (mA) of each part; ``notification_uc`` per packet."""

    capacity_mah: float = 150.0
    idle_ma: float = 0.02
    connected_ma: float = 0.15
    emg_raw_ma: float = 1.2
    emg_envelope_ma: float = 0.5
    accel_ma: float = 0.05
    notification_uc: float = 2.0
    low_pct: float = 10.0


@dataclass(frozen=True, kw_only=True)
class FirmwareConfig:
    """Everything fixed at manufacture or chosen for a simulation run."""

    profile: LegBandProfile = LEGBAND
    firmware_version: tuple[int, int, int] = (1, 0, 0)
    clock_ppm: float = 0.0
    accel_clock_ppm: float = 0.0
    rtc_start_ticks: int = 0
    buffer_s: float = 128.0
    tx_queue_packets: int = 64
    max_latency_s: float = 0.2
    pacing: LinkPacing = field(default_factory=LinkPacing)
    battery: BatteryModel = field(default_factory=BatteryModel)
    battery_start_pct: float = 100.0
    envelope_window_s: float = 0.02
    envelope_adc_hz: float = 1000.0
    calibration_s: float = 1.0
    calibration_motion_g: float = 0.05
    max_step_s: float = 1.0

    def __post_init__(self) -> None:
        if self.buffer_s < 120.0:
            raise ValueError("buffer_s must be at least 120 s")
        if self.tx_queue_packets < 1 or self.max_step_s <= 0 or self.max_latency_s <= 0:
            raise ValueError("tx_queue_packets, max_step_s and max_latency_s must be positive")


@dataclass
class FirmwareStats:
    """Counters since power-on, for tests and reports."""

    packets_cut: int = 0
    notifications_sent: int = 0
    notifications_lost: int = 0
    notifications_dropped: int = 0
    backfill_packets_sent: int = 0


class _StreamRun:
    """Samples, ring buffer and packet index of one stream during one acquisition run."""

    def __init__(self, spec: StreamSpec, *, rate_hz: int, full_scale: int, ppm: float,
                 run_start_s: float, buffer_s: float) -> None:  # fmt: skip
        self.spec = spec
        self.rate_hz = rate_hz
        self.full_scale = full_scale
        self.lsb = spec.lsb(full_scale)
        self.rate_eff = rate_hz * (1.0 + ppm * 1e-6)
        self.run_start_s = run_start_s
        self.capacity = math.ceil(buffer_s * self.rate_eff) + 1
        self.ring = np.zeros((self.capacity, spec.axes), dtype=np.int16)
        self.produced = 0
        self.packed = 0
        self.next_seq = 0
        self.seq_first = np.full(1 << 16, -1, dtype=np.int64)
        self.seq_full = np.full(1 << 16, -1, dtype=np.int64)

    def count_by(self, t_s: float) -> int:
        if t_s < self.run_start_s:
            return 0
        return math.floor((t_s - self.run_start_s) * self.rate_eff) + 1

    def times(self, k0: int, k1: int) -> np.ndarray:
        return self.run_start_s + np.arange(k0, k1, dtype=np.float64) / self.rate_eff

    @property
    def oldest(self) -> int:
        return max(0, self.produced - self.capacity)

    def store(self, counts: np.ndarray) -> None:
        idx = (self.produced + np.arange(counts.shape[0])) % self.capacity
        self.ring[idx] = counts
        self.produced += counts.shape[0]

    def read(self, k0: int, n: int) -> np.ndarray:
        return self.ring[(k0 + np.arange(n)) % self.capacity]

    def record_packets(self, firsts: np.ndarray) -> np.ndarray:
        seqs = self.next_seq + np.arange(firsts.shape[0], dtype=np.int64)
        self.seq_first[seqs & 0xFFFF] = firsts
        self.seq_full[seqs & 0xFFFF] = seqs
        self.next_seq += firsts.shape[0]
        return seqs

    def resolve(self, seq16: int) -> int | None:
        """First sample of the newest packet numbered ``seq16`` still in the buffer."""
        latest = self.next_seq - 1
        full = latest - ((latest - seq16) % (1 << 16))
        if full < 0 or self.seq_full[seq16] != full:
            return None
        first = int(self.seq_first[seq16])
        return first if first >= self.oldest else None

    def oldest_seq(self) -> int:
        """Number (full) of the oldest packet whose first sample is still buffered."""
        lo, hi = max(0, self.next_seq - (1 << 16)), self.next_seq
        while lo < hi:
            mid = (lo + hi) // 2
            if self.seq_first[mid & 0xFFFF] >= self.oldest:
                hi = mid
            else:
                lo = mid + 1
        return lo


@dataclass
class _Backfill:
    stream_id: int
    next_sample: int
    end_sample: int
    next_seq: int


class Firmware:
    """The band's firmware, driven by an external clock.

    Parameters
    ----------
    feed : SignalFeed
        The physical signals the sensors see (true time in s -> uV or g).
    config : FirmwareConfig
        Clocks, buffers, pacing, battery.
    rng : numpy.random.Generator
        Source of randomness for random faults (lost notifications, random disconnects).
    """

    def __init__(
        self, feed: SignalFeed, *, config: FirmwareConfig, rng: np.random.Generator
    ) -> None:
        self.config = config
        self.profile = config.profile
        self.stats = FirmwareStats()
        self._feed = feed
        self._rng = rng
        self._now_s = 0.0
        self._powered = True
        self._charge_mas = config.battery.capacity_mah * 3600.0 * config.battery_start_pct / 100
        self._rate = {s.stream_id: s.default_rate_hz for s in self.profile.streams}
        self._range = {s.stream_id: s.default_full_scale for s in self.profile.streams}
        self._streaming = False
        self._runs: dict[int, _StreamRun] = {}
        self._connected = False
        self._notify = False
        self._att_mtu = self.profile.att_mtu_default
        self._pacing = config.pacing
        self._next_event_s = 0.0
        self._queue: deque[bytes] = deque()
        self._backfills: deque[_Backfill] = deque()
        self._dropped_run = 0
        self._disconnect_requested = False
        self._scheduled_disconnects: list[float] = []
        self._random_disconnect_per_h = 0.0
        self._next_random_disconnect = math.inf
        self._loss_probability = 0.0
        self._lose_next = 0
        self._lifts: list[tuple[int, float, float]] = []
        self.neutral_mg: tuple[int, ...] | None = None
        self.last_time_sync: tuple[int, int] | None = None

    # ---------------------------------------------------------------- state for transports
    @property
    def now_s(self) -> float:
        """True time the firmware has reached (s)."""
        return self._now_s

    @property
    def powered(self) -> bool:
        """False once the battery has run out."""
        return self._powered

    @property
    def streaming(self) -> bool:
        """True between START and STOP."""
        return self._streaming

    @property
    def att_mtu(self) -> int:
        """ATT MTU of the current connection (default MTU when not connected)."""
        return self._att_mtu

    @property
    def battery_pct(self) -> int:
        """Battery level as the band reports it (0-100, 0 only when empty)."""
        full = self.config.battery.capacity_mah * 3600.0
        return int(min(100, max(0, math.ceil(100.0 * self._charge_mas / full - 1e-9))))

    def contact(self, t_s: float | None = None) -> tuple[bool, ...]:
        """Electrode contact per lead at ``t_s`` (default: now)."""
        t = self._now_s if t_s is None else t_s
        lifted = {lead for lead, a, b in self._lifts if a <= t < b}
        return tuple(i not in lifted for i in range(len(self.profile.leads)))

    def status(self) -> BandStatus:
        """Current value of the status characteristic."""
        fill = round(100 * len(self._queue) / self.config.tx_queue_packets)
        return BandStatus(
            battery_pct=self.battery_pct,
            contact=self.contact(),
            tx_fill_pct=int(fill),
            streaming=self._streaming,
            battery_low=self.battery_pct <= self.config.battery.low_pct,
            overflow=self._dropped_run > 0,
            dropped_packets=self._dropped_run & 0xFFFFFFFF,
            firmware_version=self.config.firmware_version,
        )

    def status_bytes(self) -> bytes:
        """Encoded status characteristic value."""
        return encode_status(self.status(), profile=self.profile)

    def rtc_ticks(self, t_s: float) -> int:
        """Band RTC reading (u32 ticks) at true time ``t_s``."""
        rate = self.profile.data.tick_hz * (1.0 + self.config.clock_ppm * 1e-6)
        return (self.config.rtc_start_ticks + math.floor(t_s * rate)) % (1 << 32)

    # ------------------------------------------------------------------------ connection
    def connect(self) -> None:
        """A central connected (ATT MTU back to the default until exchanged)."""
        self._connected = True
        self._notify = False
        self._att_mtu = self.profile.att_mtu_default
        self._next_event_s = self._now_s + self._pacing.conn_interval_s
        self._queue.clear()
        if self._random_disconnect_per_h > 0:
            mean_s = 3600.0 / self._random_disconnect_per_h
            self._next_random_disconnect = self._now_s + float(self._rng.exponential(mean_s))

    def set_att_mtu(self, att_mtu: int) -> None:
        """The MTU exchange settled on ``att_mtu`` (capped at the band's maximum)."""
        if att_mtu < self.profile.att_mtu_default:
            raise ValueError(f"ATT MTU {att_mtu} is below {self.profile.att_mtu_default}")
        self._att_mtu = min(att_mtu, self.profile.att_mtu_max)

    def set_data_notifications(self, enabled: bool) -> None:
        """The central wrote the data characteristic's CCCD."""
        self._notify = enabled

    def disconnect(self) -> None:
        """The link is gone (either side); unsent notifications and backfills are dropped."""
        self._connected = False
        self._notify = False
        self._att_mtu = self.profile.att_mtu_default
        self._queue.clear()
        self._backfills.clear()
        self._next_random_disconnect = math.inf

    def take_disconnect_request(self) -> bool:
        """True once after the firmware decided to drop the link (fault or battery)."""
        requested, self._disconnect_requested = self._disconnect_requested, False
        return requested

    # ---------------------------------------------------------------------------- faults
    def restart(self) -> None:
        """A watchdog reset: the run, its ring buffers and settings are gone, the link drops.

        The RTC keeps counting (it runs from the backup domain); the band comes back idle,
        with default rates and ranges, and a central must START a new run (counters from 0).
        """
        self._streaming = False
        self._runs = {}
        self._rate = {s.stream_id: s.default_rate_hz for s in self.profile.streams}
        self._range = {s.stream_id: s.default_full_scale for s in self.profile.streams}
        self._queue.clear()
        self._backfills.clear()
        self._dropped_run = 0
        if self._connected:
            self.disconnect()
            self._disconnect_requested = True

    def schedule_disconnect(self, at_s: float) -> None:
        """Drop the link at true time ``at_s`` (if connected then)."""
        self._scheduled_disconnects = sorted([*self._scheduled_disconnects, float(at_s)])

    def set_random_disconnects(self, *, per_hour: float) -> None:
        """Drop the link at random (exponential gaps, mean ``3600 / per_hour`` s)."""
        self._random_disconnect_per_h = per_hour
        if self._connected and per_hour > 0:
            self._next_random_disconnect = self._now_s + float(
                self._rng.exponential(3600.0 / per_hour)
            )

    def set_notification_loss(self, *, probability: float) -> None:
        """Lose each data notification on air with ``probability``."""
        self._loss_probability = probability

    def lose_next_notifications(self, count: int) -> None:
        """Lose the next ``count`` data notifications on air."""
        self._lose_next += count

    def set_link_pacing(self, pacing: LinkPacing) -> None:
        """Change how fast the central takes notifications (e.g. a slow central)."""
        self._pacing = pacing

    def lift_electrode(self, lead: str, *, start_s: float, end_s: float) -> None:
        """Lead ``lead`` loses skin contact from ``start_s`` to ``end_s`` (true s)."""
        self._lifts.append((self.profile.leads.index(lead), start_s, end_s))

    def drain_battery(self, *, to_pct: float) -> None:
        """Set the remaining charge to ``to_pct`` % (the band dies at the next step if 0)."""
        self._charge_mas = self.config.battery.capacity_mah * 3600.0 * max(0.0, to_pct) / 100

    # ------------------------------------------------------------------------------ time
    def advance_to(self, t_s: float) -> list[bytes]:
        """Run the firmware up to true time ``t_s``.

        Returns
        -------
        list of bytes
            Data notifications delivered to the central in ``(now, t_s]``, in order.
        """
        if t_s < self._now_s:
            raise ValueError(f"time went backwards: {t_s} < {self._now_s}")
        out: list[bytes] = []
        while self._powered and self._now_s < t_s:
            end = min(t_s, self._now_s + self.config.max_step_s)
            cut = self._next_disconnect_time()
            drop_link = cut is not None and cut <= end
            if drop_link:
                end = max(self._now_s, cut)
            sent_before = self.stats.notifications_sent
            self._run_segment(end, out)
            self._drain_battery(end - self._now_s,
                                self.stats.notifications_sent - sent_before)  # fmt: skip
            self._now_s = end
            if drop_link:
                self._scheduled_disconnects = [d for d in self._scheduled_disconnects if d > end]
                if self._connected:
                    self.disconnect()
                    self._disconnect_requested = True
            if self._charge_mas <= 0:
                self._power_off()
        self._now_s = max(self._now_s, t_s)
        return out

    def _next_disconnect_time(self) -> float | None:
        times = [self._next_random_disconnect] if self._connected else []
        times += self._scheduled_disconnects[:1]
        best = min(times, default=math.inf)
        return None if math.isinf(best) else best

    def _power_off(self) -> None:
        self._charge_mas = 0.0
        self._streaming = False
        self._powered = False
        if self._connected:
            self.disconnect()
            self._disconnect_requested = True

    def _drain_battery(self, dt_s: float, n_notifications: int) -> None:
        b = self.config.battery
        current = b.idle_ma + (b.connected_ma if self._connected else 0.0)
        if self._streaming:
            per_kind = {"raw": b.emg_raw_ma, "envelope": b.emg_envelope_ma, "accel": b.accel_ma}
            current += sum(per_kind[run.spec.kind] for run in self._runs.values())
        self._charge_mas -= current * dt_s + n_notifications * b.notification_uc * 1e-3

    @property
    def _link_ready(self) -> bool:
        return self._connected and self._notify

    def _run_segment(self, t_end: float, out: list[bytes]) -> None:
        items: list[tuple[float, int, int, bytes]] = []
        if self._streaming:
            for run in self._runs.values():
                self._produce(run, run.count_by(t_end))
                items += self._cut_packets(run)
        items.sort(key=lambda item: item[:3])
        for t_p, _, _, payload in items:
            self._events_until(t_p, out)
            self._enqueue(payload)
        self._events_until(t_end, out)

    def _enqueue(self, payload: bytes) -> None:
        if len(self._queue) >= self.config.tx_queue_packets:
            self._dropped_run += 1
            self.stats.notifications_dropped += 1
        else:
            self._queue.append(payload)

    def _events_until(self, t_s: float, out: list[bytes]) -> None:
        if t_s < self._next_event_s:
            return
        interval = self._pacing.conn_interval_s
        n_events = int((t_s - self._next_event_s) // interval) + 1
        self._next_event_s += n_events * interval
        if not self._link_ready:
            return
        budget = n_events * self._pacing.packets_per_event
        while budget > 0 and self._queue:
            self._deliver(self._queue.popleft(), out)
            budget -= 1
        while budget > 0 and self._backfills:
            payload = self._next_backfill_packet()
            if payload is not None:
                self.stats.backfill_packets_sent += 1
                self._deliver(payload, out)
                budget -= 1

    def _deliver(self, payload: bytes, out: list[bytes]) -> None:
        self.stats.notifications_sent += 1
        if self._lose_next > 0:
            self._lose_next -= 1
            self.stats.notifications_lost += 1
        elif self._loss_probability > 0 and self._rng.random() < self._loss_probability:
            self.stats.notifications_lost += 1
        else:
            out.append(payload)

    # ------------------------------------------------------------------------- sampling
    def _produce(self, run: _StreamRun, k_end: int) -> None:
        k0 = run.produced
        if k_end <= k0:
            return
        t = run.times(k0, k_end)
        spec = run.spec
        if spec.kind == "accel":
            values = np.asarray(self._feed(spec.role, t), dtype=np.float64).reshape(-1, 3)
        elif spec.kind == "raw":
            values = np.asarray(self._feed("emg", t), dtype=np.float64)
            values = np.where(self._lifted(t), np.inf, values)[:, None]
        else:
            values = self._envelope(t, run.full_scale)[:, None]
        counts = np.clip(np.rint(values / run.lsb), -32768, 32767).astype(np.int16)
        run.store(counts)

    def _lifted(self, t: np.ndarray) -> np.ndarray:
        mask = np.zeros(t.shape, dtype=bool)
        for _, a, b in self._lifts:
            mask |= (t >= a) & (t < b)
        return mask

    def _envelope(self, t: np.ndarray, full_scale: int) -> np.ndarray:
        n_win = max(2, round(self.config.envelope_window_s * self.config.envelope_adc_hz))
        offsets = (np.arange(n_win) - (n_win - 1)) / self.config.envelope_adc_hz
        grid = t[:, None] + offsets[None, :]
        x = np.asarray(self._feed("emg", grid.ravel()), dtype=np.float64).reshape(grid.shape)
        x = np.where(self._lifted(grid), full_scale, np.clip(x, -full_scale, full_scale))
        x = x - x.mean(axis=1, keepdims=True)
        return np.sqrt(np.mean(x * x, axis=1))

    def _samples_per_packet(self, run: _StreamRun, *, live: bool) -> int:
        mtu = self._att_mtu if self._connected else self.profile.att_mtu_default
        n = self.profile.samples_per_packet(run.spec.stream_id, att_mtu=mtu)
        if live:
            n = min(n, max(1, math.floor(self.config.max_latency_s * run.rate_hz)))
        return n

    def _cut_packets(
        self, run: _StreamRun, *, flush: bool = False
    ) -> list[tuple[float, int, int, bytes]]:
        n_pp = self._samples_per_packet(run, live=True)
        pending = run.produced - run.packed
        m = pending // n_pp
        sizes = [n_pp] * m
        if flush and pending % n_pp:
            sizes.append(pending % n_pp)
        if not sizes:
            return []
        firsts = run.packed + np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        seqs = run.record_packets(firsts)
        run.packed += int(sum(sizes))
        self.stats.packets_cut += len(sizes)
        if not self._link_ready:
            return []
        ends = run.run_start_s + (firsts + np.asarray(sizes) - 1) / run.rate_eff
        return [
            (float(ends[i]), run.spec.stream_id, int(seqs[i]),
             self._encode(run, int(firsts[i]), sizes[i], int(seqs[i]), backfill=False))
            for i in range(len(sizes))
        ]  # fmt: skip

    def _encode(self, run: _StreamRun, first: int, n: int, seq: int, *, backfill: bool) -> bytes:
        spec = run.spec
        samples = run.read(first, n)
        t_first = run.run_start_s + first / run.rate_eff
        packet = DataPacket(
            stream_id=spec.stream_id,
            seq=seq % self.profile.data.seq_modulus,
            first_sample=first % self.profile.data.counter_modulus,
            device_ticks=self.rtc_ticks(t_first),
            rate_code=spec.rate_code(run.rate_hz),
            range_code=spec.range_code(run.full_scale),
            samples=samples if spec.axes > 1 else samples[:, 0],
            backfill=backfill,
        )
        return encode_data_packet(packet, profile=self.profile)

    def _next_backfill_packet(self) -> bytes | None:
        cursor = self._backfills[0]
        run = self._runs[cursor.stream_id]
        cursor.next_sample = max(cursor.next_sample, run.oldest)
        if cursor.next_sample >= cursor.end_sample:
            self._backfills.popleft()
            return None
        n = min(self._samples_per_packet(run, live=False), cursor.end_sample - cursor.next_sample)
        payload = self._encode(run, cursor.next_sample, n, cursor.next_seq, backfill=True)
        cursor.next_sample += n
        cursor.next_seq += 1
        return payload

    # ------------------------------------------------------------------------ commands
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
                self._runs[spec.stream_id] = _StreamRun(
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
            self._backfills.append(_Backfill(command.stream_id, first, run.packed, full_seq))
        result = BackfillResult(command.stream_id, command.from_seq,
                                first % (1 << 32), n)  # fmt: skip
        return ControlResponse(opcode=Opcode.BACKFILL, status=Status.SUCCESS, result=result)
