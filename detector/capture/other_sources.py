"""Samples from Myo notifications, and the replay of every consumer band's capture.

The same assemblers run in the recorder (:mod:`detector.ble.other_bands`) and in the replay of
its capture (:class:`OtherBandCapture`), fed the same packets and connection events in the same
order, so a replayed night gives the pipeline exactly what the live run gave it. The Polar PMD
assembler is :mod:`detector.capture.polar_source`, the Movesense and Ganglion ones
:mod:`detector.capture.movesense_source` and :mod:`detector.capture.ganglion_source`; each
role's index line is a :class:`~detector.capture.role_track.RoleTrack`.

- Myo: notifications carry no counter or time. Samples are counted in arrival order; after a
  reconnection the gap cannot be known exactly and is *estimated* from the host receive times
  (elapsed time x rate, less the packet's own samples). The recording notes say so.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from detector.bands import registry as band_registry
from detector.capture.bulk_windows import record_windows, table_records, table_windows
from detector.capture.format import EventRecord, PacketRecord
from detector.capture.reader import Capture
from detector.capture.recording import _Pending
from detector.capture.role_track import Blocks, RoleTrack
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
from detector.signals import Gap, RecordingInfo, SignalBlock

MYO_PROFILE = band_registry.MYO.name
MYO_EMG_SOURCES = tuple(f"myo:emg{k}" for k in range(4))
MYO_IMU_SOURCE = "myo:imu"
REPLAY_WINDOW = 8192
"""Records decoded together by an assembler that decodes in bulk (memory stays bounded)."""
KEEP_DECODED_BYTES = 64 * 2**20
"""Bytes of decoded samples :class:`OtherBandCapture` keeps from the pass that fixes its
``info``, so that ``blocks`` replays them instead of decoding the file again; a capture whose
decoded samples are larger is decoded a second time, so memory stays bounded (an 8-h
Movesense night at 104 Hz is 68.6 MiB of decoded accelerometer samples: decoded twice). The
output is the same either way."""
MYO_GAP_NOTE = ("the Myo sends no sample counters: gaps after reconnections are estimated from "
                "the host's receive times")


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
    keep_decoded_bytes : int
        Decoded samples (bytes) kept from the pass that fixes ``info`` for the first
        ``blocks`` (one pass over the file); beyond it that pass keeps nothing and ``blocks``
        decodes again (:data:`KEEP_DECODED_BYTES`).

    Raises
    ------
    CrampInputError
        Not a Polar or Myo capture, bad metadata, or no usable samples.
    """

    def __init__(self, path: Path, *, capture: Capture, min_emg_fs_hz: float | None = None,
                 start_utc: datetime | None = None,
                 keep_decoded_bytes: int = KEEP_DECODED_BYTES) -> None:
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
        kept: deque[tuple[str, SignalBlock]] | None = deque()
        kept_bytes = 0
        for role, block in self._replay():
            ends[role] = max(ends.get(role, 0), block.end_sample)
            if kept is not None:
                kept_bytes += block.data.nbytes
                if kept_bytes > keep_decoded_bytes:
                    kept = None  # too much to hold: blocks() decodes the file again
                else:
                    kept.append((role, block))
        self._kept = kept
        """The replay's blocks from the pass above, for the first :meth:`blocks` (or None)."""
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
        for role, block in self._kept_or_replay():
            if role in pending:
                yield from pending[role].add(block)
        for p in pending.values():
            yield from p.drain()

    def _kept_or_replay(self) -> Iterator[tuple[str, SignalBlock]]:
        """The blocks kept from the opening pass, each let go once yielded (the first call),
        else a new pass over the file (:data:`KEEP_DECODED_BYTES`)."""
        kept, self._kept = self._kept, None
        if kept is None:
            yield from self._replay()
            return
        while kept:
            yield kept.popleft()

    @property
    def gaps(self) -> list[Gap]:
        """Gaps between samples, per role (Myo: estimated lengths)."""
        return list(self._gaps)

    def close(self) -> None:
        """Let go of the kept blocks and of the scan's map of the file (nothing stays open
        between passes; a later :meth:`blocks` decodes the file again)."""
        self._kept = None
        self.capture.records.release()

    def __enter__(self) -> OtherBandCapture:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def push_notification(asm: Any, source: str, payload: bytes, received_s: float) -> Blocks:
    """Route one captured/received notification to the assembler.

    Assemblers other than the Myo's route their sources themselves (``asm.push_notification``).
    """
    if hasattr(asm, "push_notification"):
        blocks: Blocks = asm.push_notification(source, payload, received_s=received_s)
        return blocks
    if source in MYO_EMG_SOURCES:
        return asm.push_emg(payload, received_s=received_s)
    if source == MYO_IMU_SOURCE:
        return asm.push_imu(payload, received_s=received_s)
    return []

