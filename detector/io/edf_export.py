"""Export leg-band signals and episode annotations as an EDF+ file.

Signals, in this order, each only if given:

- ``"EMG Calf"`` (label configurable), in uV, symmetric physical range that fits the data
  (at least +-1000 uV, so resting noise keeps a fine quantisation step);
- ``"Acc Shank X"``, ``"Acc Shank Y"``, ``"Acc Shank Z"`` and ``"Acc Foot X"``... in mg,
  physical range +-8000 mg; values beyond are stored at the limit (saturated).

Each signal keeps its own rate (EDF+ stores a sample count per signal per data record): EMG at
1000 Hz beside accelerometers at 100 Hz or 52 Hz is fine. A rate must be a whole number of
samples per record: data records last the shortest whole number of seconds (1 to 60) that
makes every rate whole to within 1 ppm, and a fitted rate such as 1000.0000002 Hz (a capture's
clock fit) is written as its nearest representable value (:func:`edf_rates`). The leg goes
into the labels ("EMG Calf Right", "Acc Shank X R") so a reader finds it again.

Samples are quantised to 16 bits by this module (round to nearest), so the error of a sample
read back is at most half a step, ``(physical_max - physical_min) / 65535 / 2``. The last
record is padded: EMG with 0 uV, accelerometers by holding the last value.

The header's start date and time are the recording start in UTC (EDF has no time-zone field).
Annotations are EDF+ TALs ``(onset_s, duration_s, text)``; text is cut to 40 bytes of UTF-8,
the limit of the EDF+ writer library, which also holds at most one annotation per annotation
signal per data record: the number of annotation signals (at most 64) is chosen so every
annotation fits, and a night with more annotations than that is refused. The file holds health
data: it is created with mode 0600 and an existing file is never replaced unless
``overwrite=True``. Data are converted and
written one minute of records at a time, so no second copy of a night is made.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyedflib

from detector.errors import CrampInputError

EMG_MIN_RANGE_UV = 1000.0
"""Smallest EMG physical range written (+- uV)."""
ACC_RANGE_MG = 8000.0
"""Accelerometer physical range (+- mg)."""
DIGITAL_MIN, DIGITAL_MAX = -32768, 32767
MAX_ANNOTATION_BYTES = 40
_RECORDS_PER_WRITE = 60
_ACC_LABELS = ("Acc Shank X", "Acc Shank Y", "Acc Shank Z", "Acc Foot X", "Acc Foot Y",
               "Acc Foot Z")
_LEG_SUFFIX = {"left": (" Left", " L"), "right": (" Right", " R")}
MAX_RECORD_S = 60
RATE_TOLERANCE = 1e-6
"""Relative error below which a rate counts as a whole number of samples per record."""


def edf_rates(rates_hz: Sequence[float]) -> tuple[int, list[int]]:
    """Record duration and samples per record that represent the rates best.

    Parameters
    ----------
    rates_hz : sequence of float
        Sampling rate of each signal (Hz, > 0).

    Returns
    -------
    record_s : int
        Shortest whole number of seconds (1..60) for which every ``rate * record_s`` is a
        whole number to within :data:`RATE_TOLERANCE`; else the duration with the smallest
        largest relative error.
    samples_per_record : list of int
        ``round(rate * record_s)`` per signal, at least 1.
    """
    best: tuple[float, int] | None = None
    for d in range(1, MAX_RECORD_S + 1):
        err = max(abs(round(f * d) - f * d) / (f * d) if round(f * d) >= 1 else 1.0
                  for f in rates_hz)
        if err <= RATE_TOLERANCE:
            best = (err, d)
            break
        if best is None or err < best[0] - 1e-15:
            best = (err, d)
    assert best is not None
    d = best[1]
    return d, [max(1, round(f * d)) for f in rates_hz]


@dataclass(frozen=True)
class _Signal:
    """One EDF signal: a column of a source array, scaled to the file's unit."""

    label: str
    unit: str
    fs: float
    data: np.ndarray  # (n,) or (n, 3) source array, canonical unit
    column: int | None
    scale: float  # file unit per canonical unit
    phys_max: float
    pad_hold: bool  # pad the last record with the last value (else 0)
    transducer: str

    @property
    def n(self) -> int:
        return int(self.data.shape[0])

    def _last(self) -> float:
        x = self.data[-1] if self.column is None else self.data[-1, self.column]
        return float(x) * self.scale

    def digital(self, start: int, stop: int, length: int) -> np.ndarray:
        """Digital values of samples ``start:stop``, padded to ``length``; int16."""
        x = self.data[start:stop] if self.column is None else self.data[start:stop, self.column]
        phys = np.asarray(x, dtype=np.float64) * self.scale
        if not np.all(np.isfinite(phys)):
            raise CrampInputError(self.label, "contains NaN or infinite samples; EDF cannot "
                                              "store them")
        if len(phys) < length:
            fill = self._last() if self.pad_hold else 0.0
            phys = np.concatenate([phys, np.full(length - len(phys), fill)])
        span = 2.0 * self.phys_max
        dig = np.rint((phys + self.phys_max) / span * (DIGITAL_MAX - DIGITAL_MIN) + DIGITAL_MIN)
        return np.clip(dig, DIGITAL_MIN, DIGITAL_MAX).astype(np.int16)


def _check_text(field: str, value: str, limit: int) -> str:
    if not (value.isascii() and value.isprintable()):
        raise CrampInputError(field, "expected printable ASCII text")
    if len(value) > limit:
        raise CrampInputError(field, f"expected at most {limit} characters, got {len(value)}")
    return value


def _check_rate(name: str, fs: float | None) -> float:
    if fs is None or not (math.isfinite(fs) and fs > 0):
        raise CrampInputError(name, "expected a positive sampling rate in Hz")
    return float(fs)


def _signals(emg_uv: np.ndarray | None, fs_emg: float | None, shank_acc_g: np.ndarray | None,
             foot_acc_g: np.ndarray | None, fs_acc: float | None, emg_label: str,
             emg_range_uv: float | None, fs_foot_acc: float | None = None,
             leg: str = "unknown") -> list[_Signal]:
    long_leg, short_leg = _LEG_SUFFIX.get(leg, ("", ""))
    out: list[_Signal] = []
    if emg_uv is not None:
        fs = _check_rate("fs_emg", fs_emg)
        emg = np.asarray(emg_uv)
        if emg.ndim != 1 or emg.size == 0:
            raise CrampInputError("emg_uv", "expected a non-empty 1-D array of samples (uV)")
        if emg_range_uv is None:
            peak = max(float(emg.max()), -float(emg.min()))
            if not math.isfinite(peak):
                raise CrampInputError("emg_uv", "contains NaN or infinite samples; EDF cannot "
                                                "store them")
            emg_range_uv = max(EMG_MIN_RANGE_UV, float(math.ceil(peak)))
        elif not (math.isfinite(emg_range_uv) and 0 < emg_range_uv < 1e7):
            raise CrampInputError("emg_range_uv", "expected a positive range below 1e7 uV")
        label = emg_label + long_leg if len(emg_label + long_leg) <= 16 else emg_label
        _check_text("emg_label", label, 16)
        out.append(_Signal(label, "uV", fs, emg, None, 1.0, float(emg_range_uv), False,
                           "surface EMG electrodes"))
    accs = [(a, i) for i, a in enumerate((shank_acc_g, foot_acc_g)) if a is not None]
    for acc, which in accs:
        name = ("shank_acc_g", "foot_acc_g")[which]
        rate = fs_acc if which == 0 or fs_foot_acc is None else fs_foot_acc
        fs = _check_rate("fs_acc" if which == 0 or fs_foot_acc is None else "fs_foot_acc",
                         rate)
        arr = np.asarray(acc)
        if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0:
            raise CrampInputError(name, "expected a non-empty array of shape (n, 3) in g")
        for axis in range(3):
            out.append(_Signal(_ACC_LABELS[3 * which + axis] + short_leg, "mg", fs, arr, axis,
                               1000.0, ACC_RANGE_MG, True, "3-axis accelerometer"))
    if not out:
        raise CrampInputError("write_edf", "no signal given: pass emg_uv and/or accelerometers")
    return out


def _annotations(annotations: Iterable[tuple[float, float | None, str]]
                 ) -> list[tuple[float, float, str]]:
    out = []
    for i, item in enumerate(annotations):
        where = f"annotations[{i}]"
        try:
            onset, duration, text = item
            onset = float(onset)
            duration = -1.0 if duration is None else float(duration)
        except (TypeError, ValueError) as exc:
            raise CrampInputError(where, "expected (onset_s, duration_s, text)") from exc
        if not (math.isfinite(onset) and onset >= 0):
            raise CrampInputError(where, "onset_s must be a finite number >= 0")
        if not math.isfinite(duration):
            raise CrampInputError(where, "duration_s must be finite (or None if unknown)")
        raw = str(text).encode("utf-8")[:MAX_ANNOTATION_BYTES]
        out.append((onset, duration, raw.decode("utf-8", errors="ignore")))
    return out


def _create_private(path: Path, *, overwrite: bool) -> None:
    """Create ``path`` empty with mode 0600; refuse to replace it unless ``overwrite``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (0 if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError as exc:
        raise CrampInputError(str(path), "file exists; pass overwrite=True to replace "
                                         "it") from exc
    except OSError as exc:
        raise CrampInputError(str(path), f"cannot create file: {exc.strerror}") from exc
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def write_edf(
    path: str | os.PathLike[str],
    *,
    emg_uv: np.ndarray | None = None,
    fs_emg: float | None = None,
    shank_acc_g: np.ndarray | None = None,
    foot_acc_g: np.ndarray | None = None,
    fs_acc: float | None = None,
    fs_foot_acc: float | None = None,
    leg: str = "unknown",
    start_utc: datetime,
    annotations: Iterable[tuple[float, float | None, str]] = (),
    emg_label: str = "EMG Calf",
    emg_range_uv: float | None = None,
    patient_code: str = "",
    patient_name: str = "",
    sex: str | None = None,
    birthdate: date | None = None,
    equipment: str = "",
    technician: str = "",
    recording_additional: str = "",
    overwrite: bool = False,
) -> Path:
    """Write signals and annotations to an EDF+ file (see the module docstring for layout).

    Parameters
    ----------
    path : str or path-like
        File to create.
    emg_uv : ndarray, shape (n,), optional
        Calf EMG (uV) sampled at ``fs_emg`` Hz.
    shank_acc_g, foot_acc_g : ndarray, shape (m, 3), optional
        Accelerometers (g) sampled at ``fs_acc`` Hz; written in mg.
    fs_emg, fs_acc : float, optional
        Sampling rates (Hz), required with their signals; ``fs_acc`` is the shank's (and the
        foot's when ``fs_foot_acc`` is not given).
    fs_foot_acc : float, optional
        Rate of the foot accelerometer (Hz) when it differs from the shank's.
    leg : {"left", "right", "unknown"}
        Leg the band was on, written into the signal labels.
    start_utc : datetime
        Timezone-aware time of the first sample.
    annotations : iterable of (onset_s, duration_s, text)
        Events, onset in seconds from the start; ``duration_s`` None if unknown.
    emg_label : str
        Label of the EMG signal (<= 16 characters).
    emg_range_uv : float, optional
        EMG physical range (+- uV); by default the data's peak, at least 1000 uV. Samples
        beyond it are saturated.
    patient_code, patient_name, sex, birthdate, equipment, technician, recording_additional
        EDF+ header fields (printable ASCII, spaces stored as ``_``; ``sex`` "M" or "F").
    overwrite : bool
        Replace an existing file (otherwise refuse).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    CrampInputError
        On bad input (missing rate, wrong shape, NaN samples, header text too long, start
        outside 1985-2084, too many annotations) or if the file exists.
    """
    path = Path(path)
    signals = _signals(emg_uv, fs_emg, shank_acc_g, foot_acc_g, fs_acc, emg_label,
                       emg_range_uv, fs_foot_acc, leg)
    record_s, spr_wanted = edf_rates([s.fs for s in signals])
    tals = _annotations(annotations)
    start = _check_start(start_utc)
    header = _header_fields(patient_code, patient_name, sex, birthdate, equipment, technician,
                            recording_additional)
    _create_private(path, overwrite=overwrite)
    writer: pyedflib.EdfWriter | None = None
    try:
        writer = pyedflib.EdfWriter(str(path), len(signals), file_type=pyedflib.FILETYPE_EDFPLUS)
        writer.setSignalHeaders([{
            "label": s.label, "dimension": s.unit, "sample_frequency": spr / record_s,
            "physical_max": s.phys_max, "physical_min": -s.phys_max,
            "digital_max": DIGITAL_MAX, "digital_min": DIGITAL_MIN,
            "transducer": s.transducer, "prefilter": "",
        } for s, spr in zip(signals, spr_wanted, strict=True)])
        writer.setStartdatetime(start)
        _apply_header(writer, header)
        per_record = [writer.get_smp_per_record(i) for i in range(len(signals))]
        if per_record != spr_wanted or float(writer.record_duration) != record_s:
            raise CrampInputError("write_edf", f"the EDF writer chose {per_record} samples per "
                                               f"{writer.record_duration} s record, expected "
                                               f"{spr_wanted} per {record_s} s")
        n_records = max(math.ceil(s.n / spr - 1e-9) for s, spr in zip(signals, per_record,
                                                                         strict=True))
        n_tal = max(1, math.ceil(len(tals) / n_records))
        if n_tal > 64:
            raise CrampInputError("annotations", f"{len(tals)} annotations do not fit in "
                                                 f"{n_records} records of {record_s:g} s")
        writer.set_number_of_annotation_signals(n_tal)
        _write_records(writer, signals, per_record, n_records)
        for onset, duration, text in tals:
            writer.writeAnnotation(onset, duration, text)
        writer.close()
        writer = None
    except BaseException:
        if writer is not None:
            writer.close()
        path.unlink(missing_ok=True)
        raise
    return path


def _write_records(writer: pyedflib.EdfWriter, signals: Sequence[_Signal],
                   per_record: Sequence[int], n_records: int) -> None:
    offsets = np.concatenate([[0], np.cumsum(per_record)])
    for first in range(0, n_records, _RECORDS_PER_WRITE):
        k = min(_RECORDS_PER_WRITE, n_records - first)
        buf = np.empty((k, int(offsets[-1])), dtype=np.int16)
        for s, spr, off in zip(signals, per_record, offsets[:-1], strict=True):
            start = first * spr
            stop = min(start + k * spr, s.n)
            buf[:, off:off + spr] = s.digital(start, max(stop, start), k * spr).reshape(k, spr)
        for row in buf:
            if writer.blockWriteDigitalShortSamples(row) < 0:
                raise CrampInputError(str(writer.path), "writing a data record failed")


def _check_start(start_utc: datetime) -> datetime:
    if not isinstance(start_utc, datetime) or start_utc.tzinfo is None:
        raise CrampInputError("start_utc", "expected a timezone-aware datetime")
    start = start_utc.astimezone(UTC).replace(tzinfo=None)
    if not 1985 <= start.year <= 2084:
        raise CrampInputError("start_utc", "EDF+ can only store years 1985 to 2084")
    return start


def _header_fields(patient_code: str, patient_name: str, sex: str | None,
                   birthdate: date | None, equipment: str, technician: str,
                   recording_additional: str) -> dict[str, object]:
    fields = {"patient_code": patient_code, "patient_name": patient_name,
              "equipment": equipment, "technician": technician,
              "recording_additional": recording_additional}
    for name, value in fields.items():
        # EDF+ header subfields are separated by spaces: spaces inside one become underscores
        fields[name] = _check_text(name, value, 80).replace(" ", "_")
    if len(patient_code) + len(patient_name) + 3 + 1 + 11 > 80:
        raise CrampInputError("patient_name", "patient code and name together must fit in "
                                              "65 characters")
    if len(equipment) + len(technician) + len(recording_additional) + len("Startdate") + 14 > 80:
        raise CrampInputError("recording_additional", "equipment, technician and "
                                                      "recording_additional must fit in 57 "
                                                      "characters together")
    if sex not in (None, "M", "F"):
        raise CrampInputError("sex", "expected 'M', 'F' or None")
    return {**fields, "sex": sex, "birthdate": birthdate}


def _apply_header(writer: pyedflib.EdfWriter, header: dict[str, object]) -> None:
    writer.setPatientCode(str(header["patient_code"]))
    writer.setPatientName(str(header["patient_name"]))
    writer.setEquipment(str(header["equipment"]))
    writer.setTechnician(str(header["technician"]))
    writer.setRecordingAdditional(str(header["recording_additional"]))
    if header["sex"] is not None:
        writer.setSex(1 if header["sex"] == "M" else 0)
    birthdate = header["birthdate"]
    if isinstance(birthdate, date):
        writer.setBirthdate(birthdate)
