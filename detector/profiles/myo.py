"""Thalmic Myo armband worn on the calf: profile as data and pure decoders.

Facts from Thalmic's published Bluetooth header (thalmiclabs/myo-bluetooth, ``myohw.h``);
the decoders are written here. Every Myo UUID is ``d506xxxx-a904-deb9-4748-2c7f4a124842``
with a 16-bit short id in the ``xxxx`` slot.

Commands are written to the command characteristic: ``[command][payload size][payload]``.
Raw EMG arrives on four notify characteristics, 16 bytes each: two consecutive samples of
8 x int8 (one per electrode), 200 samples/s in all. IMU notifications are 20 bytes of int16:
orientation quaternion w, x, y, z (/16384), accelerometer x, y, z (/2048, g) and gyroscope
x, y, z (/16, deg/s), 50 samples/s. The header says "all values are big-endian", but the
vectors of real devices (iomz/dl-myo) decode only as little-endian, which is what is used.

Neither notification carries a timestamp or counter: the caller numbers samples as they
arrive (EMG: the four characteristics take turns) and passes the index of the first one.
"""

from __future__ import annotations

import enum
import math
import struct
from dataclasses import dataclass, field

import numpy as np

from detector.errors import CrampInputError
from detector.profiles.errors import DecodeError
from detector.signals import ChannelSpec

Bytes = bytes | bytearray | memoryview

_UUID_TEMPLATE = "d506{:04x}-a904-deb9-4748-2c7f4a124842"

MYO_EMG_UV_PER_COUNT_ASSUMED = 10.0
"""ASSUMED, UNVERIFIED microvolts per raw EMG count.

Thalmic never published the analogue gain of the Myo's EMG front end: raw EMG is int8 in ADC
counts (-128..127). Forearm recordings of strong fists reach close to the rails, and surface
EMG at maximal contraction is of the order of 1-1.5 mV peak; 128 counts ~ 1.28 mV gives
10 uV per count. The detector's relative criteria (envelope over resting level) do not depend
on this value; its absolute thresholds in uV (``emg.active_rise_uv``, ``emg.flat_uv``) do,
so they are only approximate on a Myo. Replace it when a calibration becomes available.
"""


def myo_uuid(short: int) -> str:
    """Return the Myo 128-bit UUID with ``short`` in the 16-bit slot (lowercase text)."""
    return _UUID_TEMPLATE.format(short)


class Command(enum.IntEnum):
    """Command codes (first byte written to the command characteristic)."""

    SET_MODE = 0x01
    VIBRATE = 0x03
    DEEP_SLEEP = 0x04
    SET_SLEEP_MODE = 0x09


class EmgMode(enum.IntEnum):
    """EMG streaming modes."""

    NONE = 0x00
    FILTERED = 0x02
    RAW = 0x03


class ImuMode(enum.IntEnum):
    """IMU streaming modes."""

    NONE = 0x00
    DATA = 0x01
    EVENTS = 0x02
    ALL = 0x03
    RAW = 0x04


class ClassifierMode(enum.IntEnum):
    """On-board pose classifier modes."""

    DISABLED = 0x00
    ENABLED = 0x01


class SleepMode(enum.IntEnum):
    """Sleep modes; ``NEVER`` keeps the band streaming through a still night."""

    NORMAL = 0
    NEVER = 1


@dataclass(frozen=True, kw_only=True)
class MyoProfile:
    """The Myo GATT profile, rates and scales, as data.

    Attributes
    ----------
    control_service_uuid, info_uuid, firmware_version_uuid, command_uuid : str
        Control service and its characteristics.
    imu_service_uuid, imu_data_uuid : str
        IMU service and its notify characteristic.
    emg_service_uuid : str
        Raw EMG service.
    emg_data_uuids : tuple of str
        The four EMG notify characteristics (0105, 0205, 0305, 0405).
    emg_channels : int
        Electrodes (values per EMG sample).
    emg_samples_per_packet : int
        EMG samples per notification.
    emg_fs_hz, imu_fs_hz : float
        Default streaming rates (Hz).
    quaternion_scale, accel_scale_per_g, gyro_scale_per_dps : float
        Counts per unit of the IMU fields.
    """

    control_service_uuid: str = myo_uuid(0x0001)
    info_uuid: str = myo_uuid(0x0101)
    firmware_version_uuid: str = myo_uuid(0x0201)
    command_uuid: str = myo_uuid(0x0401)
    imu_service_uuid: str = myo_uuid(0x0002)
    imu_data_uuid: str = myo_uuid(0x0402)
    emg_service_uuid: str = myo_uuid(0x0005)
    emg_data_uuids: tuple[str, ...] = field(
        default_factory=lambda: tuple(myo_uuid(s) for s in (0x0105, 0x0205, 0x0305, 0x0405)))
    emg_channels: int = 8
    emg_samples_per_packet: int = 2
    emg_fs_hz: float = 200.0
    imu_fs_hz: float = 50.0
    quaternion_scale: float = 16384.0
    accel_scale_per_g: float = 2048.0
    gyro_scale_per_dps: float = 16.0


MYO = MyoProfile()

EMG_PACKET_BYTES = 16
IMU_PACKET_BYTES = 20
FIRMWARE_VERSION_BYTES = 8

# -------------------------------------------------------------------------------- commands


def build_set_mode_command(
    *, emg_mode: EmgMode, imu_mode: ImuMode, classifier_mode: ClassifierMode
) -> bytes:
    """Return the set-mode command ``01 03 <emg> <imu> <classifier>``.

    Examples
    --------
    >>> build_set_mode_command(emg_mode=EmgMode.RAW, imu_mode=ImuMode.DATA,
    ...                        classifier_mode=ClassifierMode.DISABLED).hex(" ")
    '01 03 03 01 00'
    """
    return bytes([Command.SET_MODE, 3, emg_mode, imu_mode, classifier_mode])


def build_sleep_mode_command(mode: SleepMode) -> bytes:
    """Return the set-sleep-mode command ``09 01 <mode>``."""
    return bytes([Command.SET_SLEEP_MODE, 1, mode])


STREAM_RAW_EMG_AND_IMU = build_set_mode_command(
    emg_mode=EmgMode.RAW, imu_mode=ImuMode.DATA, classifier_mode=ClassifierMode.DISABLED)
"""Command starting raw EMG and IMU data, classifier off (raw EMG disables it anyway)."""

NEVER_SLEEP = build_sleep_mode_command(SleepMode.NEVER)
"""Command keeping the band awake overnight (``09 01 01``)."""

# ------------------------------------------------------------------------------- decoders


def _check_fs(fs: float) -> None:
    if not (math.isfinite(fs) and fs > 0):
        raise DecodeError("fs", f"sampling rate {fs!r} Hz; expected a finite positive number")


def _check_length(raw: bytes, expected: int, where: str) -> None:
    if len(raw) != expected:
        raise DecodeError(where, f"{len(raw)} bytes; expected exactly {expected}")


def _check_index(index: int, where: str) -> None:
    if index < 0:
        raise DecodeError(where, f"sample index {index}; expected >= 0")


@dataclass(frozen=True, kw_only=True, eq=False)
class MyoEmgPacket:
    """One raw EMG notification.

    Attributes
    ----------
    samples : ndarray of int8, shape (2, 8)
        Two consecutive samples, one column per electrode, in ADC counts.
    sample_index : ndarray of int64, shape (2,)
        Index of each sample in the stream (counted from 0 at ``fs``).
    fs : float
        EMG sampling rate (Hz).
    """

    samples: np.ndarray
    sample_index: np.ndarray
    fs: float

    @property
    def times_s(self) -> np.ndarray:
        """Sample times in seconds from the stream start, shape (2,)."""
        return self.sample_index / self.fs


def decode_emg(data: Bytes, *, fs: float, first_sample: int) -> MyoEmgPacket:
    """Decode a 16-byte raw EMG notification.

    Parameters
    ----------
    data : bytes-like
        The notification's value.
    fs : float
        EMG sampling rate (Hz), normally ``MYO.emg_fs_hz``.
    first_sample : int
        Stream index of the packet's first sample (>= 0).

    Raises
    ------
    DecodeError
        Not exactly 16 bytes, or bad ``fs`` / ``first_sample``.
    """
    raw = bytes(data)
    where = "myo.emg"
    _check_length(raw, EMG_PACKET_BYTES, where)
    _check_fs(fs)
    _check_index(first_sample, where)
    samples = np.frombuffer(raw, dtype=np.int8).reshape(MYO.emg_samples_per_packet,
                                                        MYO.emg_channels).copy()
    index = first_sample + np.arange(MYO.emg_samples_per_packet, dtype=np.int64)
    return MyoEmgPacket(samples=samples, sample_index=index, fs=float(fs))


@dataclass(frozen=True, kw_only=True, eq=False)
class MyoImuSample:
    """One IMU notification.

    Attributes
    ----------
    quaternion : ndarray of float64, shape (4,)
        Orientation w, x, y, z (unitless, unit norm up to rounding).
    accel_g : ndarray of float64, shape (3,)
        Acceleration x, y, z in g.
    gyro_dps : ndarray of float64, shape (3,)
        Angular rate x, y, z in deg/s.
    sample_index : int
        Index of the sample in the IMU stream (counted from 0 at ``fs``).
    fs : float
        IMU sampling rate (Hz).
    """

    quaternion: np.ndarray
    accel_g: np.ndarray
    gyro_dps: np.ndarray
    sample_index: int
    fs: float

    @property
    def time_s(self) -> float:
        """Sample time in seconds from the stream start."""
        return self.sample_index / self.fs


def decode_imu(data: Bytes, *, fs: float, sample_index: int) -> MyoImuSample:
    """Decode a 20-byte IMU notification (int16 little-endian fields).

    Parameters
    ----------
    data : bytes-like
        The notification's value.
    fs : float
        IMU sampling rate (Hz), normally ``MYO.imu_fs_hz``.
    sample_index : int
        Stream index of the sample (>= 0).

    Raises
    ------
    DecodeError
        Not exactly 20 bytes, or bad ``fs`` / ``sample_index``.
    """
    raw = bytes(data)
    where = "myo.imu"
    _check_length(raw, IMU_PACKET_BYTES, where)
    _check_fs(fs)
    _check_index(sample_index, where)
    counts = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    return MyoImuSample(quaternion=counts[0:4] / MYO.quaternion_scale,
                        accel_g=counts[4:7] / MYO.accel_scale_per_g,
                        gyro_dps=counts[7:10] / MYO.gyro_scale_per_dps,
                        sample_index=int(sample_index), fs=float(fs))


@dataclass(frozen=True, kw_only=True)
class MyoFirmwareVersion:
    """Firmware version characteristic: major, minor, patch and hardware revision."""

    major: int
    minor: int
    patch: int
    hardware_rev: int

    @property
    def hardware_name(self) -> str:
        """``"REVC"``, ``"REVD"`` or ``"UNKNOWN"``."""
        return {1: "REVC", 2: "REVD"}.get(self.hardware_rev, "UNKNOWN")


def decode_firmware_version(data: Bytes) -> MyoFirmwareVersion:
    """Decode the 8-byte firmware version (four u16 little-endian).

    Raises
    ------
    DecodeError
        Not exactly 8 bytes.
    """
    raw = bytes(data)
    _check_length(raw, FIRMWARE_VERSION_BYTES, "myo.firmware_version")
    major, minor, patch, rev = struct.unpack("<4H", raw)
    return MyoFirmwareVersion(major=major, minor=minor, patch=patch, hardware_rev=rev)


# ------------------------------------------------------------------ mapping to the pipeline


@dataclass(frozen=True, kw_only=True)
class MyoCalfMapping:
    """How a Myo worn on the calf feeds the pipeline.

    The ``emg`` channel is one electrode, chosen by configuration (default 0), so that the
    choice is the same for every sample of the night; the band's IMU accelerometer, on the
    shank, feeds ``shank_acc`` in the device's axes.

    Attributes
    ----------
    emg_channel : int
        Electrode (0-7) used as the pipeline's EMG; put it over the gastrocnemius.
    uv_per_count : float
        Scale from counts to microvolts (see :data:`MYO_EMG_UV_PER_COUNT_ASSUMED`).
    """

    emg_channel: int = 0
    uv_per_count: float = MYO_EMG_UV_PER_COUNT_ASSUMED

    def __post_init__(self) -> None:
        if not 0 <= self.emg_channel < MYO.emg_channels:
            raise CrampInputError("myo.emg_channel",
                                  f"{self.emg_channel}; expected 0 to {MYO.emg_channels - 1}")
        if not (math.isfinite(self.uv_per_count) and self.uv_per_count > 0):
            raise CrampInputError("myo.uv_per_count",
                                  f"{self.uv_per_count!r}; expected a positive number")


MYO_ON_CALF = MyoCalfMapping()


def emg_uv(packet: MyoEmgPacket, *, mapping: MyoCalfMapping = MYO_ON_CALF) -> np.ndarray:
    """Return the packet's pipeline EMG: the mapped electrode in microvolts, shape (2,)."""
    return packet.samples[:, mapping.emg_channel].astype(np.float64) * mapping.uv_per_count


def shank_acc_g(sample: MyoImuSample) -> np.ndarray:
    """Return the IMU sample as one row of the pipeline's shank accelerometer, shape (1, 3), g."""
    return sample.accel_g.reshape(1, 3).copy()


def emg_channel_spec(*, fs: float, mapping: MyoCalfMapping = MYO_ON_CALF) -> ChannelSpec:
    """Describe the ``emg`` channel a Myo feeds; rails are the int8 limits times the scale."""
    _check_fs(fs)
    rails = (-128 * mapping.uv_per_count, 127 * mapping.uv_per_count)
    return ChannelSpec(role="emg", fs=float(fs), unit="uV",
                       source_labels=(f"myo_emg_{mapping.emg_channel}",), rails=rails)


def shank_channel_spec(*, fs: float) -> ChannelSpec:
    """Describe the ``shank_acc`` channel the Myo IMU feeds (rails +-16 g per the header)."""
    _check_fs(fs)
    return ChannelSpec(role="shank_acc", fs=float(fs), unit="g",
                       source_labels=("myo_acc_x", "myo_acc_y", "myo_acc_z"),
                       rails=(-16.0, 16.0))
