"""Share of the surface-EMG amplitude a front end's band keeps, for band-independent rises.

The absolute rises of the activity criteria (``emg.active_rise_uv``,
``evidence.corroborated_rise_uv``) are microvolts of EMG over the detector's full band
(``emg.highpass_hz`` to ``emg.lowpass_hz``, what a 1-2 kHz front end records). A slower front
end keeps only part of the muscle's power: at 200 Hz the band ends near 90 Hz, below much of
the calf's EMG spectrum (median frequency 85-180 Hz), so the same contraction reads fewer
microvolts and a fixed rise asks a stronger contraction of it. The ratio criteria are
unaffected (the resting level shrinks with the band too, if it is muscle). Here the rise is
scaled by the square root of the power share of the band kept, under the surface-EMG spectrum
shape of Shwedyk, Balasubramanian and Scott (1977), ``P(f) ~ f^2 fh^4 / ((f^2 + fl^2)
(f^2 + fh^2)^2)``, with the corners in the configuration.
"""

from __future__ import annotations

import numpy as np

from detector.config import EmgConfig


def emg_power(f_hz: np.ndarray, *, low_hz: float, high_hz: float) -> np.ndarray:
    """Relative surface-EMG power density at ``f_hz`` (shape of ``f_hz``, arbitrary unit)."""
    f2 = np.asarray(f_hz, dtype=float) ** 2
    return f2 * high_hz**4 / ((f2 + low_hz**2) * (f2 + high_hz**2) ** 2)


def band_power(band_hz: tuple[float, float], *, low_hz: float, high_hz: float) -> float:
    """Power of the spectrum between the band's edges (Hz; trapezoid on a 0.25-Hz grid)."""
    lo, hi = band_hz
    if not hi > lo:
        return 0.0
    f = np.linspace(lo, hi, max(2, int(np.ceil((hi - lo) / 0.25)) + 1))
    p = emg_power(f, low_hz=low_hz, high_hz=high_hz)
    return float(np.sum(0.5 * (p[1:] + p[:-1]) * np.diff(f)))


def rise_scale(band_hz: tuple[float, float] | None, *, config: EmgConfig) -> float:
    """Amplitude share (0-1] of the full band's EMG that ``band_hz`` keeps.

    Parameters
    ----------
    band_hz : (float, float) or None
        Band-pass edges actually applied to the EMG (Hz); ``None`` (unknown) gives 1.
    config : EmgConfig
        ``highpass_hz``/``lowpass_hz`` (the band the rises are stated over) and the spectrum
        corners ``spectrum_low_hz``/``spectrum_high_hz``.

    Returns
    -------
    float
        ``sqrt(power in band / power in the full band)``, at most 1.
    """
    if band_hz is None:
        return 1.0
    corners = {"low_hz": config.spectrum_low_hz, "high_hz": config.spectrum_high_hz}
    full = band_power((config.highpass_hz, config.lowpass_hz), **corners)
    kept = band_power((max(band_hz[0], config.highpass_hz), min(band_hz[1], config.lowpass_hz)),
                      **corners)
    if not full > 0:
        return 1.0
    return float(min(1.0, np.sqrt(kept / full)))
