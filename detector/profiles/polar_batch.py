"""Bulk decoding of Polar PMD ACC notifications: many uncompressed frames at once.

:func:`decode_matrix` reads, for every data notification laid out as a row of bytes, what
:func:`~detector.profiles.polar_pmd_frames.decode_acc_frame` and
:func:`~detector.profiles.polar_pmd_frames.foot_acc_g` read from one: the u64 timestamp, the
number of samples and the samples in g, mapped to the pipeline's axes (the same float64
operations, element for element, so the values are bit-identical). A row is *simple* when it
is an uncompressed ACC frame (raw type 0, 1 or 2) whose payload is a positive multiple of its
sample size and whose timestamp is below the year-2146 limit; every other row (a
delta-compressed frame, a bad length, type or value) goes through the one-packet path
unchanged, rebuilt from its row. A hypothesis test compares the two on real and arbitrary
bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.profiles.polar_pmd import POLAR_PMD, MeasurementType
from detector.profiles.polar_pmd_frames import (
    _MAX_TIMESTAMP_NS,
    POLAR_ON_FOOT,
    PolarFootMapping,
    _signed_le,
)

WIDTH = 514
"""Bytes of each notification kept: the longest one BLE carries (ATT MTU 517 - 3)."""
_HEADER = POLAR_PMD.header_bytes


@dataclass(frozen=True, kw_only=True, eq=False)
class PolarBatch:
    """Decoded Polar ACC data notifications.

    Attributes
    ----------
    rows : ndarray of uint8, shape (n, WIDTH + 3)
        The notifications' bytes (zero after each one's end).
    lengths : ndarray of int64, shape (n,)
        Length of each notification (bytes).
    simple : ndarray of bool, shape (n,)
        An uncompressed ACC frame of at most :data:`WIDTH` bytes that decodes as one.
    timestamp_ns : list of int
        u64 timestamp of each row (its last sample, ns since 2000-01-01 UTC; 0 where the row
        is too short).
    n_samples : list of int
        Samples of each simple row (0 elsewhere).
    acc_g : list of ndarray or None
        Samples in g, shape (m, 3), pipeline axes, of each simple row (None elsewhere).
    """

    rows: np.ndarray
    lengths: np.ndarray
    simple: np.ndarray
    timestamp_ns: list[int]
    n_samples: list[int]
    acc_g: list[np.ndarray | None]

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def payload(self, k: int) -> bytes:
        """The bytes of row ``k``: exact for a notification of at most :data:`WIDTH` bytes;
        a longer one (no BLE link carries it, only a doctored file) is cut to :data:`WIDTH`."""
        return self.rows[k, :min(int(self.lengths[k]), WIDTH)].tobytes()


def decode_matrix(mat: np.ndarray, lengths: np.ndarray, *,
                  mapping: PolarFootMapping = POLAR_ON_FOOT) -> PolarBatch:
    """Decode notifications laid out as rows of bytes.

    Parameters
    ----------
    mat : ndarray of uint8, shape (n, WIDTH + 3)
        Row ``k``: the first :data:`WIDTH` bytes of notification ``k``, zero after its end.
    lengths : ndarray of int64, shape (n,)
        Full length of each notification (bytes).
    mapping : PolarFootMapping
        Device axes -> pipeline axes, as :func:`~detector.profiles.polar_pmd_frames.foot_acc_g`.

    Returns
    -------
    PolarBatch
        Never raises for a bad notification (it is not simple).
    """
    n = mat.shape[0]
    lengths = np.asarray(lengths, dtype=np.int64)
    stamps = np.ascontiguousarray(mat[:, 1:_HEADER - 1]).view("<u8").reshape(n)
    kind = mat[:, _HEADER - 1].astype(np.int64)
    base = (lengths > _HEADER) & (lengths <= WIDTH) & (mat[:, 0] == MeasurementType.ACC) \
        & (stamps < _MAX_TIMESTAMP_NS)
    channels = POLAR_PMD.acc_channels
    order = list(mapping.axis_order)
    sign = np.asarray(mapping.axis_sign, dtype=np.float64)
    simple = np.zeros(n, dtype=bool)
    counts = np.zeros(n, dtype=np.int64)
    acc: list[np.ndarray | None] = [None] * n
    for frame_type, width in POLAR_PMD.acc_raw_bytes.items():
        step = width * channels
        mine = base & (kind == frame_type) & ((lengths - _HEADER) % step == 0)
        simple |= mine
        for length in np.unique(lengths[mine]).tolist():
            rows = np.flatnonzero(mine & (lengths == length))
            m = (length - _HEADER) // step
            raw = np.ascontiguousarray(mat[rows, _HEADER:length]).tobytes()
            values = _signed_le(raw, width).reshape(rows.size, m, channels)
            g = values.astype(np.float64)[:, :, order] * sign / 1000.0
            counts[rows] = m
            for k, row in enumerate(rows.tolist()):
                acc[row] = g[k]
    return PolarBatch(rows=mat, lengths=lengths, simple=simple, timestamp_ns=stamps.tolist(),
                      n_samples=counts.tolist(), acc_g=acc)
