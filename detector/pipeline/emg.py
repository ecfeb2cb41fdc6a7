"""EMG conditioning: band-pass, mains notches, per-epoch envelope and signal-quality flags.

Cost per sample, the replay's hot path: one pass of the band-pass and the notches cascaded as
one set of sections (a single call of the compiled section loop over the chunk), then one fused
square-and-sum of its output over a strided epoch view, and the hum fit of the raw samples
(:mod:`detector.pipeline.mains`: a few dot products per epoch); the rail check only when the
chunk reaches a rail. The band-passed power, which tells a dead electrode and how much of the
power was hum, is the notched power plus the hum's: the un-notched signal is never formed.
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
    notched_mains_hz,
)
from detector.pipeline.mains import MainsEnergy, sos_gain
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
        bandpass = design_bandpass(fs=fs, low_hz=low, high_hz=high, order=config.filter_order)
        notches = design_mains_notches(fs=fs, mains_hz=config.mains_hz, q=config.notch_q)
        self._filter = StreamingSos(np.concatenate([bandpass, notches]), dtype=dtype)
        mains = notched_mains_hz(fs=fs, mains_hz=config.mains_hz)
        self._hum = MainsEnergy(fs=fs, mains_hz=mains, low_edge_hz=low,
                                gains=tuple(sos_gain(bandpass, f, fs) for f in mains))
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
            self._filter.reset()
        clean = self._filter.push(x, out=self._clean_buf.take(x.shape[0]))
        return [self._features(s.first_epoch, s.sums, s.counts)
                for s in self._summer.push((clean, x), start_sample=block.start_sample)]

    def _reduce(self, signals: tuple[np.ndarray, ...], cut: EpochCut) -> np.ndarray:
        """Per epoch: sum of squares of the clean EMG, hum energy of the raw; rail hits."""
        clean, raw = signals
        sums = np.empty((cut.n_epochs, self._summer.n_columns))
        sums[:, 0] = sum_squares_per_epoch(clean, cut)
        sums[:, 1] = self._hum.per_epoch(raw, cut)
        if self._rails is not None:
            sums[:, 2] = self._rail_hits(raw, cut)
        return sums

    def _rail_hits(self, raw: np.ndarray, cut: EpochCut) -> np.ndarray:
        """Samples per epoch within 0.1 % of an ADC rail (0 everywhere, cheaply, if none)."""
        mid, half = self._rail_mid, self._rail_half
        if raw.shape[0] == 0 or (abs(float(raw.max()) - mid) < half
                                 and abs(float(raw.min()) - mid) < half):
            return np.zeros(cut.n_epochs)  # |x - mid| peaks at the extremes
        # |x - mid| formed in one float64 work array (no copy of a float64 block first: an
        # 8-hour night's 900-s block is 7 MB of memory touched afresh per array)
        distance = np.subtract(raw, mid, dtype=np.float64)
        np.abs(distance, out=distance)
        return count_per_epoch(distance >= half, cut)

    def flush(self, *, end_sample: int | None = None) -> list[EmgEpochs]:
        """Close the stream; trailing incomplete epochs come out as missing."""
        return [self._features(s.first_epoch, s.sums, s.counts)
                for s in self._summer.flush(end_sample=end_sample)]

    def _features(self, first: int, sums: np.ndarray, counts: np.ndarray) -> EmgEpochs:
        cfg = self.config
        missing = np.isnan(sums[:, 0])
        with np.errstate(invalid="ignore", divide="ignore"):
            envelope = np.sqrt(sums[:, 0] / counts)
            band = sums[:, 0] + sums[:, 1]  # band-passed = notched + what the notches remove
            band_rms = np.sqrt(band / counts)
            hum_fraction = sums[:, 1] / band
            saturated = (sums[:, 2] / counts > cfg.saturation_fraction if sums.shape[1] > 2
                         else np.zeros(sums.shape[0], dtype=bool))
            flat = band_rms < cfg.flat_uv
            hum = hum_fraction > cfg.hum_fraction
        saturated &= ~missing
        # on a flat trace both powers are at the rounding level: no share of hum to speak of
        return EmgEpochs(first, envelope, flat & ~missing & ~saturated, saturated,
                         hum & ~missing & ~flat, missing)
