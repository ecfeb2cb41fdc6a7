"""IIR filter design (pure) and a streaming second-order-sections filter.

The streaming filter keeps its state between chunks, so filtering a signal in any chunking gives
the same samples as one pass. After a gap it restarts from the steady state of the first new
sample instead of carrying a state that no longer matches the signal.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from detector.errors import CrampInputError


def emg_band_edges(*, fs: float, highpass_hz: float, lowpass_hz: float,
                   min_fs_hz: float) -> tuple[float, float]:
    """Band-pass edges for surface EMG that respect Nyquist.

    Parameters
    ----------
    fs : float
        EMG sampling rate (Hz).
    highpass_hz, lowpass_hz : float
        Requested band (Hz).
    min_fs_hz : float
        Slowest rate accepted (Hz).

    Returns
    -------
    (float, float)
        The band actually used: the upper edge is lowered to 0.9 x Nyquist when needed.

    Raises
    ------
    CrampInputError
        If ``fs`` is below ``min_fs_hz`` or leaves no band above ``highpass_hz``.
    """
    if fs < min_fs_hz:
        raise CrampInputError(
            "EMG", f"sampled at {fs:g} Hz; the EMG band needs at least {min_fs_hz:g} Hz"
        )
    high = min(lowpass_hz, 0.45 * fs)
    if high <= highpass_hz * 1.5:
        raise CrampInputError(
            "EMG", f"sampled at {fs:g} Hz, too slow for a band above {highpass_hz:g} Hz"
        )
    return highpass_hz, high


def design_bandpass(*, fs: float, low_hz: float, high_hz: float, order: int) -> np.ndarray:
    """Butterworth band-pass as second-order sections, shape (order, 6)."""
    return np.asarray(signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=fs,
                                    output="sos"))


def design_highpass(*, fs: float, cutoff_hz: float, order: int) -> np.ndarray:
    """Butterworth high-pass as second-order sections, shape (ceil(order / 2), 6)."""
    return np.asarray(signal.butter(order, cutoff_hz, btype="highpass", fs=fs, output="sos"))


def design_mains_notches(*, fs: float, mains_hz: tuple[float, ...], q: float) -> np.ndarray:
    """Notch filters at each mains frequency below Nyquist, stacked as sections, shape (m, 6).

    Returns an empty (0, 6) array when no mains frequency lies below Nyquist.
    """
    sections = []
    for f0 in mains_hz:
        if f0 < 0.48 * fs:
            b, a = signal.iirnotch(f0, q, fs=fs)
            sections.append(np.concatenate([b, a]))
    return np.array(sections).reshape(-1, 6)


class StreamingSos:
    """Stream processor applying an SOS filter along the last axis with carried state.

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6)
        Filter sections.
    """

    def __init__(self, sos: np.ndarray) -> None:
        self.sos = sos
        self._zi_unit = signal.sosfilt_zi(sos) if sos.shape[0] else np.zeros((0, 2))
        self._zi: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the state (call at a gap); the next chunk starts from its steady state."""
        self._zi = None

    def push(self, x: np.ndarray) -> np.ndarray:
        """Filter a chunk of shape (n,) or (c, n) (time last); returns the same shape."""
        if self.sos.shape[0] == 0 or x.shape[-1] == 0:
            return np.asarray(x, dtype=float)
        if self._zi is None:
            first = x[..., 0]
            if x.ndim == 1:
                self._zi = self._zi_unit * first
            else:
                self._zi = self._zi_unit[:, None, :] * np.asarray(first)[None, :, None]
        y, self._zi = signal.sosfilt(self.sos, x, axis=-1, zi=self._zi)
        return np.asarray(y)
