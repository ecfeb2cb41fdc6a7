"""IIR filter design (pure numpy) and a streaming second-order-sections filter.

The designs are the textbook ones scipy.signal also implements (Butterworth by the bilinear
transform with pre-warped edges, the second-order mains notch), written out here so that the
pipeline does not pay for importing scipy.signal (see :mod:`detector.pipeline.sos_kernel`); a
test checks them against ``scipy.signal.butter`` and ``iirnotch``.

The streaming filter keeps its state between chunks, so filtering a signal in any chunking gives
the same samples as one pass. After a gap it restarts from the steady state of the first new
sample instead of carrying a state that no longer matches the signal.
"""

from __future__ import annotations

import math

import numpy as np

from detector.errors import CrampInputError
from detector.pipeline.sos_kernel import sosfilt_inplace


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


# ------------------------------------------------------------------ design


def _butterworth_prototype(order: int) -> np.ndarray:
    """Poles of the analog Butterworth low-pass with a 1 rad/s cutoff, shape (order,)."""
    m = np.arange(-order + 1, order, 2)
    return -np.exp(1j * np.pi * m / (2 * order))


def _prewarp(f_hz: float, fs: float) -> float:
    """Analog frequency (rad/s) that the bilinear transform at ``fs`` maps onto ``f_hz``."""
    return 2.0 * fs * math.tan(math.pi * f_hz / fs)


def _bilinear(zeros: np.ndarray, poles: np.ndarray, gain: float,
              fs: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Analog zeros/poles/gain to digital ones; zeros at infinity land on z = -1."""
    c = 2.0 * fs
    z_d = (c + zeros) / (c - zeros)
    p_d = (c + poles) / (c - poles)
    z_d = np.concatenate([z_d, -np.ones(poles.shape[0] - zeros.shape[0])])
    k_d = gain * float(np.real(np.prod(c - zeros) / np.prod(c - poles)))
    return z_d, p_d, k_d


def _sections(zeros: np.ndarray, poles: np.ndarray, gain: float) -> np.ndarray:
    """Group digital zeros (all real here) and poles into second-order sections, (n, 6).

    The grouping of ``scipy.signal.zpk2sos`` (``pairing="nearest"``): sections are filled from
    the last one; each takes the remaining pole nearest the unit circle with its conjugate (a
    real one with the next real pole nearest the circle, or alone), and the zeros nearest to
    it. An odd count gets a pole and a zero at the origin. The gain goes into the first section.
    """
    if np.any(np.abs(np.imag(zeros)) > 1e-12):
        raise ValueError("only real zeros are grouped here")
    z = [float(v) for v in np.real(zeros)]
    z += [0.0] * max(poles.shape[0] - len(z), 0)
    is_real = np.abs(np.imag(poles)) <= 1e-12 * np.maximum(1.0, np.abs(poles))
    p: list[complex] = sorted((complex(v) for v in poles[~is_real & (np.imag(poles) > 0)]),
                              key=lambda v: (v.real, v.imag))
    p += [complex(v) for v in sorted(float(np.real(v)) for v in poles[is_real])]
    if poles.shape[0] % 2 == 1:
        p.append(0j)
        z.append(0.0)

    def nearest_zero(to: complex) -> float:
        return z.pop(int(np.argmin([abs(v - to) for v in z])))

    def nearest_circle(cands: list[complex]) -> complex:
        return cands[int(np.argmin([abs(1.0 - abs(v)) for v in cands]))]

    rows: list[np.ndarray] = []
    while p:
        p1 = nearest_circle(p)
        p.remove(p1)
        other_real = [v for v in p if v.imag == 0.0]
        if p1.imag == 0.0 and not other_real:
            pair_p, pair_z = [p1, 0j], [nearest_zero(p1), 0.0]
        else:
            p2 = p1.conjugate() if p1.imag != 0.0 else nearest_circle(other_real)
            if p1.imag == 0.0:
                p.remove(p2)
            pair_p = [p1, p2]
            pair_z = [nearest_zero(p1)]
            if z:
                pair_z.append(nearest_zero(p1))
        b = np.real(np.poly(pair_z))
        a = np.real(np.poly(pair_p))
        rows.append(np.concatenate([np.pad(b, (3 - b.shape[0], 0)),
                                    np.pad(a, (3 - a.shape[0], 0))]))
    sos = np.array(rows[::-1]).reshape(-1, 6)
    sos[0, :3] *= gain
    return sos


def design_bandpass(*, fs: float, low_hz: float, high_hz: float, order: int) -> np.ndarray:
    """Butterworth band-pass as second-order sections, shape (order, 6).

    ``order`` is that of each edge (the filter has ``2 * order`` poles), as in
    ``scipy.signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=fs, output="sos")``.
    """
    if not (order >= 1 and 0 < low_hz < high_hz < fs / 2):
        raise ValueError(f"band-pass needs order >= 1 and 0 < {low_hz} < {high_hz} < fs/2")
    w1, w2 = _prewarp(low_hz, fs), _prewarp(high_hz, fs)
    w0, bw = math.sqrt(w1 * w2), w2 - w1
    p = _butterworth_prototype(order) * (bw / 2.0)
    root = np.sqrt(p * p - w0 * w0)
    poles = np.concatenate([p + root, p - root])
    zeros = np.zeros(order, dtype=complex)
    z_d, p_d, k_d = _bilinear(zeros, poles, bw ** order, fs)
    return _sections(z_d, p_d, k_d)


def design_highpass(*, fs: float, cutoff_hz: float, order: int) -> np.ndarray:
    """Butterworth high-pass as second-order sections, shape (ceil(order / 2), 6).

    As ``scipy.signal.butter(order, cutoff_hz, btype="highpass", fs=fs, output="sos")``.
    """
    if not (order >= 1 and 0 < cutoff_hz < fs / 2):
        raise ValueError(f"high-pass needs order >= 1 and 0 < {cutoff_hz} < fs/2")
    wc = _prewarp(cutoff_hz, fs)
    proto = _butterworth_prototype(order)
    poles = wc / proto
    zeros = np.zeros(order, dtype=complex)
    gain = float(np.real(1.0 / np.prod(-proto)))
    z_d, p_d, k_d = _bilinear(zeros, poles, gain, fs)
    return _sections(z_d, p_d, k_d)


def notched_mains_hz(*, fs: float, mains_hz: tuple[float, ...]) -> tuple[float, ...]:
    """The mains frequencies far enough below Nyquist (``0.48 fs``) to be notched (Hz)."""
    return tuple(f0 for f0 in mains_hz if f0 < 0.48 * fs)


def design_mains_notches(*, fs: float, mains_hz: tuple[float, ...], q: float) -> np.ndarray:
    """Notch filters at each mains frequency below Nyquist, stacked as sections, shape (m, 6).

    Each is the second-order notch of ``scipy.signal.iirnotch(f0, q, fs=fs)`` (-3 dB width
    ``f0 / q``), at each of :func:`notched_mains_hz`. Returns an empty (0, 6) array when no
    mains frequency lies below Nyquist.
    """
    sections = []
    for f0 in notched_mains_hz(fs=fs, mains_hz=mains_hz):
        w0 = 2.0 * math.pi * f0 / fs
        beta = math.tan(w0 / (2.0 * q))
        g = 1.0 / (1.0 + beta)
        c = -2.0 * math.cos(w0)
        sections.append([g, g * c, g, 1.0, g * c, 2.0 * g - 1.0])
    return np.array(sections, dtype=float).reshape(-1, 6)


def sos_steady_state(sos: np.ndarray) -> np.ndarray:
    """Filter state after a unit step has settled, shape (n_sections, 2).

    Multiply by a sample value to start a filter as if that value had always been the input
    (as ``scipy.signal.sosfilt_zi``).
    """
    zi = np.empty((sos.shape[0], 2))
    scale = 1.0
    for s, (b0, b1, b2, a0, a1, a2) in enumerate(np.asarray(sos, dtype=float)):
        b0, b1, b2, a1, a2 = b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0
        r1, r2 = b1 - a1 * b0, b2 - a2 * b0
        z0 = (r1 + r2) / (1.0 + a1 + a2)
        zi[s] = scale * z0, scale * (r2 - a2 * z0)
        scale *= (b0 + b1 + b2) / (1.0 + a1 + a2)
    return zi


# ------------------------------------------------------------------ streaming


class StreamingSos:
    """Stream processor applying an SOS filter along the last axis with carried state.

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6)
        Filter sections.
    dtype : numpy dtype, optional
        Arithmetic and output type (float64 by default; float32 halves memory traffic). With
        complex128 each complex row carries two real signals through the real sections, its
        real and its imaginary part, each filtered exactly as a float64 row would be (the
        section loop costs about 1.2 times a real row's time for the two).
    """

    def __init__(self, sos: np.ndarray, *, dtype: type[np.inexact] = np.float64) -> None:
        self.dtype = np.dtype(dtype)
        self.sos = np.ascontiguousarray(sos, dtype=self.dtype)
        self._zi_unit = sos_steady_state(sos) if sos.shape[0] else np.zeros((0, 2))
        self._zi: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the state (call at a gap); the next chunk starts from its steady state."""
        self._zi = None

    def push(self, x: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
        """Filter a chunk of shape (n,) or (c, n) (time last).

        Parameters
        ----------
        x : ndarray
            The chunk; left unchanged.
        out : ndarray, optional
            C-contiguous array of the filter's dtype and ``x``'s shape to write the output to
            (a buffer kept between chunks saves allocating one per chunk; ``x`` itself filters
            in place); a new array if not given.

        Returns
        -------
        ndarray
            The filtered chunk (``out`` when given).
        """
        if out is None:
            y = np.array(x, dtype=self.dtype, order="C")
        else:
            if out.shape != x.shape or out.dtype != self.dtype or not out.flags.c_contiguous:
                raise ValueError(f"out must be a C-contiguous {self.dtype} array of shape "
                                 f"{x.shape}")
            if out is not x:
                np.copyto(out, x)
            y = out
        if self.sos.shape[0] == 0 or y.shape[-1] == 0:
            return y
        rows = y.reshape(-1, y.shape[-1])
        if self._zi is None:
            first = rows[:, :1].astype(np.result_type(self.dtype, np.float64))
            self._zi = np.ascontiguousarray(self._zi_unit[None, :, :] * first[:, :, None],
                                            dtype=self.dtype)
        sosfilt_inplace(self.sos, rows, self._zi)
        return y


class ScratchBuffer:
    """A reusable work array: views of its first ``n`` samples, grown when a chunk is longer.

    Stream processors filter every chunk into the same memory instead of allocating (and
    page-faulting) fresh arrays chunk after chunk.

    Parameters
    ----------
    rows : int
        Leading dimension (0 for a 1-D buffer).
    dtype : numpy dtype
    """

    def __init__(self, *, rows: int, dtype: type[np.inexact]) -> None:
        self.rows = rows
        self.dtype = np.dtype(dtype)
        self._data = np.empty((rows, 0) if rows else (0,), dtype=self.dtype)

    def take(self, n: int) -> np.ndarray:
        """A C-contiguous view of shape (n,) or (rows, n); its content is undefined."""
        if self._data.shape[-1] < n:
            self._data = np.empty((self.rows, n) if self.rows else (n,), dtype=self.dtype)
        if not self.rows:
            return self._data[:n]
        if self._data.shape[1] != n:  # rows of a 2-D view must be contiguous
            return self._data.reshape(-1)[: self.rows * n].reshape(self.rows, n)
        return self._data
