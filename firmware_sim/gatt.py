"""The LegBand firmware served as a real GATT peripheral with Google's ``bumble`` stack.

:class:`LegBandPeripheral` puts a :class:`~firmware_sim.firmware.Firmware` behind a bumble
``Device``: the custom LegBand service (data: notify; control point: write + indicate; status:
read + notify), Device Information (0x180A) and Battery (0x180F). It advertises its name and
service UUID, follows connections, MTU exchanges and CCCD writes, and on every :meth:`step`
advances the firmware to ``clock()`` and sends what the firmware put on the air.

In process, the bumble ``Device`` sits on a virtual controller on a ``bumble.link.LocalLink``
(:func:`new_link_device`); :mod:`firmware_sim.bleak_backend` connects to it with bleak. On a
Linux machine with an adapter, the same class serves a real radio (see ``docs/protocol.md``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bumble import att, gatt, hci
from bumble.controller import Controller
from bumble.core import UUID as BumbleUUID
from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.profiles.battery_service import BatteryService
from bumble.profiles.device_information_service import DeviceInformationService
from bumble.transport.common import AsyncPipeSink

from detector.profiles.legband import LegBandProfile
from firmware_sim.firmware import Firmware

DEFAULT_BAND_ADDRESS = "D0:5B:A4:00:00:01"
"""Static random address of the simulated band (top two bits set, as the spec requires)."""


class QuietController(Controller):
    """bumble's virtual controller, without formatting every HCI packet for a debug log, and
    with a working LE Create Connection Cancel.

    bumble's controller builds its per-packet debug message eagerly (an f-string with the
    packet's coloured field dump), whether or not debug logging is on: most of the CPU time
    of a simulated night went there. With ``bumble.controller`` debug logging enabled, the
    original methods run unchanged.

    Its HCI ACL buffers hold 251 bytes (the LE Data Length Extension's maximum, what the
    controllers of current phones and adapters report), not bumble's default 27: a 247-byte
    notification then crosses the host/controller boundary in one ACL packet instead of ten,
    each with its own Number Of Completed Packets event. What reaches GATT is the same.
    """

    acl_data_packet_length: int = 251
    le_acl_data_packet_length: int = 251

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Dispatch a packet from the host (commands and ACL data) without the log line."""
        if _CONTROLLER_LOG.isEnabledFor(logging.DEBUG):
            super().on_hci_packet(packet)
        elif isinstance(packet, hci.HCI_Command):
            self.on_hci_command_packet(packet)
        elif isinstance(packet, hci.HCI_AclDataPacket):
            self.on_hci_acl_data_packet(packet)
        else:
            super().on_hci_packet(packet)

    def on_hci_le_create_connection_cancel_command(
            self, command: hci.HCI_LE_Create_Connection_Cancel_Command,
    ) -> hci.HCI_StatusReturnParameters:
        """Cancel the pending LE connection creation (bumble's virtual controller keeps it).

        Without this an abandoned connection attempt leaves the controller "connecting" and
        every later LE Create Connection is refused with COMMAND_DISALLOWED: the simulated
        night could never reconnect after one timed-out attempt.
        """
        self.pending_le_connection = None
        return super().on_hci_le_create_connection_cancel_command(command)

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Hand a packet to the host on the next loop turn, without the log line."""
        if _CONTROLLER_LOG.isEnabledFor(logging.DEBUG):
            super().send_hci_packet(packet)
        elif self.host:
            asyncio.get_running_loop().call_soon(self.host.on_packet, bytes(packet))


class QuietHost(Host):
    """bumble's host, without formatting every HCI packet for a debug log (see above)."""

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Send a packet to the controller without the log line."""
        if _HOST_LOG.isEnabledFor(logging.DEBUG) or self.snooper or not self.hci_sink:
            super().send_hci_packet(packet)
        else:
            self.hci_sink.on_packet(bytes(packet))

    def on_command_processed(
        self, event: hci.HCI_Command_Complete_Event | hci.HCI_Command_Status_Event
    ) -> None:
        """Hand a command's result to its waiter, unless the waiter was cancelled meanwhile.

        Two simulated bands linking at once: a command's waiting task can be cancelled (a
        connect attempt timed out) in the same loop turn as its result arrives. bumble would
        set the result on the cancelled future and asyncio would print an ``InvalidStateError``
        traceback; the waiter's own clean-up frees the command slot, so the late result is
        simply dropped.
        """
        if self.pending_response is not None and self.pending_response.done():
            _HOST_LOG.debug("late result of a cancelled HCI command dropped: %s", event)
            return
        super().on_command_processed(event)

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Dispatch a packet from the controller (events, ACL data) without the log line."""
        if _HOST_LOG.isEnabledFor(logging.DEBUG) or self.snooper:
            super().on_hci_packet(packet)
        elif isinstance(packet, hci.HCI_Event):
            self.on_hci_event_packet(packet)
        elif isinstance(packet, hci.HCI_AclDataPacket):
            self.on_hci_acl_data_packet(packet)
        else:
            super().on_hci_packet(packet)


_CONTROLLER_LOG = logging.getLogger("bumble.controller")
_HOST_LOG = logging.getLogger("bumble.host")
_GATT_LOGS = (logging.getLogger("bumble.gatt_server"), logging.getLogger("bumble.gatt_client"))


def _quiet_notification_str(pdu: att.ATT_PDU) -> str:
    """A data notification's (or indication's) text: its full field dump only for a debug log.

    bumble's GATT server and client format every notification they send or take into an eager
    debug f-string (``logger.debug(f"GATT Notify from server: ... {notification}")``), so the
    coloured field dump of every data packet was built and dropped, about a fifth of the CPU
    time of a simulated night. With ``bumble.gatt_server`` or ``bumble.gatt_client`` debug
    logging enabled, bumble's own text is returned unchanged.
    """
    if any(log.isEnabledFor(logging.DEBUG) for log in _GATT_LOGS):
        return att.ATT_PDU.__str__(pdu)
    return f"{type(pdu).__name__}(handle=0x{pdu.attribute_handle:04X})"


for _pdu_type in (att.ATT_Handle_Value_Notification, att.ATT_Handle_Value_Indication):
    _pdu_type.__str__ = _quiet_notification_str  # type: ignore[method-assign]


def new_link_device(link: LocalLink, *, address: str, name: str) -> Device:
    """Create a bumble ``Device`` on a virtual controller attached to ``link``.

    Must be called from a running event loop (bumble's controller binds to it).
    """
    controller = QuietController(name, link=link, public_address=address)
    return Device(name=name, address=Address(address), host=QuietHost(controller,
                  AsyncPipeSink(controller)))  # fmt: skip


def advertising_payload(*, service_uuid: str, short_name: str) -> bytes:
    """Advertising data: flags (LE general discoverable, no BR/EDR), service UUID, short name.

    Flags (3 bytes) and a 128-bit UUID (18 bytes) leave 10 of the 31 legacy bytes, so the
    advertising data carries the shortened name and the scan response the complete one.
    """
    payload = bytes(
        AdvertisingData([
            (AdvertisingData.FLAGS, bytes([0x06])),
            (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
             BumbleUUID(service_uuid).to_bytes()),
            (AdvertisingData.SHORTENED_LOCAL_NAME, short_name.encode("utf-8")),
        ])
    )  # fmt: skip
    if len(payload) > 31:
        raise ValueError(f"advertising data is {len(payload)} bytes; the limit is 31")
    return payload


def scan_response_payload(*, local_name: str) -> bytes:
    """Scan response data: the complete local name."""
    payload = bytes(
        AdvertisingData([(AdvertisingData.COMPLETE_LOCAL_NAME, local_name.encode("utf-8"))])
    )
    if len(payload) > 31:
        raise ValueError(f"scan response is {len(payload)} bytes; the limit is 31")
    return payload


def band_local_name(profile: LegBandProfile, serial_number: str) -> str:
    """Advertised name: the profile's prefix, a dash, the last four serial characters."""
    return f"{profile.local_name_prefix}-{serial_number[-4:]}"


class LegBandPeripheral:
    """A :class:`Firmware` exposed over GATT by a bumble ``Device``.

    Parameters
    ----------
    firmware : Firmware
        The band's firmware model.
    device : bumble.device.Device
        The bumble device to serve on (in process: from :func:`new_link_device`; on a real
        adapter: ``Device.with_hci(...)``).
    clock : callable returning float
        True time in seconds for the firmware (a ``ManualClock`` in tests, a ``ScaledClock``
        for live runs).
    serial_number : str
        Serial number; its last four characters end the advertised name.
    advertising_interval_ms : float
        Advertising interval.
    """

    def __init__(
        self,
        firmware: Firmware,
        device: Device,
        *,
        clock: Callable[[], float],
        serial_number: str = "LB-000001",
        advertising_interval_ms: float = 20.0,
    ) -> None:
        self.firmware = firmware
        self.device = device
        self.clock = clock
        self.profile = firmware.profile
        self.local_name = band_local_name(self.profile, serial_number)
        self._interval_ms = advertising_interval_ms
        self._connection: Connection | None = None
        self._outbox: list[bytes] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._advertising_lock = asyncio.Lock()
        """One advertising (re)start at a time (a step and the disconnection handler)."""
        self._last_status = b""
        self._last_battery = -1
        self._running = False
        self.data_char = gatt.Characteristic(
            self.profile.data_uuid, gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.READABLE, b"",
        )  # fmt: skip
        self.control_char = gatt.Characteristic(
            self.profile.control_uuid,
            gatt.Characteristic.Properties.WRITE | gatt.Characteristic.Properties.INDICATE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_control_write),
        )
        self.status_char = gatt.Characteristic(
            self.profile.status_uuid,
            gatt.Characteristic.Properties.READ | gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.READABLE,
            gatt.CharacteristicValue(read=lambda _conn: self.firmware.status_bytes()),
        )
        self.data_char.on(gatt.Characteristic.EVENT_SUBSCRIPTION, self._on_data_subscription)
        self.battery_service = BatteryService(lambda _conn: self.firmware.battery_pct)
        version = ".".join(str(v) for v in firmware.config.firmware_version)
        device.add_services([
            gatt.Service(self.profile.service_uuid,
                         [self.data_char, self.control_char, self.status_char]),
            DeviceInformationService(
                manufacturer_name="Night-cramp detector project", model_number="LegBand",
                serial_number=serial_number, hardware_revision="sim",
                firmware_revision=version, software_revision=version,
            ),
            self.battery_service,
        ])  # fmt: skip
        device.gatt_server.max_mtu = self.profile.att_mtu_max
        device.on(device.EVENT_CONNECTION, self._on_connection)

    @classmethod
    def on_link(
        cls,
        link: LocalLink,
        firmware: Firmware,
        *,
        clock: Callable[[], float],
        address: str = DEFAULT_BAND_ADDRESS,
        serial_number: str = "LB-000001",
    ) -> LegBandPeripheral:
        """Create the band on an in-process ``LocalLink`` (call from a running event loop)."""
        name = band_local_name(firmware.profile, serial_number)
        device = new_link_device(link, address=address, name=name)
        return cls(firmware, device, clock=clock, serial_number=serial_number)

    @property
    def connection(self) -> Connection | None:
        """The current connection, if any."""
        return self._connection

    async def start(self) -> None:
        """Power the radio on and start advertising."""
        await self.device.power_on()
        await self._advertise()

    async def _advertise(self) -> None:
        async with self._advertising_lock:
            if not self.firmware.powered or self._connection is not None:
                return
            await self._start_advertising()

    async def _start_advertising(self) -> None:
        await self.device.start_advertising(
            advertising_data=advertising_payload(
                service_uuid=self.profile.service_uuid,
                short_name=self.profile.local_name_prefix,
            ),
            scan_response_data=scan_response_payload(local_name=self.local_name),
            advertising_interval_min=self._interval_ms,
            advertising_interval_max=self._interval_ms,
        )

    async def step(self) -> int:
        """Advance the firmware to ``clock()`` and send what it produced.

        Returns
        -------
        int
            Number of data notifications sent.
        """
        self._catch_up()
        sent = await self._flush()
        connection = self._connection
        if connection is not None:
            status = self.firmware.status_bytes()
            if status != self._last_status:
                self._last_status = status
                await self.device.notify_subscriber(connection, self.status_char, status)
            battery = self.firmware.battery_pct
            if battery != self._last_battery:
                self._last_battery = battery
                await self.device.notify_subscriber(
                    connection, self.battery_service.battery_level_characteristic, battery
                )
            if self.firmware.take_disconnect_request():
                await connection.disconnect()
        if not self.firmware.powered:
            await self.device.stop_advertising()
        return sent

    async def run(self, *, period_s: float) -> None:
        """Call :meth:`step` every ``period_s`` wall-clock seconds until :meth:`stop`."""
        self._running = True
        while self._running and self.firmware.powered:
            await self.step()
            await asyncio.sleep(period_s)

    def stop(self) -> None:
        """Make :meth:`run` return after its current step."""
        self._running = False

    def _catch_up(self) -> None:
        now = self.clock()
        if now > self.firmware.now_s:
            self._outbox += self.firmware.advance_to(now)

    async def _flush(self) -> int:
        outbox, self._outbox = self._outbox, []
        connection = self._connection
        if connection is None:
            return 0
        for payload in outbox:
            await self.device.notify_subscriber(connection, self.data_char, payload)
        if outbox:
            # Hand the notifications to the controller before doing anything else (such as
            # a scheduled disconnect); returns early if the link drops meanwhile.
            await connection.drain()
        return len(outbox)

    # ------------------------------------------------------------------- bumble events
    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        self._last_status = b""
        self._last_battery = -1
        self._outbox = []
        self._catch_up()
        self._outbox = []
        self.firmware.connect()
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        connection.on(
            connection.EVENT_CONNECTION_ATT_MTU_UPDATE,
            lambda: self.firmware.set_att_mtu(connection.att_mtu),
        )

    def _on_disconnection(self, _reason: int) -> None:
        self._connection = None
        self._outbox = []
        self.firmware.disconnect()
        self._spawn(self._advertise())

    def _on_data_subscription(self, _bearer: object, notify: bool, _indicate: bool) -> None:
        self.firmware.set_data_notifications(notify)

    def _on_control_write(self, connection: Connection, value: bytes) -> None:
        self._catch_up()
        response = self.firmware.handle_command(bytes(value))
        self._spawn(self._answer(connection, response))

    async def _answer(self, connection: Connection, response: bytes) -> None:
        await self._flush()
        if self._connection is connection:
            await self.device.indicate_subscriber(connection, self.control_char, response)

    def _spawn(self, coro: object) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
