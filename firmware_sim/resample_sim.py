"""A night's accelerometer signals at a band's own rate, with the sensor's noise over its band.

The night model synthesises accelerometers at up to 100 Hz, with white sensor noise of
``acc_noise_g`` per sample: a noise density of ``acc_noise_g / sqrt(fs / 2)`` from 0 to its
Nyquist frequency. A band streaming faster (a Verity Sense at 416 Hz, a Movesense at 208 Hz)
has the same density over its whole, wider band; resampling alone would leave that band
above the model's Nyquist frequency silent. :func:`acc_at_rate` resamples and adds the noise
the wider band carries; a slower band is only resampled (its anti-aliasing filter, as a
sensor's own output filter, keeps the density).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import resample_poly


def acc_at_rate(acc_g: np.ndarray, *, fs_in: int, fs_out: int, noise_g: float,
                rng: np.random.Generator) -> np.ndarray:
    """``acc_g`` resampled from ``fs_in`` to ``fs_out`` Hz with the sensor noise of the band.

    Parameters
    ----------
    acc_g : ndarray, shape (n, 3)
        Specific force (g) at ``fs_in``.
    fs_in, fs_out : int
        Rates (Hz).
    noise_g : float
        White sensor noise of ``acc_g`` (g RMS per sample at ``fs_in``).
    rng : numpy.random.Generator
        Source of the added noise.

    Returns
    -------
    ndarray, shape (round(n * fs_out / fs_in), 3)
        At ``fs_out``; above ``fs_in / 2`` it carries white noise of the same density as below.
    """
    out = resample_poly(acc_g, fs_out, fs_in, axis=0) if fs_out != fs_in else acc_g.copy()
    if fs_out <= fs_in or noise_g <= 0:
        return np.asarray(out, dtype=np.float64)
    n = out.shape[0]
    # white noise of the density noise_g / sqrt(fs_in / 2) over 0..fs_out/2, kept above fs_in/2
    white = rng.standard_normal((n, out.shape[1])) * noise_g * np.sqrt(fs_out / fs_in)
    spectrum = np.fft.rfft(white, axis=0)
    spectrum[np.fft.rfftfreq(n, d=1.0 / fs_out) < fs_in / 2.0] = 0.0
    return np.asarray(out + np.fft.irfft(spectrum, n=n, axis=0), dtype=np.float64)
