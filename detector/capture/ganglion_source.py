"""OpenBCI Ganglion notifications -> calf ``emg`` blocks (uV), live and from a capture.

The same :class:`GanglionAssembler` runs in the recorder and in the replay of its capture
(:class:`~detector.capture.other_sources.OtherBandCapture`), fed the same packets in the same
order.

Sample indices come from the packet IDs (:mod:`detector.profiles.ganglion`): a cycle is an
uncompressed anchor (sample 0) and 100 compressed packets (samples 1-200), so within a cycle
the ID gives the exact position. Samples are rebuilt from the anchor by the deltas, so they are
exact only while every packet of the cycle arrived: after a lost packet the rest of the cycle
cannot be rebuilt (its absolute level is unknown) and is left out, and exact samples resume at
the next anchor. The lost packet and the left-out samples form one gap with its exact sample
count. Which cycle an anchor starts is counted when the last packet of the previous cycle
arrived (even if that cycle lost packets or its anchor before it: a position going back
means a new cycle began); after the loss of that last packet it is a whole number of cycles
told by the host clock (:func:`index_after_loss`: the anchor's receive time on the lower
envelope of the arrivals before, so a late earlier packet does not mislead it; exact while
the anchor is late by less than half a cycle, 100.5 samples: 0.5025 s), and the gap is
marked as estimated.

The board stops streaming when the link drops and restarts its IDs at an anchor when the
client sends ``b`` again (OpenBCI's firmware: ``stopRunning`` on disconnect, ``sampleCounter``
reset by ``startRunning``), so across a reconnection the IDs say nothing of the gap. Its
length is then timed: the first ``rejoin_hold_s`` of the new stream are held back,
and the stream is placed so that the least delayed of their arrivals sits on the lower
envelope of the arrivals before the gap (the line :func:`~detector.night.clock.envelope_line`
fits to each clock bin's least delayed packet, so the band's drift is taken into account).
That gap is marked as estimated: it is exact when the least delayed packet after the gap is
as little delayed as those before it, to half a sample (2.5 ms).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from detector.capture.role_track import Blocks, RoleTrack
from detector.errors import CrampInputError
from detector.night.clock import INITIAL_BIN_S, envelope_line
from detector.profiles.ganglion import (
    GANGLION,
    GanglionCalfMapping,
    PacketKind,
    decode_packet,
    emg_channel_spec,
)
from detector.profiles.ganglion_batch import (
    KIND_ANCHOR,
    KIND_DELTA,
    WIDTH,
    GanglionBatch,
    decode_matrix,
)
from detector.text_fields import is_ascii_digits

DATA_SOURCE = "ganglion:data"
COMMAND_SOURCE = "ganglion:command"
GANGLION_GAP_NOTE = ("Ganglion packets carry positions within a one-second cycle only: gaps "
                     "after reconnections are estimated from the host's receive times")
REJOIN_HOLD_S = 1.0
"""Default seconds of a restarted stream held back (the config's ``ganglion_rejoin_hold_s``;
a capture without ``ganglion.rejoin_hold_s`` in its header was recorded with it)."""
REJOIN_FIT_BINS = 30
"""Most recent clock bins (:data:`~detector.night.clock.INITIAL_BIN_S` each) of arrivals the
envelope line before a reconnection gap is fitted to (bounded cost on a long night)."""

_Held = tuple[int, np.ndarray, float | None, tuple[np.ndarray, Sequence[float]] | None]


def index_after_loss(*, cycle_base: int, position: int, predicted_index: float,
                     cycle: int = GANGLION.samples_per_cycle) -> int:
    """Index of the sample at ``position`` of a later cycle of the same stream, after lost
    packets: the packet ID gives the position in its cycle exactly, a time estimate of the
    index (``predicted_index``) the whole number of cycles (at least one) since the anchor at
    ``cycle_base``. Exact whenever the estimate is off by less than half a cycle (100.5
    samples, 0.5025 s at 200 Hz).

    Parameters
    ----------
    cycle_base : int
        Index of the anchor of the last cycle placed.
    position : int
        Position of the sample in its cycle (0 for an anchor), from the packet ID.
    predicted_index : float
        The sample's index by the host clock (a fitted line through the arrivals).
    cycle : int
        Samples per cycle.

    Returns
    -------
    int
    """
    whole = max(1, round((predicted_index - position - cycle_base) / cycle))
    return cycle_base + whole * cycle + position


class GanglionAssembler:
    """Ganglion packets -> ``emg`` blocks (uV), indexed by packet IDs.

    Parameters
    ----------
    channel : int
        Ganglion input (0-3) over the calf (one leg: role ``emg``).
    channel_legs : mapping of int to str, optional
        One Ganglion for both legs: input (0-3) -> ``"left"``/``"right"``, one input per
        leg, given explicitly (never guessed from the data). Each leg's EMG is role
        ``emg@<leg>``; both come from the same packets, so they share their gaps.
    rejoin_hold_s : float
        Seconds of a stream restarted by a reconnection held back to time its gap (the
        config's ``ganglion_rejoin_hold_s``; at most one cycle is used).
    """

    notes = (GANGLION_GAP_NOTE,)
    data_source = DATA_SOURCE
    """Source of the notifications :meth:`decode_rows` decodes."""
    payload_width = WIDTH
    """Bytes of each notification :meth:`decode_rows` reads."""
    decode_rows = staticmethod(decode_matrix)
    """Bulk decoder of data notifications laid out as rows of bytes, for
    :meth:`push_decoded_rows` (a capture's replay)."""

    def __init__(self, *, channel: int = 0, channel_legs: Mapping[int, str] | None = None,
                 rejoin_hold_s: float = REJOIN_HOLD_S) -> None:
        if channel_legs is not None:
            try:
                mapping = GanglionCalfMapping(channel_legs=dict(channel_legs))
            except ValueError as exc:
                raise CrampInputError("ganglion channels", str(exc)) from None
            if set(mapping.channel_legs.values()) != {"left", "right"}:
                raise CrampInputError("ganglion channels", "one Ganglion for both legs needs "
                                      "one channel on the left and one on the right calf")
            self.inputs = {f"emg@{leg}": ch for ch, leg in sorted(mapping.channel_legs.items())}
        elif channel not in range(GANGLION.channels):
            raise CrampInputError("ganglion channel", f"{channel}; expected 0-3")
        else:
            self.inputs = {"emg": channel}
        self.channel = channel if channel_legs is None else min(self.inputs.values())
        self.channel_legs = None if channel_legs is None else dict(channel_legs)
        self.channels = {role: emg_channel_spec(channel=ch) for role, ch in self.inputs.items()}
        self.tracks = {role: RoleTrack(spec, role=role) for role, spec in self.channels.items()}
        self.track = next(iter(self.tracks.values()))
        self._first_rx_s: float | None = None
        self.lost_packets = 0
        self.unanchored_samples = 0
        self.estimated_gaps = 0
        self._cycle_base: int | None = None
        self._anchor_rx_s = 0.0
        self._prev: np.ndarray | None = None
        self._next_position = 0
        self._last_position = 0
        self._anchors_missed = 0
        self._complete = False
        self._fresh = False
        self._breaks_of: GanglionBatch | None = None
        self._breaks = np.zeros(0, dtype=np.int64)
        self._held: list[_Held] | None = None
        self.rejoin_hold_s = float(rejoin_hold_s)
        self._hold = min(GANGLION.samples_per_cycle - 1,
                         max(1, round(self.rejoin_hold_s * GANGLION.fs_hz)))
        self._rejoin_after = (0, 0.0)  # (index, host s) of the last anchor before a rejoin

    @property
    def start_unix_s(self) -> float | None:
        """Host time of the first sample: the lower envelope of the arrivals of the packets
        before the first block (:meth:`RoleTrack.envelope_start_s`; the first anchor may
        arrive late, behind the packets of a connection event), before that block the first
        anchor's arrival; ``None`` before any anchor."""
        start = self.track.envelope_start_s()
        return self._first_rx_s if start is None else start

    def new_connection(self) -> None:
        """A (re)connection: the next anchor's cycle is placed by the host clock."""
        self._fresh = True
        self._prev = None

    def push_notification(self, source: str, payload: bytes, *, received_s: float) -> Blocks:
        """Decode one notification; return the blocks it completes.

        Raises
        ------
        CrampInputError
            An undecodable packet (the caller counts it and goes on).
        """
        if source != DATA_SOURCE:
            return []
        packet = decode_packet(payload)
        if packet.n_samples == 0:
            return []
        if packet.kind is PacketKind.UNCOMPRESSED:
            assert packet.counts is not None
            return self._anchor(packet.counts[0], received_s)
        assert packet.deltas is not None
        return self._deltas(packet.cycle_position, packet.deltas, received_s)

    def push_decoded(self, batch: GanglionBatch, row: int, *, received_s: float) -> Blocks:
        """Row ``row`` of a bulk-decoded batch of data notifications, as
        :meth:`push_notification` would take that notification (a capture's replay).

        Raises
        ------
        CrampInputError
            The row did not decode (the caller counts it and goes on).
        """
        if not batch.ok[row]:
            raise CrampInputError("ganglion.packet", "undecodable notification")
        kind = batch.kind[row]
        if kind == KIND_ANCHOR:
            return self._anchor(batch.counts[row], received_s)
        if kind == KIND_DELTA:
            return self._deltas(int(batch.cycle_position[row]), batch.deltas[row], received_s)
        return []

    def push_decoded_rows(self, batch: GanglionBatch, lo: int, hi: int,
                          received_s: list[float]) -> tuple[Blocks, int]:
        """Rows ``lo .. hi-1`` of a batch, one after the other with nothing between them, as
        :meth:`push_decoded` row by row: a run of compressed packets that continue their
        cycle in order is rebuilt with one cumulative sum and placed at once (one calf; for
        both legs row by row, so that the two legs' blocks alternate as they do live).

        Parameters
        ----------
        batch : GanglionBatch
        lo, hi : int
            Rows to take.
        received_s : list of float
            Host receive time (s) of each row of the batch.

        Returns
        -------
        blocks : Blocks
            The blocks completed.
        bad : int
            Rows that did not decode (skipped, as the caller of :meth:`push_decoded` would).
        """
        breaks = self._run_breaks(batch)
        one_by_one = len(self.tracks) > 1  # both legs: blocks of each leg in the live order
        blocks: Blocks = []
        bad = 0
        r = lo
        while r < hi:
            if not batch.ok[r]:
                bad += 1
                r += 1
                continue
            if (batch.kind[r] != KIND_DELTA or self._prev is None or one_by_one
                    or int(batch.cycle_position[r]) != self._next_position):
                blocks += self.push_decoded(batch, r, received_s=received_s[r])
                r += 1
                continue
            i = int(np.searchsorted(breaks, r, side="right"))  # the run is r .. end-1
            end = min(hi, int(breaks[i]) if i < breaks.shape[0] else len(batch))
            counts = self._prev - np.cumsum(batch.deltas[r:end].reshape(-1, GANGLION.channels),
                                            axis=0)
            last = int(batch.cycle_position[end - 1])
            self._last_position = last
            self._complete = last == GANGLION.samples_per_cycle - 2
            self._prev = counts[-1]
            self._next_position += 2 * (end - r)
            assert self._cycle_base is not None
            first = self._cycle_base + int(batch.cycle_position[r])
            lasts = first + 1 + 2 * np.arange(end - r, dtype=np.int64)
            blocks += self._place(first, counts, packets=(lasts, received_s[r:end]))
            r = end
        return blocks, bad

    def _run_breaks(self, batch: GanglionBatch) -> np.ndarray:
        """Rows of ``batch`` that do not continue the previous row's cycle in order (both
        compressed, the position 2 on), ascending; kept for the batch last asked about."""
        if self._breaks_of is not batch:
            pos = batch.cycle_position
            delta = batch.ok & (batch.kind == KIND_DELTA)
            follows = np.zeros(len(batch), dtype=bool)
            follows[1:] = delta[1:] & delta[:-1] & (pos[1:] == pos[:-1] + 2)
            self._breaks = np.flatnonzero(~follows)
            self._breaks_of = batch
        return self._breaks

    def _deltas(self, position: int, deltas: np.ndarray, received_s: float) -> Blocks:
        """A compressed packet at ``position`` of the cycle with deltas (2, 4), received at
        ``received_s`` (host s)."""
        if position <= self._last_position:
            self._anchors_missed += 1  # a new cycle began without its anchor
        self._last_position = position
        self._complete = position == GANGLION.samples_per_cycle - 2
        if self._prev is None or position != self._next_position:
            if self._prev is not None:
                self.lost_packets += max(1, (position - self._next_position) // 2)
            self._prev = None
            self.unanchored_samples += 2
            return []
        first = self._prev - deltas[0]
        second = first - deltas[1]
        self._prev = second
        self._next_position += 2
        assert self._cycle_base is not None
        counts = np.stack([first, second])
        return self._place(self._cycle_base + position, counts, received_s=received_s)

    def _anchor(self, counts: np.ndarray, received_s: float) -> Blocks:
        cycle = GANGLION.samples_per_cycle
        blocks = self._rejoin() if self._held is not None else []
        if self._cycle_base is None:
            self._first_rx_s = received_s
            base = 0
        elif self._complete and not self._fresh:
            base = self._cycle_base + cycle * (1 + self._anchors_missed)
        elif not self._fresh:  # same stream: whole cycles by the clock, the rest by the ID
            line = self._envelope_before()
            if line is None:  # no arrival yet: the previous anchor's receive time
                predicted = self._cycle_base + (received_s - self._anchor_rx_s) * GANGLION.fs_hz
            else:
                predicted = (received_s - line[0]) * GANGLION.fs_hz / line[1]
            base = index_after_loss(cycle_base=self._cycle_base, position=0,
                                    predicted_index=predicted)
            self.estimated_gaps += base > self.track.frontier
        else:  # a restarted stream: held back, placed by its arrivals (:meth:`_rejoin`)
            self._rejoin_after = (self._cycle_base, self._anchor_rx_s)
            base = 0
            self._held = []
        self._cycle_base = base
        self._anchor_rx_s = received_s
        self._prev = counts.astype(np.int64)
        self._next_position = 1
        self._last_position = 0
        self._anchors_missed = 0
        self._complete = False
        self._fresh = False
        return blocks + self._place(base, counts.reshape(1, -1), received_s=received_s)

    def _place(self, first: int, counts: np.ndarray, *, received_s: float | None = None,
               packets: tuple[np.ndarray, Sequence[float]] | None = None) -> Blocks:
        """Samples ``counts`` at ``first`` on every input's track: one packet received at
        ``received_s``, or a run of ``packets`` (noted in the tracks' arrivals). While a
        restarted stream is held back (indices from its anchor), kept until it is placed."""
        if self._held is not None:
            self._held.append((first, counts, received_s, packets))
            return self._rejoin() if first + counts.shape[0] > self._hold else []
        blocks: Blocks = []
        for role, ch in self.inputs.items():
            uv = counts[:, ch].astype(np.float64) * GANGLION.uv_per_count
            blocks += self.tracks[role].place(first, uv, received_s=received_s,
                                              packets=packets)
        return blocks

    def _rejoin(self) -> Blocks:
        """Place the held-back restarted stream after the gap its arrivals time; return the
        blocks that completes.

        Of the held packets, those whose last sample is among the first
        ``rejoin_hold_s`` (the same packets live and in replay, however the replay
        groups them) time the stream: sample ``j`` of it is at index ``base + j`` with host
        time ``a + b (base + j) / fs`` on the envelope line before the gap; a packet is never
        received before its last sample was taken, so the least delayed one gives ``base``.
        Without a line (no arrival yet) the anchor's receive time after the previous anchor's
        does. The gap is counted as estimated.
        """
        held, self._held = self._held or [], None
        assert self._cycle_base is not None
        lasts_l, times_l = [], []
        for first, counts, received_s, packets in held:
            if packets is not None:
                lasts_l.append(np.asarray(packets[0], dtype=np.int64))
                times_l.append(np.asarray(packets[1], dtype=np.float64))
            elif received_s is not None:
                lasts_l.append(np.asarray([first + counts.shape[0] - 1], dtype=np.int64))
                times_l.append(np.asarray([received_s], dtype=np.float64))
        lasts = np.concatenate(lasts_l) if lasts_l else np.zeros(0, dtype=np.int64)
        times = np.concatenate(times_l) if times_l else np.zeros(0)
        timing = lasts < self._hold
        frontier = self.track.frontier
        line = self._envelope_before()
        fs = GANGLION.fs_hz
        if line is not None and timing.any():
            a, b = line
            base = round(float(np.min((times[timing] - a) * fs / b - lasts[timing])))
        else:  # the restarted anchor's arrival after the last one's
            before, before_rx = self._rejoin_after
            base = before + round((self._anchor_rx_s - before_rx) * fs)
        base = max(frontier, base)
        self.estimated_gaps += base > frontier
        self._cycle_base += base
        blocks: Blocks = []
        for first, counts, received_s, packets in held:
            shifted = None if packets is None else (np.asarray(packets[0]) + base, packets[1])
            blocks += self._place(first + base, counts, received_s=received_s, packets=shifted)
        return blocks

    def _envelope_before(self) -> tuple[float, float] | None:
        """``(a, b)``: host s = ``a + b * index / fs`` on the lower envelope of the track's
        arrivals (each clock bin's least delayed packet, the last
        :data:`REJOIN_FIT_BINS` bins), or ``None`` without arrivals."""
        arrivals = self.track.arrivals
        if not arrivals:
            return None
        fs = GANGLION.fs_hz
        least: dict[int, tuple[float, float]] = {}
        for last, t in reversed(arrivals):
            device_s = last / fs
            key = int(np.floor(device_s / INITIAL_BIN_S))
            if key not in least:
                if len(least) == REJOIN_FIT_BINS:
                    break
                least[key] = (device_s, t)
            elif t - device_s < least[key][1] - least[key][0]:
                least[key] = (device_s, t)
        xy = np.asarray(sorted(least.values()), dtype=np.float64)
        return envelope_line(xy[:, 0], xy[:, 1], width_s=INITIAL_BIN_S)

    def flush(self) -> Blocks:
        """Release what is held."""
        blocks = self._rejoin() if self._held is not None else []
        return blocks + [b for t in self.tracks.values() for b in t.flush()]


def ganglion_assembler(session: dict[str, object], *, where: str) -> GanglionAssembler:
    """The assembler a Ganglion capture's session metadata describes (``ganglion.channel``,
    or ``ganglion.channel_legs`` for one Ganglion on both legs; ``ganglion.rejoin_hold_s``,
    default :data:`REJOIN_HOLD_S`).

    Raises
    ------
    CrampInputError
        A channel outside 0-3, or a hold that is not a positive number.
    """
    meta = session.get("ganglion")
    channel = meta.get("channel", 0) if isinstance(meta, dict) else 0
    if not isinstance(channel, int) or isinstance(channel, bool):
        raise CrampInputError(where, "session 'ganglion.channel' must be an integer 0-3")
    hold = meta.get("rejoin_hold_s", REJOIN_HOLD_S) if isinstance(meta, dict) else REJOIN_HOLD_S
    if not isinstance(hold, int | float) or isinstance(hold, bool) or not 0 < hold < 1e3:
        raise CrampInputError(where, "session 'ganglion.rejoin_hold_s' must be a positive "
                              "number of seconds")
    legs = meta.get("channel_legs") if isinstance(meta, dict) else None
    if legs is None:
        return GanglionAssembler(channel=channel, rejoin_hold_s=float(hold))
    if not isinstance(legs, dict) or not all(isinstance(k, str) and is_ascii_digits(k)
                                             and isinstance(v, str) for k, v in legs.items()):
        raise CrampInputError(where, "session 'ganglion.channel_legs' must map channels "
                              "(\"0\"-\"3\") to left/right")
    try:
        return GanglionAssembler(channel_legs={int(k): v for k, v in legs.items()},
                                 rejoin_hold_s=float(hold))
    except CrampInputError as exc:
        raise CrampInputError(where, str(exc)) from None
