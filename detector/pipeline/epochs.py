"""Cutting sample streams into fixed-length epochs, whatever the chunking.

Epoch ``k`` of a channel sampled at ``fs`` covers samples ``[b(k), b(k + 1))`` with
``b(k) = ceil(k * fs * epoch_s)``, computed in exact rational arithmetic so that rates such as
256 Hz or 1000/3 Hz cut identically however the stream is chunked. An epoch any of whose samples
is missing (a gap) is *invalid*: its sums are NaN. Nothing is interpolated.

Each epoch's sums are computed once, over that epoch's samples in order, by the same reduction
whatever the chunking (so they are bit-for-bit chunk-independent). When an epoch holds a whole
number of samples (1000 Hz in 0.1-s epochs: 100) the reductions run over a strided
``(n_epochs, samples_per_epoch)`` view of the chunk, without copying it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def _epoch_rate(fs: float, epochs_per_s: int) -> tuple[int, int]:
    """``fs / epochs_per_s`` as an exact fraction ``(numerator, denominator)``."""
    rate = Fraction(fs).limit_denominator(1_000_000)
    return rate.numerator, rate.denominator * epochs_per_s


def epoch_boundary(k: np.ndarray | int, *, fs: float, epochs_per_s: int) -> np.ndarray:
    """First sample index of epoch(s) ``k`` for a channel at ``fs`` Hz.

    Parameters
    ----------
    k : int or ndarray of int
        Epoch index(es).
    fs : float
        Sampling rate in Hz.
    epochs_per_s : int
        Number of epochs per second (10 for 0.1-s epochs).

    Returns
    -------
    ndarray of int64
        ``ceil(k * fs / epochs_per_s)``.
    """
    num, den = _epoch_rate(fs, epochs_per_s)
    k_arr = np.asarray(k, dtype=np.int64)
    return -((-k_arr * num) // den)


def epoch_of_sample(sample: int, *, fs: float, epochs_per_s: int) -> int:
    """Index of the epoch containing ``sample`` (the largest ``k`` with ``b(k) <= sample``)."""
    num, den = _epoch_rate(fs, epochs_per_s)
    k = (int(sample) * den) // num
    # guard the floor against the ceil in epoch_boundary (exact integer arithmetic)
    while -((-(k + 1) * num) // den) <= sample:
        k += 1
    while -((-k * num) // den) > sample:
        k -= 1
    return k


@dataclass(frozen=True)
class EpochSums:
    """Column sums over consecutive epochs ``first_epoch .. first_epoch + n - 1``.

    Attributes
    ----------
    first_epoch : int
        Index of the first epoch.
    sums : ndarray, shape (n, c)
        Per-epoch sums of each column; NaN rows for invalid epochs (gaps).
    counts : ndarray, shape (n,)
        Number of samples per epoch (float, for division).
    """

    first_epoch: int
    sums: np.ndarray
    counts: np.ndarray

    @property
    def n_epochs(self) -> int:
        """Number of epochs."""
        return int(self.sums.shape[0])


@dataclass(frozen=True)
class EpochCut:
    """Where whole epochs lie in a piece of a stream handed to a reduction.

    Attributes
    ----------
    bounds : ndarray of int64, shape (n + 1,)
        First sample of each epoch, then the end; ``bounds[0] == 0``.
    length : int or None
        Samples per epoch when the stream's rate makes every epoch equally long (1000 Hz in
        0.1-s epochs: 100), else None. A property of the stream, not of the piece, so every
        epoch of a stream is reduced the same way.
    """

    bounds: np.ndarray
    length: int | None

    @property
    def n_epochs(self) -> int:
        """Number of epochs."""
        return int(self.bounds.shape[0]) - 1


Reducer = Callable[[tuple[np.ndarray, ...], EpochCut], np.ndarray]
"""``reduce(signals, cut) -> sums``: per-epoch sums, shape ``(cut.n_epochs, c)``.

``signals`` are the pushed arrays (time last) cut to whole epochs: sample 0 is the first
sample of the first epoch, ``cut.bounds[-1]`` the length.
"""


def sum_per_epoch(x: np.ndarray, cut: EpochCut) -> np.ndarray:
    """Sum of ``x`` over each epoch along the last axis, shape ``x.shape[:-1] + (n,)``."""
    if cut.length is not None:  # einsum: a tight loop over each epoch's contiguous samples
        return np.einsum("...j->...", x.reshape(*x.shape[:-1], cut.n_epochs, cut.length))
    return np.add.reduceat(x, cut.bounds[:-1], axis=-1)


def sum_squares_per_epoch(x: np.ndarray, cut: EpochCut) -> np.ndarray:
    """Sum of ``x ** 2`` over each epoch, shape (n,), from ``x`` of shape (bounds[-1],).

    One fused multiply-add pass over a strided view when the epochs are of equal length (the
    squares are never stored); otherwise squares then ``reduceat``.
    """
    if cut.length is not None:
        frames = x.reshape(cut.n_epochs, cut.length)
        return np.einsum("ij,ij->i", frames, frames)
    return np.add.reduceat(x * x, cut.bounds[:-1])


def count_per_epoch(mask: np.ndarray, cut: EpochCut) -> np.ndarray:
    """Number of true samples of ``mask`` (shape (bounds[-1],)) in each epoch, shape (n,)."""
    if cut.length is not None:
        return np.count_nonzero(mask.reshape(cut.n_epochs, cut.length), axis=1)
    return np.add.reduceat(mask.astype(np.int64), cut.bounds[:-1])


def _column_sums(signals: tuple[np.ndarray, ...], cut: EpochCut) -> np.ndarray:
    """The default reduction: one (c, n) input, sums of each row per epoch, shape (n, c)."""
    (x,) = signals
    return np.asarray(sum_per_epoch(x, cut)).T


class EpochSummer:
    """Stream processor: per-epoch sums of a sample stream with gaps.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    epochs_per_s : int
        Epochs per second.
    n_columns : int
        Number of sums per epoch.
    reduce : Reducer, optional
        How the pushed arrays become sums. By default one array of shape (n_columns, n) is
        pushed and each row is summed.
    """

    def __init__(self, *, fs: float, epochs_per_s: int, n_columns: int,
                 reduce: Reducer | None = None) -> None:
        self.fs = fs
        self.epochs_per_s = epochs_per_s
        self.n_columns = n_columns
        self._reduce = _column_sums if reduce is None else reduce
        num, den = _epoch_rate(fs, epochs_per_s)
        self._length = num // den if num % den == 0 else None
        self._next_epoch = 0          # first epoch not yet emitted
        self._pending: tuple[np.ndarray, ...] | None = None  # samples of the open epoch
        self._pending_len = 0         # samples of the open epoch seen (or zero-filled)
        self._pending_start = 0       # sample index where the open epoch starts
        self._pending_valid = True    # False if the open epoch lost samples

    @property
    def next_sample(self) -> int:
        """Sample index the stream expects next."""
        return self._pending_start + self._pending_len

    def _invalid(self, first: int, n: int) -> EpochSums:
        counts = np.diff(epoch_boundary(np.arange(first, first + n + 1), fs=self.fs,
                                        epochs_per_s=self.epochs_per_s)).astype(float)
        return EpochSums(first, np.full((n, self.n_columns), np.nan), counts)

    def _with_pending(self, parts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """The open epoch's earlier samples (zeros after a gap) followed by ``parts``."""
        if self._pending is not None:
            return tuple(np.concatenate([a, b], axis=-1)
                         for a, b in zip(self._pending, parts, strict=True))
        fill = self._pending_len
        return tuple(np.concatenate([np.zeros((*b.shape[:-1], fill), dtype=b.dtype), b],
                                    axis=-1) for b in parts)

    def push(self, values: np.ndarray | tuple[np.ndarray, ...], *,
             start_sample: int) -> list[EpochSums]:
        """Add samples; return the epochs completed by them.

        Parameters
        ----------
        values : ndarray or tuple of ndarray
            Samples, time last: with the default reduction one array of shape (c, n),
            ``c = n_columns`` (already transformed, e.g. squared); with a custom reduction the
            arrays it takes, all with the same number ``n`` of samples.
        start_sample : int
            Index of the first sample; a jump past :attr:`next_sample` is a gap.

        Returns
        -------
        list of EpochSums
            Completed epochs in order (possibly empty); invalid epochs carry NaN sums.
        """
        signals = values if isinstance(values, tuple) else (values,)
        out: list[EpochSums] = []
        if start_sample < self.next_sample:
            raise ValueError(
                f"samples go back in time: got sample {start_sample}, expected {self.next_sample}"
            )
        if start_sample > self.next_sample:  # gap: the epochs it touches are invalid
            gap_epoch = epoch_of_sample(start_sample, fs=self.fs, epochs_per_s=self.epochs_per_s)
            n_bad = gap_epoch - self._next_epoch
            if n_bad > 0:
                out.append(self._invalid(self._next_epoch, n_bad))
            self._next_epoch = gap_epoch
            self._pending_start = int(epoch_boundary(gap_epoch, fs=self.fs,
                                                     epochs_per_s=self.epochs_per_s))
            self._pending = None
            # the epoch containing start_sample lacks its first samples unless aligned
            self._pending_len = start_sample - self._pending_start
            self._pending_valid = self._pending_len == 0
        n = signals[0].shape[-1]
        if n == 0:
            return out
        held = self._pending_len
        last_complete = epoch_of_sample(self._pending_start + held + n, fs=self.fs,
                                        epochs_per_s=self.epochs_per_s)
        n_done = last_complete - self._next_epoch
        if n_done <= 0:  # still inside the open epoch
            self._pending = self._with_pending(signals) if held else \
                tuple(s.copy() for s in signals)
            self._pending_len = held + n
            return out
        # boundaries of the completed epochs, from the open epoch's start
        bounds = epoch_boundary(np.arange(self._next_epoch, last_complete + 1), fs=self.fs,
                                epochs_per_s=self.epochs_per_s) - self._pending_start
        used = int(bounds[-1]) - held  # samples of this push inside completed epochs
        if held:
            first_end = int(bounds[1]) - held
            sums = self._reduce(self._with_pending(tuple(s[..., :first_end] for s in signals)),
                                EpochCut(bounds[:2], self._length))
            if n_done > 1:
                rest = self._reduce(tuple(s[..., first_end:used] for s in signals),
                                    EpochCut(bounds[1:] - bounds[1], self._length))
                sums = np.concatenate([sums, rest])
        else:
            sums = self._reduce(tuple(s[..., :used] for s in signals),
                                EpochCut(bounds, self._length))
        sums = np.asarray(sums, dtype=float)
        if not self._pending_valid:
            sums[0] = np.nan
            self._pending_valid = True
        out.append(EpochSums(self._next_epoch, sums, np.diff(bounds).astype(float)))
        self._next_epoch = last_complete
        self._pending_start += int(bounds[-1])
        self._pending_len = n - used
        self._pending = tuple(s[..., used:].copy() for s in signals) if n > used else None
        return out

    def flush(self, *, end_sample: int | None = None) -> list[EpochSums]:
        """Close the stream; a trailing partial epoch is emitted as invalid.

        Parameters
        ----------
        end_sample : int, optional
            Sample index where the recording ends for this channel; epochs up to it that never
            received samples are emitted as invalid.
        """
        end = self.next_sample if end_sample is None else max(end_sample, self.next_sample)
        last = epoch_of_sample(end, fs=self.fs, epochs_per_s=self.epochs_per_s)
        if int(epoch_boundary(last, fs=self.fs, epochs_per_s=self.epochs_per_s)) < end:
            last += 1
        n = last - self._next_epoch
        self._pending = None
        self._pending_len = 0
        if n <= 0:
            return []
        out = [self._invalid(self._next_epoch, n)]
        self._next_epoch = last
        return out
