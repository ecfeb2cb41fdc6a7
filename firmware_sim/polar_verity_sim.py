"""A simulated Polar Verity Sense: normal mode (ACC 52 Hz, +-8 g) and SDK mode (up to 416 Hz).

Built on :class:`~firmware_sim.polar_sim.PolarPeripheral` (frames, timestamps, control point).
What the Verity Sense adds, as Polar's SDK documents it:

- the control point's read value lists the PMD features (``0F`` + bitmap): ACC and SDK mode;
- ``START``/``STOP`` of measurement type 9 enables/disables SDK mode, which closes a running
  stream; in SDK mode ``GET SETTINGS`` for ACC lists 26, 52, 104, 208 and 416 Hz and +-2, 4,
  8, 16 g, in normal mode 52 Hz and +-8 g;
- the simulated sensor leaves SDK mode when the link drops (the client enables it again; a
  conservative reading: the SDK does not promise the mode survives a disconnection).

The samples are given at 416 Hz; a stream at a lower rate gets them low-passed (the sensor's
output filter) and decimated by ``416 / rate``, stamped at its own true time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from bumble import gatt
from bumble.device import Device
from bumble.link import LocalLink
from scipy.signal import resample_poly

from detector.profiles.errors import DecodeError
from detector.profiles.polar_pmd import (
    ControlOpcode,
    MeasurementType,
    ResponseStatus,
    SettingType,
    parse_settings,
)
from detector.profiles.polar_settings import (
    FEATURES_CODE,
    VERITY_SDK_ACC_RANGES_G,
    VERITY_SDK_ACC_RATES_HZ,
)
from firmware_sim.gatt import new_link_device
from firmware_sim.polar_sim import ACC_RESOLUTION_BITS, PolarPeripheral, _response

VERITY_SIM_ADDRESS = "D0:5B:A4:00:00:06"
NATIVE_FS = 416
NORMAL_RATES_HZ = (52,)
NORMAL_RANGES_G = (8,)


def settings_list(rates: tuple[int, ...], ranges: tuple[int, ...]) -> bytes:
    """A GET SETTINGS list: rates, the 16-bit resolution, ranges."""
    return (bytes([SettingType.SAMPLE_RATE, len(rates)])
            + b"".join(r.to_bytes(2, "little") for r in rates)
            + bytes([SettingType.RESOLUTION, 1]) + ACC_RESOLUTION_BITS.to_bytes(2, "little")
            + bytes([SettingType.RANGE, len(ranges)])
            + b"".join(g.to_bytes(2, "little") for g in ranges))


def features_value() -> bytes:
    """The control point's read value: ``0F`` + bitmap with ACC (2) and SDK mode (9)."""
    bitmap = (1 << MeasurementType.ACC) | (1 << MeasurementType.SDK_MODE)
    return bytes([FEATURES_CODE]) + bitmap.to_bytes(2, "little")


class VeritySensePeripheral(PolarPeripheral):
    """A Verity Sense streaming ``acc_g`` (n, 3) sampled at 416 Hz.

    Parameters are those of :class:`~firmware_sim.polar_sim.PolarPeripheral` except ``fs``.
    """

    def __init__(self, device: Device, *, acc_g: np.ndarray, clock: Callable[[], float],
                 origin_unix_s: float, address: str = VERITY_SIM_ADDRESS,
                 link: LocalLink | None = None, clock_ppm: float = 0.0) -> None:
        super().__init__(device, acc_g=acc_g, fs=NATIVE_FS, clock=clock,
                         origin_unix_s=origin_unix_s, local_name="Polar Sense SIM00006",
                         address=address, link=link, clock_ppm=clock_ppm)
        self.native_g = self.acc_g
        self._at_rate: dict[int, np.ndarray] = {}
        self.sdk_mode = False
        self.control_char.value = gatt.CharacteristicValue(
            read=lambda _c: features_value(), write=self._on_control_write)
        self._use_rate(NORMAL_RATES_HZ[0])

    @classmethod
    def on_link(cls, link: LocalLink, *, acc_g: np.ndarray,  # type: ignore[override]
                clock: Callable[[], float], origin_unix_s: float,
                address: str = VERITY_SIM_ADDRESS,
                clock_ppm: float = 0.0) -> VeritySensePeripheral:
        """Create the sensor on an in-process link (call from a running event loop)."""
        device = new_link_device(link, address=address, name="Polar Sense SIM00006")
        return cls(device, acc_g=acc_g, clock=clock, origin_unix_s=origin_unix_s,
                   address=address, link=link, clock_ppm=clock_ppm)

    def _use_rate(self, fs: int) -> None:
        """Stream at ``fs``: the native samples low-passed (the sensor's output filter) and
        decimated, so a slower stream keeps the noise density instead of folding the band."""
        self.fs = fs
        step = NATIVE_FS // fs
        if step not in self._at_rate:
            self._at_rate[step] = (self.native_g if step == 1 else np.ascontiguousarray(
                resample_poly(self.native_g, 1, step, axis=0)))
        self.acc_g = self._at_rate[step]

    def _offered(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        if self.sdk_mode:
            return VERITY_SDK_ACC_RATES_HZ, VERITY_SDK_ACC_RANGES_G
        return NORMAL_RATES_HZ, NORMAL_RANGES_G

    def on_disconnected(self) -> None:
        """Streams stop and SDK mode ends when the link drops."""
        super().on_disconnected()
        self.sdk_mode = False

    def handle_command(self, command: bytes) -> bytes:
        """The control point's answer to ``command`` (and its effect)."""
        if len(command) >= 2 and command[1] == MeasurementType.SDK_MODE:
            self.commands.append(bytes(command))
            opcode, enable = command[0], command[0] == ControlOpcode.START
            if opcode not in (ControlOpcode.START, ControlOpcode.STOP):
                return _response(opcode, command[1], ResponseStatus.INVALID_OP_CODE)
            if self.sdk_mode == enable:
                return _response(opcode, command[1], ResponseStatus.ALREADY_IN_STATE)
            self.sdk_mode = enable
            self.streaming = False  # enabling or leaving SDK mode closes every stream
            return _response(opcode, command[1], ResponseStatus.SUCCESS)
        if len(command) >= 2 and command[1] == MeasurementType.ACC:
            if command[0] == ControlOpcode.GET_SETTINGS:
                self.commands.append(bytes(command))
                return _response(command[0], command[1], ResponseStatus.SUCCESS,
                                 settings_list(*self._offered()))
            if command[0] == ControlOpcode.START and not self.streaming:
                return self._start_offered(command)
        return super().handle_command(command)

    def _start_offered(self, command: bytes) -> bytes:
        opcode, kind = command[0], command[1]
        rates, ranges = self._offered()
        try:
            chosen = parse_settings(command[2:])
        except DecodeError:
            self.commands.append(bytes(command))
            return _response(opcode, kind, ResponseStatus.INVALID_PARAMETER)
        if len(chosen.sample_rates_hz) != 1 or chosen.sample_rates_hz[0] not in rates:
            self.commands.append(bytes(command))
            return _response(opcode, kind, ResponseStatus.INVALID_SAMPLE_RATE)
        if len(chosen.ranges) != 1 or chosen.ranges[0] not in ranges:
            self.commands.append(bytes(command))
            return _response(opcode, kind, ResponseStatus.INVALID_RANGE)
        self.commands.append(bytes(command))
        if chosen.resolutions_bits != (ACC_RESOLUTION_BITS,):
            return _response(opcode, kind, ResponseStatus.INVALID_RESOLUTION)
        if not self._data_enabled:
            return _response(opcode, kind, ResponseStatus.INVALID_STATE)
        self._use_rate(chosen.sample_rates_hz[0])
        self.range_g = chosen.ranges[0]
        self.streaming = True
        self.next_sample = math.ceil(self.device_s(self.clock()) * self.fs - 1e-9)
        return _response(opcode, kind, ResponseStatus.SUCCESS)
