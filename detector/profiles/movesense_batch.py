"""Bulk decoding of Movesense ``/Meas/Acc`` notifications: many payloads at once.

:func:`decode_matrix` reads, for every data notification laid out as a row of bytes, what
:func:`~detector.profiles.movesense.parse_notification` and
:func:`~detector.profiles.movesense.decode_imu_data` read from a whole ``DATA`` message: the
type, the client reference, the u32 time stamp and the samples (float32 -> float64, in g as
:func:`~detector.profiles.movesense.acc_g`). A row is *simple* when it is a ``DATA``
notification that decodes as one whole IMU message; every other row (a command result, a
``DATA_PART2``, a bad length or value) goes through the one-packet path unchanged, rebuilt
from its row. A hypothesis test compares the two on real and arbitrary bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.profiles.movesense import STANDARD_GRAVITY_MS2, Response

WIDTH = 514
"""Bytes of each notification kept: the longest one BLE carries (ATT MTU 517 - 3)."""
_HEADER = 6
"""Type, reference and the u32 time stamp."""


@dataclass(frozen=True, kw_only=True, eq=False)
class MovesenseBatch:
    """Decoded Movesense data notifications.

    Attributes
    ----------
    rows : ndarray of uint8, shape (n, WIDTH + 3)
        The notifications' bytes (zero after each one's end).
    lengths : ndarray of int64, shape (n,)
        Length of each notification (bytes).
    simple : ndarray of bool, shape (n,)
        A ``DATA`` notification holding one decodable IMU message (4 + 12 m bytes, m >= 1,
        every value finite, at most :data:`WIDTH` bytes).
    reference : ndarray of int64, shape (n,)
        Client reference (byte 1).
    timestamp_ms : list of int
        u32 time stamp of each row (0 where the row is too short).
    acc_g : list of ndarray or None
        Samples in g, shape (m, 3), of each simple row (None elsewhere).
    """

    rows: np.ndarray
    lengths: np.ndarray
    simple: np.ndarray
    reference: np.ndarray
    timestamp_ms: list[int]
    acc_g: list[np.ndarray | None]

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def payload(self, k: int) -> bytes:
        """The bytes of row ``k``: exact for a notification of at most :data:`WIDTH` bytes;
        a longer one (no BLE link carries it, only a doctored file) is cut to :data:`WIDTH`."""
        return self.rows[k, :min(int(self.lengths[k]), WIDTH)].tobytes()


def decode_matrix(mat: np.ndarray, lengths: np.ndarray) -> MovesenseBatch:
    """Decode notifications laid out as rows of bytes.

    Parameters
    ----------
    mat : ndarray of uint8, shape (n, WIDTH + 3)
        Row ``k``: the first :data:`WIDTH` bytes of notification ``k``, zero after its end.
    lengths : ndarray of int64, shape (n,)
        Full length of each notification (bytes).

    Returns
    -------
    MovesenseBatch
        Never raises for a bad notification (it is not simple).
    """
    n = mat.shape[0]
    lengths = np.asarray(lengths, dtype=np.int64)
    shaped = (lengths >= _HEADER + 12) & (lengths <= WIDTH) & ((lengths - _HEADER) % 12 == 0)
    simple = shaped & (mat[:, 0] == Response.DATA) & (mat[:, 1] != 0)
    stamps = np.ascontiguousarray(mat[:, 2:_HEADER]).view("<u4").reshape(n)
    acc: list[np.ndarray | None] = [None] * n
    for length in np.unique(lengths[simple]).tolist():
        rows = np.flatnonzero(simple & (lengths == length))
        raw = np.ascontiguousarray(mat[rows, _HEADER:length]).view("<f4")
        values = raw.astype(np.float64).reshape(rows.size, -1, 3)
        finite = np.isfinite(values).all(axis=(1, 2))
        simple[rows[~finite]] = False
        g = values / STANDARD_GRAVITY_MS2
        for k, row in enumerate(rows.tolist()):
            if finite[k]:
                acc[row] = g[k]
    return MovesenseBatch(rows=mat, lengths=lengths, simple=simple,
                          reference=mat[:, 1].astype(np.int64),
                          timestamp_ms=stamps.tolist(), acc_g=acc)
