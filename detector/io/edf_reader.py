"""Read EDF, EDF+C, BDF and BDF+C recordings chunk by chunk (pyedflib).

The header is checked first (:func:`~detector.io.edf_header.read_edf_header`: magic, field
syntax, file size against records x record size), so that a damaged file fails with one clear
line instead of a library message. The file is then opened with pyedflib without its annotation
pass (which decodes every annotation of every record); of the annotations only each record's
time-keeping onset matters here, and those are checked in bulk from the mapped records
(:mod:`detector.io.edf_tal`: an EDF+C file must be continuous). The samples are read from the
data records (:class:`EdfRecords`), converted to canonical units (EMG uV, acceleration g) and
streamed in windows of ``chunk_s`` seconds.

Discontinuous files (EDF+D, BDF+D) are rejected: pyedflib cannot read them, and EDFbrowser can
convert them to continuous EDF+C pieces.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

import numpy as np
import pyedflib

from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.io.channels import ChannelMap, SignalRef, resolve_channels
from detector.io.edf_header import (
    ANNOTATION_LABELS,
    BDF_MAGIC,
    EDF_MAGIC,
    EdfHeader,
    EdfSignalHeader,
    read_edf_header,
)
from detector.io.edf_tal import TICKS_PER_S, check_continuous
from detector.io.units import acc_scale_to_g, emg_scale_to_uv
from detector.limits import check_range, check_rate
from detector.signals import ChannelSpec, Gap, RecordingInfo, SignalBlock

__all__ = ["BDF_MAGIC", "EDF_MAGIC", "EdfHeader", "EdfRecording", "EdfRecords",
           "EdfSignalHeader", "open_pyedflib", "read_edf_header", "refuse_discontinuous"]
"""The header names are re-exported from :mod:`detector.io.edf_header`, where they live."""


def refuse_discontinuous(where: str, header: EdfHeader) -> None:
    """Raise CrampInputError for an EDF+D/BDF+D file (neither pyedflib nor we read them)."""
    if header.reserved.startswith(("EDF+D", "BDF+D")):
        raise CrampInputError(
            where,
            "discontinuous EDF+D/BDF+D files are not supported; convert to EDF+C first "
            "(EDFbrowser: Tools > Convert EDF+D to EDF+C)",
        )


def open_pyedflib(path: Path, header: EdfHeader, *, annotations: bool) -> pyedflib.EdfReader:
    """Open a header-checked file with pyedflib, turning its errors into CrampInputError.

    With ``annotations`` pyedflib reads (and checks) every annotation of every record, which
    :meth:`pyedflib.EdfReader.read_annotation` needs; without, it reads only the header (the
    records' timing is then :meth:`EdfRecords.first_onset_ticks`'s to check).
    """
    refuse_discontinuous(path.name, header)
    try:
        mode = pyedflib.READ_ALL_ANNOTATIONS if annotations else pyedflib.DO_NOT_READ_ANNOTATIONS
        return pyedflib.EdfReader(str(path), annotations_mode=mode)
    except OSError as exc:
        reason = str(exc).rsplit(": ", 1)[-1]
        if "already been opened" in reason:
            raise CrampInputError(
                path.name, "the file is already open in this program (pyedflib allows one "
                "reader per file); close the other reader first"
            ) from None
        raise CrampInputError(path.name, f"not a readable EDF/BDF file ({reason})") from None


class EdfRecords:
    """Direct reader of an EDF/BDF file's data records (memory-mapped, vectorised).

    pyedflib validates the file; the samples are then read straight from the records, which is
    several times faster than reading one signal at a time through the C library.

    Parameters
    ----------
    path : Path
        The file.
    header : EdfHeader
        Its checked header (sizes already match the file).
    """

    def __init__(self, path: Path, header: EdfHeader) -> None:
        self.header = header
        bps = 3 if header.bdf else 2
        self._bps = bps
        sprs = [s.spr for s in header.signals]
        self._offsets = np.concatenate([[0], np.cumsum(sprs)]).astype(int)
        self._record_samples = int(self._offsets[-1])
        self._map = np.memmap(path, dtype=np.uint8, mode="r", offset=header.header_bytes,
                              shape=(header.n_records, self._record_samples * bps))
        self._gain = []
        self._offset = []
        self.always_finite: list[bool] = []
        for sig in header.signals:
            gain = (sig.phys_max - sig.phys_min) / (sig.dig_max - sig.dig_min)
            offset = sig.phys_min - gain * sig.dig_min
            self._gain.append(gain)
            self._offset.append(offset)
            # digital values are integers, so the physical ones can only be NaN/inf when the
            # header's ranges overflow; then every block is checked
            self.always_finite.append(math.isfinite(abs(gain) * 2.0**24 + abs(offset)))

    def read(self, index: int, lo: int, hi: int, *, scale: float = 1.0,
             out: np.ndarray | None = None) -> np.ndarray:
        """Physical samples ``lo .. hi-1`` of signal ``index`` (header order) x ``scale``.

        The digital values go from the mapped records to float64 in one multiply and one
        add, without an intermediate integer or float copy.

        Parameters
        ----------
        index : int
            Signal number in header order.
        lo, hi : int
            Sample range.
        scale : float
            Factor on top of the header's physical scaling (unit conversion, axis sign).
        out : ndarray of float64, shape (hi - lo,), optional
            Where to write the samples (may be a strided view, e.g. a column of a block).

        Returns
        -------
        ndarray of float64, shape (hi - lo,)
            ``out`` when given.
        """
        spr = self.header.signals[index].spr
        r0, r1 = lo // spr, -(-hi // spr)
        a = int(self._offsets[index]) * self._bps
        b = int(self._offsets[index + 1]) * self._bps
        raw = self._map[r0:r1, a:b]
        if out is None:
            out = np.empty(hi - lo)
        frame = None
        if lo == r0 * spr and hi == r1 * spr:  # whole records: convert straight into out
            view = out.reshape(r1 - r0, spr)
            frame = view if np.may_share_memory(view, out) else None
        direct = frame is not None
        if frame is None:
            frame = np.empty((r1 - r0, spr))
        if self._bps == 2:
            digital = raw.view("<i2")  # (records, spr), each row read in place from the map
        else:
            trip = raw.reshape(r1 - r0, spr, 3).astype(np.int32)
            value = trip[..., 0] | (trip[..., 1] << 8) | (trip[..., 2] << 16)
            digital = np.where(value >= 1 << 23, value - (1 << 24), value)
        with np.errstate(invalid="ignore", over="ignore"):  # absurd header ranges -> inf/NaN,
            np.multiply(digital, self._gain[index] * scale, out=frame)  # reported by the caller
            frame += self._offset[index] * scale
        if not direct:
            out[...] = frame.reshape(-1)[lo - r0 * spr: hi - r0 * spr]
        return out

    def first_onset_ticks(self, where: str, *, every_record: bool = True) -> int:
        """Check the records' time-keeping annotations; the first record's onset (100 ns ticks).

        Plain EDF/BDF has no annotations: 0. EDF+D/BDF+D is refused. In EDF+/BDF+ each record's
        onset must follow from the first's (:func:`~detector.io.edf_tal.
        check_continuous`).

        Parameters
        ----------
        where : str
            The file's name, for the messages.
        every_record : bool
            False: check the first record only (its onset, which the start time needs), a
            read of one record instead of one from every record of the file; the others
            are then for a later call with True.

        Raises
        ------
        CrampInputError
            Naming the first record whose onset is missing, malformed or out of step.
        """
        if not self.header.file_format.endswith("+"):
            return 0
        refuse_discontinuous(where, self.header)
        labels = [s.label for s in self.header.signals]
        index = next((i for i, label in enumerate(labels) if label in ANNOTATION_LABELS), None)
        if index is None:
            raise CrampInputError(where, "EDF+/BDF+ file without an annotation signal; expected "
                                         "an 'EDF Annotations' or 'BDF Annotations' signal")
        a = int(self._offsets[index]) * self._bps
        b = int(self._offsets[index + 1]) * self._bps
        rows = self._map[:, a:b] if every_record else self._map[:1, a:b]
        return check_continuous(rows, record_duration_s=self.header.record_duration_s,
                                where=where)

    def close(self) -> None:
        """Drop the memory map."""
        self._map = np.empty((0, 0), dtype=np.uint8)


class EdfRecording:
    """An EDF/EDF+C/BDF/BDF+C file as a :class:`~detector.signals.RecordingSource`.

    Parameters
    ----------
    path : str or Path
        The file.
    channel_map : ChannelMap
        Labels, units and start time the user gave; roles not named are recognised by label.
    min_emg_fs_hz : float
        Slowest EMG sampling rate accepted (Hz).
    defer_timing_check : bool
        False (the default): every record's time-keeping onset is checked here (an EDF+C
        file must be continuous). True: only the first record's here; the others by the
        first pass of :meth:`blocks`, after its first window is out and before it ends (a
        replay then starts its pipeline some 15 ms sooner, the check's read of every record
        done while its worker thread filters). The same error either way, from that pass
        instead: a caller that writes results only after a whole pass (``cramp replay``)
        writes nothing for a file that fails it. A file with two faults may then name the
        other one first (a timing fault is then no longer the first checked).

    Attributes
    ----------
    info : RecordingInfo
    gaps : list of Gap
        Always empty: only continuous files are read.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        channel_map: ChannelMap,
        min_emg_fs_hz: float = DetectorConfig().emg.min_fs_hz,
        defer_timing_check: bool = False,
    ) -> None:
        self.path = Path(path)
        where = self.path.name
        header = read_edf_header(self.path)
        plus = header.file_format.endswith("+")
        raw_index = [
            i for i, s in enumerate(header.signals)
            if not (plus and s.label in ANNOTATION_LABELS)
        ]
        sig_headers = [header.signals[i] for i in raw_index]
        if not sig_headers:
            raise CrampInputError(where, "the file holds annotations only, no signals")
        resolved = resolve_channels([s.label for s in sig_headers], channel_map, where=where)
        self._reader = open_pyedflib(self.path, header, annotations=False)
        self._records = EdfRecords(self.path, header)
        self._raw_index = raw_index
        self.gaps: list[Gap] = []
        notes: list[str] = []
        try:
            self._onset_ticks = self._records.first_onset_ticks(
                where, every_record=not defer_timing_check)
            self._timing_pending = defer_timing_check and header.n_records > 1
            if self._reader.signals_in_file != len(sig_headers):
                raise CrampInputError(where, "header is inconsistent (signal count)")
            self._roles: dict[str, tuple[tuple[SignalRef, ...], float]] = {}
            channels: dict[str, ChannelSpec] = {}
            for role, refs in resolved.roles().items():
                spec, scale = self._channel(role, refs, sig_headers, header, channel_map, notes)
                channels[role] = spec
                self._roles[role] = (refs, scale)
                self._check_rate(spec, refs, min_emg_fs_hz)
            start = self._start(channel_map, notes)
        except BaseException:
            self._reader.close()
            raise
        if header.extra_bytes:
            notes.append(f"{header.extra_bytes} bytes after the last data record were ignored")
        self._n_samples = {
            role: header.n_records * sig_headers[refs[0].index].spr
            for role, (refs, _s) in self._roles.items()
        }
        self.info = RecordingInfo(
            path=str(self.path),
            start_utc=start,
            duration_s=header.n_records * header.record_duration_s,
            channels=channels,
            leg=resolved.leg,
            file_format=header.file_format,
            notes=tuple(notes),
        )

    def _channel(
        self,
        role: str,
        refs: tuple[SignalRef, ...],
        sig_headers: list[EdfSignalHeader],
        header: EdfHeader,
        channel_map: ChannelMap,
        notes: list[str],
    ) -> tuple[ChannelSpec, float]:
        where = self.path.name
        heads = [sig_headers[r.index] for r in refs]
        rates = {h.spr / header.record_duration_s for h in heads}
        if len(rates) > 1:
            names = ", ".join(f"{h.label!r} {h.spr / header.record_duration_s:g} Hz" for h in heads)
            raise CrampInputError(where, f"{role} axes must share one sampling rate ({names})")
        override = channel_map.emg_unit if role == "emg" else channel_map.acc_unit
        scale = 0.0
        for h in heads:
            unit = override or h.dimension
            signal = f"{where}: signal {h.label!r}"
            s = emg_scale_to_uv(unit, signal=signal) if role == "emg" else acc_scale_to_g(
                unit, signal=signal
            )
            if scale and s != scale:
                raise CrampInputError(where, f"{role} axes are in different units")
            scale = s
            if override and override != h.dimension:
                notes.append(f"{h.label!r} read as {override} (given), header says {h.dimension!r}")
        lows, highs = [], []
        for r, h in zip(refs, heads, strict=True):
            pair = sorted((h.phys_min * scale * r.sign, h.phys_max * scale * r.sign))
            check_range(pair[0], pair[1], role=role, where=f"{where}: signal {h.label!r}",
                        stated=f"{h.phys_min:g} to {h.phys_max:g} {override or h.dimension}")
            lows.append(pair[0])
            highs.append(pair[1])
        fs = check_rate(heads[0].spr / header.record_duration_s,
                        where=f"{where}: signal {heads[0].label!r}", what=role)
        spec = ChannelSpec(
            role=role,  # type: ignore[arg-type]
            fs=fs,
            unit="uV" if role == "emg" else "g",
            source_labels=tuple(r.label for r in refs),
            rails=(max(lows), min(highs)),
        )
        return spec, scale

    def _check_rate(self, spec: ChannelSpec, refs: tuple[SignalRef, ...], min_fs: float) -> None:
        if spec.role == "emg" and spec.fs < min_fs:
            raise CrampInputError(
                self.path.name,
                f"EMG signal {refs[0].label!r} is sampled at {spec.fs:g} Hz; "
                f"the EMG band needs at least {min_fs:g} Hz",
            )

    def _start(self, channel_map: ChannelMap, notes: list[str]) -> datetime:
        if channel_map.start_utc is not None:
            return channel_map.start_utc
        try:
            start = self._reader.getStartdatetime().replace(tzinfo=UTC) + timedelta(
                seconds=self._onset_ticks / TICKS_PER_S)  # subsecond part: the first onset
        except (ValueError, OverflowError):
            raise CrampInputError(self.path.name, "header start date/time is not valid") from None
        notes.append("EDF start time has no time zone; taken as UTC (pass --start to override)")
        return start

    def blocks(self, chunk_s: float) -> Iterator[tuple[str, SignalBlock]]:
        """Yield ``(role, block)`` pairs window by window, ``chunk_s`` seconds each.

        Parameters
        ----------
        chunk_s : float
            Window length in seconds (> 0). All roles of window k come before window k+1.

        Yields
        ------
        role : str
        block : SignalBlock
            ``data`` float64, shape (n,) in uV for EMG, (n, 3) in g for accelerometers.

        Raises
        ------
        CrampInputError
            A sample that is NaN/inf; with ``defer_timing_check``, a record out of step
            (after the first window, before the pass ends).
        """
        if not (math.isfinite(chunk_s) and chunk_s > 0):
            raise CrampInputError("chunk_s", f"expected a positive number of s, got {chunk_s}")
        n_windows = max(1, math.ceil(self.info.duration_s / chunk_s - 1e-9))
        for k in range(n_windows):
            if k == 1:
                self._check_timing()
            for role, (refs, scale) in self._roles.items():
                fs = self.info.channels[role].fs
                n = self._n_samples[role]
                lo = min(n, round(k * chunk_s * fs))
                hi = n if k == n_windows - 1 else min(n, round((k + 1) * chunk_s * fs))
                if hi > lo:
                    yield role, SignalBlock(
                        data=self._read(role, refs, scale, lo, hi), fs=fs, start_sample=lo
                    )
        self._check_timing()

    def _check_timing(self) -> None:
        """The deferred check of every record's onset (see ``defer_timing_check``), once."""
        if self._timing_pending:
            self._records.first_onset_ticks(self.path.name)
            self._timing_pending = False

    def _read(
        self, role: str, refs: tuple[SignalRef, ...], scale: float, lo: int, hi: int
    ) -> np.ndarray:
        # accelerometer axes are converted into the rows of a (3, n) array, each in one
        # contiguous pass, and handed on as its (n, 3) transpose
        rows = np.empty(hi - lo) if role == "emg" else np.empty((len(refs), hi - lo))
        for j, r in enumerate(refs):
            column = rows if role == "emg" else rows[j]
            x = self._records.read(self._raw_index[r.index], lo, hi, scale=scale * r.sign,
                                   out=column)
            if x.shape[0] != hi - lo:
                raise CrampInputError(
                    self.path.name, f"cannot read samples {lo}-{hi} of signal {r.label!r}"
                )
            finite = self._records.always_finite[self._raw_index[r.index]]
            bad = np.empty(0, dtype=np.intp) if finite else np.flatnonzero(~np.isfinite(x))
            if bad.size:
                t = (lo + int(bad[0])) / self.info.channels[role].fs
                raise CrampInputError(
                    self.path.name, f"signal {r.label!r} has a NaN/inf sample at {t:.3f} s"
                )
        return rows if role == "emg" else rows.T

    def close(self) -> None:
        """Release the file handle (safe to call twice)."""
        self._reader.close()
        self._records.close()

    def __enter__(self) -> EdfRecording:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
