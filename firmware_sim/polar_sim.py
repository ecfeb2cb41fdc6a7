"""A simulated Polar PMD accelerometer (Verity Sense / H10 style) served with bumble.

The PMD service has a control point (write + indicate) and a data characteristic (notify).
The control point answers GET SETTINGS, START and STOP of the accelerometer as the real device
does (``F0 op type status more [settings]``); while started, the data characteristic sends raw
type-1 ACC frames: ``02 | u64 timestamp of the last sample (ns since 2000-01-01 UTC) | 01 |
n x (int16 x, y, z) in mG``. As on the real device, an online stream stops when the link
drops: the client starts it again after reconnecting, and what was measured meanwhile is lost.

The samples come from an array in g: sample ``i`` is taken at true time ``i / fs`` and stamped
``origin_unix_s + i / fs`` on the device clock. The encoders are here (simulator side).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from bumble import gatt
from bumble.device import Connection, Device
from bumble.link import LocalLink
from bumble.profiles.battery_service import BatteryService
from bumble.profiles.device_information_service import DeviceInformationService

from detector.profiles.errors import DecodeError
from detector.profiles.polar_pmd import (
    POLAR_EPOCH_UNIX_S,
    POLAR_PMD,
    ControlOpcode,
    MeasurementType,
    ResponseStatus,
    SettingType,
    parse_settings,
)
from firmware_sim.gatt import new_link_device
from firmware_sim.sim_peripheral import Notification, SimPeripheral

POLAR_SIM_ADDRESS = "D0:5B:A4:00:00:02"
"""Static random address of the simulated Polar sensor."""
ACC_RANGES_G = (2, 4, 8)
"""Full-scale ranges (+-g) the simulated sensor offers."""
ACC_RESOLUTION_BITS = 16
RAW_INT16_FRAME_TYPE = 1


def encode_acc_frame(acc_mg: np.ndarray, *, timestamp_ns: int) -> bytes:
    """Encode a raw type-1 ACC frame.

    Parameters
    ----------
    acc_mg : ndarray of int, shape (n, 3)
        Samples in mG (int16 range).
    timestamp_ns : int
        Time of the last sample, ns since 2000-01-01 UTC.

    Raises
    ------
    ValueError
        Wrong shape, values outside int16, or a negative timestamp.
    """
    a = np.asarray(acc_mg)
    if a.ndim != 2 or a.shape[1] != POLAR_PMD.acc_channels or a.shape[0] < 1:
        raise ValueError(f"expected shape (n >= 1, 3), got {a.shape}")
    if a.min() < -32768 or a.max() > 32767:
        raise ValueError("ACC values outside int16")
    if not 0 <= timestamp_ns < 2**64:
        raise ValueError("timestamp outside u64")
    return (bytes([MeasurementType.ACC]) + int(timestamp_ns).to_bytes(8, "little")
            + bytes([RAW_INT16_FRAME_TYPE]) + a.astype("<i2").tobytes())


def encode_acc_frames(acc_mg: np.ndarray, *, per: int,
                      timestamps_ns: list[int]) -> list[bytes]:
    """Encode consecutive raw type-1 ACC frames of ``per`` samples each, in one pass.

    Frame ``k`` is ``encode_acc_frame(acc_mg[k * per:(k + 1) * per], timestamp_ns=
    timestamps_ns[k])``, byte for byte; the checks and the conversion to int16 run once over
    the whole block instead of once a frame (a night at MTU 23 is one sample a frame).

    Parameters
    ----------
    acc_mg : ndarray of int, shape (len(timestamps_ns) * per, 3)
        Samples in mG (int16 range).
    per : int
        Samples per frame (>= 1).
    timestamps_ns : list of int
        Time of each frame's last sample, ns since 2000-01-01 UTC.

    Raises
    ------
    ValueError
        Wrong shape, values outside int16, or a negative timestamp.
    """
    a = np.asarray(acc_mg)
    n = len(timestamps_ns)
    if per < 1 or a.ndim != 2 or a.shape != (n * per, POLAR_PMD.acc_channels):
        raise ValueError(f"expected shape ({n} * {per}, 3), got {a.shape}")
    if n == 0:
        return []
    if a.min() < -32768 or a.max() > 32767:
        raise ValueError("ACC values outside int16")
    if min(timestamps_ns) < 0 or max(timestamps_ns) >= 2**64:
        raise ValueError("timestamp outside u64")
    record = np.dtype([("kind", "u1"), ("t", "<u8"), ("frame", "u1"),
                       ("acc", "<i2", (per, POLAR_PMD.acc_channels))])
    rows = np.empty(n, dtype=record)
    rows["kind"] = MeasurementType.ACC
    rows["t"] = np.array(timestamps_ns, dtype=np.uint64)
    rows["frame"] = RAW_INT16_FRAME_TYPE
    rows["acc"] = a.reshape(n, per, POLAR_PMD.acc_channels)
    body = rows.tobytes()
    size = record.itemsize
    return [body[k * size:(k + 1) * size] for k in range(n)]


def acc_g_to_mg_counts(acc_g: np.ndarray, *, range_g: float) -> np.ndarray:
    """What the sensor sends for ``acc_g``: rounded mG, clipped to the range, int64 (n, 3)."""
    limit = min(32767.0, range_g * 1000.0)
    return np.clip(np.rint(np.asarray(acc_g, dtype=np.float64) * 1000.0), -limit,
                   limit).astype(np.int64)


def _response(opcode: int, measurement: int, status: int, params: bytes = b"") -> bytes:
    return bytes([POLAR_PMD.response_code, opcode, measurement, status, 0]) + params


def acc_settings_list(*, fs: int) -> bytes:
    """The settings list of GET SETTINGS for ACC: rate, resolution, ranges."""
    return (bytes([SettingType.SAMPLE_RATE, 1]) + fs.to_bytes(2, "little")
            + bytes([SettingType.RESOLUTION, 1]) + ACC_RESOLUTION_BITS.to_bytes(2, "little")
            + bytes([SettingType.RANGE, len(ACC_RANGES_G)])
            + b"".join(r.to_bytes(2, "little") for r in ACC_RANGES_G))


class PolarPeripheral(SimPeripheral):
    """A Polar PMD accelerometer streaming ``acc_g`` over GATT.

    Parameters
    ----------
    device : bumble.device.Device
        Device to serve on.
    acc_g : ndarray of float, shape (n, 3)
        Accelerometer samples in g, sample ``i`` at true time ``i / fs``.
    fs : int
        Sampling rate (Hz); the only rate offered.
    clock : callable returning float
        True time (s since the simulation started).
    origin_unix_s : float
        UNIX time of clock 0 (sets the frame timestamps).
    local_name : str
        Advertised complete name.
    address : str
        The device's address.
    link : LocalLink, optional
        The in-process link it is on.
    clock_ppm : float
        The sensor's oscillator against true time (ppm; see
        :class:`~firmware_sim.sim_peripheral.SimPeripheral`).
    """

    def __init__(self, device: Device, *, acc_g: np.ndarray, fs: int,
                 clock: Callable[[], float], origin_unix_s: float,
                 local_name: str = "Polar Sense SIM00002", address: str = POLAR_SIM_ADDRESS,
                 link: LocalLink | None = None, clock_ppm: float = 0.0) -> None:
        super().__init__(device, clock=clock, service_uuid=POLAR_PMD.service_uuid,
                         short_name="Polar", local_name=local_name, address=address, link=link,
                         clock_ppm=clock_ppm)
        self.acc_g = np.asarray(acc_g, dtype=np.float64)
        if self.acc_g.ndim != 2 or self.acc_g.shape[1] != 3:
            raise ValueError(f"acc_g must have shape (n, 3), got {self.acc_g.shape}")
        self.acc_g = self.on_own_oscillator(self.acc_g)
        self.fs = int(fs)
        self.base_ns = round((origin_unix_s - POLAR_EPOCH_UNIX_S) * 1e9)
        self.streaming = False
        self.range_g = 8
        self.next_sample = 0
        self.frames_sent = 0
        self.commands: list[bytes] = []
        self._data_enabled = False
        self.data_char = gatt.Characteristic(
            POLAR_PMD.data_uuid, gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.READABLE, b"")
        self.control_char = gatt.Characteristic(
            POLAR_PMD.control_point_uuid,
            gatt.Characteristic.Properties.WRITE | gatt.Characteristic.Properties.INDICATE
            | gatt.Characteristic.Properties.READ,
            gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(read=lambda _c: bytes([0x0F, 0x05, 0x00]),
                                     write=self._on_control_write))
        self.data_char.on(gatt.Characteristic.EVENT_SUBSCRIPTION, self._on_data_subscription)
        device.add_services([
            gatt.Service(POLAR_PMD.service_uuid, [self.control_char, self.data_char]),
            DeviceInformationService(manufacturer_name="Polar Electro Oy (simulated)",
                                     model_number="Polar Sense", serial_number="SIM00002",
                                     firmware_revision="sim"),
            BatteryService(lambda _conn: 90),
        ])
        device.gatt_server.max_mtu = 247

    @classmethod
    def on_link(cls, link: LocalLink, *, acc_g: np.ndarray, fs: int, clock: Callable[[], float],
                origin_unix_s: float, address: str = POLAR_SIM_ADDRESS,
                clock_ppm: float = 0.0) -> PolarPeripheral:
        """Create the sensor on an in-process link (call from a running event loop)."""
        device = new_link_device(link, address=address, name="Polar Sense SIM00002")
        return cls(device, acc_g=acc_g, fs=fs, clock=clock, origin_unix_s=origin_unix_s,
                   address=address, link=link, clock_ppm=clock_ppm)

    def timestamp_ns(self, index: int) -> int:
        """Device timestamp of sample ``index`` (ns since 2000-01-01 UTC)."""
        return self.base_ns + round(index * 1e9 / self.fs)

    # -------------------------------------------------------------------------- streaming
    def _frame_samples(self) -> int:
        conn = self.connection
        mtu = conn.att_mtu if conn is not None else 23
        return max(1, (mtu - 3 - POLAR_PMD.header_bytes) // (2 * POLAR_PMD.acc_channels))

    def produce(self, now_s: float) -> list[Notification]:
        """Full frames of the samples measured up to ``now_s``."""
        if not self.streaming:
            return []
        per = self._frame_samples()
        due = min(self.acc_g.shape[0], math.floor(self.device_s(now_s) * self.fs + 1e-9) + 1)
        n_frames = max(0, (due - self.next_sample) // per)
        if n_frames == 0:
            return []
        i = self.next_sample
        frames = encode_acc_frames(
            acc_g_to_mg_counts(self.acc_g[i:i + n_frames * per], range_g=self.range_g),
            per=per, timestamps_ns=[self.timestamp_ns(i + (k + 1) * per - 1)
                                    for k in range(n_frames)])
        self.next_sample += n_frames * per
        self.frames_sent += n_frames
        return [(self.data_char, frame) for frame in frames]

    def on_connected(self) -> None:
        """A new connection: nothing streams until the client starts it."""
        self.streaming = False
        self._data_enabled = False

    def on_disconnected(self) -> None:
        """Online streams stop when the link drops."""
        self.streaming = False
        self._data_enabled = False

    def _on_data_subscription(self, _bearer: object, notify: bool, _indicate: bool) -> None:
        self._data_enabled = notify

    # ---------------------------------------------------------------------- control point
    def handle_command(self, command: bytes) -> bytes:
        """The control point's answer to ``command`` (and its effect)."""
        self.commands.append(bytes(command))
        if len(command) < 2:
            return _response(command[0] if command else 0, 0, ResponseStatus.INVALID_LENGTH)
        opcode, kind = command[0], command[1]
        if opcode not in (ControlOpcode.GET_SETTINGS, ControlOpcode.START, ControlOpcode.STOP):
            return _response(opcode, kind, ResponseStatus.INVALID_OP_CODE)
        if kind != MeasurementType.ACC:
            return _response(opcode, kind, ResponseStatus.NOT_SUPPORTED)
        if opcode == ControlOpcode.GET_SETTINGS:
            return _response(opcode, kind, ResponseStatus.SUCCESS, acc_settings_list(fs=self.fs))
        if opcode == ControlOpcode.STOP:
            if not self.streaming:
                return _response(opcode, kind, ResponseStatus.ALREADY_IN_STATE)
            self.streaming = False
            return _response(opcode, kind, ResponseStatus.SUCCESS)
        return self._start(command)

    def _start(self, command: bytes) -> bytes:
        opcode, kind = command[0], command[1]
        if self.streaming:
            return _response(opcode, kind, ResponseStatus.ALREADY_IN_STATE)
        if not self._data_enabled:
            return _response(opcode, kind, ResponseStatus.INVALID_STATE)
        try:
            chosen = parse_settings(command[2:])
        except DecodeError:
            return _response(opcode, kind, ResponseStatus.INVALID_PARAMETER)
        if chosen.sample_rates_hz != (self.fs,):
            return _response(opcode, kind, ResponseStatus.INVALID_SAMPLE_RATE)
        if chosen.resolutions_bits != (ACC_RESOLUTION_BITS,):
            return _response(opcode, kind, ResponseStatus.INVALID_RESOLUTION)
        if len(chosen.ranges) != 1 or chosen.ranges[0] not in ACC_RANGES_G:
            return _response(opcode, kind, ResponseStatus.INVALID_RANGE)
        self.range_g = chosen.ranges[0]
        self.streaming = True
        self.next_sample = math.ceil(self.device_s(self.clock()) * self.fs - 1e-9)
        return _response(opcode, kind, ResponseStatus.SUCCESS)

    def _on_control_write(self, connection: Connection, value: bytes) -> None:
        response = self.handle_command(bytes(value))
        self._spawn(self._answer(connection, response))

    async def _answer(self, connection: Connection, response: bytes) -> None:
        if self.connection is connection:
            await self.device.indicate_subscriber(connection, self.control_char, response)
