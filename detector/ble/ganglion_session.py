"""A night from an OpenBCI Ganglion (calf EMG on one of its four channels) over BLE.

Works as the Polar and Myo sessions do (:class:`~detector.ble.other_bands._BandSession`): on
every connection it enables notifications on the receive characteristic and writes ``b``
(start streaming; the board stops when the link drops); every packet goes to the capture
(``ganglion:data``, commands as ``ganglion:command``) and through the
:class:`~detector.capture.ganglion_source.GanglionAssembler` replay also uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice

from detector.ble.other_bands import _BandSession
from detector.ble.session_types import SessionConfig
from detector.ble.timebase import Timebase
from detector.capture.ganglion_source import (
    COMMAND_SOURCE,
    DATA_SOURCE,
    GANGLION_GAP_NOTE,
    GanglionAssembler,
)
from detector.config import DetectorConfig
from detector.profiles.ganglion import GANGLION, START_STREAM, STOP_STREAM


class GanglionSession(_BandSession):
    """Record one night from a Ganglion whose input ``channel`` (0-3) is over the calf.

    Parameters are those of :class:`~detector.ble.other_bands.PolarSession`, plus
    ``channel``, or ``channel_legs`` (input -> leg, one per leg) for one Ganglion on both
    calves: its channels are then ``emg@left``/``emg@right`` (a multi-band night routes
    each to its leg's pipeline).
    """

    profile_name = "ganglion"

    def __init__(self, device: BLEDevice, *, capture_path: Path, timebase: Timebase,
                 config: SessionConfig, detector_config: DetectorConfig, channel: int = 0,
                 channel_legs: Mapping[int, str] | None = None, **kwargs: Any) -> None:
        assembler = GanglionAssembler(channel=channel, channel_legs=channel_legs,
                                      rejoin_hold_s=detector_config.ganglion_rejoin_hold_s)
        self.channel = assembler.channel
        self.channel_legs = assembler.channel_legs
        super().__init__(device, capture_path=capture_path, timebase=timebase, config=config,
                         detector_config=detector_config, assembler=assembler, **kwargs)
        self.remarks.append(GANGLION_GAP_NOTE)

    def _extra_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"channel": self.channel,
                                "rejoin_hold_s": self.assembler.rejoin_hold_s}
        if self.channel_legs is not None:
            meta["channel_legs"] = {str(ch): leg for ch, leg in self.channel_legs.items()}
        return {"ganglion": meta}

    async def _write(self, client: BleakClient, command: bytes) -> None:
        if self._writer is not None:
            self._writer.packet(source=COMMAND_SOURCE, payload=command,
                                received_s=self.timebase.now_s())
        await client.write_gatt_char(GANGLION.send_uuid, command, response=True)

    async def _start_streams(self, client: BleakClient) -> None:
        await client.start_notify(GANGLION.receive_uuid, self._on_data)
        await self._write(client, START_STREAM)

    async def _stop_streams(self, client: BleakClient) -> None:
        await self._write(client, STOP_STREAM)

    def _on_data(self, _char: BleakGATTCharacteristic, value: bytearray) -> None:
        self._take(DATA_SOURCE, value)
