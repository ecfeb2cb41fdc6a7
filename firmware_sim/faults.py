"""Fault injection at every BLE call of the simulated band's bleak backend.

:func:`faulty_client_backend` wraps a bleak client backend class (the in-process one of
:mod:`firmware_sim.bleak_backend`) so that every call the recorder makes through the real
``BleakClient`` (``connect``, ``disconnect``, ``read_gatt_char``, ``write_gatt_char``,
``start_notify``) may, at random, raise an error a BLE stack raises (``BleakError``,
``TimeoutError``, ``OSError``, ``EOFError``, a D-Bus-style ``RuntimeError``), raise a
``CancelledError`` that is not the caller's own (bumble does this when a link drops), hang
until cancelled, or drop the link under the call. Data notifications may be preceded by a
malformed copy (truncated, wrong protocol version, a byte short) that every decoder must
refuse. :class:`FaultInjector` decides with an injected ``numpy.random.Generator`` and
counts what it did, per call and kind, for the soak test and benchmark.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bleak.exc import BleakError

FAULT_KINDS = ("error", "cancel", "hang", "disconnect")
"""What an injected fault does: raise, raise ``CancelledError``, never return, drop the link."""
CALLS = ("connect", "disconnect", "read_gatt_char", "write_gatt_char", "start_notify")


@dataclass
class FaultInjector:
    """Random faults at BLE calls and malformed notifications, counted.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every decision.
    call_fault_p : float
        Probability that a BLE call fails. The kind comes from a shuffled round of
        :data:`FAULT_KINDS` (every kind once per round, in random order), so a few faults
        already cover every kind.
    malformed_p : float
        Probability that a data notification is preceded by a malformed copy.
    data_uuid : str
        The characteristic whose notifications may be malformed.
    header_size : int
        Bytes of that characteristic's packet header (a malformed copy is shorter, or has
        another protocol version, or a body a byte short).
    enabled : bool
        Faults only while true (the caller can switch them off for the night's end).
    cover_every : int
        When > 0, the first round of faults is not drawn but placed: every ``cover_every``-th
        BLE call fails until each kind has been injected once. How many calls a night makes
        depends on the host's speed (a slow connection makes fewer), so a drawn first round
        may not be complete on a loaded machine; a placed one is, whatever the load (each
        fault makes the recorder retry, so the calls go on). 0: every fault is drawn.
    """

    rng: np.random.Generator
    call_fault_p: float
    malformed_p: float
    data_uuid: str
    header_size: int
    enabled: bool = True
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    hanging: int = 0
    cover_every: int = 0
    _round: list[str] = field(default_factory=list)
    _calls: int = 0
    _placed: int = 0

    def pick(self, call: str) -> str | None:
        """The fault to inject into ``call`` now, or ``None`` (counted when not ``None``)."""
        if not self.enabled:
            return None
        self._calls += 1
        if self.cover_every > 0 and self._placed < len(FAULT_KINDS):
            if self._calls % self.cover_every:
                return None
            self._placed += 1
        elif self.rng.random() >= self.call_fault_p:
            return None
        if not self._round:
            self._round = [FAULT_KINDS[i] for i in self.rng.permutation(len(FAULT_KINDS))]
        kind = self._round.pop()
        self.counts[(call, kind)] += 1
        return kind

    def error(self, call: str) -> BaseException:
        """An error a BLE stack raises from ``call``."""
        options: list[BaseException] = [
            BleakError(f"injected: {call} failed"), TimeoutError(f"injected: {call} timed out"),
            OSError(5, f"injected: {call} I/O error"), EOFError(f"injected: {call} EOF"),
            RuntimeError(f"injected: org.bluez.Error.Failed during {call}"),
        ]
        return options[int(self.rng.integers(len(options)))]

    def malformed(self, payload: bytes) -> bytes | None:
        """A malformed copy of a data notification to deliver first, or ``None``."""
        if not self.enabled or not payload or self.rng.random() >= self.malformed_p:
            return None
        form = int(self.rng.integers(3))
        self.counts[("notification", ("truncated", "bad version", "short body")[form])] += 1
        if form == 0:
            return payload[:int(self.rng.integers(self.header_size))]
        if form == 1:
            return bytes([(payload[0] + 0x10) & 0xFF]) + payload[1:]
        return payload[:-1]

    def total(self) -> int:
        """Faults injected so far."""
        return sum(self.counts.values())


def faulty_client_backend(base: type, injector: FaultInjector) -> type:
    """A subclass of the bleak client backend ``base`` whose calls fail as ``injector`` says."""

    async def inject(self: Any, call: str, *, after: bool = False) -> None:
        kind = injector.pick(call)
        if kind is None:
            return
        if kind == "error":
            raise injector.error(call)
        if kind == "cancel":
            raise asyncio.CancelledError(f"injected: the stack cancelled {call}")
        if kind == "hang":
            injector.hanging += 1
            try:
                await asyncio.Event().wait()
            finally:
                injector.hanging -= 1
        connection = getattr(self, "_connection", None)
        if connection is not None:
            await connection.disconnect()  # the peer goes away under the call
        raise BleakError(f"injected: link dropped during {call}")

    async def connect(self: Any, pair: bool, **kwargs: Any) -> None:
        await inject(self, "connect")
        await base.connect(self, pair, **kwargs)

    async def disconnect(self: Any) -> None:
        await inject(self, "disconnect")
        await base.disconnect(self)

    async def read_gatt_char(self: Any, characteristic: Any, **kwargs: Any) -> bytearray:
        await inject(self, "read_gatt_char")
        result: bytearray = await base.read_gatt_char(self, characteristic, **kwargs)
        return result

    async def write_gatt_char(self: Any, characteristic: Any, data: Any, response: bool) -> None:
        await inject(self, "write_gatt_char")
        await base.write_gatt_char(self, characteristic, data, response)

    async def start_notify(self: Any, characteristic: Any,
                           callback: Callable[[bytearray], None], **kwargs: Any) -> None:
        await inject(self, "start_notify")
        if str(characteristic.uuid).lower() == injector.data_uuid.lower():
            real = callback

            def callback(value: bytearray) -> None:
                bad = injector.malformed(bytes(value))
                if bad is not None:
                    real(bytearray(bad))
                real(value)

        await base.start_notify(self, characteristic, callback, **kwargs)

    return type(f"Faulty{base.__name__}", (base,), {
        "connect": connect, "disconnect": disconnect, "read_gatt_char": read_gatt_char,
        "write_gatt_char": write_gatt_char, "start_notify": start_notify})
