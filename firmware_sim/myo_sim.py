"""A simulated Thalmic Myo armband (worn on the calf) served with bumble.

Services as in Thalmic's ``myohw.h``: the control service (firmware version: read; command:
write), the IMU service (IMU data: notify, 20 bytes) and the raw EMG service (four notify
characteristics, 16 bytes each: two consecutive samples x 8 electrodes, int8). The command
``01 03 <emg> <imu> <classifier>`` starts raw EMG (mode 3) and IMU data (mode 1); ``09 01
<mode>`` sets the sleep mode. Streams stop when the link drops (a client sets the mode again
on each connection). Neither notification carries a counter; EMG packets go out on the four
characteristics in turn.

The samples come from arrays: EMG counts (int8, shape (n, 8)) at 200 Hz and IMU rows
(quaternion w, x, y, z; accel g; gyro deg/s) at 50 Hz, sample ``i`` at true time ``i / fs``.
The encoders are here (simulator side).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from bumble import gatt
from bumble.device import Connection, Device
from bumble.link import LocalLink
from bumble.profiles.battery_service import BatteryService

from detector.profiles.myo import (
    MYO,
    Command,
    EmgMode,
    ImuMode,
    SleepMode,
)
from firmware_sim.gatt import new_link_device
from firmware_sim.sim_peripheral import Notification, SimPeripheral

MYO_SIM_ADDRESS = "D0:5B:A4:00:00:03"
"""Static random address of the simulated Myo."""
FIRMWARE_VERSION = (1, 5, 1970, 2)
"""Major, minor, patch, hardware revision (2 = REVD) reported by the simulated Myo."""


def encode_emg_packet(samples: np.ndarray) -> bytes:
    """Encode one EMG notification: two samples x 8 electrodes, int8.

    Raises
    ------
    ValueError
        Not shape (2, 8) or values outside int8.
    """
    a = np.asarray(samples)
    if a.shape != (MYO.emg_samples_per_packet, MYO.emg_channels):
        raise ValueError(f"expected shape (2, 8), got {a.shape}")
    if a.min() < -128 or a.max() > 127:
        raise ValueError("EMG values outside int8")
    return a.astype(np.int8).tobytes()


def encode_imu_packet(*, quaternion: np.ndarray, accel_g: np.ndarray,
                      gyro_dps: np.ndarray) -> bytes:
    """Encode one IMU notification (10 x int16 little-endian, rounded and clipped).

    Parameters
    ----------
    quaternion : ndarray, shape (4,)
        Orientation w, x, y, z (unitless).
    accel_g : ndarray, shape (3,)
        Acceleration (g).
    gyro_dps : ndarray, shape (3,)
        Angular rate (deg/s).
    """
    values = np.concatenate([
        np.asarray(quaternion, dtype=np.float64).reshape(4) * MYO.quaternion_scale,
        np.asarray(accel_g, dtype=np.float64).reshape(3) * MYO.accel_scale_per_g,
        np.asarray(gyro_dps, dtype=np.float64).reshape(3) * MYO.gyro_scale_per_dps])
    return np.clip(np.rint(values), -32768, 32767).astype("<i2").tobytes()


def emg_uv_to_counts(emg_uv: np.ndarray, *, uv_per_count: float) -> np.ndarray:
    """EMG in uV -> int8 counts (rounded, clipped to -128..127), same shape, int64."""
    return np.clip(np.rint(np.asarray(emg_uv, dtype=np.float64) / uv_per_count), -128,
                   127).astype(np.int64)


class MyoPeripheral(SimPeripheral):
    """A Myo armband streaming EMG and IMU arrays over GATT.

    Parameters
    ----------
    device : bumble.device.Device
        Device to serve on.
    emg_counts : ndarray of int, shape (n, 8)
        EMG samples in counts (int8 range), sample ``i`` at true time ``i / 200``.
    imu_accel_g : ndarray of float, shape (m, 3)
        IMU acceleration (g), sample ``j`` at true time ``j / 50``.
    clock : callable returning float
        True time (s since the simulation started).
    imu_quaternion : ndarray, shape (m, 4), optional
        Orientation (default: identity).
    imu_gyro_dps : ndarray, shape (m, 3), optional
        Angular rate (default: zero).
    address : str
    link : LocalLink, optional
    """

    def __init__(self, device: Device, *, emg_counts: np.ndarray, imu_accel_g: np.ndarray,
                 clock: Callable[[], float], imu_quaternion: np.ndarray | None = None,
                 imu_gyro_dps: np.ndarray | None = None, address: str = MYO_SIM_ADDRESS,
                 link: LocalLink | None = None, local_name: str = "Myo Calf") -> None:
        super().__init__(device, clock=clock, service_uuid=MYO.control_service_uuid,
                         short_name="Myo", local_name=local_name, address=address, link=link)
        self.emg = np.asarray(emg_counts)
        if self.emg.ndim != 2 or self.emg.shape[1] != MYO.emg_channels:
            raise ValueError(f"emg_counts must have shape (n, 8), got {self.emg.shape}")
        self.accel_g = np.asarray(imu_accel_g, dtype=np.float64)
        m = self.accel_g.shape[0]
        self.quaternion = (np.tile([1.0, 0.0, 0.0, 0.0], (m, 1)) if imu_quaternion is None
                           else np.asarray(imu_quaternion, dtype=np.float64))
        self.gyro_dps = (np.zeros((m, 3)) if imu_gyro_dps is None
                         else np.asarray(imu_gyro_dps, dtype=np.float64))
        self.emg_mode = EmgMode.NONE
        self.imu_mode = ImuMode.NONE
        self.sleep_mode = SleepMode.NORMAL
        self.next_emg = 0
        self.next_imu = 0
        self.emg_packets_sent = 0
        self.commands: list[bytes] = []
        notify = gatt.Characteristic.Properties.NOTIFY
        self.emg_chars = [gatt.Characteristic(u, notify, gatt.Characteristic.READABLE, b"")
                          for u in MYO.emg_data_uuids]
        self.imu_char = gatt.Characteristic(MYO.imu_data_uuid, notify,
                                            gatt.Characteristic.READABLE, b"")
        version = np.asarray(FIRMWARE_VERSION, dtype="<u2").tobytes()
        self.command_char = gatt.Characteristic(
            MYO.command_uuid, gatt.Characteristic.Properties.WRITE,
            gatt.Characteristic.WRITEABLE, gatt.CharacteristicValue(write=self._on_command))
        device.add_services([
            gatt.Service(MYO.control_service_uuid, [
                gatt.Characteristic(MYO.info_uuid, gatt.Characteristic.Properties.READ,
                                    gatt.Characteristic.READABLE, bytes(20)),
                gatt.Characteristic(MYO.firmware_version_uuid,
                                    gatt.Characteristic.Properties.READ,
                                    gatt.Characteristic.READABLE, version),
                self.command_char]),
            gatt.Service(MYO.imu_service_uuid, [self.imu_char]),
            gatt.Service(MYO.emg_service_uuid, self.emg_chars),
            BatteryService(lambda _conn: 80),
        ])
        device.gatt_server.max_mtu = 247

    @classmethod
    def on_link(cls, link: LocalLink, *, emg_counts: np.ndarray, imu_accel_g: np.ndarray,
                clock: Callable[[], float], address: str = MYO_SIM_ADDRESS) -> MyoPeripheral:
        """Create the armband on an in-process link (call from a running event loop)."""
        device = new_link_device(link, address=address, name="Myo Calf")
        return cls(device, emg_counts=emg_counts, imu_accel_g=imu_accel_g, clock=clock,
                   address=address, link=link)

    # -------------------------------------------------------------------------- streaming
    def produce(self, now_s: float) -> list[Notification]:
        """EMG packets (in turn on the four characteristics) and IMU samples due by now."""
        out: list[Notification] = []
        per = MYO.emg_samples_per_packet
        if self.emg_mode == EmgMode.RAW:
            due = min(self.emg.shape[0], math.floor(now_s * MYO.emg_fs_hz + 1e-9) + 1)
            while due - self.next_emg >= per:
                i = self.next_emg
                char = self.emg_chars[self.emg_packets_sent % len(self.emg_chars)]
                out.append((char, encode_emg_packet(self.emg[i:i + per])))
                self.next_emg += per
                self.emg_packets_sent += 1
        if self.imu_mode == ImuMode.DATA:
            due = min(self.accel_g.shape[0], math.floor(now_s * MYO.imu_fs_hz + 1e-9) + 1)
            while self.next_imu < due:
                j = self.next_imu
                out.append((self.imu_char, encode_imu_packet(
                    quaternion=self.quaternion[j], accel_g=self.accel_g[j],
                    gyro_dps=self.gyro_dps[j])))
                self.next_imu += 1
        return out

    def on_connected(self) -> None:
        """A new connection: nothing streams until the client sets the mode."""
        self.emg_mode, self.imu_mode = EmgMode.NONE, ImuMode.NONE

    def on_disconnected(self) -> None:
        """Streams stop when the link drops."""
        self.emg_mode, self.imu_mode = EmgMode.NONE, ImuMode.NONE

    # --------------------------------------------------------------------------- commands
    def handle_command(self, command: bytes) -> None:
        """Apply a command (the Myo acknowledges writes at the ATT level only)."""
        self.commands.append(bytes(command))
        if len(command) < 2 or len(command) != 2 + command[1]:
            return
        if command[0] == Command.SET_MODE and command[1] == 3:
            emg, imu = command[2], command[3]
            now = self.clock()
            if emg in (EmgMode.NONE, EmgMode.RAW):
                if emg == EmgMode.RAW and self.emg_mode != EmgMode.RAW:
                    start = math.ceil(now * MYO.emg_fs_hz - 1e-9)
                    self.next_emg = start + start % MYO.emg_samples_per_packet
                self.emg_mode = EmgMode(emg)
            if imu in (ImuMode.NONE, ImuMode.DATA):
                if imu == ImuMode.DATA and self.imu_mode != ImuMode.DATA:
                    self.next_imu = math.ceil(now * MYO.imu_fs_hz - 1e-9)
                self.imu_mode = ImuMode(imu)
        elif command[0] == Command.SET_SLEEP_MODE and command[1] == 1 and command[2] in (0, 1):
            self.sleep_mode = SleepMode(command[2])

    def _on_command(self, _connection: Connection, value: bytes) -> None:
        self.handle_command(bytes(value))


