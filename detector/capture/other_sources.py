"""Samples from Polar PMD and Myo notifications, live and from a capture, with sample indices.

The same assemblers run in the recorder (:mod:`detector.ble.other_bands`) and in the replay of
its capture (:class:`OtherBandCapture`), fed the same packets and connection events in the same
order, so a replayed night gives the pipeline exactly what the live run gave it.

- Polar: frames carry the time of their last sample (device clock), so sample indices come from
  the timestamps and ``fs``: within a connection frames are counted on (the timestamps only
  confirm nothing was missed); the first frame after a (re)connection is placed by its
  timestamp, which gives the exact gap.
- Myo: notifications carry no counter or time. Samples are counted in arrival order; after a
  reconnection the gap cannot be known exactly and is *estimated* from the host receive times
  (elapsed time x rate, less the packet's own samples). The recording notes say so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from detector.bands import registry as band_registry
from detector.capture.bulk_windows import record_windows, table_records, table_windows
from detector.capture.format import EventRecord, PacketRecord
from detector.capture.polar_rows import push_rows
from detector.capture.reader import Capture
from detector.capture.recording import _Pending
from detector.errors import CrampInputError
from detector.profiles.myo import (
    MYO,
    MYO_ON_CALF,
    MyoCalfMapping,
    decode_emg,
    decode_imu,
    emg_channel_spec,
    emg_uv,
    shank_acc_g,
    shank_channel_spec,
)
from detector.profiles.polar_batch import WIDTH, PolarBatch, decode_matrix
from detector.profiles.polar_pmd import (
    ControlOpcode,
    ControlPointResponse,
    parse_control_point_message,
    start_response_factor,
)
from detector.profiles.polar_pmd_frames import (
    POLAR_ON_FOOT,
    PolarFootMapping,
    decode_acc_frame,
    foot_acc_g,
    foot_channel_spec,
    pmd_ns_to_unix_s,
)
from detector.signals import ChannelSpec, Gap, RecordingInfo, SignalBlock

POLAR_PROFILE = band_registry.POLAR_PMD.name
MYO_PROFILE = band_registry.MYO.name
POLAR_CONTROL_SOURCE = "polar:control"
POLAR_ACC_SOURCE = "polar:acc"
MYO_EMG_SOURCES = tuple(f"myo:emg{k}" for k in range(4))
MYO_IMU_SOURCE = "myo:imu"
BLOCK_S = 0.5
"""Seconds of samples gathered before a block goes to the pipeline (gaps end a block early)."""
REPLAY_WINDOW = 8192
"""Records decoded together by an assembler that decodes in bulk (memory stays bounded)."""
MYO_GAP_NOTE = ("the Myo sends no sample counters: gaps after reconnections are estimated from "
                "the host's receive times")

Blocks = list[tuple[str, SignalBlock]]


class RoleTrack:
    """Places the samples of one pipeline role on its index line; counts and gaps.

    Parameters
    ----------
    spec : ChannelSpec
        The channel (its ``fs``).
    block_s : float
        Seconds per released block.
    role : str, optional
        Role name its blocks and gaps carry (default ``spec.role``; a band feeding both legs
        names them per leg, e.g. ``"emg@left"``).
    """

    def __init__(self, spec: ChannelSpec, *, block_s: float = BLOCK_S,
                 role: str | None = None) -> None:
        self.spec = spec
        self.role = role or spec.role
        self.frontier = 0
        self.received = 0
        self.lost = 0
        self.duplicates = 0
        self.gaps: list[Gap] = []
        self.arrivals: list[tuple[int, float]] = []  # (last new sample, host receive s)
        self.first_block_end: int | None = None
        """End (exclusive index) of the first block released: the packets before it have all
        been placed when it is released, live and in replay."""
        self._pending = _Pending(self.role, max(1, round(block_s * spec.fs)))
        self._envelope_start: float | None = None

    def place(self, first: int, data: np.ndarray, *, received_s: float | None = None,
              packets: Sequence[tuple[int, float]] = ()) -> Blocks:
        """Put ``data`` (n samples) at ``first`` (arrived at ``received_s``, host s, noted in
        ``arrivals``); return blocks that are complete.

        ``packets`` are the ``(last sample index, host receive s)`` of the packets a run
        placed at once is made of (a replay's bulk path): each is noted in ``arrivals`` as
        placing that packet alone notes it (when it brings a new sample).
        """
        frontier = self.frontier
        blocks = self._place(first, data, received_s=received_s)
        self.arrivals.extend((last, float(t)) for last, t in packets if last >= frontier)
        return self._released(blocks)

    def _released(self, blocks: Blocks) -> Blocks:
        if blocks and self.first_block_end is None:
            self.first_block_end = blocks[0][1].end_sample
        return blocks

    def envelope_start_s(self) -> float | None:
        """Host time of sample 0 by the lower envelope of the arrivals: the least
        ``received - last / fs`` over the packets before the first released block (a packet
        arrives after its last sample was taken; the least delayed bounds the start
        tightest), or ``None`` before a block is released. The same packets live and in
        replay, so the same start whenever it is read after the first block."""
        if self.first_block_end is None:
            return None
        if self._envelope_start is None:
            early = [t - last / self.spec.fs for last, t in self.arrivals
                     if last < self.first_block_end]
            if not early:
                return None
            self._envelope_start = min(early)
        return self._envelope_start

    def _place(self, first: int, data: np.ndarray, *, received_s: float | None) -> Blocks:
        n = data.shape[0]
        if first < self.frontier:
            cut = min(n, self.frontier - first)
            self.duplicates += cut
            data, first = data[cut:], first + cut
        if data.shape[0] == 0:
            return []
        if first > self.frontier:
            missing = first - self.frontier
            self.lost += missing
            self.gaps.append(Gap(role=self.role, start_s=self.frontier / self.spec.fs,
                                 end_s=first / self.spec.fs, samples_missing=missing))
        self.received += data.shape[0]
        self.frontier = first + data.shape[0]
        if received_s is not None:
            self.arrivals.append((self.frontier - 1, float(received_s)))
        return list(self._pending.add(SignalBlock(data=data, fs=self.spec.fs,
                                                  start_sample=first)))

    def flush(self) -> Blocks:
        """Release what is held."""
        return self._released(list(self._pending.drain()))


class PolarAccAssembler:
    """Polar ACC frames -> ``foot_acc`` (or ``shank_acc``) blocks (g), indexed by timestamps.

    Parameters
    ----------
    fs : float
        Rate the stream was started with (Hz).
    range_g : float
        Full-scale range (+-g).
    mapping : PolarFootMapping
        Device axes -> pipeline axes.
    role : {"foot_acc", "shank_acc"}
        Where the sensor is strapped.
    """

    def __init__(self, *, fs: float, range_g: float,
                 mapping: PolarFootMapping = POLAR_ON_FOOT, role: str = "foot_acc") -> None:
        if role not in ("foot_acc", "shank_acc"):
            raise CrampInputError("polar role", f"{role!r}; expected foot_acc or shank_acc")
        self.fs = float(fs)
        self.mapping = mapping
        self.factor = 1.0
        spec = foot_channel_spec(fs=fs, range_g=range_g, mapping=mapping)
        self.channels = {role: dataclasses.replace(spec, role=role)}  # type: ignore[arg-type]
        self.track = RoleTrack(self.channels[role])
        self.tracks = {role: self.track}
        self.start_unix_s: float | None = None
        self._t_ref_ns: int | None = None
        self._prev_ns: int | None = None

    data_source = POLAR_ACC_SOURCE  # the notifications decode_rows decodes, and their width
    payload_width = WIDTH
    replay_window = 1024  # records per bulk window: 244-byte frames, peak memory stays low

    def new_connection(self) -> None:
        """A (re)connection: the next frame is placed by its timestamp alone."""
        self._prev_ns = None

    def on_control(self, payload: bytes) -> None:
        """Take the FACTOR of a successful START response (compressed frames need it)."""
        msg = parse_control_point_message(payload)
        if isinstance(msg, ControlPointResponse) and msg.ok and msg.opcode == ControlOpcode.START:
            self.factor = start_response_factor(msg)

    def push(self, payload: bytes, *, received_s: float | None = None) -> Blocks:
        """Decode one data notification (host receive time ``received_s``, s); return the
        blocks it completes.

        Raises
        ------
        CrampInputError
            An undecodable frame (the caller counts it and goes on).
        """
        prev = self._prev_ns
        header_ts = int.from_bytes(payload[1:9], "little") if len(payload) >= 9 else 0
        if prev is not None and header_ts <= prev:
            prev = None
        frame = decode_acc_frame(payload, fs=self.fs, factor=self.factor,
                                 previous_timestamp_ns=prev)
        return self._place_frame(frame.timestamp_ns, int(frame.sample_times_ns[0]),
                                 foot_acc_g(frame, mapping=self.mapping),
                                 received_s=received_s)

    def _place_frame(self, timestamp_ns: int, first_ns: int, data: np.ndarray, *,
                     received_s: float | None = None) -> Blocks:
        """Place a decoded frame (last and first sample times, samples (n, 3) in g)."""
        if self._t_ref_ns is None:
            self._t_ref_ns = first_ns
            self.start_unix_s = float(pmd_ns_to_unix_s(self._t_ref_ns))
        by_time = round((first_ns - self._t_ref_ns) * self.fs / 1e9)
        counted = self.track.frontier
        first = counted if (self._prev_ns is not None and abs(by_time - counted)
                            <= max(2, data.shape[0] // 2)) else by_time
        self._prev_ns = timestamp_ns
        return self.track.place(first, data, received_s=received_s)

    def decode_rows(self, mat: np.ndarray, lengths: np.ndarray) -> PolarBatch:
        """Bulk decoder of data notifications as rows of bytes (:meth:`push_decoded_rows`)."""
        return decode_matrix(mat, lengths, mapping=self.mapping)

    push_decoded_rows = push_rows
    """Rows ``lo .. hi-1`` of a bulk-decoded batch as :meth:`push` row by row (a replay)."""

    def flush(self) -> Blocks:
        """Release what is held."""
        return self.track.flush()


class MyoAssembler:
    """Myo EMG and IMU notifications -> ``emg`` (uV) and ``shank_acc`` (g) blocks, by counting.

    Parameters
    ----------
    mapping : MyoCalfMapping
        Electrode used and its scale.
    """

    def __init__(self, *, mapping: MyoCalfMapping = MYO_ON_CALF) -> None:
        self.mapping = mapping
        self.channels = {"emg": emg_channel_spec(fs=MYO.emg_fs_hz, mapping=mapping),
                         "shank_acc": shank_channel_spec(fs=MYO.imu_fs_hz)}
        self.tracks = {role: RoleTrack(spec) for role, spec in self.channels.items()}
        self.start_unix_s: float | None = None
        self.notes: tuple[str, ...] = (MYO_GAP_NOTE,)
        self.estimated_gaps = 0
        self._last_rx: dict[str, float | None] = dict.fromkeys(self.channels)
        self._fresh = dict.fromkeys(self.channels, False)

    def new_connection(self) -> None:
        """A (re)connection: the next packet of each stream may follow a gap."""
        self._fresh = dict.fromkeys(self.channels, True)

    def _index(self, role: str, n: int, received_s: float) -> int:
        track = self.tracks[role]
        fs = self.channels[role].fs
        if self.start_unix_s is None:
            self.start_unix_s = received_s - n / fs
        last = self._last_rx[role]
        if last is None:
            first = max(0, round((received_s - self.start_unix_s) * fs) - n)
        elif self._fresh[role]:
            first = max(track.frontier, track.frontier + round((received_s - last) * fs) - n)
            if first > track.frontier:
                self.estimated_gaps += 1
        else:
            first = track.frontier
        self._fresh[role] = False
        self._last_rx[role] = received_s
        return first

    def push_emg(self, payload: bytes, *, received_s: float) -> Blocks:
        """Decode one EMG notification (any of the four characteristics).

        Raises
        ------
        CrampInputError
            Not a 16-byte packet.
        """
        packet = decode_emg(payload, fs=MYO.emg_fs_hz, first_sample=0)
        first = self._index("emg", packet.samples.shape[0], received_s)
        return self.tracks["emg"].place(first, emg_uv(packet, mapping=self.mapping))

    def push_imu(self, payload: bytes, *, received_s: float) -> Blocks:
        """Decode one IMU notification.

        Raises
        ------
        CrampInputError
            Not a 20-byte packet.
        """
        sample = decode_imu(payload, fs=MYO.imu_fs_hz, sample_index=0)
        first = self._index("shank_acc", 1, received_s)
        return self.tracks["shank_acc"].place(first, shank_acc_g(sample))

    def flush(self) -> Blocks:
        """Release what is held."""
        return [b for t in self.tracks.values() for b in t.flush()]


def polar_assembler(session: dict[str, object], *, where: str) -> PolarAccAssembler:
    """The assembler a Polar capture's session metadata describes (``polar.fs_hz``, ``range_g``).

    Raises
    ------
    CrampInputError
        Missing or invalid ``polar`` metadata.
    """
    meta = session.get("polar")
    if not isinstance(meta, dict):
        raise CrampInputError(where, "session metadata has no 'polar' settings")
    fs, range_g = meta.get("fs_hz"), meta.get("range_g")
    if not isinstance(fs, int | float) or not isinstance(range_g, int | float) or fs <= 0 \
            or range_g <= 0:
        raise CrampInputError(where, "session 'polar' settings need positive fs_hz and range_g")
    role = meta.get("role", "foot_acc")
    if role not in ("foot_acc", "shank_acc"):
        raise CrampInputError(where, "session 'polar.role' must be foot_acc or shank_acc")
    return PolarAccAssembler(fs=float(fs), range_g=float(range_g), role=str(role))


def myo_assembler(session: dict[str, object], *, where: str) -> MyoAssembler:
    """The assembler of a Myo capture (nothing in its metadata changes it)."""
    return MyoAssembler()


class OtherBandCapture:
    """A capture of a consumer band of the registry (Polar PMD, Myo, Movesense, Ganglion).

    The band's assembler comes from :data:`detector.bands.registry.BANDS` by the capture's
    ``profile``; packets and connection events go through it as they did live.

    Parameters
    ----------
    path : Path
        The capture.
    capture : Capture
        The scanned file.
    min_emg_fs_hz : float, optional
        Slowest EMG rate accepted (Hz).
    start_utc : datetime, optional
        Overrides the start time (timezone-aware).

    Raises
    ------
    CrampInputError
        Not a Polar or Myo capture, bad metadata, or no usable samples.
    """

    def __init__(self, path: Path, *, capture: Capture, min_emg_fs_hz: float | None = None,
                 start_utc: datetime | None = None) -> None:
        self.path = Path(path)
        self.capture = capture
        where = self.path.name
        self.profile = str(capture.session.get("profile", "")).lower()
        kinds = [b for b in band_registry.BANDS if b.capture_source.endswith(":OtherBandCapture")]
        band = next((b for b in kinds if b.name == self.profile), None)
        if band is None:
            raise CrampInputError(where, f"capture of a {self.profile!r} band; expected one "
                                  "of " + ", ".join(b.name for b in kinds))
        self._make_assembler = band.load("assembler")
        self.bad_packets = 0
        ends: dict[str, int] = {}
        for role, block in self._replay():
            ends[role] = max(ends.get(role, 0), block.end_sample)
        asm = self._last
        if asm.start_unix_s is None or not ends:
            raise CrampInputError(where, "the capture holds no usable data packets")
        channels = {r: s for r, s in asm.channels.items() if r in ends}
        if min_emg_fs_hz is not None and "emg" in channels \
                and channels["emg"].fs < min_emg_fs_hz:
            raise CrampInputError(where, f"EMG is sampled at {channels['emg'].fs:g} Hz; the "
                                  f"EMG band needs at least {min_emg_fs_hz:g} Hz")
        self._gaps = [g for t in asm.tracks.values() for g in t.gaps]
        notes = list(capture.damage.describe())
        if self.bad_packets:
            notes.append(f"{self.bad_packets} undecodable data packet(s) skipped")
        notes.extend(getattr(asm, "notes", ()))
        leg = capture.session.get("leg")
        self.info = RecordingInfo(
            path=str(self.path),
            start_utc=start_utc or datetime.fromtimestamp(asm.start_unix_s, UTC),
            duration_s=max(ends[r] / channels[r].fs for r in channels), channels=channels,
            leg=leg if leg in ("left", "right") else "unknown", file_format="capture",
            notes=tuple(notes))

    def _replay(self) -> Iterator[tuple[str, SignalBlock]]:
        where = self.path.name
        asm = self._make_assembler(self.capture.session, where=where)
        self._last = asm
        self.bad_packets = 0
        decode = getattr(asm, "decode_rows", None)  # bulk (Ganglion, Movesense, Polar)
        if decode is None:
            for rec in table_records(self.capture) or self.capture.records:
                yield from self._take(asm, rec)
        else:
            window = min(REPLAY_WINDOW, getattr(asm, "replay_window", REPLAY_WINDOW))
            kw = {"source": asm.data_source, "width": asm.payload_width, "window": window}
            windows = table_windows(self.capture, **kw) or record_windows(self.capture, **kw)
            for items, mat, lengths, received in windows:
                batch = decode(mat, lengths)
                row = k = 0
                while k < len(items):
                    item = items[k]
                    if item is not None:
                        yield from self._take(asm, item)
                        k += 1
                        continue
                    j = k
                    while j < len(items) and items[j] is None:  # data packets, nothing between
                        j += 1
                    blocks, bad = asm.push_decoded_rows(batch, row, row + j - k, received)
                    self.bad_packets += bad
                    yield from blocks
                    row += j - k
                    k = j
        yield from asm.flush()

    def _take(self, asm: Any, rec: object) -> Iterator[tuple[str, SignalBlock]]:
        """One record through the assembler: a (re)connection, or a notification."""
        if isinstance(rec, EventRecord):
            if rec.kind == "connected":
                asm.new_connection()
            return
        if not isinstance(rec, PacketRecord):
            return
        try:
            yield from push_notification(asm, rec.source, rec.payload, rec.received_s)
        except CrampInputError:
            self.bad_packets += 1

    def blocks(self, chunk_s: float) -> Iterator[tuple[str, SignalBlock]]:
        """Yield ``(role, block)`` pairs of about ``chunk_s`` seconds, ascending per role."""
        if not chunk_s > 0:
            raise ValueError("chunk_s must be positive")
        pending = {role: _Pending(role, max(1, round(chunk_s * spec.fs)))
                   for role, spec in self.info.channels.items()}
        for role, block in self._replay():
            if role in pending:
                yield from pending[role].add(block)
        for p in pending.values():
            yield from p.drain()

    @property
    def gaps(self) -> list[Gap]:
        """Gaps between samples, per role (Myo: estimated lengths)."""
        return list(self._gaps)

    def close(self) -> None:
        """Nothing stays open between passes."""

    def __enter__(self) -> OtherBandCapture:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def push_notification(asm: Any, source: str, payload: bytes, received_s: float) -> Blocks:
    """Route one captured/received notification to the assembler.

    Assemblers of the newer bands route their sources themselves (``asm.push_notification``).
    """
    if hasattr(asm, "push_notification"):
        blocks: Blocks = asm.push_notification(source, payload, received_s=received_s)
        return blocks
    if isinstance(asm, PolarAccAssembler):
        if source == POLAR_ACC_SOURCE:
            return asm.push(payload, received_s=received_s)
        if source == POLAR_CONTROL_SOURCE:
            asm.on_control(payload)
        return []
    if source in MYO_EMG_SOURCES:
        return asm.push_emg(payload, received_s=received_s)
    if source == MYO_IMU_SOURCE:
        return asm.push_imu(payload, received_s=received_s)
    return []

