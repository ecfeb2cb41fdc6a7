"""Cutting sample streams into fixed-length epochs, whatever the chunking.

Epoch ``k`` of a channel sampled at ``fs`` covers samples ``[b(k), b(k + 1))`` with
``b(k) = ceil(k * fs * epoch_s)``, computed in exact rational arithmetic so that rates such as
256 Hz or 1000/3 Hz cut identically however the stream is chunked. An epoch any of whose samples
is missing (a gap) is *invalid*: its sums are NaN. Nothing is interpolated.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


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
    rate = Fraction(fs).limit_denominator(1_000_000)
    num, den = rate.numerator, rate.denominator * epochs_per_s
    k_arr = np.asarray(k, dtype=np.int64)
    return -((-k_arr * num) // den)


def epoch_of_sample(sample: int, *, fs: float, epochs_per_s: int) -> int:
    """Index of the epoch containing ``sample`` (the largest ``k`` with ``b(k) <= sample``)."""
    rate = Fraction(fs).limit_denominator(1_000_000)
    k = (sample * rate.denominator * epochs_per_s) // rate.numerator
    # guard the floor against the ceil in epoch_boundary
    while int(epoch_boundary(k + 1, fs=fs, epochs_per_s=epochs_per_s)) <= sample:
        k += 1
    while int(epoch_boundary(k, fs=fs, epochs_per_s=epochs_per_s)) > sample:
        k -= 1
    return int(k)


@dataclass(frozen=True)
class EpochSums:
    """Column sums over consecutive epochs ``first_epoch .. first_epoch + n - 1``.

    Attributes
    ----------
    first_epoch : int
        Index of the first epoch.
    sums : ndarray, shape (n, c)
        Per-epoch sums of each column; NaN rows for invalid epochs (gaps).
        (Columns are pushed time-last, shape (c, n_samples), for speed.)
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


class EpochSummer:
    """Stream processor: per-epoch column sums of a sample stream with gaps.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    epochs_per_s : int
        Epochs per second.
    n_columns : int
        Number of columns pushed.
    """

    def __init__(self, *, fs: float, epochs_per_s: int, n_columns: int) -> None:
        self.fs = fs
        self.epochs_per_s = epochs_per_s
        self.n_columns = n_columns
        self._next_epoch = 0          # first epoch not yet emitted
        self._pending = np.empty((n_columns, 0))
        self._pending_start = 0       # sample index of _pending[0] (== boundary(_next_epoch))
        self._pending_valid = True    # False if the epoch at _next_epoch lost samples

    @property
    def next_sample(self) -> int:
        """Sample index the stream expects next."""
        return self._pending_start + self._pending.shape[1]

    def _invalid(self, first: int, n: int) -> EpochSums:
        counts = np.diff(epoch_boundary(np.arange(first, first + n + 1), fs=self.fs,
                                        epochs_per_s=self.epochs_per_s)).astype(float)
        return EpochSums(first, np.full((n, self.n_columns), np.nan), counts)

    def push(self, values: np.ndarray, *, start_sample: int) -> list[EpochSums]:
        """Add samples; return the epochs completed by them.

        Parameters
        ----------
        values : ndarray, shape (c, n)
            Samples (already transformed, e.g. squared), ``c = n_columns``, time last.
        start_sample : int
            Index of ``values[0]``; a jump past :attr:`next_sample` is a gap.

        Returns
        -------
        list of EpochSums
            Completed epochs in order (possibly empty); invalid epochs carry NaN sums.
        """
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
            self._pending = np.empty((self.n_columns, 0))
            # the epoch containing start_sample lacks its first samples unless aligned
            self._pending_valid = start_sample == self._pending_start
            skip = start_sample - self._pending_start
            if skip > 0:
                self._pending = np.zeros((self.n_columns, skip))
        if values.shape[1] == 0:
            return out
        buf = np.concatenate([self._pending, values], axis=1) if self._pending.shape[1] \
            else values
        buf_end = self._pending_start + buf.shape[1]
        last_complete = epoch_of_sample(buf_end, fs=self.fs, epochs_per_s=self.epochs_per_s)
        # epochs _next_epoch .. last_complete-1 are complete when boundary(last_complete) <= end
        n_done = last_complete - self._next_epoch
        if n_done > 0:
            bounds = epoch_boundary(np.arange(self._next_epoch, last_complete + 1), fs=self.fs,
                                    epochs_per_s=self.epochs_per_s) - self._pending_start
            sums = np.add.reduceat(buf[:, : bounds[-1]], bounds[:-1], axis=1).T
            counts = np.diff(bounds).astype(float)
            if not self._pending_valid:
                sums[0] = np.nan
                self._pending_valid = True
            out.append(EpochSums(self._next_epoch, sums, counts))
            self._next_epoch = last_complete
            self._pending = buf[:, bounds[-1]:].copy()
            self._pending_start += int(bounds[-1])
        else:
            self._pending = buf
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
        self._pending = np.empty((self.n_columns, 0))
        if n <= 0:
            return []
        out = [self._invalid(self._next_epoch, n)]
        self._next_epoch = last
        return out
