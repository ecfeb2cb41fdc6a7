"""Telling a lifted electrode from a coarse ADC's quiet calf, causally and chunk-independently.

Both read as flat epochs (band-passed RMS below ``emg.flat_uv``). A fine front end never reads
a calf with its electrodes on as flat (its resting level and the amplifier's noise are above
``flat_uv``), so there a long unbroken flat stretch is a lifted or dead electrode: once a flat
run has lasted ``emg.lift_flat_s`` its epochs are *unseen* (like missing data), and minutes of
lift do not count as rest at level 0 in the resting baseline. A coarse ADC at rest flickers:
now and then a sample crosses half a quantisation step, so its flat epochs come in runs broken
by steps, and they are a real observation that the calf is below the ADC's resolution. A
channel that has shown such flicker (a flat run ended within ``emg.flicker_flat_s``: an
electrode does not come off and back in under a second) within the last
``emg.baseline_window_s`` reads its resting calf as zeros, and its flat runs, however long,
stay rest (on such a channel a lift cannot be told from a calf below resolution).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from detector.pipeline.features import EpochFeatures


class LiftTracker:
    """Stream processor: marks flat epochs inside a long unbroken flat run as missing.

    Parameters
    ----------
    lift_flat_s : float
        Length of an unbroken flat run from which on its epochs are unseen (s).
    window_s : float
        How long a coarse ADC's flicker keeps the channel's flat runs rest (s): the resting
        baseline's window.
    flicker_s : float
        A flat run ended within this (s) is a coarse ADC's flicker.
    epochs_per_s : int
        Epochs per second.
    """

    def __init__(self, *, lift_flat_s: float, window_s: float, flicker_s: float,
                 epochs_per_s: int) -> None:
        self.lift_epochs = max(1, round(lift_flat_s * epochs_per_s))
        self.flicker_epochs = max(1, round(flicker_s * epochs_per_s))
        self.window_epochs = round(window_s * epochs_per_s)
        self._run = 0  # flat epochs in the run open at the end of the last chunk
        self._next = 0  # index of the next epoch
        self._last_short = -(10**15)  # epoch at which the last flicker ended

    def lifted(self, flat: np.ndarray) -> np.ndarray:
        """Epochs that are flat, at least ``lift_flat_s`` into an unbroken flat run, on a
        channel with no flicker (a flat run of under ``flicker_s``) within the last
        ``window_s``.

        Parameters
        ----------
        flat : ndarray of bool, shape (n,)
            Flat epochs of the next part of the stream (already excluding missing and
            saturated ones).

        Returns
        -------
        ndarray of bool, shape (n,)
        """
        n = flat.shape[0]
        if n == 0:
            return np.zeros(0, dtype=bool)
        idx = np.arange(n)
        last_break = np.maximum.accumulate(np.where(~flat, idx, -1))
        run = np.where(last_break >= 0, idx - last_break, idx + 1 + self._run)
        before = np.concatenate([[self._run], run[:-1]])  # run length up to the epoch before
        short_end = ~flat & (before > 0) & (before < self.flicker_epochs)
        last_short = np.maximum.accumulate(
            np.where(short_end, idx + self._next, self._last_short))
        self._run = int(run[-1])
        self._next += n
        self._last_short = int(last_short[-1])
        coarse = idx + self._next - n - last_short <= self.window_epochs
        return flat & (run >= self.lift_epochs) & ~coarse

    def push(self, f: EpochFeatures) -> EpochFeatures:
        """``f`` with the lifted epochs moved from flat to missing (EMG unseen there).

        Parameters
        ----------
        f : EpochFeatures
            The next epochs of the stream, in order.

        Returns
        -------
        EpochFeatures
            Same epochs; ``emg_flat`` cleared and ``emg_missing`` set where lifted.
        """
        lifted = self.lifted(f.emg_flat & ~f.emg_missing & ~f.emg_saturated)
        if not lifted.any():
            return f
        return dataclasses.replace(f, emg_flat=f.emg_flat & ~lifted,
                                   emg_missing=f.emg_missing | lifted)
