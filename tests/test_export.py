"""Tests of ``cramp export``: events tables (CSV, JSON) and EDF+ with signals."""

from __future__ import annotations

import csv
import hashlib
import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from store_helpers import EpisodeSpec, cramp, make_night

from detector.cli.main import main as cramp_cli
from detector.errors import CrampInputError
from detector.export import EVENT_COLUMNS, read_signals
from detector.io.edf_export import edf_rates, write_edf
from detector.io.labels import read_labels
from detector.pipeline.result import NightResult
from detector.signals import ChannelSpec, RecordingInfo, SignalBlock
from detector.store import save_night

START = datetime(2024, 3, 3, 21, 0, tzinfo=UTC)


def _store_nights(db: Path) -> list[NightResult]:
    rng = np.random.default_rng(30)
    results = [
        make_night(rng=rng, start_utc=START),
        make_night(rng=rng, start_utc=START + timedelta(days=1), leg="right",
                   path="/data/n2.edf", episodes=(EpisodeSpec(3000.0, 61.5, leg="right",
                                                              plantar_flexion_deg=None),)),
    ]
    for i, r in enumerate(results):
        save_night(r, db_path=db, recording_sha256=f"{i + 1:064x}", timezone="UTC")
    return results


def test_csv_events_table(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "e.sqlite3"
    results = _store_nights(db)
    out = tmp_path / "events.csv"
    assert cramp(["export", "--db", str(db), "--format", "csv", "--out", str(out)]) == 0
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert cramp(["export", "--db", str(db), "--format", "csv", "--out", "-"]) == 0
    assert capsys.readouterr().out == out.read_text(encoding="utf-8")  # only the table
    assert not (tmp_path / "-").exists()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:4] == ["onset", "duration", "onset_utc", "leg"]
    assert tuple(header) == EVENT_COLUMNS
    eps = [e for r in results for e in r.episodes]
    assert [float(r["onset"]) for r in rows] == [e.onset_s for e in eps]
    assert [float(r["duration"]) for r in rows] == [e.duration_s for e in eps]
    assert [r["leg"] for r in rows] == ["left", "left", "right"]
    assert [datetime.fromisoformat(r["onset_utc"]) for r in rows] == [e.onset_utc for e in eps]
    assert rows[2]["plantar_flexion_deg"] == "n/a"
    assert rows[0]["evidence"] == "sustained_emg;plantar_flexion"
    assert [r["night_date"] for r in rows] == ["2024-03-03", "2024-03-03", "2024-03-04"]
    # Another tool's reader (BIDS-style events) finds the same cramps.
    labels = read_labels(out)
    assert [(x.onset_s, x.duration_s) for x in labels] == sorted(
        (e.onset_s, e.duration_s) for e in eps)


def test_json_events_and_night_choice(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    results = _store_nights(db)
    out = tmp_path / "events.json"
    cramp(["export", "--db", str(db), "--format", "json", "--night", "2024-03-04",
           "--out", str(out)])
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["columns"][:2] == ["onset", "duration"]
    assert len(doc["events"]) == 1
    ev = doc["events"][0]
    assert list(ev)[:2] == ["onset", "duration"]
    assert (ev["onset"], ev["duration"], ev["leg"]) == (3000.0, 61.5, "right")
    assert ev["plantar_flexion_deg"] is None
    assert ev["peak_emg_uv"] == results[1].episodes[0].peak_emg_uv
    assert doc["nights"][0]["recording"] == "/data/n2.edf"
    out2 = tmp_path / "last.json"
    cramp(["export", "--db", str(db), "--format", "json", "--last", "2", "--out", str(out2)])
    assert len(json.loads(out2.read_text(encoding="utf-8"))["events"]) == 3


def test_export_never_overwrites_without_force(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    _store_nights(db)
    out = tmp_path / "events.csv"
    out.write_text("keep me")
    with pytest.raises(CrampInputError, match="already exists"):
        cramp(["export", "--db", str(db), "--format", "csv", "--out", str(out)])
    assert out.read_text() == "keep me"
    cramp(["export", "--db", str(db), "--format", "csv", "--out", str(out), "--force"])
    assert out.read_text(encoding="utf-8").startswith("onset,duration,")
    with pytest.raises(CrampInputError, match="does not exist"):
        cramp(["export", "--db", str(db), "--format", "csv", "--out",
               str(tmp_path / "no" / "x.csv")])


# ---------------------------------------------------------------- EDF+

FS_EMG = 500.0
FS_ACC = 50.0
DURATION_S = 600
LABELS = {"emg": ("EMG Calf",), "shank_acc": ("Acc Shank X", "Acc Shank Y", "Acc Shank Z"),
          "foot_acc": ("Acc Foot X", "Acc Foot Y", "Acc Foot Z")}
EPISODES = (EpisodeSpec(120.0, 40.0), EpisodeSpec(300.5, 22.25))


def _raw_recording(path: Path, rng: np.random.Generator) -> np.ndarray:
    """Write a short EDF+ recording (EMG with two bursts, still accelerometers)."""
    emg = rng.normal(0.0, 3.0, int(DURATION_S * FS_EMG))
    for spec in EPISODES:
        a, b = int(spec.onset_s * FS_EMG), int((spec.onset_s + spec.duration_s) * FS_EMG)
        emg[a:b] = rng.normal(0.0, 80.0, b - a)
    n_acc = int(DURATION_S * FS_ACC)
    shank = np.tile([0.0, 0.0, 1.0], (n_acc, 1)) + rng.normal(0, 0.002, (n_acc, 3))
    foot = np.tile([0.5, 0.0, 0.86], (n_acc, 1)) + rng.normal(0, 0.002, (n_acc, 3))
    write_edf(path, emg_uv=emg, fs_emg=FS_EMG, shank_acc_g=shank, foot_acc_g=foot,
              fs_acc=FS_ACC, start_utc=START)
    return emg


def _stored_edf_night(tmp_path: Path) -> tuple[Path, Path, NightResult, np.ndarray]:
    raw = tmp_path / "night.edf"
    emg = _raw_recording(raw, np.random.default_rng(31))
    result = make_night(rng=np.random.default_rng(32), start_utc=START, duration_s=DURATION_S,
                        in_bed=((30.0, 570.0),), episodes=EPISODES, gaps=(), poor_signal=(),
                        path=str(raw), labels=LABELS, fs_emg=FS_EMG, fs_acc=FS_ACC)
    db = tmp_path / "e.sqlite3"
    sha = hashlib.sha256(raw.read_bytes()).hexdigest()
    save_night(result, db_path=db, recording_sha256=sha, timezone="UTC")
    return db, raw, result, emg


def test_edf_export_has_signals_and_episode_annotations(tmp_path: Path) -> None:
    db, _, result, emg = _stored_edf_night(tmp_path)
    out = tmp_path / "export.edf"
    assert cramp(["export", "--db", str(db), "--format", "edf", "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with pyedflib.EdfReader(str(out)) as reader:
        onsets, durations, texts = reader.readAnnotations()
        labels = reader.getSignalLabels()
        emg_back = reader.readSignal(labels.index("EMG Calf Left"))
        start = reader.getStartdatetime()
        fs_back = reader.getSampleFrequency(labels.index("EMG Calf Left"))
        equipment = reader.getEquipment()
    cramps = [(float(o), float(d), t) for o, d, t in zip(onsets, durations, texts,
                                                         strict=True) if "cramp" in t.lower()]
    assert [t for _, _, t in cramps] == ["Cramp 1 left leg", "Cramp 2 left leg"]
    np.testing.assert_allclose([c[:2] for c in cramps],
                               [(e.onset_s, e.duration_s) for e in result.episodes], atol=1e-3)
    assert "In bed" in list(texts)
    # The project's own label reader (used by `cramp eval`) sees just the cramps.
    np.testing.assert_allclose([(x.onset_s, x.duration_s) for x in read_labels(out)],
                               [c[:2] for c in cramps])
    assert len(labels) == 7
    assert fs_back == FS_EMG
    assert start == START.replace(tzinfo=None)
    assert emg_back.shape == emg.shape
    step = 2 * max(1000.0, float(np.abs(emg).max())) / 65535
    np.testing.assert_allclose(emg_back, emg, atol=step)
    assert "edf" in equipment.lower()  # the source kept (here: an EDF recording)
    # the leg comes back through the project's own reader
    from detector.io.channels import ChannelMap
    from detector.io.open import open_recording

    with open_recording(out, channel_map=ChannelMap(), min_emg_fs_hz=100.0) as source:
        assert source.info.leg == "left"


def test_edf_rates_per_signal() -> None:
    assert edf_rates([1000.0, 100.0, 52.0]) == (1, [1000, 100, 52])
    assert edf_rates([1000.0000001836318, 100.0]) == (1, [1000, 100])  # a fitted rate
    assert edf_rates([12.5, 100.0]) == (2, [25, 200])
    d, spr = edf_rates([1000.37])  # not whole in 60 s: the closest duration
    assert abs(spr[0] / d - 1000.37) / 1000.37 < 1e-5


def test_edf_keeps_different_rates_and_many_annotations(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n_s = 20
    emg = rng.normal(0, 5, n_s * 1000)
    shank = rng.normal(0, 0.01, (n_s * 100, 3))
    foot = rng.normal(0, 0.01, (n_s * 52, 3))
    notes = [(0.25 * i, 0.1, f"Event {i}") for i in range(70)]  # 3.5 per 1-s record
    out = write_edf(tmp_path / "r.edf", emg_uv=emg, fs_emg=1000.0, shank_acc_g=shank,
                    fs_acc=100.0, foot_acc_g=foot, fs_foot_acc=52.0, leg="right",
                    start_utc=START, annotations=notes)
    with pyedflib.EdfReader(str(out)) as reader:
        rates = [reader.getSampleFrequency(i) for i in range(reader.signals_in_file)]
        labels = reader.getSignalLabels()
        onsets, _, texts = reader.readAnnotations()
        foot_back = reader.readSignal(labels.index("Acc Foot X R"))
    assert rates == [1000.0, 100.0, 100.0, 100.0, 52.0, 52.0, 52.0]
    assert labels[0] == "EMG Calf Right"
    assert list(texts) == [t for _, _, t in notes]
    np.testing.assert_allclose(onsets, [o for o, _, _ in notes], atol=1e-6)
    assert foot_back.shape == (n_s * 52,)
    np.testing.assert_allclose(foot_back, foot[:, 0] * 1000.0, atol=16000 / 65535)
    too_many = [(0.01 * i, 0.0, "x") for i in range(65 * n_s + 1)]
    with pytest.raises(CrampInputError, match="do not fit"):
        write_edf(tmp_path / "x.edf", emg_uv=emg, fs_emg=1000.0, start_utc=START,
                  annotations=too_many)
    assert not (tmp_path / "x.edf").exists()


def test_edf_export_of_the_sample_capture(tmp_path: Path,
                                          capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    """A recorded capture (fitted rates, two accelerometers) exports, and reads back."""
    db = tmp_path / "e.sqlite3"
    capture = Path(__file__).parent.parent / "recordings" / "sample_capture.cramp"
    assert cramp_cli(["replay", str(capture), "--db", str(db), "--json", "-"]) == 0
    capfdbinary.readouterr()
    out = tmp_path / "capture.edf"
    assert cramp(["export", "--db", str(db), "--format", "edf", "--out", str(out)]) == 0
    with pyedflib.EdfReader(str(out)) as reader:
        labels = reader.getSignalLabels()
        rates = [reader.getSampleFrequency(i) for i in range(reader.signals_in_file)]
        _, _, texts = reader.readAnnotations()
        n_emg = reader.getNSamples()[0]
        equipment = reader.getEquipment()
    assert labels[0] == "EMG Calf Right" and rates[:2] == [1000.0, 100.0]
    assert [t for t in texts if t.startswith("Cramp")] == ["Cramp 1 right leg"]
    assert 360_000 <= n_emg <= 361_000  # the 6-min capture in whole 1-s records
    assert "legband" in equipment.lower()
    # the same export on standard output, byte for byte
    capfdbinary.readouterr()
    assert cramp(["export", "--db", str(db), "--format", "edf", "--out", "-"]) == 0
    assert capfdbinary.readouterr().out[:256] == out.read_bytes()[:256]
    assert not (Path.cwd() / "-").exists()


def test_edf_export_needs_the_raw_recording(tmp_path: Path) -> None:
    db, raw, _, _ = _stored_edf_night(tmp_path)
    with raw.open("r+b") as fh:  # change one byte of the data
        fh.seek(-10, 2)
        byte = fh.read(1)
        fh.seek(-10, 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(CrampInputError, match="changed"):
        cramp(["export", "--db", str(db), "--format", "edf", "--out",
               str(tmp_path / "x.edf")])
    raw.unlink()
    with pytest.raises(CrampInputError, match="raw recording is needed") as info:
        cramp(["export", "--db", str(db), "--format", "edf", "--out",
               str(tmp_path / "x.edf")])
    assert "\n" not in str(info.value)
    assert not (tmp_path / "x.edf").exists()
    with pytest.raises(CrampInputError, match=r"\.edf"):
        cramp(["export", "--db", str(db), "--format", "edf", "--out",
               str(tmp_path / "x.csv")])


@dataclass
class _FakeSource:
    """A recording source with a gap in every channel, for the signal assembly."""

    info: RecordingInfo
    blocks_list: list[tuple[str, SignalBlock]] = field(default_factory=list)

    def blocks(self, chunk_s: float) -> Iterator[tuple[str, SignalBlock]]:
        yield from self.blocks_list

    def close(self) -> None:
        return None


def test_signal_assembly_fills_gaps_with_zero() -> None:
    info = RecordingInfo(
        path="x", start_utc=START, duration_s=10.0,
        channels={"emg": ChannelSpec(role="emg", fs=100.0, unit="uV"),
                  "shank_acc": ChannelSpec(role="shank_acc", fs=10.0, unit="g")})
    src = _FakeSource(info, [
        ("emg", SignalBlock(data=np.full(300, 5.0), fs=100.0, start_sample=0)),
        ("shank_acc", SignalBlock(data=np.ones((40, 3)), fs=10.0, start_sample=0)),
        ("emg", SignalBlock(data=np.full(500, 7.0), fs=100.0, start_sample=500)),
        ("shank_acc", SignalBlock(data=np.ones((50, 3)), fs=10.0, start_sample=50)),
    ])
    out = read_signals(src)
    emg, fs = out["emg"]
    assert fs == 100.0
    assert emg.shape == (1000,)
    assert (emg[:300] == 5.0).all() and (emg[300:500] == 0.0).all()
    assert (emg[500:] == 7.0).all()
    acc, _ = out["shank_acc"]
    assert acc.shape == (100, 3)
    assert (acc[40:50] == 0.0).all() and (acc[50:] == 1.0).all()
