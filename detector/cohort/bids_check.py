"""Structural check of a BIDS-EMG dataset, reading every signal file back with pyedflib."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np

REQUIRED_EMG_SIDECAR = ("EMGPlacementScheme", "EMGReference", "SamplingFrequency",
                        "PowerLineFrequency", "SoftwareFilters", "TaskName")
"""Fields the BIDS EMG sidecar must have."""
_NAME = re.compile(r"^sub-(?P<sub>[A-Za-z0-9]+)_ses-(?P<ses>[A-Za-z0-9]+)_task-"
                   r"(?P<task>[A-Za-z0-9]+)_(?P<suffix>emg|channels|events)\.(?P<ext>edf|bdf|"
                   r"json|tsv)$")


def check_bids(root: Path) -> list[str]:
    """Structural check of a BIDS-EMG dataset, reading every signal file back.

    Returns
    -------
    list of str
        One line per problem; empty when the dataset passes.
    """
    import pyedflib

    problems: list[str] = []

    def need(cond: bool, msg: str) -> bool:
        if not cond:
            problems.append(msg)
        return cond

    desc = root / "dataset_description.json"
    if need(desc.is_file(), "dataset_description.json is missing"):
        d = json.loads(desc.read_text(encoding="utf-8"))
        need(bool(d.get("Name")) and bool(d.get("BIDSVersion")),
             "dataset_description.json needs Name and BIDSVersion")
    subjects = sorted(p.name for p in root.glob("sub-*") if p.is_dir())
    need(bool(subjects), "no sub-* folder")
    part = root / "participants.tsv"
    if need(part.is_file(), "participants.tsv is missing"):
        rows = list(csv.reader(part.read_text(encoding="utf-8").splitlines(), delimiter="\t"))
        need(rows[0][:1] == ["participant_id"], "participants.tsv must start with "
                                                 "participant_id")
        need(sorted(r[0] for r in rows[1:]) == subjects,
             "participants.tsv does not list exactly the sub-* folders")
    signals = sorted(p for p in root.glob("sub-*/ses-*/emg/*_emg.*")
                     if p.suffix in (".edf", ".bdf"))
    need(bool(signals), "no *_emg.edf or *_emg.bdf file")
    for path in root.glob("sub-*/ses-*/emg/*"):
        m = _NAME.match(path.name)
        if need(m is not None, f"{path.relative_to(root)}: not a BIDS EMG file name"):
            assert m is not None
            need(path.parts[-4] == f"sub-{m['sub']}" and path.parts[-3] == f"ses-{m['ses']}",
                 f"{path.relative_to(root)}: entities do not match its folders")
    for sig in signals:
        rel = sig.relative_to(root)
        stem = sig.name.rsplit("_emg.", 1)[0]
        side = sig.with_name(f"{stem}_emg.json")
        chan = sig.with_name(f"{stem}_channels.tsv")
        evts = sig.with_name(f"{stem}_events.tsv")
        if not all(need(p.is_file(), f"{rel}: {p.name} is missing") for p in (side, chan, evts)):
            continue
        meta = json.loads(side.read_text(encoding="utf-8"))
        missing = [k for k in REQUIRED_EMG_SIDECAR if k not in meta]
        need(not missing, f"{side.name}: missing {', '.join(missing)}")
        try:
            reader = pyedflib.EdfReader(str(sig))
        except OSError as exc:
            problems.append(f"{rel}: cannot be read back ({exc})")
            continue
        try:
            headers = reader.getSignalHeaders()
            duration_s = float(reader.file_duration)
            n_samples = [int(n) for n in reader.getNSamples()]
            first = reader.readSignal(0, 0, min(n_samples[0], 1000)) if n_samples else None
        finally:
            reader.close()
        need(first is not None and bool(np.all(np.isfinite(first))),
             f"{rel}: first signal not readable")
        rows = list(csv.reader(chan.read_text(encoding="utf-8").splitlines(), delimiter="\t"))
        need(rows[0][:3] == ["name", "type", "units"], f"{chan.name}: columns must start "
                                                       "name, type, units")
        got = [(r[0], r[2], float(r[4])) for r in rows[1:]]
        want = [(h["label"], h["dimension"], float(h["sample_frequency"])) for h in headers]
        need(got == want, f"{chan.name}: does not match the signals in {sig.name}")
        emg_rates = [float(r[4]) for r in rows[1:] if r[1] == "EMG"]
        need(emg_rates[:1] == [float(meta.get("SamplingFrequency", -1))],
             f"{side.name}: SamplingFrequency is not the EMG channel's rate")
        need(abs(float(meta.get("RecordingDuration", -1)) - duration_s) < 1e-6,
             f"{side.name}: RecordingDuration is not the file's")
        ev = list(csv.reader(evts.read_text(encoding="utf-8").splitlines(), delimiter="\t"))
        need(ev[0][:2] == ["onset", "duration"] and "trial_type" in ev[0],
             f"{evts.name}: columns must start onset, duration and include trial_type")
        for r in ev[1:]:
            ok = _is_number(r[0]) and _is_number(r[1]) and 0 <= float(r[0]) <= duration_s \
                and float(r[1]) >= 0
            if not need(ok, f"{evts.name}: bad onset/duration {r[:2]}"):
                break
    return problems


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
