"""From LegBand data notifications to ordered pipeline blocks, with exact gap accounting.

Packets arrive out of order after a reconnect (live packets first, then the backfilled ones),
and backfill resends samples already received. :class:`StreamAssembler` keeps, per stream,
the samples it has not released yet as non-overlapping segments; it releases only what is
contiguous with the last released sample, so blocks go to the pipeline in ascending
``start_sample``. A hole stays open while the band could still backfill it (its end is less
than ``hold_s`` of samples behind the newest sample seen); after that, the data beyond it is
released with a jump in ``start_sample`` and the hole becomes a :class:`~detector.signals.Gap`.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from detector.capture.assembler_batch import push_batch
from detector.errors import CrampInputError
from detector.profiles.legband import LEGBAND, LegBandProfile, StreamSpec
from detector.profiles.legband_batch import Bytes, DataBatch, decode_payloads
from detector.profiles.legband_codec import (
    DataPacket,
    decode_data_packet,
    packet_rate_hz,
    packet_values,
)
from detector.signals import ChannelSpec, Gap, SignalBlock

DEFAULT_STREAMS: dict[str, str] = {"emg": "emg_raw", "shank_acc": "shank_acc",
                                   "foot_acc": "foot_acc"}
"""LegBand stream that feeds each pipeline role unless a channel names another."""
DEFAULT_HOLD_S = 130.0
"""How long (s of samples behind the newest) a hole waits for backfill; the band buffers
at least 120 s (128 s as shipped)."""


@dataclass(kw_only=True)
class StreamStats:
    """Counts for one role, in samples unless named otherwise.

    Attributes
    ----------
    packets : int
        Data packets of the stream pushed.
    backfill_packets : int
        Of which flagged as backfill.
    received : int
        Samples in those packets (duplicates included).
    duplicates : int
        Samples received more than once (dropped).
    backfilled : int
        Samples first delivered by a backfill packet.
    late : int
        Samples that arrived after their place was declared a gap or was before the
        session start (dropped).
    lost : int
        Samples missing in gaps.
    released : int
        Samples handed to the pipeline.
    """

    packets: int = 0
    backfill_packets: int = 0
    received: int = 0
    duplicates: int = 0
    backfilled: int = 0
    late: int = 0
    lost: int = 0
    released: int = 0


class _Stream:
    """Unreleased segments and counters of one stream."""

    def __init__(self, spec: StreamSpec, channel: ChannelSpec, origin: int | None,
                 hold_samples: int) -> None:
        self.spec = spec
        self.channel = channel
        self.origin = origin
        self.hold = hold_samples
        self.rate_hz: int | None = None
        self.last_raw: int | None = None
        self.last_full = 0
        self.released = 0
        self.newest = 0
        self.starts: list[int] = []
        self.segments: list[tuple[int, np.ndarray]] = []
        self.gaps: list[Gap] = []
        self.gap_bounds: list[tuple[int, int]] = []
        self.stats = StreamStats()

    def unwrap(self, raw: int, modulus: int) -> int:
        if self.last_raw is None:
            full = raw
        else:
            half = modulus // 2
            full = self.last_full + (raw - self.last_raw + half) % modulus - half
        self.last_raw, self.last_full = raw, full
        return full


class StreamAssembler:
    """Decode LegBand data notifications into pipeline blocks, live or offline.

    Parameters
    ----------
    profile : LegBandProfile
        The band's profile (layouts, streams, scales).
    channels : mapping of role to ChannelSpec
        Pipeline channels to produce (``"emg"``, ``"shank_acc"``, ``"foot_acc"``). Each is
        fed by the profile stream named in its ``source_labels`` (e.g. ``("emg_raw",)``) or,
        when it names none, the raw EMG stream for ``"emg"`` and the stream of the same role
        for accelerometers. Blocks carry the channel's ``fs``. Packets of other streams are
        counted in :attr:`ignored_packets` and dropped.
    hold_s : float
        Seconds of samples behind the newest one during which a hole may still be filled by
        backfill.
    counter_origin : int or mapping of role to int, optional
        Counter value of sample index 0 (one for every stream, or per role). By default the
        first packet of each stream sets it.
    """

    def __init__(self, *, profile: LegBandProfile = LEGBAND,
                 channels: Mapping[str, ChannelSpec], hold_s: float = DEFAULT_HOLD_S,
                 counter_origin: int | Mapping[str, int] | None = None) -> None:
        if not hold_s >= 0:
            raise ValueError("hold_s must be >= 0")
        self.profile = profile
        self.channels = dict(channels)
        self._by_id: dict[int, tuple[str, _Stream]] = {}
        for role, channel in self.channels.items():
            spec = stream_for(channel, profile=profile)
            if isinstance(counter_origin, Mapping):
                origin = counter_origin.get(role)
            else:
                origin = counter_origin
            hold = int(np.ceil(hold_s * channel.fs))
            self._by_id[spec.stream_id] = (role, _Stream(spec, channel, origin, hold))
        self.ignored_packets = 0
        self.rejected_packets = 0
        """Packets refused (not a LegBand data packet, or a stream changing rate): each one
        raised from :meth:`push` or was skipped by :meth:`push_many`."""

    # ------------------------------------------------------------------------------- public
    def push(self, payload: bytes, *, received_s: float) -> list[tuple[str, SignalBlock]]:
        """Take one data notification; return the blocks it makes releasable.

        Parameters
        ----------
        payload : bytes
            The notification value.
        received_s : float
            Host receive time (s); kept for the caller's bookkeeping, not used for timing.

        Returns
        -------
        list of (role, SignalBlock)
            In ascending ``start_sample`` per role.

        Raises
        ------
        CrampInputError
            If the bytes are not a LegBand data packet, or a stream changes rate in a run.
        """
        try:
            packet = decode_data_packet(payload, profile=self.profile)
        except CrampInputError:
            self.rejected_packets += 1
            raise
        return self.push_packet(packet)

    def push_packet(self, packet: DataPacket) -> list[tuple[str, SignalBlock]]:
        """Take one data packet already decoded (the recorder decodes each packet once).

        Same as :meth:`push`, for a :class:`~detector.profiles.legband_codec.DataPacket`.
        """
        entry = self._by_id.get(packet.stream_id)
        if entry is None:
            self.ignored_packets += 1
            return []
        role, st = entry
        rate = packet_rate_hz(packet, profile=self.profile)
        if st.rate_hz is None:
            st.rate_hz = rate
        elif rate != st.rate_hz:
            self.rejected_packets += 1
            raise CrampInputError("legband data packet", f"stream {st.spec.name} changed rate "
                                  f"from {st.rate_hz} to {rate} Hz within a run")
        full = st.unwrap(packet.first_sample, self.profile.data.counter_modulus)
        if st.origin is None:
            st.origin = full
        values = packet_values(packet, profile=self.profile)
        return self._take(role, st, full - st.origin, values, packet.backfill)

    def push_many(self, payloads: Sequence[Bytes], *,
                  received_s: Sequence[float] | np.ndarray) -> list[tuple[str, SignalBlock]]:
        """Take many data notifications at once, decoded in bulk.

        The result is what pushing them one at a time with :meth:`push` gives (same samples,
        gaps, stats and counters), except that a refused packet is skipped and counted in
        :attr:`rejected_packets` instead of raising, and each role's consecutive contiguous
        blocks come joined into one.

        Parameters
        ----------
        payloads : sequence of bytes-like, length n
            The notification values, in the order received.
        received_s : sequence of float, length n
            Host receive times (s); kept for the caller's bookkeeping, not used for timing.

        Returns
        -------
        list of (role, SignalBlock)
            Per role in ascending ``start_sample``, a new block only after a gap; roles in
            channel order.
        """
        if len(received_s) != len(payloads):
            raise ValueError(f"{len(payloads)} payloads but {len(received_s)} receive times")
        return self.push_batch(decode_payloads(payloads, profile=self.profile))

    def push_batch(self, batch: DataBatch, rows: np.ndarray | None = None
                   ) -> list[tuple[str, SignalBlock]]:
        """Take the packets of a bulk-decoded batch (all, or ``rows`` in that order).

        Same as :meth:`push_many` for a
        :class:`~detector.profiles.legband_batch.DataBatch` (e.g. decoded straight from a
        mapped capture file).
        """
        return push_batch(self, batch, rows)

    def flush(self) -> list[tuple[str, SignalBlock]]:
        """End of stream: release everything held, holes becoming gaps."""
        out: list[tuple[str, SignalBlock]] = []
        for role, st in self._by_id.values():
            out += self._release(role, st, final=True)
        return out

    @property
    def gaps(self) -> list[Gap]:
        """Gaps declared so far (exact start, end and samples missing), by start time."""
        all_gaps = [g for _, st in self._by_id.values() for g in st.gaps]
        return sorted(all_gaps, key=lambda g: (g.start_s, g.role))

    @property
    def stats(self) -> dict[str, StreamStats]:
        """Counts per role (copies)."""
        return {role: replace(st.stats) for role, st in self._by_id.values()}

    @property
    def origins(self) -> dict[str, int | None]:
        """Counter value of sample index 0 per role (None until a packet came)."""
        return {role: st.origin for role, st in self._by_id.values()}

    def next_sample(self, role: str) -> int:
        """Index of the next sample of ``role`` to be released."""
        for r, st in self._by_id.values():
            if r == role:
                return st.released
        raise KeyError(role)

    # ---------------------------------------------------------------------------- internals
    def _take(self, role: str, st: _Stream, start: int, values: np.ndarray,
              backfill: bool) -> list[tuple[str, SignalBlock]]:
        """Insert one packet's values at sample ``start`` and release what it frees."""
        n = values.shape[0]
        c = st.stats
        c.packets += 1
        c.received += n
        c.backfill_packets += int(backfill)
        fresh = self._insert(st, start, values)
        if backfill:
            c.backfilled += fresh
        st.newest = max(st.newest, start + n)
        return self._release(role, st, final=False)

    def _insert(self, st: _Stream, start: int, values: np.ndarray) -> int:
        """Store the parts of ``values`` not held or released yet; return how many."""
        end = start + values.shape[0]
        lo = max(start, st.released)
        if lo > start:  # part before the release point: duplicates, or too late
            behind = min(end, st.released) - start
            late = self._late_overlap(st, start, min(end, st.released))
            st.stats.late += late
            st.stats.duplicates += behind - late
        if lo >= end:
            return 0
        # cut [lo, end) around the held segments
        k = bisect.bisect_right(st.starts, lo) - 1
        pieces: list[tuple[int, int]] = []
        cur = lo
        if k >= 0:
            s0, v0 = st.segments[k]
            cur = max(cur, s0 + v0.shape[0])
        k += 1
        while cur < end:
            nxt = st.starts[k] if k < len(st.starts) else end
            if nxt > cur:
                pieces.append((cur, min(nxt, end)))
            if k >= len(st.starts) or nxt >= end:
                break
            cur = max(cur, nxt + st.segments[k][1].shape[0])
            k += 1
        fresh = 0
        for a, b in pieces:
            i = bisect.bisect_left(st.starts, a)
            st.starts.insert(i, a)
            st.segments.insert(i, (a, values[a - start:b - start]))
            fresh += b - a
        st.stats.duplicates += (end - lo) - fresh
        return fresh

    @staticmethod
    def _late_overlap(st: _Stream, a: int, b: int) -> int:
        """Samples of ``[a, b)`` inside declared gaps or before index 0."""
        n = max(0, min(b, 0) - a)
        for g0, g1 in st.gap_bounds[::-1]:
            if g1 <= a:
                break
            n += max(0, min(b, g1) - max(a, g0))
        return n

    def _release(self, role: str, st: _Stream, *, final: bool) -> list[tuple[str, SignalBlock]]:
        parts: list[np.ndarray] = []
        out: list[tuple[str, SignalBlock]] = []
        block_start = st.released
        taken = 0
        for s0, values in st.segments:
            if s0 > st.released:
                # a hole: give it up only when nothing in it can still come
                if not final and s0 > st.newest - st.hold:
                    break
                if parts:
                    out.append((role, self._block(st, block_start, parts)))
                    parts = []
                fs = st.channel.fs
                st.gaps.append(Gap(role=role, start_s=st.released / fs, end_s=s0 / fs,
                                   samples_missing=s0 - st.released))
                st.gap_bounds.append((st.released, s0))
                st.stats.lost += s0 - st.released
                st.released = s0
                block_start = s0
            parts.append(values)
            st.released += values.shape[0]
            taken += 1
        if taken:
            del st.starts[:taken]
            del st.segments[:taken]
        if parts:
            out.append((role, self._block(st, block_start, parts)))
        return out

    @staticmethod
    def _block(st: _Stream, start: int, parts: list[np.ndarray]) -> SignalBlock:
        data = parts[0] if len(parts) == 1 else np.concatenate(parts)
        st.stats.released += data.shape[0]
        return SignalBlock(data=data, fs=st.channel.fs, start_sample=start)


def stream_for(channel: ChannelSpec, *, profile: LegBandProfile = LEGBAND) -> StreamSpec:
    """The profile stream that feeds a pipeline channel (see :class:`StreamAssembler`)."""
    for label in channel.source_labels:
        try:
            spec = profile.stream_named(label)
        except KeyError:
            continue
        if spec.role != channel.role:
            raise ValueError(f"stream {label} feeds {spec.role}, not {channel.role}")
        return spec
    try:
        return profile.stream_named(DEFAULT_STREAMS[channel.role])
    except KeyError:
        raise ValueError(f"profile has no stream for {channel.role}") from None


def legband_channels(*, rates_hz: Mapping[str, float], full_scales: Mapping[str, float],
                     profile: LegBandProfile = LEGBAND,
                     streams: Mapping[str, str] | None = None) -> dict[str, ChannelSpec]:
    """Pipeline channels for a LegBand run.

    Parameters
    ----------
    rates_hz : mapping of role to float
        Sampling rate of each role's stream (Hz): the configured rate live, the fitted one
        offline.
    full_scales : mapping of role to float
        Full scale of each role's stream (uV or g); sets the channel's rails.
    profile : LegBandProfile
        The band's profile.
    streams : mapping of role to str, optional
        Stream name per role (default ``emg_raw``, ``shank_acc``, ``foot_acc``).

    Returns
    -------
    dict of role to ChannelSpec
        One per role in ``rates_hz``, ``source_labels`` = (stream name,).
    """
    out: dict[str, ChannelSpec] = {}
    for role, fs in rates_hz.items():
        name = (streams or {}).get(role, DEFAULT_STREAMS[role])
        spec = profile.stream_named(name)
        fsc = float(full_scales[role])
        out[role] = ChannelSpec(role=spec.role, fs=float(fs), unit=spec.unit,
                                source_labels=(spec.name,),
                                rails=(-fsc, fsc * 32767.0 / 32768.0))
    return out
