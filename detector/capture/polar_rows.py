"""The bulk path of :class:`~detector.capture.polar_source.PolarAccAssembler` (a replay).

:func:`push_rows` takes a run of data notifications decoded by
:func:`~detector.profiles.polar_batch.decode_matrix` as
:meth:`~detector.capture.polar_source.PolarAccAssembler.push` takes them one by one: the time
of a simple row's first sample is computed as
:func:`~detector.profiles.polar_pmd_frames.sample_times_ns` computes it (the same float64
products and round-half-to-even) and the row is placed as the assembler's ``_place_frame``
places it; a run of rows counted on (each continuing the sample count) is placed at once: the
same samples at the same indices, hence the same blocks. A row that is not simple, or whose
times that function would refuse (a first sample before 2000), goes through the one-packet
path, which decodes it or raises as live.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from detector.errors import CrampInputError
from detector.profiles.polar_batch import PolarBatch

if TYPE_CHECKING:
    from detector.capture.polar_source import PolarAccAssembler
    from detector.capture.role_track import Blocks


def first_sample_ns(timestamp_ns: int, n_samples: int, *, fs: float,
                    previous_timestamp_ns: int | None) -> int | None:
    """Time of a frame's first sample (ns since 2000-01-01 UTC), or None where
    :func:`~detector.profiles.polar_pmd_frames.sample_times_ns` would raise.

    ``timestamp_ns`` below the year-2146 limit, ``n_samples >= 1``, ``fs`` finite and
    positive, ``previous_timestamp_ns`` (if given) in ``[0, timestamp_ns)``.
    """
    if n_samples == 1:
        return timestamp_ns
    if previous_timestamp_ns is None:
        back = (n_samples - 1) * (1e9 / fs)
        if back > timestamp_ns:
            return None
        first = timestamp_ns - round(back)
    else:
        first = previous_timestamp_ns + round((timestamp_ns - previous_timestamp_ns) / n_samples)
    return first if first >= 0 else None


def push_rows(asm: PolarAccAssembler, batch: PolarBatch, lo: int, hi: int,
              received_s: list[float]) -> tuple[Blocks, int]:
    """Rows ``lo .. hi-1`` of ``batch`` through ``asm`` as its ``push`` would take them.

    Parameters
    ----------
    asm : PolarAccAssembler
    batch : PolarBatch
    lo, hi : int
        Rows to take (nothing between them in the capture).
    received_s : list of float
        Host receive time (s) of each row (noted in the track's ``arrivals``, as ``push``
        notes them).

    Returns
    -------
    blocks : Blocks
        The blocks completed.
    bad : int
        Rows that did not decode (skipped, as the caller of ``push`` would).
    """
    blocks: Blocks = []
    bad = 0
    track = asm.track
    run: list[np.ndarray] = []  # counted-on rows not yet placed: they follow the frontier
    run_n = 0
    run_arrivals: list[tuple[int, float]] = []  # (samples so far in the run, received s)

    def place_run() -> None:
        nonlocal run_n
        if run:
            base = track.frontier - 1
            blocks.extend(track.place(track.frontier,
                                      run[0] if len(run) == 1 else np.concatenate(run)))
            track.note_arrivals(base + np.asarray([m for m, _t in run_arrivals]),
                                np.asarray([t for _m, t in run_arrivals], dtype=np.float64))
            run.clear()
            run_arrivals.clear()
            run_n = 0

    simple = batch.simple[lo:hi].tolist()
    for r in range(lo, hi):
        first = None
        if simple[r - lo]:
            ts, n = batch.timestamp_ns[r], batch.n_samples[r]
            prev = asm._prev_ns
            first = first_sample_ns(ts, n, fs=asm.fs, previous_timestamp_ns=None
                                    if prev is not None and ts <= prev else prev)
        data = batch.acc_g[r]
        if first is None or data is None:
            place_run()
            try:
                blocks += asm.push(batch.payload(r), received_s=received_s[r])
            except CrampInputError:
                bad += 1
            continue
        if asm._prev_ns is not None and asm._t_ref_ns is not None:  # as _place_frame counts on
            by_time = round((first - asm._t_ref_ns) * asm.fs / 1e9)
            if abs(by_time - (track.frontier + run_n)) <= max(2, n // 2):
                run.append(data)
                run_n += n
                run_arrivals.append((run_n, received_s[r]))
                asm._prev_ns = ts
                continue
        place_run()
        blocks += asm._place_frame(ts, first, data, received_s=received_s[r])
    place_run()
    return blocks, bad
