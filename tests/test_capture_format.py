"""Capture files: byte layout, round trip, 0600/O_EXCL, fsync pacing, damage, recovery."""

from __future__ import annotations

import json
import os
import stat
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from detector.capture.format import FILE_MAGIC, EventRecord, PacketRecord
from detector.capture.reader import read_capture
from detector.capture.recording import CaptureRecording
from detector.capture.recover import recover_capture
from detector.capture.writer import CaptureWriter
from detector.cli.main import main
from detector.errors import CrampInputError
from detector.io.channels import ChannelMap
from detector.io.open import open_recording

SESSION = {"profile": "legband", "device": {"address": "AA:BB", "name": "LegBand-1"}}


def frames(raw: bytes) -> list[tuple[int, int, int, bytes]]:
    """Walk the documented layout: (start, end, type, body) of each record after the header."""
    out, pos = [], 16
    while pos < len(raw):
        sync, rtype, length = struct.unpack_from("<4sBI", raw, pos)
        assert sync == b"\xd3\x1c\xa5\x7e"
        body = raw[pos + 9:pos + 9 + length]
        (crc,) = struct.unpack_from("<I", raw, pos + 9 + length)
        assert crc == zlib.crc32(raw[pos + 4:pos + 9 + length])
        out.append((pos, pos + 13 + length, rtype, body))
        pos += 13 + length
    return out


def write_sample(path: Path, n_packets: int = 6) -> list[PacketRecord | EventRecord]:
    """A capture with packets of two sources and events; returns what was written."""
    written: list[PacketRecord | EventRecord] = []
    with CaptureWriter(path, session=SESSION, background_sync=False) as w:
        for i in range(n_packets):
            src = "legband:data" if i % 3 else "legband:status"
            payload = bytes(range(i, i + 10 + i))
            w.packet(source=src, payload=payload, received_s=1.7e9 + i * 0.25)
            written.append(PacketRecord(source=src, payload=payload, received_s=1.7e9 + i * 0.25))
            if i == 1:
                w.flush()
            if i % 2:
                w.event("status", at_s=1.7e9 + i * 0.25 + 0.1, battery_pct=90 - i)
                written.append(EventRecord(kind="status", at_s=1.7e9 + i * 0.25 + 0.1,
                                           fields={"battery_pct": 90 - i}))
        w.event("stop", at_s=1.7e9 + 10.0)
        written.append(EventRecord(kind="stop", at_s=1.7e9 + 10.0, fields={}))
    return written


def test_round_trip_layout_and_permissions(tmp_path: Path) -> None:
    path = tmp_path / "night.capture"
    written = write_sample(path)
    raw = path.read_bytes()
    assert raw[:8] == FILE_MAGIC == b"\x89CRAMPC\n"
    version, reserved, crc = struct.unpack_from("<HHI", raw, 8)
    assert (version, reserved, crc) == (1, 0, zlib.crc32(raw[:12]))
    recs = frames(raw)
    assert recs[0][2] == 1  # session first
    session = json.loads(recs[0][3])
    assert session["device"] == SESSION["device"] and "detector_version" in session
    assert "host_start_utc" in session
    types = [r[2] for r in recs]
    assert types.count(3) == 6 and types.count(4) == len(written) - 6
    cap = read_capture(path)
    assert cap.damage.ok and cap.damage.describe() == []
    assert list(cap.records) == written
    assert list(cap.records) == written  # re-iterable
    assert (cap.n_packets, cap.n_events) == (6, len(written) - 6)
    assert cap.first_s == 1.7e9 and cap.last_s == 1.7e9 + 10.0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "night.capture"
    path.write_bytes(b"precious")
    with pytest.raises(CrampInputError, match="already exists"):
        CaptureWriter(path, session=SESSION, background_sync=False)
    assert path.read_bytes() == b"precious"
    with pytest.raises(CrampInputError, match="directory does not exist"):
        CaptureWriter(tmp_path / "nope" / "x.capture", session=SESSION)


def test_bad_values_are_refused_before_writing(tmp_path: Path) -> None:
    with CaptureWriter(tmp_path / "a.capture", session=SESSION, background_sync=False) as w:
        size = w.bytes_written
        with pytest.raises(ValueError, match="JSON"):
            w.event("status", at_s=1.0, value=object())
        with pytest.raises(ValueError, match="finite"):
            w.packet(source="x", payload=b"1", received_s=float("nan"))
        with pytest.raises(ValueError, match="NaN"):
            w.event("status", at_s=1.0, value=float("nan"))
        assert w.bytes_written - size < 40  # at most the new source definition
    with pytest.raises(ValueError, match="closed"):
        w.packet(source="x", payload=b"1", received_s=1.0)


def test_fsync_at_least_once_a_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    synced_at: list[float] = []
    real_fsync = os.fsync

    def fake_fsync(fd: int) -> None:
        synced_at.append(now[0])
        real_fsync(fd)

    monkeypatch.setattr("detector.capture.writer.os.fsync", fake_fsync)
    with CaptureWriter(tmp_path / "a.capture", session=SESSION, background_sync=False,
                       clock=lambda: now[0]) as w:
        writes: list[float] = []
        for _ in range(40):
            now[0] += 0.3
            w.packet(source="legband:data", payload=b"\x11" * 20, received_s=1.7e9 + now[0])
            writes.append(now[0])
        end = now[0]
    # every write is made durable within 1 s (the last ones by close)
    for t in writes:
        if t <= end - 1.0:
            assert any(t <= s <= t + 1.0 + 1e-9 for s in synced_at), t
    assert len(synced_at) <= 40 * 0.3 / 1.0 + 4  # not on every record


def test_background_thread_syncs_an_idle_writer(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    synced = threading.Event()
    real_fsync = os.fsync
    with CaptureWriter(tmp_path / "a.capture", session=SESSION, sync_interval_s=0.05) as w:
        def fake_fsync(fd: int) -> None:
            synced.set()
            real_fsync(fd)

        monkeypatch.setattr("detector.capture.writer.os.fsync", fake_fsync)
        w.packet(source="legband:data", payload=b"\x01" * 12, received_s=1.7e9)
        assert synced.wait(timeout=10.0)  # no further record: the thread must sync it


def test_torn_tail_drops_only_the_last_record(tmp_path: Path) -> None:
    path = tmp_path / "a.capture"
    written = write_sample(path)
    raw = path.read_bytes()
    recs = frames(raw)
    last_start = recs[-1][0]
    for cut in (last_start + 1, last_start + 9, len(raw) - 1):
        torn = tmp_path / f"torn{cut}.capture"
        torn.write_bytes(raw[:cut])
        cap = read_capture(torn)
        assert list(cap.records) == written[:-1]
        assert cap.damage.torn_tail_bytes == cut - last_start
        assert cap.damage.corrupt_bytes == 0 and cap.intact_end == last_start
        assert "torn tail" in " ".join(cap.damage.describe())


def test_corrupt_middle_record_is_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "a.capture"
    written = write_sample(path)
    raw = bytearray(path.read_bytes())
    recs = frames(bytes(raw))
    kept_types = [r for r in recs if r[2] in (3, 4)]
    victim = kept_types[3]  # a packet or event in the middle
    raw[victim[0] + 12] ^= 0xFF
    bad = tmp_path / "bad.capture"
    bad.write_bytes(bytes(raw))
    cap = read_capture(bad)
    assert list(cap.records) == written[:3] + written[4:]
    d = cap.damage
    assert (d.corrupt_regions, d.corrupt_records) == (1, 1)
    assert d.corrupt_bytes == victim[1] - victim[0] and d.torn_tail_bytes == 0


def test_damaged_source_definition_does_not_orphan_packets(tmp_path: Path) -> None:
    path = tmp_path / "a.capture"
    written = write_sample(path)
    raw = bytearray(path.read_bytes())
    first_source = next(r for r in frames(bytes(raw)) if r[2] == 2)
    raw[first_source[1] - 1] ^= 0x01  # its CRC
    bad = tmp_path / "bad.capture"
    bad.write_bytes(bytes(raw))
    cap = read_capture(bad)
    assert list(cap.records) == written
    assert cap.damage.orphan_packets == 0 and cap.damage.corrupt_regions == 1


def test_not_a_capture(tmp_path: Path) -> None:
    for name, data in (("empty.capture", b""), ("text.capture", b"hello world" * 10),
                       ("short.capture", FILE_MAGIC + b"\x01")):
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(CrampInputError, match=f"^{name}: "):
            read_capture(p)
    newer = tmp_path / "newer.capture"
    head = FILE_MAGIC + struct.pack("<HH", 9, 0)
    newer.write_bytes(head + struct.pack("<I", zlib.crc32(head)))
    with pytest.raises(CrampInputError, match="version 9 is newer"):
        read_capture(newer)
    with pytest.raises(CrampInputError, match="file not found"):
        read_capture(tmp_path / "missing.capture")


def test_recover_repairs_keeps_backup_and_loses_no_good_record(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]
                                                               ) -> None:
    path = tmp_path / "a.capture"
    written = write_sample(path)
    raw = bytearray(path.read_bytes())
    recs = frames(bytes(raw))
    victim = [r for r in recs if r[2] == 3][2]
    raw[victim[0] + 20] ^= 0x55
    damaged = bytes(raw) + b"\xd3\x1c\xa5\x7e\x03\x40"  # plus a torn tail
    path.write_bytes(damaged)
    os.chmod(path, 0o600)
    assert main(["recover", "--check", str(path)]) == 1
    assert path.read_bytes() == damaged  # check only: untouched
    report = recover_capture(path)
    assert report.repaired and report.backup == tmp_path / "a.capture.bak"
    assert report.backup.read_bytes() == damaged
    lost = [w for w in written if isinstance(w, PacketRecord)][2]
    expected = [w for w in written if w != lost]
    fixed = read_capture(path)
    assert fixed.damage.ok and list(fixed.records) == expected
    assert fixed.session["device"] == SESSION["device"] and "recovered" in fixed.session
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert report.damage.torn_tail_bytes == 6 and report.damage.corrupt_regions == 1
    assert report.packets == 5
    assert report.damage.bytes_dropped == 6 + victim[1] - victim[0]
    # a second run finds it intact and leaves it alone
    again = recover_capture(path)
    assert again.damage.ok and not again.repaired
    assert main(["recover", str(path)]) == 0
    out = capsys.readouterr().out
    assert "intact" in out and "records kept: 5 packets" in out
    assert main(["recover", "--json", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["intact"] and doc["packets"] == 5 and doc["bytes_dropped"] == 0


def test_open_recording_recognises_a_capture_by_magic(tmp_path: Path) -> None:
    from capture_sim import Central, sine_feed

    from firmware_sim.firmware import Firmware, FirmwareConfig

    path = tmp_path / "night.bin"  # not the usual name: the magic decides
    fw = Firmware(sine_feed(30.0), config=FirmwareConfig(), rng=np.random.default_rng(0))
    with CaptureWriter(path, session=SESSION, background_sync=False) as w:
        central = Central(fw, lambda p, t: w.packet(source="legband:data", payload=p,
                                                    received_s=t), epoch_s=1.7e9)
        central.start(emg_rate_hz=1000)
        central.run(20.0, step_s=0.05)
    rec = open_recording(path, channel_map=ChannelMap(), min_emg_fs_hz=200.0)
    assert isinstance(rec, CaptureRecording)
    assert rec.info.file_format == "capture" and set(rec.info.channels) == {
        "emg", "shank_acc", "foot_acc"}
    assert abs(rec.info.duration_s - 20.0) < 0.5
    with pytest.raises(CrampInputError, match="needs at least 2000 Hz"):
        open_recording(path, channel_map=ChannelMap(), min_emg_fs_hz=2000.0)


def test_repeated_source_definitions_first_wins_and_each_bad_copy_counts(tmp_path: Path) -> None:
    """The writer repeats its sources after every sync: the scan reads each distinct body once
    (issue 11) but must still count every record that does not parse and keep the first
    definition of an id, in file order, whatever the later copies say."""
    from detector.capture.format import (
        RecordType,
        file_header,
        frame,
        packet_body,
        session_body,
        source_body,
    )

    bad_utf8 = struct.pack("<H", 1) + b"\xff\xfe"
    parts = [file_header(), frame(RecordType.SESSION, session_body(SESSION))]
    for i in range(4):
        parts += [frame(RecordType.SOURCE, source_body(0, "legband:data")),
                  frame(RecordType.SOURCE, bad_utf8),
                  frame(RecordType.PACKET, packet_body(0, 1.7e9 + i, bytes([i] * 5))),
                  frame(RecordType.PACKET, packet_body(2, 1.7e9 + i, b"late"))]
    parts += [frame(RecordType.SOURCE, source_body(0, "legband:status")),  # a redefinition
              frame(RecordType.SOURCE, source_body(2, "legband:status")),
              frame(RecordType.SESSION, session_body(SESSION))]  # a second session record
    path = tmp_path / "repeats.capture"
    path.write_bytes(b"".join(parts))
    cap = read_capture(path)
    assert cap.sources == {0: "legband:data", 2: "legband:status"}
    assert cap.session == SESSION
    # 4 undecodable source copies + the second session record
    assert cap.damage.unreadable_records == 5
    assert cap.damage.orphan_packets == 0 and cap.damage.corrupt_regions == 0
    packets = [r for r in cap.records if isinstance(r, PacketRecord)]
    assert [(p.source, p.payload) for p in packets[:2]] == [
        ("legband:data", bytes([0] * 5)), ("legband:status", b"late")]
    assert len(packets) == 8
