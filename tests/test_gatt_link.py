"""The band over real GATT in process: bleak's own BleakScanner/BleakClient, our bumble backend.

Every byte goes through bumble's host stacks and two virtual controllers on a ``LocalLink``.
The firmware clock is a ``ManualClock`` moved by the test, so nothing waits for wall time
except the virtual controller's 20 ms advertising timer during the scan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError
from bumble.link import LocalLink

from detector.profiles.legband import LEGBAND, Status
from detector.profiles.legband_codec import (
    DataPacket,
    decode_data_packet,
    decode_status,
)
from detector.profiles.legband_control import (
    BackfillCommand,
    ControlResponse,
    SetRateCommand,
    StartCommand,
    decode_response,
    encode_command,
)
from firmware_sim.bleak_backend import (
    BumbleBleakClient,
    BumbleBleakScanner,
    backends_for,
    central_for,
)
from firmware_sim.firmware import ArrayFeed, Firmware, FirmwareConfig, ManualClock
from firmware_sim.gatt import DEFAULT_BAND_ADDRESS, LegBandPeripheral

EMG_RAW, SHANK, FOOT = 1, 3, 4
RAW_AND_ACCEL = 0x0D
EMG_LSB, ACC_LSB = 8192 / 32768, 4 / 32768
MODEL_NUMBER_UUID = "00002a24-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"


class Recorder:
    """Collects notifications and indications and lets the test wait for a condition."""

    def __init__(self) -> None:
        self.data: list[DataPacket] = []
        self.responses: list[ControlResponse] = []
        self.status_values: list[bytes] = []

    def on_data(self, _char: BleakGATTCharacteristic, value: bytearray) -> None:
        self.data.append(decode_data_packet(value))

    def on_control(self, _char: BleakGATTCharacteristic, value: bytearray) -> None:
        self.responses.append(decode_response(value))

    def on_status(self, _char: BleakGATTCharacteristic, value: bytearray) -> None:
        self.status_values.append(bytes(value))


async def until(condition: Callable[[], bool], what: str) -> None:
    """Let the event loop run (no wall-clock wait) until ``condition()`` holds."""
    for _ in range(200_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what}")


async def command(client: BleakClient, rec: Recorder, cmd: Any) -> ControlResponse:
    n = len(rec.responses)
    await client.write_gatt_char(LEGBAND.control_uuid, encode_command(cmd), response=True)
    await until(lambda: len(rec.responses) > n, "control-point indication")
    return rec.responses[n]


def grid_feed(rng: np.random.Generator, *, duration_s: float) -> tuple[ArrayFeed, dict]:
    emg = rng.integers(-30000, 30000, int(duration_s * 1000) + 2)
    shank = rng.integers(-30000, 30000, (int(duration_s * 50) + 2, 3))
    foot = rng.integers(-30000, 30000, (int(duration_s * 50) + 2, 3))
    feed = ArrayFeed(emg_uv=emg * EMG_LSB, emg_fs=1000.0, shank_acc_g=shank * ACC_LSB,
                     shank_acc_fs=50.0, foot_acc_g=foot * ACC_LSB, foot_acc_fs=50.0)  # fmt: skip
    return feed, {EMG_RAW: emg[:, None], SHANK: shank, FOOT: foot}


def assemble(packets: list[DataPacket]) -> dict[int, dict[int, np.ndarray]]:
    rows: dict[int, dict[int, np.ndarray]] = {}
    for p in packets:
        stream = rows.setdefault(p.stream_id, {})
        samples = p.samples.reshape(p.n_samples, -1)
        for i in range(p.n_samples):
            k = p.first_sample + i
            if k in stream:
                np.testing.assert_array_equal(stream[k], samples[i])
            stream[k] = samples[i]
    return rows


def assert_sample_by_sample(rows: dict[int, np.ndarray], fed: np.ndarray, *, n_min: int) -> None:
    ks = sorted(rows)
    assert ks == list(range(len(ks))), "samples missing"
    assert len(ks) >= n_min
    np.testing.assert_array_equal(np.array([rows[k] for k in ks]), fed[: len(ks)])


async def drive(band: LegBandPeripheral, clock: ManualClock, *, until_s: float) -> int:
    sent = 0
    while clock() < until_s - 1e-9:
        clock.advance(min(0.1, until_s - clock()))
        sent += await band.step()
    return sent


async def scan_for_band(link: LocalLink) -> tuple[BLEDevice, AdvertisementData]:
    async with BleakScanner(service_uuids=[LEGBAND.service_uuid], backend=BumbleBleakScanner,
                            link=link) as scanner:  # fmt: skip
        async for device, adv in scanner.advertisement_data():
            return device, adv
    raise AssertionError("scanner stopped")


def test_scan_connect_mtu247_stream_decodes_to_the_fed_samples() -> None:
    async def scenario() -> None:
        feed, fed = grid_feed(np.random.default_rng(21), duration_s=4.0)
        firmware = Firmware(feed, config=FirmwareConfig(), rng=np.random.default_rng(0))
        clock = ManualClock()
        link = LocalLink()
        band = LegBandPeripheral.on_link(link, firmware, clock=clock, serial_number="SN-7731")
        await band.start()
        device, adv = await scan_for_band(link)
        assert adv.local_name == "LegBand"
        assert LEGBAND.service_uuid in adv.service_uuids
        rec = Recorder()
        async with BleakClient(device, backend=BumbleBleakClient, mtu=247) as client:
            assert client.is_connected and client.mtu_size == 247
            assert client.name == "LegBand"
            assert {LEGBAND.service_uuid, "0000180a-0000-1000-8000-00805f9b34fb",
                    "0000180f-0000-1000-8000-00805f9b34fb"} <= {
                        s.uuid for s in client.services}  # fmt: skip
            assert await client.read_gatt_char(MODEL_NUMBER_UUID) == b"LegBand"
            assert (await client.read_gatt_char(BATTERY_LEVEL_UUID))[0] == 100
            data_char = client.services.get_characteristic(LEGBAND.data_uuid)
            assert data_char is not None and data_char.properties == ["notify"]
            assert data_char.max_write_without_response_size == 244
            await client.start_notify(LEGBAND.data_uuid, rec.on_data)
            await client.start_notify(LEGBAND.control_uuid, rec.on_control)
            await client.start_notify(LEGBAND.status_uuid, rec.on_status)
            started = await command(client, rec, StartCommand(RAW_AND_ACCEL))
            assert started.ok
            sent = await drive(band, clock, until_s=3.0)
            await until(lambda: len(rec.data) == sent, "all notifications delivered")
            status = decode_status(await client.read_gatt_char(LEGBAND.status_uuid))
            assert status.streaming and status.dropped_packets == 0
            assert rec.status_values and decode_status(rec.status_values[0]).streaming
        assert not client.is_connected
        assert max(p.n_samples for p in rec.data if p.stream_id == EMG_RAW) == 116
        rows = assemble(rec.data)
        assert_sample_by_sample(rows[EMG_RAW], fed[EMG_RAW], n_min=2800)
        assert_sample_by_sample(rows[SHANK], fed[SHANK], n_min=140)
        assert_sample_by_sample(rows[FOOT], fed[FOOT], n_min=140)

    asyncio.run(scenario())


def test_mtu23_bad_commands_disconnect_reconnect_and_backfill() -> None:
    async def scenario() -> None:
        feed, fed = grid_feed(np.random.default_rng(22), duration_s=12.0)
        firmware = Firmware(feed, config=FirmwareConfig(), rng=np.random.default_rng(0))
        clock = ManualClock()
        link = LocalLink()
        band = LegBandPeripheral.on_link(link, firmware, clock=clock)
        await band.start()
        scanner_cls, client_cls = backends_for(link)
        device = await BleakScanner.find_device_by_filter(
            lambda _d, ad: LEGBAND.service_uuid in ad.service_uuids, timeout=10.0,
            backend=scanner_cls,
        )  # fmt: skip
        assert device is not None
        dropped: list[BleakClient] = []
        rec = Recorder()
        client = BleakClient(device, dropped.append, backend=client_cls, mtu=23)
        await client.connect()
        assert client.mtu_size == 23
        await client.start_notify(LEGBAND.data_uuid, rec.on_data)
        await client.start_notify(LEGBAND.control_uuid, rec.on_control)
        # Bad writes are answered with error statuses, and the band keeps working.
        bad_writes = [
            (b"", Status.INVALID_LENGTH),
            (b"\x7f\x01", Status.OPCODE_NOT_SUPPORTED),
            (b"\x03\x01\x0f\x27", Status.INVALID_PARAMETER),  # EMG at 9999 Hz
        ]
        for raw, status in bad_writes:
            n = len(rec.responses)
            await client.write_gatt_char(LEGBAND.control_uuid, raw, response=True)
            await until(lambda n=n: len(rec.responses) > n, "error indication")
            assert rec.responses[n].status == status
        assert (await command(client, rec, StartCommand(RAW_AND_ACCEL))).ok
        refused = await command(client, rec, SetRateCommand(EMG_RAW, 2000))
        assert refused.status == Status.INVALID_STATE
        firmware.schedule_disconnect(1.0)
        sent = await drive(band, clock, until_s=1.5)
        await until(lambda: bool(dropped), "disconnected callback")
        assert dropped == [client] and not client.is_connected
        assert len(rec.data) == sent and max(len(p.samples.tobytes()) for p in rec.data) <= 8
        before = list(rec.data)
        await drive(band, clock, until_s=6.0)  # the band keeps sampling while nobody listens
        # Reconnect by address string, bound backend; ask for what was missed.
        client = BleakClient(device.address, backend=client_cls, mtu=247)
        await client.connect()
        assert client.mtu_size == 247
        await client.start_notify(LEGBAND.data_uuid, rec.on_data)
        await client.start_notify(LEGBAND.control_uuid, rec.on_control)
        for sid in (EMG_RAW, SHANK, FOOT):
            last_seq = max(p.seq for p in before if p.stream_id == sid)
            answer = await command(client, rec, BackfillCommand(sid, last_seq + 1))
            assert answer.ok and answer.result.n_samples > 0
        sent = await drive(band, clock, until_s=8.0)
        await until(lambda: len(rec.data) == len(before) + sent, "live and backfill delivered")
        await client.disconnect()
        assert any(p.backfill for p in rec.data)
        rows = assemble(rec.data)
        assert_sample_by_sample(rows[EMG_RAW], fed[EMG_RAW], n_min=7800)
        assert_sample_by_sample(rows[SHANK], fed[SHANK], n_min=390)
        assert_sample_by_sample(rows[FOOT], fed[FOOT], n_min=390)

    asyncio.run(scenario())


def test_connect_by_address_pair_unpair_and_errors() -> None:
    async def scenario() -> None:
        feed, _ = grid_feed(np.random.default_rng(23), duration_s=1.0)
        firmware = Firmware(feed, config=FirmwareConfig(), rng=np.random.default_rng(0))
        link = LocalLink()
        band = LegBandPeripheral.on_link(link, firmware, clock=ManualClock(),
                                         serial_number="LB-004242")  # fmt: skip
        await band.start()
        with pytest.raises(BleakError, match="link"):
            BleakClient(DEFAULT_BAND_ADDRESS, backend=BumbleBleakClient)
        _, client_cls = backends_for(link)
        client = BleakClient(DEFAULT_BAND_ADDRESS, backend=client_cls, pair=True, mtu=23)
        await client.connect()
        assert client.name == "LegBand-4242"  # GAP Device Name: no advertisement was seen
        assert client.mtu_size == 23
        central = await central_for(link)
        assert central.keystore is not None
        keys = [name for name, _ in await central.keystore.get_all()]
        assert [k.split("/")[0] for k in keys] == [DEFAULT_BAND_ADDRESS]
        status = decode_status(await client.read_gatt_char(LEGBAND.status_uuid))
        assert not status.streaming and status.contact == (True, True, True)
        await client.unpair()
        assert await central.keystore.get_all() == []
        assert not client.is_connected
        with pytest.raises(BleakError, match="Not connected"):
            await client.read_gatt_char(LEGBAND.status_uuid)

    asyncio.run(scenario())
