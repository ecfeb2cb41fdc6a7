"""EMG conditioning: band-pass, mains notches, per-epoch envelope and signal-quality flags.

Cost per sample, the replay's hot path: one band-pass pass and one notch pass (both outputs are
needed: the band-passed power tells a dead electrode and how much of the power was hum), each a
single call of the compiled section loop over the chunk; then one fused square-and-sum per
output over a strided epoch view; the rail check only when the chunk reaches a rail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.config import EmgConfig
from detector.pipeline.epochs import EpochCut, EpochSummer, count_per_epoch, sum_squares_per_epoch
from detector.pipeline.filters import (
    ScratchBuffer,
    StreamingSos,
    design_bandpass,
    design_mains_notches,
    emg_band_edges,
)
from detector.signals import SignalBlock

EMG_DTYPE: type[np.floating] = np.float64
"""Arithmetic of the EMG filters and envelope."""


@dataclass(frozen=True)
class EmgEpochs:
    """EMG features of consecutive epochs.

    Attributes
    ----------
    first_epoch : int
        Index of the first epoch.
    envelope_uv : ndarray, shape (n,)
        RMS of the conditioned EMG per epoch (uV); NaN where samples are missing.
    flat : ndarray of bool, shape (n,)
        Band-passed RMS below the flat threshold: a lifted or dead electrode.
    saturated : ndarray of bool, shape (n,)
        Too many samples at the ADC rails.
    hum : ndarray of bool, shape (n,)
        Most of the band power was mains hum.
    missing : ndarray of bool, shape (n,)
        Samples missing (gap).
    """

    first_epoch: int
    envelope_uv: np.ndarray
    flat: np.ndarray
    saturated: np.ndarray
    hum: np.ndarray
    missing: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """Epochs whose envelope can be trusted, shape (n,)."""
        return ~(self.flat | self.saturated | self.missing)


class EmgProcessor:
    """Stream processor: raw EMG blocks (uV) in, :class:`EmgEpochs` out.

    Parameters
    ----------
    fs : float
        EMG sampling rate (Hz).
    config : EmgConfig
        Thresholds and filter settings.
    epochs_per_s : int
        Epochs per second of the pipeline.
    rails_uv : (float, float), optional
        ADC range in uV; samples within 0.1 % of it count as saturated.
    dtype : numpy float type, optional
        Arithmetic of the filters (:data:`EMG_DTYPE` by default).
    """

    def __init__(self, *, fs: float, config: EmgConfig, epochs_per_s: int,
                 rails_uv: tuple[float, float] | None,
                 dtype: type[np.floating] | None = None) -> None:
        dtype = EMG_DTYPE if dtype is None else dtype
        low, high = emg_band_edges(fs=fs, highpass_hz=config.highpass_hz,
                                   lowpass_hz=config.lowpass_hz, min_fs_hz=config.min_fs_hz)
        self.band_hz = (low, high)
        self.config = config
        self._bandpass = StreamingSos(design_bandpass(fs=fs, low_hz=low, high_hz=high,
                                                      order=config.filter_order), dtype=dtype)
        self._notch = StreamingSos(design_mains_notches(fs=fs, mains_hz=config.mains_hz,
                                                        q=config.notch_q), dtype=dtype)
        self._band_buf = ScratchBuffer(rows=0, dtype=dtype)
        self._clean_buf = ScratchBuffer(rows=0, dtype=dtype)
        self._rails = rails_uv
        self._summer = EpochSummer(fs=fs, epochs_per_s=epochs_per_s,
                                   n_columns=3 if rails_uv is not None else 2,
                                   reduce=self._reduce)
        if rails_uv is not None:  # within 0.1 % of the span from a rail counts as at the rail
            self._rail_mid = 0.5 * (rails_uv[0] + rails_uv[1])
            self._rail_half = 0.5 * (rails_uv[1] - rails_uv[0]) * (1 - 2e-3)

    def push(self, block: SignalBlock) -> list[EmgEpochs]:
        """Condition a block of raw EMG (uV, shape (n,)); return completed epochs."""
        x = block.data
        if block.start_sample != self._summer.next_sample:
            self._bandpass.reset()
            self._notch.reset()
        n = x.shape[0]
        band = self._bandpass.push(x, out=self._band_buf.take(n))
        clean = self._notch.push(band, out=self._clean_buf.take(n))
        return [self._features(s.first_epoch, s.sums, s.counts)
                for s in self._summer.push((clean, band, x), start_sample=block.start_sample)]

    def _reduce(self, signals: tuple[np.ndarray, ...], cut: EpochCut) -> np.ndarray:
        """Per epoch: sum of squares of the clean and of the band-passed EMG; rail hits."""
        clean, band, raw = signals
        sums = np.empty((cut.n_epochs, self._summer.n_columns))
        sums[:, 0] = sum_squares_per_epoch(clean, cut)
        sums[:, 1] = sum_squares_per_epoch(band, cut)
        if self._rails is not None:
            sums[:, 2] = self._rail_hits(raw, cut)
        return sums

    def _rail_hits(self, raw: np.ndarray, cut: EpochCut) -> np.ndarray:
        """Samples per epoch within 0.1 % of an ADC rail (0 everywhere, cheaply, if none)."""
        mid, half = self._rail_mid, self._rail_half
        if raw.shape[0] == 0 or (abs(float(raw.max()) - mid) < half
                                 and abs(float(raw.min()) - mid) < half):
            return np.zeros(cut.n_epochs)  # |x - mid| peaks at the extremes
        return count_per_epoch(np.abs(raw.astype(float) - mid) >= half, cut)

    def flush(self, *, end_sample: int | None = None) -> list[EmgEpochs]:
        """Close the stream; trailing incomplete epochs come out as missing."""
        return [self._features(s.first_epoch, s.sums, s.counts)
                for s in self._summer.flush(end_sample=end_sample)]

    def _features(self, first: int, sums: np.ndarray, counts: np.ndarray) -> EmgEpochs:
        cfg = self.config
        missing = np.isnan(sums[:, 0])
        with np.errstate(invalid="ignore", divide="ignore"):
            envelope = np.sqrt(sums[:, 0] / counts)
            band_rms = np.sqrt(sums[:, 1] / counts)
            hum_fraction = 1.0 - sums[:, 0] / sums[:, 1]
            saturated = (sums[:, 2] / counts > cfg.saturation_fraction if sums.shape[1] > 2
                         else np.zeros(sums.shape[0], dtype=bool))
            flat = band_rms < cfg.flat_uv
            hum = hum_fraction > cfg.hum_fraction
        saturated &= ~missing
        return EmgEpochs(first, envelope, flat & ~missing & ~saturated, saturated,
                         hum & ~missing, missing)
