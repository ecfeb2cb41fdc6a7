"""The BLE calls of one band session: connecting, bounded requests, commands, failures logged.

:class:`LinkCalls` is the half of :class:`~detector.ble.link.BandSessionBase` that talks to the
stack; the supervisor (:mod:`detector.ble.link`) decides what to do with each outcome:

- the connection attempt: ``bleak-retry-connector`` (a new ``BleakClient`` each time), raced
  against the stop request, the morning and a stack that hangs; the disconnect;
- every other stack call bounded in session time and by the link dropping
  (:meth:`~LinkCalls._bounded`), and the control-point exchange of a command and its answer;
- notification handlers that never raise, and the one-line log of a failure survived (observer
  note and capture ``error`` event); a capture that cannot be written ends the night.

The state these methods share (the clock, the configuration, the events of the link and of the
stop) is made by :meth:`BandSessionBase.__init__ <detector.ble.link.BandSessionBase>`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from detector.ble.capture_guard import GuardedWriter
from detector.ble.link_errors import LinkLost, StackCancelled, being_cancelled, describe_error
from detector.ble.scan import adapter_problem
from detector.ble.session_types import SessionConfig, SessionObserver
from detector.ble.timebase import Timebase
from detector.capture.writer import CaptureWriteError

__all__ = ["DEVICE_INFO_UUIDS", "LinkCalls"]

DEVICE_INFO_UUIDS: dict[str, str] = {
    "manufacturer": "00002a29-0000-1000-8000-00805f9b34fb",
    "model": "00002a24-0000-1000-8000-00805f9b34fb",
    "serial_number": "00002a25-0000-1000-8000-00805f9b34fb",
    "hardware_revision": "00002a27-0000-1000-8000-00805f9b34fb",
    "firmware_revision": "00002a26-0000-1000-8000-00805f9b34fb",
    "software_revision": "00002a28-0000-1000-8000-00805f9b34fb",
}
"""Device Information Service characteristics read into the capture header."""


class LinkCalls(abc.ABC):
    """Connect, call, command and log failures for one band session (a base of the supervisor).

    The attributes below are set by :class:`~detector.ble.link.BandSessionBase`, which also
    provides :meth:`_set_state` (from :class:`~detector.ble.session_outputs.SessionOutputs`).
    """

    device: BLEDevice
    timebase: Timebase
    config: SessionConfig
    client_kwargs: dict[str, Any]
    observer: SessionObserver
    until_s: float | None
    linking: bool
    setup_pending: bool
    connections: int
    corrupt_packets: int
    faults: dict[str, int]
    adapter_missing: bool
    one_of_several: bool
    write_error: CaptureWriteError | None
    _writer: GuardedWriter | None
    _client: BleakClient | None
    _link_lost: asyncio.Event
    _stop: asyncio.Event
    _cmd_lock: asyncio.Lock
    _pending: tuple[int, asyncio.Future[Any]] | None

    @abc.abstractmethod
    def _set_state(self, state: str) -> None:
        """Change the session's state (and tell the observer)."""

    # -------------------------------------------------------------------- connection
    async def _connect(self) -> BleakClient | None:
        self._set_state("waiting for adapter" if self.adapter_missing
                        else "connecting" if self.connections == 0 else "reconnecting")
        self._link_lost = asyncio.Event()
        self.linking = True
        attempt = asyncio.ensure_future(establish_connection(
            BleakClient, self.device, self.device.name or self.device.address,
            disconnected_callback=self._on_disconnected,
            max_attempts=self.config.connect_attempts, timeout=self.config.connect_timeout_s,
            mtu=self.config.mtu, **self.client_kwargs))
        # bleak-retry-connector bounds each attempt by itself; this bounds a stack that hangs
        hung_after_s = self.config.connect_timeout_s * self.config.connect_attempts + 5.0
        hung = asyncio.ensure_future(self.timebase.sleep(hung_after_s))
        waits: list[asyncio.Future[Any]] = [attempt, asyncio.ensure_future(self._stop.wait()),
                                            hung]
        if self.until_s is not None:
            waits.append(asyncio.ensure_future(
                self.timebase.sleep(self.until_s - self.timebase.now_s())))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.linking = False
            for w in waits[1:]:
                w.cancel()
        if not attempt.done():
            attempt.cancel()
            await self._settle(attempt)
            if hung.done() and not hung.cancelled():
                self._fault("connection", TimeoutError(
                    f"no answer in {hung_after_s:.0f} s"))
            return None
        try:
            client = attempt.result()
        except asyncio.CancelledError as exc:
            if being_cancelled():
                raise
            self._fault("connection", exc)  # the stack cancelled its own request
            return None
        except Exception as exc:
            self._fault("connection", exc)
            return None
        if self.adapter_missing:
            self.adapter_missing = False
            self.observer.on_note("the Bluetooth adapter is back")
        self.connections += 1
        self._client = client
        self.setup_pending = True  # until _serve has the band streaming
        return client

    async def _settle(self, future: asyncio.Future[Any]) -> None:
        """Wait for an abandoned attempt to unwind, whatever it raises (not our cancel)."""
        try:
            await future
        except asyncio.CancelledError:
            if being_cancelled():
                raise
        except Exception as exc:
            self._count_fault("abandoned attempt", exc)

    def _on_disconnected(self, client: BleakClient) -> None:
        if client is self._client:
            self._link_lost.set()

    async def _disconnect(self, client: BleakClient) -> None:
        self._client = None
        self._link_lost.set()
        try:
            connected = bool(client.is_connected)
        except Exception as exc:
            self._count_fault("disconnect", exc)
            return
        if connected:
            await self._bounded(client.disconnect(), what="disconnecting",
                                timeout_s=self.config.command_timeout_s, quiet=True,
                                watch_link=False)

    async def _bounded(self, coro: Coroutine[Any, Any, Any], *, what: str, timeout_s: float,
                       quiet: bool = False, watch_link: bool = True) -> Any:
        """Await ``coro`` for at most ``timeout_s`` session seconds, or until the link drops.

        A stack call that never returns (a hung D-Bus request, a lost GATT response) must
        not hang the night. With ``quiet``, failures are logged and ``None`` returned;
        otherwise ``TimeoutError``/:class:`LinkLost`/the call's own error is raised.
        """
        task = asyncio.ensure_future(coro)
        sleeper = asyncio.ensure_future(self.timebase.sleep(timeout_s))
        waits: list[asyncio.Future[Any]] = [task, sleeper]
        lost = None
        if watch_link:
            lost = asyncio.ensure_future(self._link_lost.wait())
            waits.append(lost)
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            if lost is not None:
                lost.cancel()
            timed_out = not task.done()
            if timed_out:
                task.cancel()
                await self._settle(task)
            elif not task.cancelled():
                task.exception()  # retrieved, even when we are being cancelled ourselves
        error: BaseException
        if task.cancelled():
            if self._link_lost.is_set():
                error = LinkLost()
            elif timed_out:
                error = TimeoutError(f"{what}: no answer in {timeout_s:.0f} s")
            else:
                error = StackCancelled(f"{what}: the BLE stack cancelled the request")
        elif task.exception() is not None:
            error = task.exception()  # type: ignore[assignment]
        else:
            return task.result()
        if not quiet:
            raise error
        if not isinstance(error, LinkLost):
            self._count_fault(what, error)
        return None

    # ------------------------------------------------------------------------ failures
    def _fault(self, where: str, exc: BaseException) -> None:
        """Log a failure on one line (observer note with the time, capture ``error`` event)."""
        self._count_fault(where, exc, note=True)

    def _count_fault(self, where: str, exc: BaseException, *, note: bool = False) -> None:
        if isinstance(exc, CaptureWriteError):
            self._write_failed(exc)
            return
        self.faults[where] = self.faults.get(where, 0) + 1
        text = describe_error(exc)
        problem = adapter_problem(exc)
        if problem is not None and not self.adapter_missing:
            self.adapter_missing = True
            self._set_state("waiting for adapter")
            self.observer.on_note(f"{problem}: waiting for the Bluetooth adapter to come back")
        elif note or self.faults[where] <= 3 or self.faults[where] % 100 == 0:
            count = self.faults[where]
            self.observer.on_note(f"{where} failed ({text}); retrying"
                                  + (f" [{count} so far]" if count > 1 else ""))
        if self._writer is not None:
            with contextlib.suppress(OSError, ValueError):
                self._writer.event("error", at_s=self.timebase.now_s(), where=where,
                                   error=text)

    def _write_failed(self, exc: CaptureWriteError) -> None:
        """The capture cannot be written (disk full...): end the night, keep what is there.

        Nothing more could be kept, so recording on would only pretend; the night stops at
        once, the capture is closed as it is, and :meth:`run` raises ``exc`` (one line).
        """
        if self.write_error is None:
            self.write_error = exc
            if not self.one_of_several:
                self.observer.on_note(f"{exc}: the night stops here; what was recorded so far "
                                      "is kept")
        self._stop.set()

    def guarded(self, handler: Callable[[Any, bytearray], None]
                ) -> Callable[[Any, bytearray], None]:
        """A notification handler that logs and counts what ``handler`` raises, never raising.

        bleak calls handlers from its own machinery (a D-Bus signal, a bumble event); an
        exception there would be lost or kill the stack's dispatcher. A malformed packet that
        a decoder refuses is counted as corrupt like the ones the handlers catch themselves.
        """
        def call(char: Any, value: bytearray) -> None:
            try:
                handler(char, value)
            except Exception as exc:
                self.corrupt_packets += 1
                self._count_fault("notification handler", exc)

        return call

    async def _subscribe(self, client: BleakClient, uuid: str,
                         handler: Callable[[Any, bytearray], None]) -> None:
        """``start_notify`` with a :meth:`guarded` handler."""
        await client.start_notify(uuid, self.guarded(handler))

    async def _device_info(self, client: BleakClient) -> dict[str, str]:
        info: dict[str, str] = {}
        for key, uuid in DEVICE_INFO_UUIDS.items():
            with contextlib.suppress(BleakError, TimeoutError, OSError, EOFError):
                info[key] = bytes(await client.read_gatt_char(uuid)).decode("utf-8", "replace")
        return info

    async def _sleep_unless_stopped(self, duration_s: float,
                                    also: asyncio.Event | None = None) -> bool:
        """Sleep; return True early if a stop was requested (or ``also`` is set)."""
        waits = [asyncio.ensure_future(self._stop.wait())]
        if also is not None:
            waits.append(asyncio.ensure_future(also.wait()))
        sleeper = asyncio.ensure_future(self.timebase.sleep(duration_s))
        try:
            await asyncio.wait([sleeper, *waits], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, *waits):
                task.cancel()
        return self._stop.is_set()

    # ------------------------------------------------------------------------ commands
    async def _exchange(self, client: BleakClient, payload: bytes, *, uuid: str, source: str,
                        who: str) -> Any:
        """Write a control-point command and wait for the answer with its opcode.

        The command is logged to the capture as ``source``; the answer arrives through
        :meth:`_answer`. Raises :class:`LinkLost` if the link drops, ``TimeoutError`` (naming
        ``who``) after ``command_timeout_s`` without an answer.
        """
        async with self._cmd_lock:
            if self._link_lost.is_set():
                raise LinkLost()
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._pending = (payload[0], future)
            if self._writer is not None:
                self._writer.packet(source=source, payload=payload,
                                    received_s=self.timebase.now_s())
            try:
                await self._bounded(client.write_gatt_char(uuid, payload, response=True),
                                    what=f"writing to {who}",
                                    timeout_s=self.config.command_timeout_s)
                sleeper = asyncio.ensure_future(
                    self.timebase.sleep(self.config.command_timeout_s))
                lost = asyncio.ensure_future(self._link_lost.wait())
                try:
                    await asyncio.wait([future, sleeper, lost],
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
                    lost.cancel()
                if future.done():
                    return future.result()
                if self._link_lost.is_set():
                    raise LinkLost()
                raise TimeoutError(f"{who} did not answer a control-point command")
            finally:
                self._pending = None

    def _answer(self, opcode: int, message: object) -> None:
        """Hand a control-point answer to the command waiting for ``opcode``, if any."""
        pending = self._pending
        if pending is not None and pending[0] == opcode and not pending[1].done():
            pending[1].set_result(message)
