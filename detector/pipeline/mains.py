"""Mains hum per epoch, measured from the raw EMG without a second filter pass.

The EMG runs through one cascade (band-pass, then the mains notches). The quality flags still
need the band-passed power, which is the notched power plus what the notches took out: the
power at the mains frequencies. That part is measured here, per epoch, from the raw samples,
by least squares: the epoch's samples are fitted with a cosine and a sine at each mains
frequency together with what the band-pass rejects below its lower edge (polynomials up to
:data:`DETREND_DEGREE` and sinusoids at the multiples of ``1 / epoch`` below that edge: an
electrode's offset, drift and slow motion artefacts, which would otherwise leak into the fit);
the hum power is that of the fitted mains sinusoids, each scaled by the band-pass's gain at its
frequency.

For an epoch of ``L`` samples this is ``||W x||^2`` with a fixed ``(2 m, L)`` matrix ``W`` (``m``
mains frequencies), so each epoch costs ``2 m`` dot products over its own samples, computed
the same way whatever the chunking. Over a 0.1-s epoch the fit resolves 10 Hz, so it also takes
in the muscle's own power within a few Hz of the mains frequencies (about 4 % of the band's
power for surface EMG, against about 1 % removed by the Q-30 notches).
"""

from __future__ import annotations

import numpy as np

from detector.pipeline.epochs import EpochCut

DETREND_DEGREE = 3
"""Highest degree of the polynomial fitted alongside the mains sinusoids (dimensionless): a
cubic over one epoch follows an offset, a drift and a motion swing of a few Hz."""


def sos_gain(sos: np.ndarray, f_hz: float, fs: float) -> float:
    """Magnitude response of second-order sections at ``f_hz`` (dimensionless)."""
    z = np.exp(-1j * 2.0 * np.pi * f_hz / fs)
    powers = np.array([1.0, z, z * z])
    num = np.asarray(sos)[:, :3] @ powers
    den = np.asarray(sos)[:, 3:] @ powers
    return float(np.abs(np.prod(num / den)))


class MainsEnergy:
    """Per-epoch energy of the mains hum in the band-passed EMG (uV^2 summed over samples).

    Parameters
    ----------
    fs : float
        EMG sampling rate (Hz).
    mains_hz : tuple of float
        Mains frequencies measured (those the notches remove, Hz).
    gains : tuple of float
        Band-pass gain at each of them (dimensionless).
    low_edge_hz : float
        Lower edge of the band-pass (Hz): slower sinusoids are fitted as nuisance.
    """

    def __init__(self, *, fs: float, mains_hz: tuple[float, ...], gains: tuple[float, ...],
                 low_edge_hz: float) -> None:
        self.fs = fs
        self.mains_hz = tuple(mains_hz)
        self._gains = np.asarray(gains, dtype=float)
        self._low_edge_hz = low_edge_hz
        self._weights: dict[int, np.ndarray] = {}

    def weights(self, length: int) -> np.ndarray:
        """The matrix ``W`` for epochs of ``length`` samples, shape (2 m, length)."""
        w = self._weights.get(length)
        if w is None:
            w = self._design(length)
            self._weights[length] = w
        return w

    def _design(self, length: int) -> np.ndarray:
        m = len(self.mains_hz)
        t_s = np.arange(length) / self.fs
        u = np.linspace(-1.0, 1.0, length)
        nuisance = _legendre(u, DETREND_DEGREE)
        step_hz = self.fs / length
        k = 1
        while k * step_hz < self._low_edge_hz:
            nuisance += [np.cos(2 * np.pi * k * step_hz * t_s),
                         np.sin(2 * np.pi * k * step_hz * t_s)]
            k += 1
        hum = [g(2 * np.pi * f * t_s) for f in self.mains_hz for g in (np.cos, np.sin)]
        basis = np.array(nuisance + hum).T  # (length, n_nuisance + 2 m)
        if m == 0 or basis.shape[1] > length:
            return np.zeros((0, length))
        # least-squares coefficients of the mains sinusoids (the nuisance fitted alongside)
        coef = np.linalg.pinv(basis)[-2 * m:]                     # (2 m, length)
        # power of the fitted hum, band-pass gain G applied: c'G B'B G c = ||R G c||^2, B'B = R'R
        g = np.repeat(self._gains, 2)[:, None]
        gram = basis[:, -2 * m:].T @ basis[:, -2 * m:]
        r = np.linalg.cholesky(gram).T
        return np.ascontiguousarray(r @ (g * coef))

    def per_epoch(self, raw: np.ndarray, cut: EpochCut) -> np.ndarray:
        """Hum energy of each epoch of ``raw`` (uV, shape (bounds[-1],)), shape (n,) in uV^2.

        Each epoch's value is ``||W x||^2`` over its own samples, in the same order of
        operations whatever the chunking.
        """
        out = np.zeros(cut.n_epochs)
        if not self.mains_hz or cut.n_epochs == 0:
            return out
        if cut.length is not None:
            self._add(out, raw.reshape(cut.n_epochs, cut.length), self.weights(cut.length))
            return out
        starts = cut.bounds[:-1]
        lengths = np.diff(cut.bounds)
        for length in np.unique(lengths):
            rows = np.flatnonzero(lengths == length)
            frames = raw[starts[rows, None] + np.arange(length)]
            part = np.zeros(rows.shape[0])
            self._add(part, frames, self.weights(int(length)))
            out[rows] = part
        return out

    @staticmethod
    def _add(out: np.ndarray, frames: np.ndarray, w: np.ndarray) -> None:
        """Add ``sum_r (frames @ w[r])^2`` to ``out`` (one dot product per row and weight)."""
        for row in w:
            c = np.einsum("ij,j->i", frames, row)
            out += c * c


def _legendre(u: np.ndarray, degree: int) -> list[np.ndarray]:
    """Legendre polynomials ``P_0 .. P_degree`` at ``u`` (shape (n,), in [-1, 1]).

    Bonnet's recurrence ``(k + 1) P_{k+1} = (2 k + 1) u P_k - k P_{k-1}`` (numpy.polynomial,
    which would do the same, costs a few ms to import).
    """
    polys = [np.ones_like(u), u.copy()][: degree + 1]
    for k in range(1, degree):
        polys.append(((2 * k + 1) * u * polys[k] - k * polys[k - 1]) / (k + 1))
    return polys
