"""A simulated night recorded through the band's real packet path, written for replay.

The night model (:mod:`firmware_sim.night`) gives the physical signals; the firmware model
samples, quantises and packs them exactly as the band would (:class:`Firmware`). Then either

- every notification goes, with its (simulated) receive time, into a crash-safe capture
  (``<stem>.cramp``, :mod:`detector.capture`), exactly what ``cramp record`` writes; or
- every notification is decoded with the same codec the live client uses and the samples are
  written to EDF+ (``<stem>.edf``, cramps as annotations) for other tools.

The truth table goes beside it (``<stem>.truth.tsv``, BIDS-style ``onset``/``duration``/
``trial_type``).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from detector.errors import CrampInputError
from detector.io.edf_export import write_edf
from detector.profiles.legband import LEGBAND
from detector.profiles.legband_codec import (
    decode_data_packet,
    packet_values,
)
from detector.profiles.legband_control import (
    SetRateCommand,
    StartCommand,
    decode_response,
    encode_command,
)
from firmware_sim.firmware import ArrayFeed, Firmware, FirmwareConfig
from firmware_sim.night import random_scenario, synthesize

STEP_S = 1.0
"""Seconds of firmware time advanced per step while collecting notifications."""


@dataclass(frozen=True)
class SimulatedFiles:
    """What :func:`simulate_to_edf` wrote.

    Attributes
    ----------
    recording : Path
        The recording: a capture (``.cramp``) or EDF+ (``.edf``).
    truth : Path
        The truth table (TSV: onset, duration, trial_type, leg).
    n_cramps : int
        Number of cramps in the truth table.
    packets : int
        Notifications decoded on the way.
    """

    recording: Path
    truth: Path
    n_cramps: int
    packets: int


def record_through_firmware(*, emg_uv: np.ndarray, shank_acc_g: np.ndarray,
                            foot_acc_g: np.ndarray, fs_emg: int, fs_acc: int, att_mtu: int,
                            duration_s: float, rng: np.random.Generator,
                            on_packet: Callable[[bytes, float], None] | None = None
                            ) -> tuple[dict[str, np.ndarray], int]:
    """Sample signals with the firmware model and decode its notifications.

    Parameters
    ----------
    emg_uv : ndarray, shape (n,)
        Physical calf EMG (uV) at ``fs_emg``.
    shank_acc_g, foot_acc_g : ndarray, shape (m, 3)
        Physical accelerations (g) at ``fs_acc``.
    fs_emg, fs_acc : int
        Band sampling rates to configure (Hz).
    att_mtu : int
        Negotiated ATT MTU (23 to 247).
    duration_s : float
        Seconds to record.
    rng : numpy.random.Generator
        Randomness of the firmware model (only used by random faults, none are set here).
    on_packet : callable, optional
        Called with each notification and its time (s from the start), in order.

    Returns
    -------
    dict, int
        Decoded samples per role (EMG (n,) uV, accelerometers (m, 3) g) and the number of
        notifications.
    """
    feed = ArrayFeed(emg_uv=emg_uv, emg_fs=fs_emg, shank_acc_g=shank_acc_g,
                     shank_acc_fs=fs_acc, foot_acc_g=foot_acc_g, foot_acc_fs=fs_acc)
    fw = Firmware(feed, config=FirmwareConfig(), rng=rng)
    fw.connect()
    fw.set_att_mtu(att_mtu)
    fw.set_data_notifications(True)
    streams = {s.name: s for s in LEGBAND.streams}
    commands = [SetRateCommand(streams["emg_raw"].stream_id, fs_emg),
                SetRateCommand(streams["shank_acc"].stream_id, fs_acc),
                SetRateCommand(streams["foot_acc"].stream_id, fs_acc),
                StartCommand(streams["emg_raw"].mask_bit | streams["shank_acc"].mask_bit
                             | streams["foot_acc"].mask_bit)]
    for command in commands:
        response = decode_response(fw.handle_command(encode_command(command)))
        if response.status != 0:
            raise CrampInputError("simulate", f"the band refused {command}: {response}")
    parts: dict[int, list[np.ndarray]] = {}
    next_counter: dict[int, int] = {}
    n_packets = 0
    t = 0.0
    while t < duration_s:
        t = min(t + STEP_S, duration_s)
        for payload in fw.advance_to(t):
            if on_packet is not None:
                on_packet(payload, t)
            packet = decode_data_packet(payload)
            n_packets += 1
            expected = next_counter.get(packet.stream_id, packet.first_sample)
            if packet.first_sample != expected:
                raise CrampInputError("simulate", f"stream {packet.stream_id} jumped from "
                                      f"sample {expected} to {packet.first_sample}")
            values = packet_values(packet)
            parts.setdefault(packet.stream_id, []).append(values)
            next_counter[packet.stream_id] = expected + values.shape[0]
    by_role = {}
    for stream in LEGBAND.streams:
        if stream.stream_id in parts:
            by_role[stream.role] = np.concatenate(parts[stream.stream_id])
    return by_role, n_packets


def simulate_night(out_dir: Path, *, hours: float, seed: int, file_format: str = "capture",
                   fs_emg: int = 1000, fs_acc: int = 100, att_mtu: int = 247,
                   n_cramps: int | None = None, stem: str | None = None,
                   start_utc: datetime | None = None) -> SimulatedFiles:
    """Simulate a night, record it through the firmware, write it with its truth table.

    Parameters
    ----------
    out_dir : Path
        Existing directory for the files.
    hours : float
        Length of the night (h).
    seed : int
        Same seed, same night (same bytes).
    file_format : {"capture", "edf"}
        Crash-safe capture of the raw notifications, or EDF+ of the decoded samples.

    Raises
    ------
    CrampInputError
        If an output file already exists, the directory is missing or a value is invalid.
    """
    if not hours > 0:
        raise CrampInputError("--hours", f"expected a positive number of hours, got {hours}")
    if file_format not in ("capture", "edf"):
        raise CrampInputError("--format", f"expected capture or edf, got {file_format!r}")
    if not out_dir.is_dir():
        raise CrampInputError(str(out_dir), "output directory does not exist")
    stem = stem or f"sim-seed{seed}"
    rec_path = out_dir / f"{stem}.{'cramp' if file_format == 'capture' else 'edf'}"
    truth_path = out_dir / f"{stem}.truth.tsv"
    for p in (rec_path, truth_path):
        if p.exists():
            raise CrampInputError(str(p), "already exists; not overwriting it")
    rng = np.random.default_rng(seed)
    scenario = random_scenario(duration_s=hours * 3600.0, rng=rng, fs_emg=float(fs_emg),
                               fs_acc=float(fs_acc), n_cramps=n_cramps, start_utc=start_utc)
    night = synthesize(scenario, rng=rng)
    args = {"emg_uv": night.emg_uv, "shank_acc_g": night.shank_acc_g,
            "foot_acc_g": night.foot_acc_g, "fs_emg": fs_emg, "fs_acc": fs_acc,
            "att_mtu": att_mtu, "duration_s": scenario.duration_s, "rng": rng}
    truth = night.truth
    cramps = truth[truth.kind == "cramp"]
    if file_format == "capture":
        from detector import __version__
        from detector.capture.writer import CaptureWriter

        epoch_s = scenario.start_utc.timestamp()
        session = {"profile": "legband", "leg": scenario.leg, "device_name": "LegBand-SIM",
                   "simulated": True, "seed": seed, "att_mtu": att_mtu,
                   "host_start_utc": scenario.start_utc.isoformat(),
                   "detector_version": __version__}
        # fsync (and the source definitions repeated after each) paced by the night's own
        # time, not the machine's: the same seed gives the same bytes however loaded it is
        newest_s = [0.0]

        def on_packet(payload: bytes, t_s: float) -> None:
            newest_s[0] = t_s
            writer.packet(source="legband:data", payload=payload, received_s=epoch_s + t_s)

        with CaptureWriter(rec_path, session=session, background_sync=False,
                           clock=lambda: newest_s[0]) as writer:
            _, n_packets = record_through_firmware(**args, on_packet=on_packet)
    else:
        decoded, n_packets = record_through_firmware(**args)
        write_edf(rec_path, emg_uv=decoded["emg"], fs_emg=fs_emg,
                  shank_acc_g=decoded["shank_acc"], foot_acc_g=decoded["foot_acc"],
                  fs_acc=fs_acc, start_utc=scenario.start_utc, emg_range_uv=8192.0,
                  emg_label=f"EMG Calf {scenario.leg.capitalize()}",
                  annotations=[(float(r.onset_s), float(r.duration_s), "cramp")
                               for r in cramps.itertuples()],
                  equipment="LegBand_simulated", recording_additional=f"seed_{seed}")
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(["onset", "duration", "trial_type", "leg"])
    for r in truth.sort_values("onset_s").itertuples():
        w.writerow([f"{r.onset_s:.3f}", f"{r.duration_s:.3f}", r.kind, r.leg])
    fd = os.open(truth_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(buf.getvalue())
    return SimulatedFiles(recording=rec_path, truth=truth_path, n_cramps=len(cramps),
                          packets=n_packets)
