"""The simulated link's host drops the late result of a cancelled HCI command.

Two simulated bands linking at once (a kit): a connect attempt's task can be cancelled in the
same loop turn as its command's result arrives. bumble's host would set that result on the
cancelled future, and asyncio would print an ``InvalidStateError`` traceback on the night's
console; :class:`firmware_sim.gatt.QuietHost` drops it instead.
"""

from __future__ import annotations

import asyncio

import pytest
from bumble import hci
from bumble.host import Host

from firmware_sim.gatt import QuietHost


def _result() -> hci.HCI_Command_Complete_Event:
    return hci.HCI_Command_Complete_Event(num_hci_command_packets=1, command_opcode=0x2035,
                                          return_parameters=b"\x00")


async def _deliver(host: Host, *, cancelled: bool) -> asyncio.Future[object]:
    future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    if cancelled:
        future.cancel()
    host.pending_command = hci.HCI_Command(op_code=0x2035)
    host.pending_response = future
    host.on_command_processed(_result())
    return future


def test_late_result_of_a_cancelled_command_is_dropped() -> None:
    async def run() -> None:
        future = await _deliver(QuietHost(None, None), cancelled=True)
        assert future.cancelled()
        # control: a waiter still waiting gets its result
        live = await _deliver(QuietHost(None, None), cancelled=False)
        assert live.result().command_opcode == 0x2035  # type: ignore[attr-defined]

    asyncio.run(run())


def test_bumbles_own_host_raises_on_the_same_late_result() -> None:
    """What QuietHost guards against: the plain host sets a result on a cancelled future."""
    async def run() -> None:
        await _deliver(Host(None, None), cancelled=True)

    with pytest.raises(asyncio.InvalidStateError):
        asyncio.run(run())
