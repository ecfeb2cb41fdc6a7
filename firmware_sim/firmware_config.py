"""Configuration of the simulated LegBand's firmware: clocks, buffers, link pacing, battery.

:class:`FirmwareConfig` is everything fixed at manufacture or chosen for a simulation run of
:class:`~firmware_sim.firmware.Firmware` (which re-exports these names); :class:`LinkPacing`
how fast the link drains, :class:`BatteryModel` the charge and the current each part draws,
:class:`FirmwareStats` the counters a run keeps. Times in s, rates in Hz, currents in mA.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detector.profiles.legband import LEGBAND, LegBandProfile

__all__ = ["BatteryModel", "FirmwareConfig", "FirmwareStats", "LinkPacing"]


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
