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

The model's parts are its siblings: :mod:`firmware_sim.firmware_config` (the configuration,
re-exported here), :mod:`firmware_sim.stream_ring` (a stream's samples, ring buffer and packet
index during a run) and :mod:`firmware_sim.firmware_commands` (the control point, a base of
:class:`Firmware`).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from detector.profiles.legband_codec import (
    BandStatus,
    DataPacket,
    encode_data_packet,
    encode_status,
)
from firmware_sim.feeds import ArrayFeed, ManualClock, ScaledClock, SignalFeed
from firmware_sim.firmware_commands import ControlPointHandlers
from firmware_sim.firmware_config import BatteryModel, FirmwareConfig, FirmwareStats, LinkPacing
from firmware_sim.stream_ring import BackfillCursor, StreamRun

__all__ = ["ArrayFeed", "BatteryModel", "Firmware", "FirmwareConfig", "FirmwareStats",
           "LinkPacing", "ManualClock", "ScaledClock", "SignalFeed"]


class Firmware(ControlPointHandlers):
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
        self._runs: dict[int, StreamRun] = {}
        self._connected = False
        self._notify = False
        self._att_mtu = self.profile.att_mtu_default
        self._pacing = config.pacing
        self._next_event_s = 0.0
        self._queue: deque[bytes] = deque()
        self._backfills: deque[BackfillCursor] = deque()
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
    def _produce(self, run: StreamRun, k_end: int) -> None:
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

    def _samples_per_packet(self, run: StreamRun, *, live: bool) -> int:
        mtu = self._att_mtu if self._connected else self.profile.att_mtu_default
        n = self.profile.samples_per_packet(run.spec.stream_id, att_mtu=mtu)
        if live:
            n = min(n, max(1, math.floor(self.config.max_latency_s * run.rate_hz)))
        return n

    def _cut_packets(
        self, run: StreamRun, *, flush: bool = False
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

    def _encode(self, run: StreamRun, first: int, n: int, seq: int, *, backfill: bool) -> bytes:
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
