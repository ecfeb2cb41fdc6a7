"""What the LegBand session asks of the band: control-point commands and the backfill.

:class:`LegBandCommands` is the half of :class:`~detector.ble.session.LegBandSession` that
talks to the band's control point (:mod:`detector.profiles.legband_control`):

- a command written and its indicated answer matched (:meth:`~LegBandCommands._command`), or
  refused with one clear line (:meth:`~LegBandCommands._expect_ok`);
- BACKFILL requests for the packets a stream's :class:`~detector.ble.tracker.StreamTracker`
  misses, aimed a little past the oldest packet the band still holds when the asked one has
  left its buffer (:data:`EDGE_MARGIN_S`), and the samples no longer on the band declared as a
  gap (capture ``gap`` event and a note).

The session (:mod:`detector.ble.session`) starts and stops the runs, decodes the other
notifications and decides when a stream needs backfill.
"""

from __future__ import annotations

import asyncio

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic

from detector.ble.link import BandSessionBase
from detector.ble.link_errors import LinkLost, being_cancelled
from detector.ble.tracker import LostRange, StreamTracker
from detector.errors import CrampInputError
from detector.profiles.legband import LegBandProfile, Status
from detector.profiles.legband_control import (
    BackfillCommand,
    Command,
    ControlResponse,
    decode_response,
    encode_command,
)

__all__ = ["EDGE_MARGIN_S", "LegBandCommands"]

EDGE_MARGIN_S = 0.25
"""When the asked packet has left the band's buffer, the next BACKFILL aims this many seconds
(doubling on each refusal) past the oldest packet still held, which moves on meanwhile."""


class LegBandCommands(BandSessionBase):
    """The LegBand's control point: commands, their answers, backfill requests, declared gaps.

    A base of :class:`~detector.ble.session.LegBandSession`, which sets the attributes below.
    """

    profile: LegBandProfile
    _early: list[tuple[bytes, float]] | None
    """Data packets that arrive while START is awaited (``None`` otherwise): no backfill then."""

    async def _command(self, client: BleakClient, command: Command) -> ControlResponse:
        answer: ControlResponse = await self._exchange(
            client, encode_command(command, profile=self.profile),
            uuid=self.profile.control_uuid, source="legband:command", who="the band")
        return answer

    async def _expect_ok(self, client: BleakClient, command: Command) -> ControlResponse:
        answer = await self._command(client, command)
        if not answer.ok:
            raise CrampInputError("legband control point", f"{type(command).__name__} refused "
                                  f"with status {Status(answer.status).name}")
        return answer

    def _maybe_backfill(self, tracker: StreamTracker) -> None:
        if (tracker.has_hole and not tracker.requesting and tracker.backfill_end is None
                and self._client is not None and not self._link_lost.is_set()
                and self._early is None):
            self._spawn(self._request_backfill(tracker))

    async def _request_backfill(self, tracker: StreamTracker, *, force: bool = False) -> None:
        client = self._client
        if tracker.requesting or client is None or (not force and not tracker.has_hole):
            return
        tracker.requesting = True
        try:
            if tracker.has_hole and not tracker.note_request():
                lost = tracker.give_up()
                if lost is not None:
                    self._report_lost(lost, self.timebase.now_s())
            seq = tracker.backfill_seq()
            for attempt in range(6):
                answer = await self._command(client, BackfillCommand(tracker.stream_id, seq))
                if answer.status == Status.NOT_AVAILABLE and answer.result is not None:
                    # the oldest packet held moves on while we ask: aim a little past it
                    seq = (answer.result.oldest_seq + self._edge_margin(tracker) * 2 ** attempt
                           ) % self.profile.data.seq_modulus
                    continue
                if answer.ok:
                    lost = tracker.on_backfill_result(
                        first_u32=answer.result.first_sample, n_samples=answer.result.n_samples,
                        now_s=self.timebase.now_s())
                    if lost is not None:
                        self._report_lost(lost, self.timebase.now_s())
                break
        except LinkLost:
            return
        except asyncio.CancelledError as exc:
            if being_cancelled():
                raise
            self._count_fault("backfill", exc)
        except Exception as exc:
            self._count_fault("backfill", exc)
        finally:
            tracker.requesting = False

    def _edge_margin(self, tracker: StreamTracker) -> int:
        """Packets the band cuts in ``EDGE_MARGIN_S`` while nobody is connected (MTU 23)."""
        rate = self.config.streams[tracker.spec.name][0]
        per_packet = max(1, self.profile.samples_per_packet(
            tracker.stream_id, att_mtu=self.profile.att_mtu_default))
        return max(1, round(EDGE_MARGIN_S * rate / per_packet))

    def _report_lost(self, lost: LostRange, now_s: float) -> None:
        spec = self.profile.stream(lost.stream_id)
        rate = self.config.streams[spec.name][0]
        if self._writer is not None:
            self._writer.event("gap", at_s=now_s, stream=spec.name, start_sample=lost.start_sample,
                               end_sample=lost.end_sample, samples_missing=lost.samples_missing)
        self.observer.on_note(
            f"{spec.name}: {lost.samples_missing} samples ({lost.samples_missing / rate:.1f} s) "
            "were no longer on the band: recorded as a gap")

    # ------------------------------------------------------------------------ answers
    def _on_control(self, _char: BleakGATTCharacteristic, value: bytearray) -> None:
        payload = bytes(value)
        if self._writer is not None:
            self._writer.packet(source="legband:control", payload=payload,
                                received_s=self.timebase.now_s())
        try:
            answer = decode_response(payload, profile=self.profile)
        except CrampInputError:
            self.corrupt_packets += 1
            return
        self._answer(answer.opcode, answer)
