"""Bulk decoding of Ganglion notifications: many payloads at once, as array operations.

:func:`decode_payloads` gives, for every payload, what
:func:`~detector.profiles.ganglion.decode_packet` gives a
:class:`~detector.profiles.ganglion.GanglionAssembler`: the kind, the position in the cycle,
the anchor's counts or the two samples' deltas, and whether the packet decodes at all (``ok``
False where ``decode_packet`` raises). The samples are the same integers, bit for bit (a
hypothesis test compares the two on arbitrary bytes). A capture replay then runs the
assembler on the decoded rows instead of decoding 100 packets per second one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detector.profiles.ganglion import GANGLION, Bytes

KIND_NONE = 0
"""A packet without samples (impedance, message) or one that does not decode."""
KIND_ANCHOR = 1
"""Uncompressed: one sample of 4 counts."""
KIND_DELTA = 2
"""18- or 19-bit compressed: two samples of 4 deltas."""

WIDTH = 20
"""Bytes of each notification decoded: the 20-byte notification (longer ones are cut)."""
MATRIX_COLUMNS = WIDTH + 3
"""Columns of the decoding matrix: three zero bytes after the notification (32-bit reads)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class GanglionBatch:
    """Decoded Ganglion notifications.

    Attributes
    ----------
    ok : ndarray of bool, shape (n,)
        False where :func:`~detector.profiles.ganglion.decode_packet` raises.
    kind : ndarray of int8, shape (n,)
        :data:`KIND_NONE`, :data:`KIND_ANCHOR` or :data:`KIND_DELTA`.
    cycle_position : ndarray of int64, shape (n,)
        Position in the cycle of the packet's first sample (0 for an anchor), -1 otherwise.
    counts : ndarray of int64, shape (n, 4)
        An anchor's counts (0 in other rows).
    deltas : ndarray of int64, shape (n, 2, 4)
        A compressed packet's deltas ``[sample][channel]`` (0 in other rows).
    """

    ok: np.ndarray
    kind: np.ndarray
    cycle_position: np.ndarray
    counts: np.ndarray
    deltas: np.ndarray

    def __len__(self) -> int:
        return int(self.ok.shape[0])


def _fields(body: np.ndarray, *, bits: int, count: int) -> np.ndarray:
    """``count`` unsigned ``bits``-bit fields packed MSB first in each row, shape (m, count).

    ``body`` is uint8 of shape (m, w) with at least ``ceil(count * bits / 8) + 3`` columns
    (the last three may be padding).
    """
    out = np.empty((body.shape[0], count), dtype=np.int64)
    b = body.astype(np.int64)
    mask = (1 << bits) - 1
    for k in range(count):
        start = k * bits
        j = start // 8
        word = (b[:, j] << 24) | (b[:, j + 1] << 16) | (b[:, j + 2] << 8) | b[:, j + 3]
        out[:, k] = (word >> (32 - (start % 8) - bits)) & mask
    return out


def _signed_lsb(fields: np.ndarray, *, bits: int) -> np.ndarray:
    """Odd fields are negative (``f - 2**bits``), as ``ganglion.signed_lsb``."""
    return np.where(fields & 1, fields - (1 << bits), fields)


def decode_payloads(payloads: Sequence[Bytes]) -> GanglionBatch:
    """Decode every notification of ``payloads`` as ``ganglion.decode_packet`` does.

    Parameters
    ----------
    payloads : sequence of bytes-like
        Notifications of the receive characteristic, any lengths.

    Returns
    -------
    GanglionBatch
        One row per payload, in order. Never raises for a bad packet (its ``ok`` is False).
    """
    n = len(payloads)
    lengths = np.fromiter((len(p) for p in payloads), dtype=np.int64, count=n)
    mat = np.zeros((n, MATRIX_COLUMNS), dtype=np.uint8)
    if n:
        cut = [bytes(p[:WIDTH]).ljust(WIDTH, b"\x00") for p in payloads]
        mat[:, :WIDTH] = np.frombuffer(b"".join(cut), dtype=np.uint8).reshape(n, WIDTH)
    return decode_matrix(mat, lengths)


def decode_matrix(mat: np.ndarray, lengths: np.ndarray) -> GanglionBatch:
    """:func:`decode_payloads` of notifications already laid out as rows of bytes.

    Parameters
    ----------
    mat : ndarray of uint8, shape (n, MATRIX_COLUMNS)
        Row ``k``: the first :data:`WIDTH` bytes of notification ``k``, zero after its end and
        in the last three columns.
    lengths : ndarray of int64, shape (n,)
        Full length of each notification (bytes).

    Returns
    -------
    GanglionBatch
    """
    n = mat.shape[0]
    pid = mat[:, 0].astype(np.int64)
    body_len = lengths - 1
    anchor = (lengths > 0) & (pid == 0)
    d18 = (lengths > 0) & (pid >= 1) & (pid <= 100)
    d19 = (lengths > 0) & (pid >= 101) & (pid <= 200)
    text = (lengths > 0) & (pid >= 201) & (pid <= 207)
    ok = text | (anchor & (body_len >= 3 * GANGLION.channels)) \
        | (d18 & (body_len >= 18)) | (d19 & (body_len >= 19))
    kind = np.full(n, KIND_NONE, dtype=np.int8)
    kind[ok & anchor] = KIND_ANCHOR
    kind[ok & (d18 | d19)] = KIND_DELTA
    position = np.full(n, -1, dtype=np.int64)
    position[kind == KIND_ANCHOR] = 0
    counts = np.zeros((n, GANGLION.channels), dtype=np.int64)
    deltas = np.zeros((n, 2, GANGLION.channels), dtype=np.int64)
    body = mat[:, 1:]
    rows = np.flatnonzero(kind == KIND_ANCHOR)
    if rows.size:
        raw = _fields(body[rows], bits=24, count=GANGLION.channels)
        counts[rows] = np.where(raw >= 1 << 23, raw - (1 << 24), raw)  # int24 big-endian
    for bits, sel, base in ((18, d18, 0), (19, d19, 100)):
        rows = np.flatnonzero(ok & sel)
        if rows.size:
            deltas[rows] = _signed_lsb(_fields(body[rows], bits=bits, count=8),
                                       bits=bits).reshape(-1, 2, GANGLION.channels)
            position[rows] = 2 * (pid[rows] - base) - 1
    return GanglionBatch(ok=ok, kind=kind, cycle_position=position, counts=counts,
                         deltas=deltas)
