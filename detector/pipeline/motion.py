"""Accelerometer features: gravity direction, whole-leg movement, calf tremor, ankle angle.

Axis convention (see docs/signals.md): each sensor reads specific force (+1 g upward at rest).
Shank: x from knee to ankle, y lateral (the ankle's hinge axis), z out of the shin. Foot: x from
heel to toes, y lateral, z out of the top of the foot. With ``phi = atan2(f_z, f_x)`` per
sensor, the foot-to-shank angle beyond neutral is ``wrap(phi_foot - phi_shank) + 90`` degrees,
positive when the toes point away from the shin (plantar flexion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.pipeline.epochs import EpochCut, EpochSummer, sum_per_epoch
from detector.pipeline.filters import (
    ScratchBuffer,
    StreamingSos,
    design_bandpass,
    design_highpass,
)
from detector.signals import SignalBlock

MOVEMENT_HIGHPASS_HZ = 0.5
"""Edge above which acceleration counts as movement rather than posture (Hz)."""


@dataclass(frozen=True)
class AccEpochs:
    """Accelerometer features of consecutive epochs.

    Attributes
    ----------
    first_epoch : int
        Index of the first epoch.
    gravity_g : ndarray, shape (n, 3)
        Mean acceleration per epoch (g): the gravity direction when still. NaN when missing.
    movement_g : ndarray, shape (n,)
        RMS of the acceleration magnitude above 0.5 Hz (g).
    tremor_g : ndarray, shape (n,)
        RMS above the tremor edge (g); NaN when not computed for this sensor.
    """

    first_epoch: int
    gravity_g: np.ndarray
    movement_g: np.ndarray
    tremor_g: np.ndarray

    @property
    def missing(self) -> np.ndarray:
        """Epochs without samples, shape (n,)."""
        return np.isnan(self.movement_g)


@dataclass(frozen=True)
class FilteredAcc:
    """A block of one accelerometer after :meth:`AccProcessor.condition`, before its epochs.

    Attributes
    ----------
    start_sample : int
        Index of the block's first sample.
    x_g : ndarray, shape (3, n)
        The samples (g), axes in rows.
    moving : ndarray of complex, shape (2, n)
        Above 0.5 Hz, packed as ``x0 + i x1`` and ``x2 + 0i`` (g).
    tremor : ndarray of complex, shape (2, n) or (2, 0)
        The tremor band, packed alike (g); no samples when no tremor is measured.
    """

    start_sample: int
    x_g: np.ndarray
    moving: np.ndarray
    tremor: np.ndarray


class AccProcessor:
    """Stream processor: 3-axis accelerometer blocks (g) in, :class:`AccEpochs` out.

    Parameters
    ----------
    fs : float
        Sampling rate (Hz).
    epochs_per_s : int
        Epochs per second of the pipeline.
    tremor_highpass_hz : float, optional
        Lower edge of the tremor (mechanomyogram) band; ``None`` skips tremor (foot sensor).
    tremor_lowpass_hz : float, optional
        Upper edge of the tremor band (Hz), applied when below ``0.45 * fs`` (else the band
        runs to Nyquist).
    """

    def __init__(self, *, fs: float, epochs_per_s: int,
                 tremor_highpass_hz: float | None,
                 tremor_lowpass_hz: float | None = None) -> None:
        # the three axes run as two complex rows, x + iy and z (see _pack): two thirds of the
        # section loop's row passes, the same samples
        self._movement = StreamingSos(design_highpass(fs=fs, cutoff_hz=MOVEMENT_HIGHPASS_HZ,
                                                      order=2), dtype=np.complex128)
        self._tremor: StreamingSos | None = None
        self.tremor_band_hz: tuple[float, float] | None = None
        """The tremor band actually measured (Hz), ``None`` when none is."""
        if tremor_highpass_hz is not None and tremor_highpass_hz < 0.45 * fs:
            high = tremor_lowpass_hz
            if high is not None and tremor_highpass_hz < high < 0.45 * fs:
                sos = design_bandpass(fs=fs, low_hz=tremor_highpass_hz, high_hz=high, order=2)
            else:
                sos, high = design_highpass(fs=fs, cutoff_hz=tremor_highpass_hz, order=2), fs / 2
            self._tremor = StreamingSos(sos, dtype=np.complex128)
            self.tremor_band_hz = (tremor_highpass_hz, high)
        self._summer = EpochSummer(fs=fs, epochs_per_s=epochs_per_s, n_columns=5,
                                   reduce=self._reduce)
        self._bufs = [ScratchBuffer(rows=3, dtype=np.float64)]
        self._pairs = [ScratchBuffer(rows=2, dtype=np.complex128) for _ in range(2)]
        self._next_sample = 0  # the sample the filters' state has reached

    def push(self, block: SignalBlock) -> list[AccEpochs]:
        """Process a block of shape (n, 3) in g; return completed epochs."""
        return self.epochs(self.condition(block))

    def condition(self, block: SignalBlock) -> FilteredAcc:
        """The filters of :meth:`push` over a block of shape (n, 3) in g (its first half).

        The result lives in this processor's work buffers: pass it to :meth:`epochs` before
        the next block is conditioned (the pipeline's worker thread filters, the calling
        thread sums).
        """
        n = block.data.shape[0]
        x = block.data.T  # (3, n): the filters run along time, the last axis
        if x.dtype != np.float64 or not x.flags.c_contiguous:  # readers hand (3, n) rows over
            x = self._bufs[0].take(n)                          # as their (n, 3) transpose
            np.copyto(x, block.data.T)
        # x is only read: each filter writes into its own buffer, the summer copies what it keeps
        if block.start_sample != self._next_sample:
            self._movement.reset()
            if self._tremor is not None:
                self._tremor.reset()
        self._next_sample = block.start_sample + n
        packed = _pack(x, self._pairs[0].take(n))
        moving = self._movement.push(packed, out=packed)  # in place
        trem = moving[:0]
        if self._tremor is not None:
            packed = _pack(x, self._pairs[1].take(n))
            trem = self._tremor.push(packed, out=packed)
        return FilteredAcc(block.start_sample, x, moving, trem)

    def epochs(self, filtered: FilteredAcc) -> list[AccEpochs]:
        """The epochs that the block of ``filtered`` completes (the second half of
        :meth:`push`): per-epoch sums, then the features."""
        return [self._features(s.first_epoch, s.sums, s.counts)
                for s in self._summer.push((filtered.x_g, filtered.moving, filtered.tremor),
                                           start_sample=filtered.start_sample)]

    def _reduce(self, signals: tuple[np.ndarray, ...], cut: EpochCut) -> np.ndarray:
        """Per epoch: sums of each axis, of the squared movement and tremor magnitudes."""
        x, moving, trem = signals
        sums = np.empty((cut.n_epochs, 5))
        sums[:, :3] = sum_per_epoch(x, cut).T
        sums[:, 3] = _power_per_epoch(moving, cut)
        if trem.shape[0]:
            sums[:, 4] = _power_per_epoch(trem, cut)
        else:
            sums[:, 4] = np.nan
        return sums

    def flush(self, *, end_sample: int | None = None) -> list[AccEpochs]:
        """Close the stream; trailing incomplete epochs come out as missing."""
        return [self._features(s.first_epoch, s.sums, s.counts)
                for s in self._summer.flush(end_sample=end_sample)]

    @staticmethod
    def _features(first: int, sums: np.ndarray, counts: np.ndarray) -> AccEpochs:
        mean = sums / counts[:, None]
        return AccEpochs(first, mean[:, :3], np.sqrt(mean[:, 3]), np.sqrt(mean[:, 4]))


def _pack(x: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The axes ``x`` (3, n) as complex rows ``x0 + i x1`` and ``x2 + 0i`` in ``pairs`` (2, n)."""
    pairs[1] = x[2]
    parts = pairs[0].view(np.float64).reshape(-1, 2)
    parts[:, 0] = x[0]
    parts[:, 1] = x[1]
    return pairs


def _power_per_epoch(pairs: np.ndarray, cut: EpochCut) -> np.ndarray:
    """Sum over the axes and each epoch's samples of the squares packed in ``pairs``, (n,).

    ``pairs`` (r, n) complex, each row C-contiguous. Equal epochs: one fused square-and-sum
    per row over a strided ``(epochs, 2 x samples)`` view, rows added in order; otherwise the
    squared magnitude per sample, then ``reduceat``.
    """
    parts = [row.view(np.float64) for row in pairs]  # (2 n,): re, im, re, im, ...
    if cut.length is not None:
        total = np.zeros(cut.n_epochs)
        for p in parts:
            frames = p.reshape(cut.n_epochs, 2 * cut.length)
            total += np.einsum("ij,ij->i", frames, frames)
        return total
    per_sample = np.zeros(pairs.shape[1])
    for p in parts:
        per_sample += p[0::2] * p[0::2] + p[1::2] * p[1::2]
    return sum_per_epoch(per_sample, cut)


def shank_incline_deg(gravity_g: np.ndarray) -> np.ndarray:
    """Angle of the shank's long axis above the horizontal (deg), shape (n,) from (n, 3).

    0 when lying (shank horizontal), 90 when standing or sitting with the legs down.
    """
    norm = np.linalg.norm(gravity_g, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.degrees(np.arcsin(np.clip(np.abs(gravity_g[:, 0]) / norm, 0.0, 1.0)))


def sagittal_angles(shank_g: np.ndarray,
                    foot_g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The parts of the ankle angle shared by :func:`plantar_flexion_deg` and :class:`AnklePull`.

    Parameters
    ----------
    shank_g, foot_g : ndarray, shape (n, 3)
        Mean acceleration of the shank and foot sensors per epoch (g).

    Returns
    -------
    angle_deg : ndarray, shape (n,)
        Foot-to-shank angle beyond neutral before any calibration offset (deg, in [-180, 180)).
    sagittal_shank_g, sagittal_foot_g : ndarray, shape (n,)
        Gravity in each sensor's x-z plane (g).
    """
    phi_shank = np.arctan2(shank_g[:, 2], shank_g[:, 0])
    phi_foot = np.arctan2(foot_g[:, 2], foot_g[:, 0])
    diff = np.angle(np.exp(1j * (phi_foot - phi_shank)))
    angle = np.degrees(diff) + 90.0
    return ((angle + 180.0) % 360.0 - 180.0, np.hypot(shank_g[:, 0], shank_g[:, 2]),
            np.hypot(foot_g[:, 0], foot_g[:, 2]))


def plantar_flexion_deg(shank_g: np.ndarray, foot_g: np.ndarray, *, neutral_offset_deg: float,
                        min_sagittal_g: float,
                        angles: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                        ) -> np.ndarray:
    """Foot-to-shank angle beyond neutral from the two gravity vectors (deg).

    Parameters
    ----------
    shank_g, foot_g : ndarray, shape (n, 3)
        Mean acceleration of the shank and foot sensors per epoch (g).
    neutral_offset_deg : float
        Angle this formula gives in the sleeper's neutral posture (calibration).
    min_sagittal_g : float
        Gravity needed in each sensor's x-z plane; below it (lying on the side) the angle is
        not observable from gravity and NaN is returned.
    angles : tuple of ndarray, optional
        :func:`sagittal_angles` of the same vectors, when already computed.

    Returns
    -------
    ndarray, shape (n,)
        Positive = plantar flexion (toes pointed), negative = dorsiflexion; NaN where unknown.
    """
    angle, sag_shank, sag_foot = sagittal_angles(shank_g, foot_g) if angles is None else angles
    observable = (sag_shank >= min_sagittal_g) & (sag_foot >= min_sagittal_g)
    return np.where(observable, angle - neutral_offset_deg, np.nan)


class AnklePull:
    """Change of the foot-to-shank angle over the last ``lookback_epochs`` (deg), streaming.

    Lying exactly on a side, gravity runs along the ankle's hinge axis and the *absolute* ankle
    angle cannot be read (:func:`plantar_flexion_deg` needs ``motion.min_sagittal_g``, so that
    a sensor's fixed zero-g offset of a few hundredths of a g cannot fake a pointed foot). A
    leg is seldom exactly on its side, though: a few hundredths of a g of gravity remain in
    each sensor's sagittal plane, and a cramp's pull of the foot by tens of degrees turns
    the foot's share of it about the hinge axis while the shank's stays put. The *change* of
    the relative angle between two still epochs a few seconds apart is what that shows: the
    epoch means average the sensor's noise and the calf's tremor far below a degree's worth
    of that gravity, and a sensor's fixed offset, the same in both epochs, keeps the turn's
    sign and most of its size while it is under half that gravity (it would bias the
    absolute angle by the ratio of the two, see ``motion.pull_min_sagittal_g``). A rollover turns
    both sensors together (the relative angle is invariant to how the leg lies), so it is no
    pull. Chunk-independent: the last ``lookback_epochs`` relative angles are carried over.

    Parameters
    ----------
    lookback_epochs : int
        Epochs between the two compared (a cramp's pull builds up over 1-5 s).
    min_sagittal_g : float
        Gravity needed in each sensor's sagittal plane in both epochs (g).
    """

    def __init__(self, *, lookback_epochs: int, min_sagittal_g: float) -> None:
        self.lookback = max(1, int(lookback_epochs))
        self.min_sagittal_g = float(min_sagittal_g)
        self._tail = np.full(self.lookback, np.nan)  # relative angles of the last epochs

    def relative_deg(self, shank_g: np.ndarray, foot_g: np.ndarray, *, still: np.ndarray,
                     angles: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                     ) -> np.ndarray:
        """The relative angle the pull compares, of each epoch (deg), shape (n,).

        The foot-to-shank angle without the calibration offset, readable down to
        ``min_sagittal_g`` (so also lying almost exactly on a side, where a sensor's offset
        biases its absolute value but hardly its changes); NaN where the epoch is moving,
        missing or without enough sagittal gravity. Arguments as for :meth:`push`."""
        rel = plantar_flexion_deg(shank_g, foot_g, neutral_offset_deg=0.0,
                                  min_sagittal_g=self.min_sagittal_g, angles=angles)
        return np.where(still, rel, np.nan)

    def push(self, shank_g: np.ndarray, foot_g: np.ndarray, *, still: np.ndarray,
             angles: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
             relative_deg: np.ndarray | None = None) -> np.ndarray:
        """Pull (deg, positive = towards plantar flexion) of each new epoch, shape (n,).

        ``shank_g``, ``foot_g``: mean acceleration per epoch, shape (n, 3) (g); ``still``:
        epochs without gross movement (their mean is gravity), shape (n,); ``angles``: their
        :func:`sagittal_angles` when already computed; ``relative_deg``: their
        :meth:`relative_deg` when already computed. NaN where either epoch of a pair is
        moving, missing or without enough sagittal gravity."""
        rel = (self.relative_deg(shank_g, foot_g, still=still, angles=angles)
               if relative_deg is None else relative_deg)
        joined = np.concatenate([self._tail, rel])
        n = rel.shape[0]
        pull = (joined[self.lookback:] - joined[:n] + 180.0) % 360.0 - 180.0
        self._tail = joined[-self.lookback:]
        return pull
