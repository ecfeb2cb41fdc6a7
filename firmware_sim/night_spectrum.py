"""The surface-EMG spectrum of the night model.

Shape from Shwedyk, Balasubramanian and Scott, "A nonstationary model for the
electromyogram", IEEE Trans Biomed Eng BME-24(5), 1977:
``P(f) ~ f_high^4 f^2 / ((f^2 + f_low^2) (f^2 + f_high^2)^2)``, power rising to a peak near
50-130 Hz and falling off above it. A scenario's EMG levels are RMS over
:data:`EMG_REFERENCE_BAND_HZ`; a front end with a narrower band (200 Hz sampling: 20-90 Hz)
sees only its share.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from detector.pipeline.emg_share import band_power

__all__ = ["EMG_REFERENCE_BAND_HZ", "emg_band_fraction", "emg_spectrum_sos"]

EMG_REFERENCE_BAND_HZ = (20.0, 450.0)
"""Band over which a scenario's EMG levels (uV RMS) are stated."""


def emg_spectrum_sos(spectrum_hz: tuple[float, float], *, fs: float) -> np.ndarray:
    """Shaping filter of the surface EMG spectrum (Shwedyk et al. 1977), shape (k, 6).

    ``H(s) = s / ((s + w_low) (s + w_high)^2)`` has ``|H|^2 ~ f^2 / ((f^2 + f_low^2)
    (f^2 + f_high^2)^2)``; the bilinear transform puts it at ``fs`` (compressing frequencies
    near Nyquist; the caller normalises the level). White noise through it has the model's
    spectrum.
    """
    w_lo, w_hi = (2 * np.pi * f for f in spectrum_hz)
    z, p, k = signal.bilinear_zpk([0.0], [-w_lo, -w_hi, -w_hi], 1.0, fs=fs)
    return signal.zpk2sos(z, p, k)


def emg_band_fraction(spectrum_hz: tuple[float, float] | None, *, fs: float) -> float:
    """Fraction of the EMG's 20-450 Hz power a front end at ``fs`` keeps (its band is
    20 Hz to ``min(450, 0.45 fs)``); 1 for the flat model. The power integral is the
    detector's own (:func:`detector.pipeline.emg_share.band_power`): one spectrum shape."""
    if spectrum_hz is None:
        return 1.0
    corners = {"low_hz": spectrum_hz[0], "high_hz": spectrum_hz[1]}
    lo, hi = EMG_REFERENCE_BAND_HZ
    return band_power((lo, min(hi, 0.45 * fs)), **corners) / band_power((lo, hi), **corners)
