"""Polar PMD settings negotiation: what a sensor can do, and which settings to start with.

Facts from Polar's public SDK (polarofficial/polar-ble-sdk: ``SdkModeExplained.md``, the PMD
control point); the logic is written here.

- Reading the control point gives the PMD *features*: ``0F`` then a little-endian bitmap in
  which bit ``n`` says measurement type ``n`` is offered (ACC is 2, SDK mode 9).
- ``GET SETTINGS`` lists the rates, resolutions and ranges a stream offers *now*. A Polar
  Verity Sense offers its accelerometer at 52 Hz / +-8 g in normal operation; in *SDK mode*
  (``START`` of measurement type 9, firmware 1.1.5+) it offers 26, 52, 104, 208 and 416 Hz
  and +-2, 4, 8 and 16 g at 16 bit. Enabling SDK mode closes every running stream, so it is
  done before the accelerometer starts, and again after each reconnection.
- :func:`choose_acc_settings` picks from what was offered: the lowest rate at or above the
  wanted one (else the highest offered), the smallest range at or above the wanted one
  (else the largest), the highest resolution, three channels when channels are listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from detector.profiles.errors import DecodeError
from detector.profiles.polar_pmd import (
    AccSettings,
    ControlOpcode,
    MeasurementType,
    PmdSettings,
)

Bytes = bytes | bytearray | memoryview

FEATURES_CODE = 0x0F
"""First byte of the control point's read value."""
VERITY_SDK_ACC_RATES_HZ = (26, 52, 104, 208, 416)
"""Verity Sense accelerometer rates in SDK mode (Polar's SdkModeExplained)."""
VERITY_SDK_ACC_RANGES_G = (2, 4, 8, 16)
"""Verity Sense accelerometer ranges in SDK mode (+-g)."""


def build_sdk_mode_command(*, enable: bool) -> bytes:
    """The control-point command enabling (``02 09``) or disabling (``03 09``) SDK mode."""
    opcode = ControlOpcode.START if enable else ControlOpcode.STOP
    return bytes([opcode, MeasurementType.SDK_MODE])


def parse_features(data: Bytes) -> frozenset[int]:
    """Measurement types a sensor offers, from the control point's read value.

    Examples
    --------
    >>> sorted(parse_features(bytes([0x0F, 0x05, 0x02])))
    [0, 2, 9]

    Raises
    ------
    DecodeError
        Empty, or a first byte other than ``0F``.
    """
    raw = bytes(data)
    where = "polar_pmd.features"
    if not raw or raw[0] != FEATURES_CODE:
        first = f"0x{raw[0]:02x}" if raw else "nothing"
        raise DecodeError(where, f"first byte {first}; expected 0x0f")
    bitmap = int.from_bytes(raw[1:], "little")
    return frozenset(n for n in range(8 * (len(raw) - 1)) if bitmap >> n & 1)


@dataclass(frozen=True, kw_only=True)
class AccWish:
    """What the recorder would like from a Polar accelerometer.

    Attributes
    ----------
    fs_hz : int
        Preferred rate (Hz): the lowest offered rate at or above it is chosen.
    min_fs_hz : int
        Slowest acceptable rate (Hz).
    range_g : int
        Wanted full scale (+-g): the smallest offered range at or above it is chosen.
    """

    fs_hz: int
    min_fs_hz: int
    range_g: int

    def __post_init__(self) -> None:
        if not 0 < self.min_fs_hz <= self.fs_hz or self.range_g <= 0:
            raise ValueError("expected 0 < min_fs_hz <= fs_hz and a positive range_g")


CALF_MMG_WISH = AccWish(fs_hz=416, min_fs_hz=50, range_g=8)
"""A shank accelerometer: as fast as the sensor goes (the calf's mechanomyogram, 5-100 Hz,
needs >= 200 Hz to be seen; 50 Hz still shows posture and leg movements)."""
FOOT_WISH = AccWish(fs_hz=52, min_fs_hz=25, range_g=8)
"""A foot accelerometer: posture and movements only."""


def wants_sdk_mode(offered: PmdSettings, features: frozenset[int], wish: AccWish) -> bool:
    """True when SDK mode is offered and the normal-mode rates fall short of the wish."""
    best = max(offered.sample_rates_hz, default=0)
    return MeasurementType.SDK_MODE in features and best < wish.fs_hz


def choose_acc_settings(offered: PmdSettings, wish: AccWish) -> AccSettings:
    """Choose the accelerometer settings to start from those a sensor offered.

    Raises
    ------
    DecodeError
        No rate, resolution or range offered, or every offered rate below ``min_fs_hz``.
    """
    where = "polar_pmd.settings"
    if not offered.sample_rates_hz or not offered.resolutions_bits or not offered.ranges:
        raise DecodeError(where, "the sensor offered no accelerometer rate, resolution or "
                          "range")
    rates = sorted(set(offered.sample_rates_hz))
    fast_enough = [r for r in rates if r >= wish.fs_hz]
    rate = fast_enough[0] if fast_enough else rates[-1]
    if rate < wish.min_fs_hz:
        raise DecodeError(where, f"the sensor offers at most {rate} Hz; at least "
                          f"{wish.min_fs_hz} Hz is needed")
    ranges = sorted(set(offered.ranges))
    wide_enough = [g for g in ranges if g >= wish.range_g]
    channels = (3 if 3 in offered.channels else max(offered.channels)) \
        if offered.channels else None
    return AccSettings(sample_rate_hz=rate, resolution_bits=max(offered.resolutions_bits),
                       range_g=wide_enough[0] if wide_enough else ranges[-1],
                       channels=channels)
