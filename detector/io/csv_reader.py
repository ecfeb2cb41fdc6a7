"""Read a CSV/TSV table (optionally gzip-compressed) of EMG and accelerometer samples.

One table holds one sampling rate. Time comes from a time column (``time_s``, ``t_s``,
``seconds`` in s; ``time_ms`` in ms; ``time``/``timestamp`` in s or ms) or, without one, from
the rate the user gives. A jump in time of more than 1.5 sample steps is a gap: the samples
after it keep their true position and the gap is listed in ``gaps``.

Units come from the column names (``emg_uv``, ``acc_x_mg``, ``Acc X [m/s2]``, ``EMG (mV)``)
unless the user gives ``emg_unit``/``acc_unit``.
"""

from __future__ import annotations

import csv
import gzip
import math
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from detector.config import DetectorConfig
from detector.errors import CrampInputError
from detector.io.channels import ChannelMap, SignalRef, resolve_channels, split_unit
from detector.io.units import acc_scale_to_g, emg_scale_to_uv, is_acc_unit, is_emg_unit
from detector.limits import MAX_GAP_S, MAX_HEADER_LINE_CHARS, check_rate, check_span
from detector.safe_files import check_input_file
from detector.signals import ChannelSpec, Gap, RecordingInfo, SignalBlock

GZIP_MAGIC = b"\x1f\x8b"
_TIME_NAMES = {
    "time_s": "s", "t_s": "s", "seconds": "s", "time_sec": "s",
    "time_ms": "ms", "t_ms": "ms", "milliseconds": "ms",
    "time": None, "timestamp": None,
}
# pandas' ParserError is a ValueError subclass, so it is covered without importing pandas here
_READ_ERRORS = (ValueError, EOFError, OSError, zlib.error, csv.Error)


def _time_key(name: str) -> str:
    key = "".join(name.lower().split())
    for a, b in (("[", "_"), ("(", "_"), ("]", ""), (")", "")):
        key = key.replace(a, b)
    return key


def _header_line(path: Path, *, gz: bool) -> str:
    where = path.name
    try:
        opener = gzip.open(path, "rt", encoding="utf-8-sig") if gz else path.open(
            encoding="utf-8-sig"
        )
        with opener as fh:
            line = fh.readline(MAX_HEADER_LINE_CHARS + 1)
    except UnicodeDecodeError:
        raise CrampInputError(where, "the header line is not UTF-8 text") from None
    except (EOFError, OSError, zlib.error) as exc:
        raise CrampInputError(where, f"cannot read the file ({exc})") from None
    if not line.strip():
        raise CrampInputError(where, "the file is empty; expected a header line naming columns")
    if len(line.rstrip("\r\n")) > MAX_HEADER_LINE_CHARS:
        raise CrampInputError(where, f"the header line is longer than {MAX_HEADER_LINE_CHARS} "
                                     "characters; expected a line naming the columns")
    return line.rstrip("\r\n")


def _delimiter(path: Path, line: str) -> str | None:
    """Return the column delimiter, or None for runs of whitespace."""
    if ".tsv" in path.suffixes:
        return "\t"
    counts = {d: line.count(d) for d in ("\t", ",", ";")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best]:
        return best
    return None if len(line.split()) > 1 else ","


def _row_error(path: Path, column: str, frame_col: pd.Series) -> CrampInputError:
    import pandas as pd  # imported on use: it costs 0.2 s at start-up, EDF replay needs none

    """Describe the first non-numeric or non-finite cell of ``frame_col``."""
    values = pd.to_numeric(frame_col, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    row = int(bad[0]) if bad.size else 0
    cell = frame_col.iloc[row] if len(frame_col) else ""
    return CrampInputError(
        path.name, f"column {column!r}, row {row + 1}: {str(cell)!r} is not a finite number"
    )


class CsvRecording:
    """A CSV/TSV table (or ``.gz`` of one) as a :class:`~detector.signals.RecordingSource`.

    Parameters
    ----------
    path : str or Path
        The table; the first line names the columns.
    channel_map : ChannelMap
        Column labels, units, ``fs`` (when there is no time column) and start time.
    min_emg_fs_hz : float
        Slowest EMG sampling rate accepted (Hz).
    time_unit : {"s", "ms"}, optional
        Unit of a column named ``time``/``timestamp``; inferred when not given.

    Attributes
    ----------
    info : RecordingInfo
    gaps : list of Gap
        Jumps in the time column, per role.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        channel_map: ChannelMap,
        min_emg_fs_hz: float = DetectorConfig().emg.min_fs_hz,
        time_unit: str | None = None,
    ) -> None:
        self.path = Path(path)
        where = self.path.name
        if time_unit not in (None, "s", "ms"):
            raise CrampInputError("--time-unit", f"expected 's' or 'ms', got {time_unit!r}")
        check_input_file(self.path, where=where)
        with self.path.open("rb") as fh:
            gz = fh.read(2) == GZIP_MAGIC
        line = _header_line(self.path, gz=gz)
        sep = _delimiter(self.path, line)
        try:
            names = next(csv.reader([line], delimiter=sep)) if sep else line.split()
        except csv.Error as exc:
            raise CrampInputError(where, f"cannot parse the header line ({exc})") from None
        names = [n.strip() for n in names]
        if len(set(names)) != len(names) or not all(names):
            raise CrampInputError(where, "column names in the header must be unique and non-empty")
        time_cols = [n for n in names if _time_key(n) in _TIME_NAMES]
        if len(time_cols) > 1:
            raise CrampInputError(where, f"several time columns: {', '.join(time_cols)}")
        time_col = time_cols[0] if time_cols else None
        labels = [n for n in names if n != time_col]
        resolved = resolve_channels(labels, channel_map, where=where)
        notes: list[str] = []
        roles = resolved.roles()
        scales = {role: self._scale(role, refs, channel_map, notes) for role, refs in roles.items()}
        wanted = [time_col] if time_col else []
        wanted += [r.label for refs in roles.values() for r in refs]
        table = self._load(sep, gz, wanted)
        n_rows = len(table)
        if n_rows < 2:
            raise CrampInputError(where, f"the table has {n_rows} data rows; expected at least 2")
        if time_col is not None:
            t_raw = table[time_col].to_numpy()
            t_s, quantum_s = self._time_seconds(t_raw, time_col, time_unit, notes)
            fs, seg_rows, seg_starts = self._segments(t_s, quantum_s=quantum_s, column=time_col)
            if channel_map.fs is not None:
                notes.append(f"--fs ignored: the time column gives {fs:g} Hz")
        elif channel_map.fs is not None:
            fs = check_rate(channel_map.fs, where="--fs", what="the table")
            seg_rows, seg_starts = [0, n_rows], [0]
            t_s = np.zeros(1)
        else:
            raise CrampInputError(
                where,
                "no time column (time_s, time_ms, time, timestamp); pass --fs with the rate in Hz",
            )
        self._data: dict[str, np.ndarray] = {}
        channels: dict[str, ChannelSpec] = {}
        for role, refs in roles.items():
            cols = [table[r.label].to_numpy(dtype=np.float64) * (scales[role] * r.sign)
                    for r in refs]
            self._data[role] = cols[0] if role == "emg" else np.column_stack(cols)
            channels[role] = ChannelSpec(
                role=role,  # type: ignore[arg-type]
                fs=fs, unit="uV" if role == "emg" else "g",
                source_labels=tuple(r.label for r in refs),
            )
        if "emg" in channels and fs < min_emg_fs_hz:
            raise CrampInputError(
                where,
                f"EMG column {roles['emg'][0].label!r} is sampled at {fs:g} Hz; "
                f"the EMG band needs at least {min_emg_fs_hz:g} Hz",
            )
        if time_col is not None:
            check_rate(fs, where=f"{where}: column {time_col!r}", what="the table")
        self._fs = fs
        self._seg_rows = seg_rows
        self._seg_starts = seg_starts
        self.gaps: list[Gap] = []
        for k in range(1, len(seg_starts)):
            prev_end = seg_starts[k - 1] + seg_rows[k] - seg_rows[k - 1]
            for role in channels:
                self.gaps.append(Gap(role=role, start_s=prev_end / fs, end_s=seg_starts[k] / fs,
                                     samples_missing=seg_starts[k] - prev_end))
        self._n_timeline = seg_starts[-1] + seg_rows[-1] - seg_rows[-2]
        check_span(self._n_timeline / fs, where=where)
        self.info = RecordingInfo(
            path=str(self.path),
            start_utc=self._start(channel_map, t_s[0] if time_col else None, notes),
            duration_s=self._n_timeline / fs,
            channels=channels,
            leg=resolved.leg,
            file_format="tsv" if sep == "\t" else "csv",
            notes=tuple(notes),
        )

    def _scale(
        self, role: str, refs: tuple[SignalRef, ...], channel_map: ChannelMap, notes: list[str]
    ) -> float:
        where = self.path.name
        override = channel_map.emg_unit if role == "emg" else channel_map.acc_unit
        fits = is_emg_unit if role == "emg" else is_acc_unit
        option = "--emg-unit" if role == "emg" else "--acc-unit"
        scales = set()
        for r in refs:
            stated = split_unit(r.label)[1]
            bracketed = r.label.rstrip().endswith((")", "]"))
            if stated is not None and not fits(stated) and not bracketed:
                stated = None
            unit = override or stated
            if unit is None:
                raise CrampInputError(
                    where, f"column {r.label!r} states no unit; pass {option} (e.g. "
                    + ("uV or mV)" if role == "emg" else "g, mg or m/s2)")
                )
            if override and stated is not None and override != stated:
                notes.append(f"column {r.label!r} read as {override} (given), name says {stated}")
            signal = f"{where}: column {r.label!r}"
            scales.add(emg_scale_to_uv(unit, signal=signal) if role == "emg"
                       else acc_scale_to_g(unit, signal=signal))
        if len(scales) != 1:
            raise CrampInputError(where, f"{role} axes are in different units")
        return scales.pop()

    def _load(self, sep: str | None, gz: bool, wanted: list[str]) -> pd.DataFrame:
        import pandas as pd  # imported on use (start-up time)

        """Load the wanted columns as float64; name the first bad cell if there is one."""
        keep = set(wanted)

        def read(**extra: object) -> pd.DataFrame:
            try:
                return pd.read_csv(
                    self.path,
                    sep=sep if sep else r"\s+",
                    usecols=lambda c: str(c).strip() in keep,
                    compression="gzip" if gz else None,
                    encoding="utf-8-sig",
                    skipinitialspace=True,
                    **extra,  # type: ignore[arg-type]
                )
            except _READ_ERRORS as exc:
                raise CrampInputError(
                    self.path.name, f"cannot parse the table ({_first_line(exc)})"
                ) from None

        try:
            table = read(dtype=np.float64)
        except CrampInputError as err:
            raw = read(dtype=str, keep_default_na=False)
            raw.columns = [str(c).strip() for c in raw.columns]
            for col in wanted:
                if pd.to_numeric(raw[col], errors="coerce").isna().any():
                    raise _row_error(self.path, col, raw[col]) from None
            raise err from None
        table.columns = [str(c).strip() for c in table.columns]
        for col in wanted:
            if not np.isfinite(table[col].to_numpy()).all():
                raise _row_error(self.path, col, table[col])
        return table

    def _time_seconds(
        self, t: np.ndarray, column: str, time_unit: str | None, notes: list[str]
    ) -> tuple[np.ndarray, float]:
        """Return the time column in seconds and its resolution in seconds (0 if not integral)."""
        where = self.path.name
        steps = np.diff(t)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            raise CrampInputError(
                where, f"column {column!r} does not increase at row {int(bad[0]) + 2}"
            )
        unit = _TIME_NAMES[_time_key(column)] or time_unit
        if unit is None:
            median = float(np.median(steps))
            if median <= 1.0:
                unit = "s"
            elif median <= 1000.0:
                unit = "ms"
                notes.append(f"time column {column!r} taken as milliseconds (median step "
                             f"{median:g}); pass --time-unit s if it is seconds")
            else:
                raise CrampInputError(
                    where, f"cannot tell the unit of column {column!r} (median step {median:g}); "
                    "pass --time-unit s or ms",
                )
        to_s = 1e-3 if unit == "ms" else 1.0
        quantum_s = to_s if bool(np.all(t == np.round(t))) else 0.0
        return t * to_s, quantum_s

    def _segments(
        self, t_s: np.ndarray, *, quantum_s: float, column: str
    ) -> tuple[float, list[int], list[int]]:
        """Return (fs, row bounds of contiguous runs, timeline start sample of each run).

        The rate is one over the mean step outside gaps; it is rounded to a whole number of Hz
        only when the difference is within what the time column's resolution explains.
        """
        steps = np.diff(t_s)
        median = float(np.median(steps))
        jumps = np.flatnonzero(steps > 1.5 * median)
        big = np.flatnonzero(steps > MAX_GAP_S)
        if big.size:
            row = int(big[0])
            raise CrampInputError(
                self.path.name, f"column {column!r} jumps by {float(steps[row]):g} s at row "
                f"{row + 2}; expected gaps of at most {MAX_GAP_S:g} s (is it another recording?)")
        normal = np.delete(steps, jumps)
        step = float(normal.mean())
        fs = 1.0 / step
        tolerance = 2.0 * quantum_s / float(normal.sum()) + 1e-9
        if abs(fs - round(fs)) <= tolerance * fs and round(fs) > 0:
            fs = float(round(fs))
        seg_rows = [0, *(int(j) + 1 for j in jumps), len(t_s)]
        seg_starts = [0]
        for k in range(1, len(seg_rows) - 1):
            prev_end = seg_starts[-1] + seg_rows[k] - seg_rows[k - 1]
            seg_starts.append(max(prev_end, round((t_s[seg_rows[k]] - t_s[0]) * fs)))
        return fs, seg_rows, seg_starts

    def _start(self, channel_map: ChannelMap, t0_s: float | None, notes: list[str]) -> datetime:
        if channel_map.start_utc is not None:
            return channel_map.start_utc
        if t0_s is not None and 1e9 < t0_s < 4e9:
            notes.append("time column read as Unix time (UTC)")
            return datetime.fromtimestamp(t0_s, UTC)
        notes.append("the table has no start date; times count from 1970-01-01 00:00 UTC "
                     "(pass --start to set it)")
        return datetime(1970, 1, 1, tzinfo=UTC)

    def blocks(self, chunk_s: float) -> Iterator[tuple[str, SignalBlock]]:
        """Yield ``(role, block)`` pairs window by window, ``chunk_s`` seconds each.

        Blocks never straddle a gap; after a gap ``start_sample`` jumps by the samples missing.
        ``data`` is float64, shape (n,) in uV for EMG, (n, 3) in g for accelerometers.
        """
        if not (math.isfinite(chunk_s) and chunk_s > 0):
            raise CrampInputError("chunk_s", f"expected a positive number of s, got {chunk_s}")
        fs = self._fs
        n_windows = max(1, math.ceil(self._n_timeline / (chunk_s * fs) - 1e-9))
        for k in range(n_windows):
            lo = round(k * chunk_s * fs)
            hi = self._n_timeline if k == n_windows - 1 else round((k + 1) * chunk_s * fs)
            for role, data in self._data.items():
                for s in range(len(self._seg_starts)):
                    start = self._seg_starts[s]
                    row0, row1 = self._seg_rows[s], self._seg_rows[s + 1]
                    a, b = max(lo, start), min(hi, start + row1 - row0)
                    if b > a:
                        rows = slice(row0 + a - start, row0 + b - start)
                        yield role, SignalBlock(data=data[rows].copy(), fs=fs, start_sample=a)

    def close(self) -> None:
        """Release the samples held in memory."""
        self._data = {}

    def __enter__(self) -> CsvRecording:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
