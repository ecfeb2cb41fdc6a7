"""A night from a Movesense sensor (accelerometer on the shank or the foot) over BLE.

Works as the Polar and Myo sessions do (:class:`~detector.ble.other_bands._BandSession`): on
every connection it enables notifications on the data characteristic and subscribes to
``/Meas/Acc/<rate>`` (the sensor ends subscriptions when the link drops); every notification
goes to the capture (``movesense:data``, commands as ``movesense:command``) and through the
:class:`~detector.capture.movesense_source.MovesenseAssembler` replay also uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice

from detector.ble.other_bands import _BandSession
from detector.ble.session_types import SessionConfig
from detector.ble.timebase import Timebase
from detector.capture.movesense_source import (
    ACC_REFERENCE,
    COMMAND_SOURCE,
    DATA_SOURCE,
    MovesenseAssembler,
)
from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.profiles.movesense import MOVESENSE, acc_path, build_subscribe, build_unsubscribe


class MovesenseSession(_BandSession):
    """Record one night from a Movesense accelerometer.

    Parameters are those of :class:`~detector.ble.other_bands.PolarSession`, plus ``fs``
    (rate subscribed to, Hz; one the sensor offers) and ``role`` (``"shank_acc"`` or
    ``"foot_acc"``: where the sensor is strapped).
    """

    profile_name = "movesense"

    def __init__(self, device: BLEDevice, *, capture_path: Path, timebase: Timebase,
                 config: SessionConfig, detector_config: DetectorConfig, fs: int = 104,
                 role: str = "shank_acc", **kwargs: Any) -> None:
        self.fs = fs
        self.role = _check_role(role)
        super().__init__(device, capture_path=capture_path, timebase=timebase, config=config,
                         detector_config=detector_config,
                         assembler=MovesenseAssembler(fs=fs, role=role), **kwargs)
        self._refusals_seen = 0

    def _extra_meta(self) -> dict[str, Any]:
        return {"movesense": {"fs_hz": self.fs, "role": self.role}}

    async def _write(self, client: BleakClient, command: bytes) -> None:
        if self._writer is not None:
            self._writer.packet(source=COMMAND_SOURCE, payload=command,
                                received_s=self.timebase.now_s())
        await client.write_gatt_char(MOVESENSE.command_uuid, command, response=True)

    async def _start_streams(self, client: BleakClient) -> None:
        await client.start_notify(MOVESENSE.data_uuid, self._on_data)
        await self._write(client, build_subscribe(ACC_REFERENCE, acc_path(fs=self.fs)))

    async def _stop_streams(self, client: BleakClient) -> None:
        await self._write(client, build_unsubscribe(ACC_REFERENCE))

    def _on_data(self, _char: BleakGATTCharacteristic, value: bytearray) -> None:
        self._take(DATA_SOURCE, value)
        refused = self.assembler.refused  # type: ignore[union-attr]
        if len(refused) > self._refusals_seen:
            self._refusals_seen = len(refused)
            note = f"the Movesense refused the accelerometer subscription (HTTP {refused[-1]})"
            self.remarks.append(note)
            self.observer.on_note(note)
            self._link_lost.set()


def _check_role(role: str) -> str:
    if role not in ("shank_acc", "foot_acc"):
        raise CrampInputError("movesense role", f"{role!r}; expected shank_acc or foot_acc")
    return role
