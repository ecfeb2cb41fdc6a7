"""BIDS-EMG export of a simulated cohort, and a structural check that reads it back.

Layout (BIDS 1.11, EMG datatype; one session per night, task ``sleep``)::

    dataset_description.json  participants.tsv  participants.json  README
    task-sleep_events.json                         (columns of every events file)
    sub-001/ses-01/sub-001_ses-01_scans.tsv        (file and acquisition time)
    sub-001/ses-01/emg/sub-001_ses-01_task-sleep_emg.edf      (EDF+; BDF/EDF copied as is)
                       sub-001_ses-01_task-sleep_emg.json     (sidecar)
                       sub-001_ses-01_task-sleep_channels.tsv
                       sub-001_ses-01_task-sleep_events.tsv   (onset, duration, trial_type)

Captures are decoded through the same reader the replay uses and written as EDF+ (EMG in uV,
accelerometers in mg, each at its own rate; samples missing in a gap are written as 0 and
listed as ``signal_gap`` events). :func:`check_bids` verifies the structure and reads every
signal file back with pyedflib, comparing it with its channels table and sidecar.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detector.cohort.engine import Engine, map_unordered, progress_bar
from detector.cohort.night_task import one_line_error
from detector.cohort.results import private_dir
from detector.cohort.simulate import read_cohort
from detector.errors import CrampInputError
from detector.safe_files import write_private_text

BIDS_VERSION = "1.11.0"
TASK = "sleep"


@dataclass(frozen=True, kw_only=True)
class BidsNight:
    """One night to export: where it is and what it becomes."""

    recording: str
    truth: str
    participant: str
    session: str
    leg: str | None = None


def _tsv(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    for r in rows:
        w.writerow(["n/a" if v is None else v for v in r])
    return buf.getvalue()


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def export_night_task(root: str, night: BidsNight) -> dict[str, Any]:
    """Task: write one night's session folder; ``{"participant", "leg", ...}`` or error."""
    try:
        return _export_night(Path(root), night)
    except Exception as exc:  # reported per night; the others go on
        return {"error": one_line_error(exc)}


def _export_night(root: Path, night: BidsNight) -> dict[str, Any]:
    import pyedflib

    from detector import __version__
    from detector.io.labels import read_labels

    base = f"sub-{night.participant}_ses-{night.session}"
    ses_dir = private_dir(root / f"sub-{night.participant}" / f"ses-{night.session}")
    emg_dir = private_dir(ses_dir / "emg")
    stem = f"{base}_task-{TASK}"
    src = Path(night.recording)
    gaps: list[tuple[float, float, str]] = []
    if src.suffix.lower() in (".edf", ".bdf"):
        signal = emg_dir / f"{stem}_emg{src.suffix.lower()}"
        shutil.copyfile(src, signal)
        signal.chmod(0o600)
        leg = night.leg
    else:
        signal = emg_dir / f"{stem}_emg.edf"
        leg, gaps = _capture_to_edf(src, signal, patient=f"sub-{night.participant}")
    reader = pyedflib.EdfReader(str(signal))
    try:
        headers = reader.getSignalHeaders()
        duration_s = float(reader.file_duration)
        start = reader.getStartdatetime()
    finally:
        reader.close()
    channels = [["name", "type", "units", "description", "sampling_frequency",
                 "target_muscle", "placement_description", "status"]]
    emg_fs = None
    for h in headers:
        is_emg = h["label"].upper().startswith("EMG")
        emg_fs = emg_fs or (h["sample_frequency"] if is_emg else None)
        channels.append([
            h["label"], "EMG" if is_emg else "MISC", h["dimension"],
            "surface EMG, bipolar" if is_emg else "accelerometer axis (mg = 1e-3 g)",
            h["sample_frequency"], "gastrocnemius" if is_emg else None,
            f"calf of the {leg or 'unknown'} leg" if is_emg else
            ("shank, below the knee" if "Shank" in h["label"] else "dorsum of the foot"),
            "good"])
    write_private_text(emg_dir / f"{stem}_channels.tsv", _tsv(channels))
    truth = read_labels(night.truth, description_filter=None)
    events = [["onset", "duration", "trial_type", "leg"]]
    events += [[f"{e.onset_s:.3f}", f"{e.duration_s:.3f}", e.description or "n/a",
                leg or "n/a"] for e in truth]
    events += [[f"{a:.3f}", f"{b - a:.3f}", "signal_gap", role] for a, b, role in gaps]
    write_private_text(emg_dir / f"{stem}_events.tsv", _tsv(events))
    sidecar = {
        "TaskName": TASK,
        "TaskDescription": "Overnight recording in bed: calf surface EMG with shank and foot "
                           "accelerometers, to catch night-time calf cramps.",
        "Instructions": "Wear the band on the calf through the night.",
        "EMGPlacementScheme": "Other",
        "EMGPlacementSchemeDescription": "One bipolar pair over the belly of the "
                                         "gastrocnemius; accelerometers on the shank and "
                                         "on the dorsum of the foot.",
        "EMGReference": "bipolar (the second electrode of the pair)",
        "EMGGround": "n/a",
        "EMGChannelCount": sum(1 for c in channels[1:] if c[1] == "EMG"),
        "SamplingFrequency": emg_fs,
        "PowerLineFrequency": "n/a",
        "SoftwareFilters": "n/a",
        "HardwareFilters": "n/a",
        "RecordingDuration": duration_s,
        "RecordingType": "continuous",
        "Manufacturer": "night-cramp detector (simulated LegBand)",
        "SoftwareVersions": f"cramp {__version__}",
    }
    write_private_text(emg_dir / f"{stem}_emg.json", _json(sidecar))
    scans = [["filename", "acq_time"],
             [f"emg/{signal.name}", start.strftime("%Y-%m-%dT%H:%M:%S")]]
    write_private_text(ses_dir / f"{base}_scans.tsv", _tsv(scans))
    return {"participant": night.participant, "session": night.session, "leg": leg,
            "signal": str(signal.relative_to(root))}


def _capture_to_edf(src: Path, dst: Path, *, patient: str
                    ) -> tuple[str | None, list[tuple[float, float, str]]]:
    from detector.config import DetectorConfig
    from detector.io.channels import ChannelMap
    from detector.io.edf_export import write_edf
    from detector.io.open import open_recording

    source = open_recording(src, channel_map=ChannelMap(),
                            min_emg_fs_hz=DetectorConfig().emg.min_fs_hz)
    try:
        info = source.info
        arrays: dict[str, np.ndarray] = {}
        for role, spec in info.channels.items():
            n = round(info.duration_s * spec.fs)
            shape = (n,) if role == "emg" else (n, 3)
            arrays[role] = np.zeros(shape, dtype=np.float64)
        ends = dict.fromkeys(arrays, 0)
        for role, block in source.blocks(60.0):
            x = arrays[role]
            a = block.start_sample
            b = min(a + block.data.shape[0], x.shape[0])
            x[a:b] = block.data[: b - a]
            ends[role] = max(ends[role], b)
        arrays = {role: x[: ends[role]] for role, x in arrays.items()}  # what was received
        gaps = [(g.start_s, g.end_s, g.role) for g in source.gaps]
        fs = {role: _nominal(spec.fs) for role, spec in info.channels.items()}
        leg = info.leg if info.leg in ("left", "right") else None
    finally:
        source.close()
    acc_fs = fs.get("shank_acc", fs.get("foot_acc"))
    write_edf(dst, emg_uv=arrays.get("emg"), fs_emg=fs.get("emg"),
              shank_acc_g=arrays.get("shank_acc"), foot_acc_g=arrays.get("foot_acc"),
              fs_acc=acc_fs, start_utc=info.start_utc, patient_code=patient,
              emg_label=f"EMG Calf {leg.capitalize()}" if leg else "EMG Calf",
              equipment="LegBand", recording_additional="cramp_bids_export")
    dst.chmod(0o600)
    return leg, gaps


def _nominal(fs: float) -> float:
    """The band's nominal rate for a clock-fitted one (EDF needs whole samples per record)."""
    whole = float(round(fs))
    return whole if whole > 0 and abs(fs - whole) <= 5e-3 * whole else fs


@dataclass(kw_only=True)
class BidsSummary:
    """What :func:`export_bids` wrote."""

    root: Path
    exported: int
    failures: list[tuple[str, str]]


def export_bids(cohort_dir: Path, root: Path, *, engine: Engine, progress: bool = True
                ) -> BidsSummary:
    """Export a ``cramp simulate --nights`` cohort as a BIDS-EMG dataset (one task a night).

    Raises
    ------
    CrampInputError
        If ``cohort_dir`` is not a cohort, or ``root`` exists and is not empty.
    """
    doc = read_cohort(cohort_dir)
    if root.exists() and any(root.iterdir()):
        raise CrampInputError(str(root), "exists and is not empty; choose a new folder")
    root = private_dir(root).absolute()
    nights = [BidsNight(recording=str((cohort_dir / n["recording"]).absolute()),
                        truth=str((cohort_dir / n["truth"]).absolute()),
                        participant=str(n["participant"]), session=str(n["session"]))
              for n in doc["nights"]]
    done: list[dict[str, Any]] = []
    failures: list[tuple[str, str]] = []
    bar = progress_bar(len(nights), desc="bids") if progress else None
    for night, out in map_unordered(engine, export_night_task, nights,
                                    args_of=lambda n: (str(root), n), kwargs={},
                                    name="cramp-bids"):
        if "error" in out:
            failures.append((night.recording, out["error"]))
        else:
            done.append(out)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    _write_top_level(root, done, n_nights=len(nights))
    return BidsSummary(root=root, exported=len(done), failures=sorted(failures))


def _write_top_level(root: Path, done: list[dict[str, Any]], *, n_nights: int) -> None:
    from detector import __version__

    write_private_text(root / "dataset_description.json", _json({
        "Name": "night-cramp detector simulated cohort",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "raw",
        "License": "CC0",
        "Authors": ["night-cramp detector contributors"],
        "GeneratedBy": [{"Name": "cramp", "Version": __version__,
                         "Description": "cramp simulate --nights, then cramp bids"}],
    }))
    legs: dict[str, set[str]] = {}
    for d in done:
        legs.setdefault(d["participant"], set()).update({d["leg"]} if d["leg"] else set())
    rows = [["participant_id", "species", "leg"]]
    rows += [[f"sub-{p}", "homo sapiens", next(iter(v)) if len(v) == 1 else
              ("both" if v else None)] for p, v in sorted(legs.items())]
    write_private_text(root / "participants.tsv", _tsv(rows))
    write_private_text(root / "participants.json", _json({
        "participant_id": {"Description": "simulated sleeper"},
        "species": {"Description": "species of the participant"},
        "leg": {"Description": "leg the band was worn on",
                "Levels": {"left": "left calf", "right": "right calf",
                           "both": "either, on different nights"}},
    }))
    write_private_text(root / f"task-{TASK}_events.json", _json({
        "onset": {"Description": "start of the event from the first sample", "Units": "s"},
        "duration": {"Description": "length of the event", "Units": "s"},
        "trial_type": {"Description": "what happened (simulation truth)", "Levels": {
            "cramp": "calf cramp", "in_bed": "in bed", "sleep": "asleep",
            "signal_gap": "no samples on the channel named in 'leg'",
        }},
        "leg": {"Description": "leg of the event, or the channel of a signal gap"},
    }))
    write_private_text(root / "README", (
        "Simulated overnight leg-band recordings (calf surface EMG, shank and foot\n"
        "accelerometers) with their truth tables as events, exported by cramp "
        f"{__version__}.\n{len(done)} of {n_nights} nights exported; one session per "
        "night, task 'sleep'.\n"))
