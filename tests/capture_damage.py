"""Damage done to capture bytes in place, for the property tests of the capture scan."""

from __future__ import annotations

import struct

from detector.capture.format import FILE_HEADER_SIZE, SYNC


def damaged(raw: bytearray, damage: list[tuple[int, bytes]], fake: list[int],
            cut: int) -> bytes:
    """``raw`` (a capture file's bytes) with each ``(position, burst)`` of ``damage`` written
    over it anywhere after the file header, a bare sync marker whose length points nowhere
    inserted at each position of ``fake``, and ``cut`` bytes torn off its end."""
    for pos, burst in damage:
        at = FILE_HEADER_SIZE + pos % max(1, len(raw) - FILE_HEADER_SIZE)
        raw[at:at + len(burst)] = burst
    for pos in fake:
        at = FILE_HEADER_SIZE + pos % max(1, len(raw) - FILE_HEADER_SIZE)
        raw[at:at] = SYNC + struct.pack("<BI", 3, pos)
    return bytes(raw[:max(FILE_HEADER_SIZE, len(raw) - cut)])
