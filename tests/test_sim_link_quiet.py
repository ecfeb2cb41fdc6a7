"""The simulated link's cheap paths: what the in-process radio skips must not change GATT.

bumble's virtual controller offers 27-byte HCI ACL buffers by default, so each 247-byte
notification crossed the host/controller boundary as ten packets with ten completion events;
and bumble's GATT client and server format every notification into an eager debug f-string.
The simulated controllers offer 251-byte buffers, and a notification's text is bumble's full
dump only when bumble's GATT debug log is on.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from bumble import att
from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from firmware_sim.gatt import new_link_device


async def _le_acl_packet_bytes() -> tuple[int, int]:
    """(simulated, plain bumble) LE ACL packet size the host learns from its controller."""
    link = LocalLink()
    sim = new_link_device(link, address="D0:5B:A4:00:00:21", name="sim")
    await sim.power_on()
    controller = Controller("plain", link=link, public_address="D0:5B:A4:00:00:22")
    plain = Device(name="plain", address=Address("D0:5B:A4:00:00:22"),  # bumble's own: control
                   host=Host(controller, AsyncPipeSink(controller)))
    await plain.power_on()
    return (sim.host.le_acl_packet_queue.max_packet_size,
            plain.host.le_acl_packet_queue.max_packet_size)


def test_a_247_byte_notification_fits_one_hci_acl_packet() -> None:
    sim, plain = asyncio.run(_le_acl_packet_bytes())
    assert sim >= 247 + 4  # ATT MTU 247 plus the L2CAP header: one ACL packet
    assert plain == 27  # bumble's default, ten packets per notification


@pytest.mark.parametrize("pdu_type", [att.ATT_Handle_Value_Notification,
                                      att.ATT_Handle_Value_Indication])
def test_a_notification_is_dumped_only_for_a_gatt_debug_log(pdu_type: type) -> None:
    pdu = pdu_type(attribute_handle=0x2A, attribute_value=bytes(range(200)))
    assert str(pdu) == f"{pdu_type.__name__}(handle=0x002A)"
    log = logging.getLogger("bumble.gatt_server")
    level = log.level
    log.setLevel(logging.DEBUG)
    try:  # with the debug log on: bumble's own field dump, the value included
        text = str(pdu)
    finally:
        log.setLevel(level)
    assert "attribute_value" in text and bytes(range(200)).hex() in text
