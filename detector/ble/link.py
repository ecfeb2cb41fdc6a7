"""The connection supervisor every BLE band session shares: reconnect, watch, finish the night.

:class:`BandSessionBase` keeps one device streaming until the morning time, a stop request or an
end the band itself reports (the LegBand's empty battery):

- connection establishment with ``bleak-retry-connector`` (a new ``BleakClient`` each time),
  raced against the stop request and the morning, in a reconnect-forever loop with capped
  exponential backoff (:class:`~detector.ble.timebase.Backoff`);
- on every connection: check the profile from the services, create the crash-safe capture on
  the first one (with the device information), log the connection, let the band start its
  streams, then watch: seconds without data is a dropout (disconnect, reconnect);
- at the end: the band's own stop while the link is up, then the night's outputs finished
  (:meth:`~detector.ble.session_outputs.SessionOutputs._finish`).

Each band (:class:`~detector.ble.session.LegBandSession`, the Polar and Myo sessions of
:mod:`detector.ble.other_bands`) implements the hooks: :meth:`~BandSessionBase._start_streams`,
:meth:`~BandSessionBase._finish_band`, and those of the outputs
(:meth:`~detector.ble.session_outputs.SessionOutputs._flush_band`,
:meth:`~detector.ble.session_outputs.SessionOutputs.counts`,
:attr:`~detector.ble.session_outputs.SessionOutputs.channels`...) and the few it changes.

The module's siblings hold the rest: the two bases of this class,
:class:`~detector.ble.session_outputs.SessionOutputs` (the capture header, the
:class:`~detector.night.recorder.NightRecorder`, status snapshots, the closed capture and the
:class:`~detector.ble.session_types.SessionSummary` at the end) and
:class:`~detector.ble.link_calls.LinkCalls` (the connection attempt, bounded stack calls,
control-point commands and the one-line log of failures); :mod:`detector.ble.capture_guard`
the capture writer whose failure ends the night; :mod:`detector.ble.link_errors` the link's
exceptions.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, ClassVar

from bleak import BleakClient
from bleak.backends.device import BLEDevice

from detector.ble.capture_guard import GuardedWriter
from detector.ble.link_calls import LinkCalls
from detector.ble.link_errors import LinkLost, being_cancelled
from detector.ble.scan import profile_of
from detector.ble.session_outputs import SessionOutputs
from detector.ble.session_types import (
    NullObserver,
    SessionConfig,
    SessionObserver,
    SessionSummary,
)
from detector.ble.timebase import Backoff, Timebase
from detector.capture.writer import CaptureWriteError, CaptureWriter
from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.night.recorder import NightRecorder

__all__ = ["BandSessionBase"]


class BandSessionBase(SessionOutputs, LinkCalls):
    """Record one night from one BLE band: the connection loop, capture, pipeline, observers.

    Parameters
    ----------
    device : BLEDevice
        The band (from a scan).
    capture_path : Path
        Capture file to create (must not exist).
    timebase : Timebase
        Session clock.
    config : SessionConfig
        Streams, MTU, timeouts.
    detector_config : DetectorConfig
        Pipeline thresholds.
    client_kwargs : dict, optional
        Extra ``BleakClient`` keyword arguments (e.g. ``backend=``).
    observer : SessionObserver, optional
        Live output.
    leg : str
        ``"left"``, ``"right"`` or ``"unknown"``.
    until_s : float, optional
        Session time (UNIX s) at which the night ends (the morning).
    session_info : dict, optional
        Extra metadata for the capture header (e.g. the simulation's parameters).
    """

    profile_name: ClassVar[str] = ""
    """The profile (:func:`~detector.ble.scan.profile_of`) the device must serve."""
    status_each_link: ClassVar[bool] = False
    """Send a status update as soon as each connection is watched (not only every
    ``status_every_s`` of the whole night)."""

    def __init__(self, device: BLEDevice, *, capture_path: Path, timebase: Timebase,
                 config: SessionConfig, detector_config: DetectorConfig,
                 client_kwargs: Mapping[str, Any] | None = None,
                 observer: SessionObserver | None = None, leg: str = "unknown",
                 until_s: float | None = None,
                 session_info: Mapping[str, Any] | None = None) -> None:
        self.device = device
        self.capture_path = capture_path
        self.timebase = timebase
        self.config = config
        self.detector_config = detector_config
        self.client_kwargs = dict(client_kwargs or {})
        self.observer: SessionObserver = observer or NullObserver()
        self.leg = leg
        self.until_s = until_s
        self.session_info = dict(session_info or {})
        self.state = "connecting"
        self.linking = True
        """A connection attempt is under way (link, MTU, services); true from the start, as
        :meth:`run` begins by connecting."""
        self.setup_pending = False
        """Linked, the GATT set-up (device information, subscriptions, rates, START) not yet
        done: the band streams once it is. With :attr:`linking`, what a simulated band's
        clock holds for (:attr:`connect_pending`)."""
        self.connections = 0
        self.dropouts = 0
        self.corrupt_packets = 0
        self.battery_pct: int | None = None
        self.callback_cpu_s = 0.0
        self.remarks: list[str] = []
        self.faults: dict[str, int] = {}
        """Failures logged and survived, by where they happened."""
        self.adapter_missing = False
        self.one_of_several = False
        """A band of a multi-band night: a failure that ends this session is told by the
        night (one line, naming the band), not by the session."""
        self.last_summary: SessionSummary | None = None
        """The night's summary, once :meth:`run` has ended (also when it raised)."""
        self.write_error: CaptureWriteError | None = None
        """Set when the capture could not be written: the night ends and :meth:`run` raises."""
        self._writer: GuardedWriter | None = None
        self.recorder: NightRecorder | None = None
        """The night's recorder (assembly, clock, pipeline); made when streaming starts."""
        self._client: BleakClient | None = None
        self._link_lost = asyncio.Event()
        self._stop = asyncio.Event()
        self._cmd_lock = asyncio.Lock()
        self._pending: tuple[int, asyncio.Future[Any]] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_data_s = 0.0
        self._last_status_s = -1e18

    # ------------------------------------------------------------------ public control
    @property
    def connect_pending(self) -> bool:
        """A connection is being made: linking, or its GATT set-up until the band streams.

        A paced simulated band holds its clock while this is true
        (:class:`~firmware_sim.stepped_band.SteppedDriver`), so no night time passes between the
        band advertising and it sampling for the session, whatever the speed.
        """
        return self.linking or self.setup_pending

    def request_stop(self) -> None:
        """Stop the night at the next opportunity (SIGINT/SIGTERM handlers call this)."""
        self._stop.set()

    async def run(self) -> SessionSummary:
        """Record until the morning time, :meth:`request_stop` or the band's own end.

        Nothing a BLE stack, the band or a handler raises ends the night: every failure is
        logged on one line (with the time, through the observer, and as an ``error`` event in
        the capture) and the connection is retried with capped exponential backoff. Only our
        own cancellation (Ctrl-C through the event loop) and a device that is not the band
        asked for go through, after the capture is closed. Whichever way the night ends,
        :attr:`last_summary` holds its summary.

        Raises
        ------
        CaptureWriteError
            The capture could not be written (disk full): the night stopped at once, the
            capture is closed and holds everything written before (one line for the user).
        """
        backoff = Backoff(initial_s=self.config.backoff_initial_s,
                          max_s=self.config.backoff_max_s)
        reason = "stopped"
        try:
            while not self._stop.is_set():
                if self._morning():
                    reason = "morning"
                    break
                delay = backoff.next_delay_s()
                if delay > 0 and await self._sleep_unless_stopped(delay):
                    continue
                try:
                    outcome = await self._one_connection()
                except asyncio.CancelledError as exc:
                    if being_cancelled():
                        raise
                    self._fault("connection", exc)
                    continue
                except Exception as exc:
                    if isinstance(exc, CrampInputError) and self._writer is None:
                        raise  # the device is not the band asked for: a user error
                    self._fault("connection", exc)
                    continue
                if outcome in ("stopped", "morning", "battery empty"):
                    reason = outcome
                    break
                if outcome == "streamed":
                    backoff.reset()
        except BaseException:
            self._cancel_tasks()
            if self.last_summary is None:  # close the capture, keep what it holds
                with contextlib.suppress(Exception):
                    self._finish("cancelled" if being_cancelled() else "failed")
            raise
        finally:
            self._cancel_tasks()
        return self._finish(reason)

    async def _one_connection(self) -> str:
        """Connect, serve and disconnect once; return how it ended."""
        client = await self._connect()
        if client is None:
            return "failed"
        try:
            outcome = await self._serve(client)
            if outcome in ("stopped", "morning"):
                await self._bounded(self._finish_band(client), what="stopping the band",
                                    timeout_s=self.config.stop_drain_s
                                    + 2 * self.config.command_timeout_s, quiet=True)
                return outcome
        finally:
            self._cancel_tasks()  # requests of this link (a hung one holds the command lock)
            await self._disconnect(client)
        ended = self._band_end()
        return ended if ended is not None else outcome

    # ----------------------------------------------------------------------- serving
    async def _serve(self, client: BleakClient) -> str:
        """Set up one connection and watch it; return why it ended."""
        try:
            profile = profile_of([s.uuid for s in client.services], client.name)
            if profile != self.profile_name:
                raise CrampInputError(f"device {self.device.address}",
                                      f"serves the {profile or 'unknown'} profile; "
                                      f"{self._profile_expected()}")
            now = self.timebase.now_s()
            if self._writer is None:
                info = await self._bounded(self._device_info(client), what="device information",
                                           timeout_s=self.config.command_timeout_s)
                self._writer = GuardedWriter(
                    CaptureWriter(self.capture_path, session=self._session_meta(info)),
                    on_error=self._write_failed)
            self._writer.event("connected", at_s=now, address=self.device.address,
                               mtu=client.mtu_size, connection=self.connections)
            self._last_data_s = now
            self._link_up()
            await self._bounded(self._start_streams(client), what="GATT set-up",
                                timeout_s=self.config.setup_timeout_s)
            self.setup_pending = False
            self._last_data_s = self.timebase.now_s()
            self._set_state("streaming")
            return await self._watch()
        except LinkLost:
            return "lost"
        except asyncio.CancelledError as exc:
            if being_cancelled():
                raise
            self._fault("link", exc)  # bumble cancels a GATT request whose link dropped
            return "lost"
        except Exception as exc:
            if isinstance(exc, CrampInputError) and self._writer is None:
                raise
            self._fault("link", exc)
            return "lost"
        finally:
            self.setup_pending = False
            now = self.timebase.now_s()
            if self._writer is not None and not self._stop.is_set() and not self._morning():
                self.dropouts += 1
                self._writer.event("disconnected", at_s=now, reason="link lost")
                if self.write_error is None:
                    self.observer.on_note("band disconnected; reconnecting")

    # ------------------------------------------------------------------------ watching
    async def _watch(self) -> str:
        tick_s = min(0.5, self.config.watchdog_s / 4, self.config.status_every_s)
        if self.status_each_link:
            self._last_status_s = -1e18
        while True:
            if self._stop.is_set():
                return "stopped"
            if self._morning():
                return "morning"
            if self._link_lost.is_set():
                return "streamed"
            now = self.timebase.now_s()
            if now - self._last_data_s > self.config.watchdog_s:
                self.observer.on_note(
                    f"no data for {now - self._last_data_s:.0f} s: treating it as a dropout")
                return "streamed"
            try:
                self._on_watch_tick(now)
                if now - self._last_status_s >= self.config.status_every_s:
                    self._last_status_s = now
                    self.observer.on_status(self.snapshot())
            except Exception as exc:
                self._count_fault("watch", exc)
            await self._sleep_unless_stopped(tick_s, also=self._link_lost)

    def _morning(self) -> bool:
        return self.until_s is not None and self.timebase.now_s() >= self.until_s

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    # -------------------------------------------------------------------------- hooks
    @abc.abstractmethod
    async def _start_streams(self, client: BleakClient) -> None:
        """Subscribe and get the band streaming on a new connection."""

    @abc.abstractmethod
    async def _finish_band(self, client: BleakClient) -> None:
        """Morning or user stop with the link up: stop the band's streams."""

    def _profile_expected(self) -> str:
        """End of the message when the device serves another profile."""
        return f"expected {self.profile_name}"

    def _link_up(self) -> None:  # optional hook, nothing by default
        """A connection was made and logged; called before :meth:`_start_streams`."""

    def _on_watch_tick(self, now_s: float) -> None:  # optional hook
        """Periodic work while a connection is watched (every tick, before the status)."""

    def _band_end(self) -> str | None:
        """After a dropout: why the band ended the night by itself, or ``None`` to reconnect."""
        return None
