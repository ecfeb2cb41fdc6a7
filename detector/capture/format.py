"""Byte layout of a capture file: a file header, then framed, checksummed records.

A capture is append-only. It starts with a 16-byte file header::

    magic (8 bytes, FILE_MAGIC) | format version (u16) | reserved (u16, 0) | CRC32 (u32)

where the CRC covers the 12 bytes before it. Every record after it is framed as::

    SYNC (4 bytes) | type (u8) | body length (u32) | body | CRC32 (u32)

with the CRC over ``type | body length | body``. All integers are little-endian. The sync
marker lets a reader find the next record after damaged bytes; the CRC tells a real record
from bytes that merely look like one.

Record bodies (see ``docs/capture.md``):

- ``SESSION`` (1): UTF-8 JSON object with the session metadata; the first record.
- ``SOURCE`` (2): u16 source id, UTF-8 source name (e.g. ``"legband:data"``). Written before
  the first packet of a source and repeated after every fsync, so a damaged definition does
  not orphan the packets that use it.
- ``PACKET`` (3): u16 source id, f64 host receive time (s since the Unix epoch), raw bytes.
- ``EVENT`` (4): f64 host time (s since the Unix epoch), UTF-8 JSON object
  ``{"kind": str, "fields": {...}}``.
"""

from __future__ import annotations

import enum
import json
import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

FILE_MAGIC = b"\x89CRAMPC\n"
"""First 8 bytes of every capture file."""
FORMAT_VERSION = 1
FILE_HEADER = struct.Struct("<8sHHI")
FILE_HEADER_SIZE = FILE_HEADER.size  # 16

SYNC = b"\xd3\x1c\xa5\x7e"
"""Marker in front of every record."""
RECORD_HEAD = struct.Struct("<4sBI")  # sync, type, body length
RECORD_HEAD_SIZE = RECORD_HEAD.size  # 9
CRC_SIZE = 4
RECORD_OVERHEAD = RECORD_HEAD_SIZE + CRC_SIZE
MAX_BODY_BYTES = 1 << 24
"""Largest body a record may have (16 MiB); longer lengths are read as damage."""

SOURCE_HEAD = struct.Struct("<H")
PACKET_HEAD = struct.Struct("<Hd")
EVENT_HEAD = struct.Struct("<d")


class RecordType(enum.IntEnum):
    """Type byte of a record."""

    SESSION = 1
    SOURCE = 2
    PACKET = 3
    EVENT = 4


EVENT_KINDS: tuple[str, ...] = ("connected", "disconnected", "gap", "status", "config", "stop")
"""Event kinds the recorder writes (others are stored and read back as well)."""


@dataclass(frozen=True, kw_only=True)
class PacketRecord:
    """One notification as received.

    Attributes
    ----------
    source : str
        Where the bytes came from, e.g. ``"legband:data"``.
    payload : bytes
        The notification value, unchanged.
    received_s : float
        Host receive time, seconds since the Unix epoch.
    """

    source: str
    payload: bytes
    received_s: float


@dataclass(frozen=True, kw_only=True)
class EventRecord:
    """A session event (connection, gap, status, configuration, stop).

    Attributes
    ----------
    kind : str
        What happened (see :data:`EVENT_KINDS`).
    at_s : float
        Host time, seconds since the Unix epoch.
    fields : dict
        JSON values describing the event.
    """

    kind: str
    at_s: float
    fields: dict[str, Any] = field(default_factory=dict)


Record = PacketRecord | EventRecord


def file_header() -> bytes:
    """The 16-byte header every capture starts with."""
    head = FILE_HEADER.pack(FILE_MAGIC, FORMAT_VERSION, 0, 0)[:12]
    return head + struct.pack("<I", zlib.crc32(head))


def parse_file_header(raw: bytes) -> tuple[bool, int | None]:
    """Check a file header.

    Returns
    -------
    magic_ok : bool
        True when the first 8 bytes are :data:`FILE_MAGIC`.
    version : int or None
        Format version when the header's CRC is right, else None.
    """
    if len(raw) < FILE_HEADER_SIZE:
        return raw[:8] == FILE_MAGIC, None
    magic, version, _reserved, crc = FILE_HEADER.unpack_from(raw, 0)
    if zlib.crc32(raw[:12]) != crc:
        return magic == FILE_MAGIC, None
    return magic == FILE_MAGIC, int(version)


def frame(rtype: RecordType, body: bytes) -> bytes:
    """Frame a record body: sync, type, length, body, CRC32."""
    if len(body) > MAX_BODY_BYTES:
        raise ValueError(f"record body of {len(body)} bytes exceeds {MAX_BODY_BYTES}")
    head = RECORD_HEAD.pack(SYNC, int(rtype), len(body))
    crc = zlib.crc32(body, zlib.crc32(head[4:]))
    return head + body + struct.pack("<I", crc)


def _json_bytes(value: dict[str, Any], what: str) -> bytes:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serialisable without NaN: {exc}") from None


def session_body(session: dict[str, Any]) -> bytes:
    """Body of a SESSION record."""
    return _json_bytes(session, "session metadata")


def source_body(source_id: int, name: str) -> bytes:
    """Body of a SOURCE record."""
    return SOURCE_HEAD.pack(source_id) + name.encode("utf-8")


def packet_body(source_id: int, received_s: float, payload: bytes) -> bytes:
    """Body of a PACKET record."""
    if not math.isfinite(received_s):
        raise ValueError("received_s must be finite")
    return PACKET_HEAD.pack(source_id, received_s) + bytes(payload)


def event_body(kind: str, at_s: float, fields: dict[str, Any]) -> bytes:
    """Body of an EVENT record."""
    if not math.isfinite(at_s):
        raise ValueError("at_s must be finite")
    return EVENT_HEAD.pack(at_s) + _json_bytes({"kind": kind, "fields": fields}, "event fields")


class BodyError(Exception):
    """A record whose CRC is right but whose body does not parse (internal to the reader)."""


def parse_session(body: bytes) -> dict[str, Any]:
    """Session metadata from a SESSION body."""
    value = _parse_json(body)
    if not isinstance(value, dict):
        raise BodyError("session metadata is not a JSON object")
    return value


def parse_source(body: bytes) -> tuple[int, str]:
    """``(source id, name)`` from a SOURCE body."""
    if len(body) < SOURCE_HEAD.size:
        raise BodyError("source record too short")
    (source_id,) = SOURCE_HEAD.unpack_from(body, 0)
    try:
        name = body[SOURCE_HEAD.size:].decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("source name is not UTF-8") from None
    return int(source_id), name


def parse_packet(body: bytes) -> tuple[int, float, bytes]:
    """``(source id, receive time s, payload)`` from a PACKET body."""
    if len(body) < PACKET_HEAD.size:
        raise BodyError("packet record too short")
    source_id, received_s = PACKET_HEAD.unpack_from(body, 0)
    if not math.isfinite(received_s):
        raise BodyError("packet receive time is not finite")
    return int(source_id), float(received_s), bytes(body[PACKET_HEAD.size:])


def parse_event(body: bytes) -> EventRecord:
    """An :class:`EventRecord` from an EVENT body."""
    if len(body) < EVENT_HEAD.size:
        raise BodyError("event record too short")
    (at_s,) = EVENT_HEAD.unpack_from(body, 0)
    value = _parse_json(body[EVENT_HEAD.size:])
    if not (isinstance(value, dict) and isinstance(value.get("kind"), str)
            and isinstance(value.get("fields", {}), dict) and math.isfinite(at_s)):
        raise BodyError("event record is not {kind, fields}")
    return EventRecord(kind=value["kind"], at_s=float(at_s), fields=dict(value.get("fields", {})))


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BodyError("body is not UTF-8 JSON") from None
