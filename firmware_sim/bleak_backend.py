"""A bleak backend over a bumble central on an in-process ``LocalLink``: BLE with no radio.

``bleak.BleakScanner(backend=BumbleBleakScanner, link=link)`` and
``bleak.BleakClient(device, backend=BumbleBleakClient)`` then scan, connect, exchange the ATT
MTU, discover services, read, write and get notifications and indications through bumble's
real host stack (HCI, L2CAP, ATT, GATT) and two virtual controllers, byte for byte. Devices
found by the scanner remember their link, so the client needs no extra arguments; with a plain
address string pass ``link=`` (bleak forwards extra keyword arguments to the backend), or use
:func:`backends_for` to get backend classes bound to one link.

Extra backend keyword arguments: ``link`` (a ``bumble.link.LocalLink``) for both, and ``mtu``
(ATT MTU the client asks for after connecting; default 247; 23 skips the exchange).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from bleak.assigned_numbers import gatt_char_props_to_strs
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_str
from bumble import att, core, hci
from bumble.core import UUID as BumbleUUID
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt import GATT_DEVICE_NAME_CHARACTERISTIC
from bumble.hci import Address
from bumble.link import LocalLink

from firmware_sim.gatt import new_link_device

CENTRAL_ADDRESS = "C0:FF:EE:00:00:01"
"""Static random address of the in-process central (the 'host adapter')."""

_centrals: weakref.WeakKeyDictionary[LocalLink, tuple[asyncio.AbstractEventLoop, Device]] = (
    weakref.WeakKeyDictionary()
)


async def central_for(link: LocalLink) -> Device:
    """The powered-on central device of ``link`` in the running loop (created on first use)."""
    loop = asyncio.get_running_loop()
    cached = _centrals.get(link)
    if cached is not None and cached[0] is loop:
        return cached[1]
    device = new_link_device(link, address=CENTRAL_ADDRESS, name="cramp-host")
    await device.power_on()
    _centrals[link] = (loop, device)
    return device


def canonical_uuid(value: BumbleUUID) -> str:
    """bumble UUID -> bleak's lowercase 128-bit text form."""
    return str(uuid.UUID(bytes=value.to_bytes(force_128=True)[::-1]))


_SIG_SUFFIX = "-0000-1000-8000-00805f9b34fb"


def bumble_uuid(text: str) -> BumbleUUID:
    """bleak UUID text -> bumble UUID (short form for Bluetooth SIG base UUIDs)."""
    full = normalize_uuid_str(text)
    if full.endswith(_SIG_SUFFIX) and full.startswith("0000"):
        return BumbleUUID.from_16_bits(int(full[4:8], 16))
    return BumbleUUID(full)


@dataclass(frozen=True)
class BumbleDeviceDetails:
    """``BLEDevice.details`` of a device found by :class:`BumbleBleakScanner`."""

    link: LocalLink
    address: Address
    advertisement: Advertisement


def _advertisement_data(adv: Advertisement) -> AdvertisementData:
    data = adv.data
    name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(
        AdvertisingData.SHORTENED_LOCAL_NAME
    )
    uuid_types = (
        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    )
    service_uuids = [canonical_uuid(u) for t in uuid_types for u in (data.get(t) or [])]
    service_data: dict[str, bytes] = {}
    for t in (
        AdvertisingData.SERVICE_DATA_16_BIT_UUID,
        AdvertisingData.SERVICE_DATA_32_BIT_UUID,
        AdvertisingData.SERVICE_DATA_128_BIT_UUID,
    ):
        for service_uuid, value in data.get_all(t):
            service_data[canonical_uuid(service_uuid)] = bytes(value)
    manufacturer = {
        company: bytes(value)
        for company, value in data.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA)
    }
    tx_power = data.get(AdvertisingData.TX_POWER_LEVEL)
    return AdvertisementData(
        local_name=name if isinstance(name, str) else None,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=service_uuids,
        tx_power=tx_power if isinstance(tx_power, int) else None,
        rssi=adv.rssi,
        platform_data=(adv,),
    )


class BumbleBleakScanner(BaseBleakScanner):
    """bleak scanner backend: scans a ``LocalLink`` with the in-process central."""

    link: ClassVar[LocalLink | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        link: LocalLink | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        chosen = link or type(self).link
        if chosen is None:
            raise BleakError("BumbleBleakScanner needs link=LocalLink (or use backends_for)")
        self._link: LocalLink = chosen
        self._active = scanning_mode != "passive"
        self._central: Device | None = None

    async def start(self) -> None:
        """Start scanning (clears the devices seen so far)."""
        self.seen_devices = {}
        self._central = await central_for(self._link)
        self._central.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        await self._central.start_scanning(active=self._active, filter_duplicates=False)

    async def stop(self) -> None:
        """Stop scanning."""
        if self._central is None:
            return
        self._central.remove_listener(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        await self._central.stop_scanning()
        self._central = None

    def _on_advertisement(self, adv: Advertisement) -> None:
        ad = _advertisement_data(adv)
        if not self.is_allowed_uuid(ad.service_uuids):
            return
        address = adv.address.to_string(with_type_qualifier=False)
        details = BumbleDeviceDetails(self._link, adv.address, adv)
        device = self.create_or_update_device(address, address, ad.local_name, details, ad)
        self.call_detection_callbacks(device, ad)


class BumbleBleakClient(BaseBleakClient):
    """bleak client backend: a GATT client on the in-process central."""

    link: ClassVar[LocalLink | None] = None

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        link: LocalLink | None = None,
        mtu: int = 247,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        details = (
            address_or_ble_device.details
            if isinstance(address_or_ble_device, BLEDevice)
            and isinstance(address_or_ble_device.details, BumbleDeviceDetails)
            else None
        )
        chosen = link or (details.link if details else None) or type(self).link
        if chosen is None:
            raise BleakError("BumbleBleakClient needs link=LocalLink (or use backends_for)")
        self._link: LocalLink = chosen
        self._peer_address = details.address if details else Address(self.address)
        self._name = (
            address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        )
        if mtu < att.ATT_DEFAULT_MTU:
            raise BleakError(f"mtu must be >= {att.ATT_DEFAULT_MTU}")
        self._requested_mtu = mtu
        self._service_filter = services
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._closing = False
        self._subscriptions: dict[int, Callable[[bytes], None]] = {}

    # ----------------------------------------------------------------------- properties
    @property
    def name(self) -> str:
        """Advertised name, or the GAP device name read at connection."""
        return self._name or self.address

    @property
    def mtu_size(self) -> int:
        """Negotiated ATT MTU (23 when not connected or not exchanged)."""
        return self._connection.att_mtu if self._connection else att.ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        """True while the link is up."""
        return self._connection is not None

    # --------------------------------------------------------------------- connectivity
    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange the MTU, optionally pair, and discover services."""
        central = await central_for(self._link)
        try:
            connection = await central.connect(self._peer_address, timeout=self._timeout)
        except core.TimeoutError as exc:
            raise BleakDeviceNotFoundError(self.address, f"{self.address} not reachable") from exc
        except BaseException:
            # abandoned (cancelled) or failed: cancel the controller's pending connection,
            # or the next attempt is refused (COMMAND_DISALLOWED) for ever
            await asyncio.shield(_cancel_pending(central))
            raise
        self._connection = connection
        self._closing = False
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        self._peer = Peer(connection)
        try:
            if self._requested_mtu > att.ATT_DEFAULT_MTU:
                await self._peer.request_mtu(self._requested_mtu)
            if pair:
                await connection.pair()
            self.services = await self._discover(self._peer)
        except att.ATT_Error as exc:
            await self.disconnect()
            raise BleakGATTProtocolError(exc.error_code) from exc
        except BaseException:
            # cancelled or failed during the set-up: never leave a half-open link behind
            # (the peripheral would stay connected to nobody and stop advertising)
            await asyncio.shield(self._drop_quietly())
            raise

    async def _drop_quietly(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.disconnect(), self._timeout)

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        wanted = (
            [bumble_uuid(u) for u in self._service_filter] if self._service_filter else []
        )
        collection = BleakGATTServiceCollection()
        for service in await peer.discover_services(wanted):
            bleak_service = BleakGATTService(service, service.handle,
                                             canonical_uuid(service.uuid))  # fmt: skip
            collection.add_service(bleak_service)
            for char in await service.discover_characteristics():
                bleak_char = BleakGATTCharacteristic(
                    char, char.handle, canonical_uuid(char.uuid),
                    sorted(gatt_char_props_to_strs(int(char.properties))),
                    lambda: self.mtu_size - 3, bleak_service,
                )  # fmt: skip
                collection.add_characteristic(bleak_char)
                for desc in await char.discover_descriptors():
                    descriptor = BleakGATTDescriptor(
                        desc, desc.handle, canonical_uuid(desc.type), bleak_char
                    )
                    collection.add_descriptor(descriptor)
                if char.uuid == GATT_DEVICE_NAME_CHARACTERISTIC and self._name is None:
                    self._name = (await char.read_value()).decode("utf-8", errors="replace")
        return collection

    def _on_disconnection(self, _reason: int) -> None:
        self._connection = None
        self._peer = None
        self._subscriptions.clear()
        if not self._closing and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        """Disconnect (no-op when not connected); returns once the link is down."""
        connection = self._connection
        if connection is None:
            return
        self._closing = True
        done = asyncio.get_running_loop().create_future()
        connection.once(connection.EVENT_DISCONNECTION, lambda *_: done.set_result(None))
        await connection.disconnect()
        await asyncio.wait_for(done, self._timeout)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair (bumble SMP, Just Works) with the connected peripheral."""
        await self._require_connection().pair()

    async def unpair(self) -> None:
        """Forget the keys of the peripheral, and disconnect."""
        central = await central_for(self._link)
        if central.keystore is not None:
            for name, _keys in await central.keystore.get_all():
                if name.split("/")[0] == self._peer_address.to_string(False):
                    await central.keystore.delete(name)
        await self.disconnect()

    def _require_connection(self) -> Connection:
        if self._connection is None:
            raise BleakError("Not connected")
        return self._connection

    def _require_peer(self) -> Peer:
        self._require_connection()
        assert self._peer is not None
        return self._peer

    # ----------------------------------------------------------------------------- I/O
    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False,
        **kwargs: Any,
    ) -> bytearray:  # fmt: skip
        """Read a characteristic value."""
        self._require_peer()
        return bytearray(await _att(characteristic.obj.read_value()))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor value."""
        self._require_peer()
        return bytearray(await _att(descriptor.obj.read_value()))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        """Write a characteristic (Write Request if ``response``, else Write Command)."""
        self._require_peer()
        await _att(characteristic.obj.write_value(bytes(data), with_response=response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        """Write a descriptor (with response)."""
        self._require_peer()
        await _att(descriptor.obj.write_value(bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Enable notifications (or indications when the characteristic only indicates)."""
        self._require_peer()

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        self._subscriptions[characteristic.handle] = on_value
        await _att(characteristic.obj.subscribe(on_value, prefer_notify=True))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Disable notifications/indications."""
        self._require_peer()
        on_value = self._subscriptions.pop(characteristic.handle, None)
        await _att(characteristic.obj.unsubscribe(on_value))


async def _cancel_pending(central: Device) -> None:
    """Cancel an LE connection the controller may still be creating (errors ignored).

    bumble forgets its side of an abandoned ``connect`` at once, but the controller's
    LE Create Connection stays pending (every later one is refused with COMMAND_DISALLOWED),
    and a connection completing meanwhile would reach a central that no longer expects it.
    So: cancel it at the controller, and drop a connection that completes in the window
    (the central's own address type stays set, so a late completion cannot trip bumble).
    """
    central.connect_own_address_type = hci.OwnAddressType.RANDOM

    def drop_ghost(connection: Connection) -> None:
        task = asyncio.ensure_future(connection.disconnect())
        _ghost_drops.add(task)
        task.add_done_callback(_ghost_drops.discard)

    central.once(central.EVENT_CONNECTION, drop_ghost)
    try:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(central.send_sync_command(
                hci.HCI_LE_Create_Connection_Cancel_Command()), 1.0)
        await asyncio.sleep(0)
    finally:
        central.remove_listener(central.EVENT_CONNECTION, drop_ghost)


_ghost_drops: set[asyncio.Future[Any]] = set()


async def _att(awaitable: Any) -> Any:
    """Await a bumble GATT operation, mapping ATT errors to bleak's protocol error."""
    try:
        return await awaitable
    except att.ATT_Error as exc:
        raise BleakGATTProtocolError(exc.error_code) from exc
    except core.TimeoutError as exc:
        raise BleakError(f"GATT timeout: {exc}") from exc


def backends_for(
    link: LocalLink,
) -> tuple[type[BumbleBleakScanner], type[BumbleBleakClient]]:
    """Scanner and client backend classes bound to ``link`` (no ``link=`` argument needed)."""
    scanner = type("BoundBumbleBleakScanner", (BumbleBleakScanner,), {"link": link})
    client = type("BoundBumbleBleakClient", (BumbleBleakClient,), {"link": link})
    return scanner, client
