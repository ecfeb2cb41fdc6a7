"""Check a capture after a crash and repair it without losing a good record.

Repair writes every intact record to a new file beside the capture (0600, never over an
existing file), checks that the new file reads back with the same records and no damage,
keeps the original as ``<name>.bak`` (a hard link, or a copy where links are not possible)
and then atomically renames the new file over the capture. At every moment the capture's
path holds either the original or the complete repaired file.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detector.capture.format import (
    CRC_SIZE,
    RECORD_HEAD,
    RECORD_HEAD_SIZE,
    PacketRecord,
    RecordType,
    file_header,
    frame,
    session_body,
    source_body,
)
from detector.capture.reader import Capture, CaptureDamage, read_capture
from detector.capture.writer import fsync_dir
from detector.errors import CrampInputError
from detector.profiles.legband import LEGBAND
from detector.profiles.legband_codec import decode_data_packet
from detector.signals import Gap

MAX_GAPS_SHOWN = 8


@dataclass(frozen=True, kw_only=True)
class RecoveryReport:
    """What :func:`recover_capture` found and did.

    Attributes
    ----------
    path : Path
        The capture.
    damage : CaptureDamage
        Damage found in the original.
    repaired : bool
        True when the capture was rewritten.
    backup : Path or None
        Where the original was kept (when repaired).
    packets, events : int
        Records kept.
    first_s, last_s : float or None
        Host time span of the kept records (s since the Unix epoch).
    packets_per_stream : dict of str to int
        Data packets per LegBand stream name (other sources by source name).
    samples_per_stream : dict of str to int
        Samples carried by those packets (duplicates from backfill included).
    gaps : tuple of Gap
        Gaps of a replay of the capture (empty when it cannot be replayed).
    notes : tuple of str
        Remarks (e.g. why gaps could not be computed).
    """

    path: Path
    damage: CaptureDamage
    repaired: bool
    backup: Path | None
    packets: int
    events: int
    first_s: float | None
    last_s: float | None
    packets_per_stream: dict[str, int] = field(default_factory=dict)
    samples_per_stream: dict[str, int] = field(default_factory=dict)
    gaps: tuple[Gap, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = self.damage
        return {
            "path": str(self.path), "repaired": self.repaired,
            "backup": None if self.backup is None else str(self.backup),
            "intact": d.ok, "packets": self.packets, "events": self.events,
            "bytes_dropped": d.bytes_dropped, "torn_tail_bytes": d.torn_tail_bytes,
            "corrupt_regions": d.corrupt_regions, "corrupt_records": d.corrupt_records,
            "corrupt_bytes": d.corrupt_bytes, "unreadable_records": d.unreadable_records,
            "orphan_packets": d.orphan_packets, "first_s": self.first_s, "last_s": self.last_s,
            "packets_per_stream": self.packets_per_stream,
            "samples_per_stream": self.samples_per_stream,
            "gaps": [{"role": g.role, "start_s": g.start_s, "end_s": g.end_s,
                      "samples_missing": g.samples_missing} for g in self.gaps],
            "notes": list(self.notes),
        }


def recover_capture(path: str | Path, *, repair: bool = True) -> RecoveryReport:
    """Check a capture and, if damaged and ``repair``, rewrite it with its intact records.

    Raises
    ------
    CrampInputError
        If the file is not a capture, or the backup name is taken.
    """
    p = Path(path)
    cap = read_capture(p)
    per_stream, samples = _stream_counts(cap)
    backup: Path | None = None
    repaired = False
    if repair and not cap.damage.ok:
        backup = _rewrite(cap)
        repaired = True
    gaps, notes = _replay_gaps(p)
    return RecoveryReport(
        path=p, damage=cap.damage, repaired=repaired, backup=backup, packets=cap.n_packets,
        events=cap.n_events, first_s=cap.first_s, last_s=cap.last_s,
        packets_per_stream=per_stream, samples_per_stream=samples, gaps=tuple(gaps),
        notes=tuple(notes),
    )


def _stream_counts(cap: Capture) -> tuple[dict[str, int], dict[str, int]]:
    packets: Counter[str] = Counter()
    samples: Counter[str] = Counter()
    for rec in cap.records:
        if not isinstance(rec, PacketRecord):
            continue
        name = rec.source
        if rec.source == "legband:data":
            try:
                pkt = decode_data_packet(rec.payload, profile=LEGBAND)
            except CrampInputError:
                name = "legband:data (undecodable)"
            else:
                name = LEGBAND.stream(pkt.stream_id).name
                samples[name] += pkt.n_samples
        packets[name] += 1
    return dict(sorted(packets.items())), dict(sorted(samples.items()))


def _replay_gaps(p: Path) -> tuple[list[Gap], list[str]]:
    from detector.capture.recording import open_capture

    try:
        with open_capture(p) as rec:
            return rec.gaps, []
    except CrampInputError as exc:
        return [], [f"gaps not computed: {exc.problem}"]


def _rewrite(cap: Capture) -> Path:
    src = cap.path
    backup = src.with_name(src.name + ".bak")
    if backup.exists():
        raise CrampInputError(str(backup), "already exists; move it away before recovering "
                              "this capture again")
    session = dict(cap.session)
    session["recovered"] = {"at_utc": datetime.now(UTC).isoformat(),
                            "damage": cap.damage.describe()}
    tmp = src.with_name(f".{src.name}.{os.getpid()}.recover")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(file_header() + frame(RecordType.SESSION, session_body(session)))
            for sid, name in sorted(cap.sources.items()):
                out.write(frame(RecordType.SOURCE, source_body(sid, name)))
            _copy_frames(cap, out)
            out.flush()
            os.fsync(out.fileno())
        check = read_capture(tmp)
        if (check.n_packets, check.n_events) != (cap.n_packets, cap.n_events) \
                or not check.damage.ok:
            raise CrampInputError(str(src), "repaired copy did not read back identically; "
                                  "the original is left untouched")
        try:
            os.link(src, backup)
        except OSError:
            shutil.copy2(src, backup)
            os.chmod(backup, 0o600)
        os.replace(tmp, src)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(src.parent)
    return backup


def _copy_frames(cap: Capture, out: Any) -> None:
    """Copy the kept packet and event records byte for byte."""
    with cap.path.open("rb") as fh:
        for off in cap.records.offsets:  # kept records, checked by the scan
            fh.seek(off)
            head = fh.read(RECORD_HEAD_SIZE)
            _sync, _rtype, length = RECORD_HEAD.unpack(head)
            out.write(head + fh.read(length + CRC_SIZE))


def format_report(report: RecoveryReport) -> str:
    """One screen of plain text describing a check or repair."""
    d = report.damage
    lines = [f"{report.path}"]
    if d.ok:
        lines.append("  intact: every record checks out")
    else:
        lines.append("  damaged:")
        lines += [f"    - {line}" for line in d.describe()]
        if report.repaired:
            lines.append(f"  repaired: intact records rewritten; original kept as "
                         f"{report.backup}")
        else:
            lines.append("  not repaired (check only)")
    lines.append(f"  records kept: {report.packets} packets, {report.events} events; "
                 f"bytes dropped: {d.bytes_dropped}")
    if report.first_s is not None and report.last_s is not None:
        a, b = _utc_or_none(report.first_s), _utc_or_none(report.last_s)
        if a is None or b is None:  # forged or corrupt host receive times
            lines.append(f"  time span: host receive times out of any calendar range "
                         f"({report.first_s:.6g} to {report.last_s:.6g} s since 1970)")
        else:
            lines.append(f"  time span: {a:%Y-%m-%d %H:%M:%S} to {b:%H:%M:%S} UTC "
                         f"({_hms(report.last_s - report.first_s)})")
    for name, n in report.packets_per_stream.items():
        extra = report.samples_per_stream.get(name)
        tail = f", {extra} samples" if extra is not None else ""
        lines.append(f"  {name}: {n} packets{tail}")
    if report.gaps:
        lines.append(f"  gaps: {len(report.gaps)}")
        for g in report.gaps[:MAX_GAPS_SHOWN]:
            lines.append(f"    {g.role:9s} {_hms(g.start_s)} to {_hms(g.end_s)} "
                         f"({g.duration_s:.1f} s, {g.samples_missing} samples missing)")
        if len(report.gaps) > MAX_GAPS_SHOWN:
            lines.append(f"    ... and {len(report.gaps) - MAX_GAPS_SHOWN} more")
    else:
        lines.append("  gaps: none")
    lines += [f"  note: {n}" for n in report.notes]
    return "\n".join(lines)


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _utc_or_none(t_s: float) -> datetime | None:
    """The UTC time of ``t_s`` seconds since 1970, or ``None`` if no calendar can hold it."""
    try:
        return datetime.fromtimestamp(t_s, UTC)
    except (OverflowError, OSError, ValueError):
        return None
