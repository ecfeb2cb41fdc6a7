"""A Polar PMD night with the accelerometer settings negotiated from what the sensor offers.

:class:`NegotiatedPolarSession` is the :class:`~detector.ble.other_bands.PolarSession` with
the settings chosen on the first connection, before the capture is created (so its header
names them): it reads the PMD features, asks ``GET SETTINGS``, enables SDK mode when the
sensor has it and the normal-mode rates fall short of the wish (a Verity Sense: 416 Hz for
the calf's mechanomyogram), asks again, and picks rate, range and resolution with
:func:`~detector.profiles.polar_settings.choose_acc_settings`. On every later connection SDK
mode is enabled again when it was used, and the chosen settings are checked against what is
offered before the stream starts.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from detector.ble.other_bands import PolarSession
from detector.ble.session_types import SessionConfig
from detector.ble.timebase import Timebase
from detector.capture.polar_source import PolarAccAssembler
from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.profiles.errors import DecodeError
from detector.profiles.polar_pmd import (
    POLAR_PMD,
    AccSettings,
    MeasurementType,
    PmdSettings,
    build_get_settings_command,
    build_start_acc_command,
    settings_from_response,
)
from detector.profiles.polar_settings import (
    CALF_MMG_WISH,
    AccWish,
    build_sdk_mode_command,
    choose_acc_settings,
    parse_features,
    wants_sdk_mode,
)


class NegotiatedPolarSession(PolarSession):
    """Record one night from a Polar sensor on the shank or foot, settings negotiated.

    Parameters are those of :class:`~detector.ble.other_bands.PolarSession` (without
    ``acc``), plus ``wish`` (what to aim for) and ``role`` (``"shank_acc"``/``"foot_acc"``).
    """

    def __init__(self, device: BLEDevice, *, capture_path: Path, timebase: Timebase,
                 config: SessionConfig, detector_config: DetectorConfig,
                 wish: AccWish = CALF_MMG_WISH, role: str = "shank_acc",
                 **kwargs: Any) -> None:
        if role not in ("shank_acc", "foot_acc"):
            raise CrampInputError("polar role", f"{role!r}; expected shank_acc or foot_acc")
        self.wish = wish
        self.role = role
        self.sdk_mode = False
        self._notifying: BleakClient | None = None
        guess = AccSettings(sample_rate_hz=wish.fs_hz, resolution_bits=16, range_g=wish.range_g)
        super().__init__(device, capture_path=capture_path, timebase=timebase, config=config,
                         detector_config=detector_config, acc=guess, **kwargs)
        self.assembler = PolarAccAssembler(fs=guess.sample_rate_hz, range_g=guess.range_g,
                                           role=role,
                                           clock_trust_s=detector_config.polar_clock_trust_s)

    def _extra_meta(self) -> dict[str, Any]:
        meta = super()._extra_meta()
        meta["polar"].update(role=self.role, sdk_mode=self.sdk_mode)
        return meta

    async def _offered(self, client: BleakClient) -> PmdSettings:
        answer = await self._command(client, build_get_settings_command(MeasurementType.ACC))
        return settings_from_response(answer)

    async def _enable_sdk_mode(self, client: BleakClient) -> None:
        answer = await self._command(client, build_sdk_mode_command(enable=True))
        if not answer.ok and answer.status_name != "ALREADY_IN_STATE":
            raise CrampInputError("polar control point",
                                  f"SDK mode refused with {answer.status_name}")

    async def _device_info(self, client: BleakClient) -> dict[str, str]:
        """Device information, then the negotiation (first connection, before the capture)."""
        info = await super()._device_info(client)
        features: frozenset[int] = frozenset()
        with contextlib.suppress(BleakError, DecodeError):
            features = parse_features(await client.read_gatt_char(POLAR_PMD.control_point_uuid))
        await client.start_notify(POLAR_PMD.control_point_uuid, self._on_control)
        self._notifying = client
        offered = await self._offered(client)
        if wants_sdk_mode(offered, features, self.wish):
            await self._enable_sdk_mode(client)
            self.sdk_mode = True
            offered = await self._offered(client)
        self.acc = choose_acc_settings(offered, self.wish)
        self.assembler = PolarAccAssembler(fs=self.acc.sample_rate_hz,
                                           range_g=self.acc.range_g, role=self.role,
                                           clock_trust_s=self.assembler.clock_trust_s)
        note = (f"Polar accelerometer at {self.acc.sample_rate_hz} Hz, +-{self.acc.range_g} g"
                + (" (SDK mode)" if self.sdk_mode else ""))
        self.remarks.append(note)
        self.observer.on_note(note)
        return info

    async def _start_streams(self, client: BleakClient) -> None:
        if self._notifying is not client:
            await client.start_notify(POLAR_PMD.control_point_uuid, self._on_control)
            self._notifying = client
            if self.sdk_mode:
                await self._enable_sdk_mode(client)
        await client.start_notify(POLAR_PMD.data_uuid, self._on_data)
        offered = await self._offered(client)
        if self.acc.sample_rate_hz not in offered.sample_rates_hz \
                or self.acc.range_g not in offered.ranges:
            raise CrampInputError("polar accelerometer",
                                  f"{self.acc.sample_rate_hz} Hz / +-{self.acc.range_g} g no "
                                  "longer offered")
        answer = await self._command(client, build_start_acc_command(self.acc))
        if not answer.ok:
            raise CrampInputError("polar control point",
                                  f"START ACC refused with {answer.status_name}")
