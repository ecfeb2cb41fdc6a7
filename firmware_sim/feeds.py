"""Inputs of the firmware model: the physical signals it samples and the clocks that drive it.

A :data:`SignalFeed` answers "what is the signal at these true times"; :class:`ArrayFeed`
interpolates sampled arrays (the night model's output). :class:`ManualClock` moves only when a
test says so; :class:`ScaledClock` compresses wall time for sped-up live simulations.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

SignalFeed = Callable[[str, np.ndarray], np.ndarray]
"""``feed(role, t_s)``: the physical signal at true times ``t_s`` (s), shape (n,).

Returns shape (n,) in uV for ``"emg"`` and (n, 3) in g for ``"shank_acc"``/``"foot_acc"``.
"""


class ArrayFeed:
    """A :data:`SignalFeed` over sampled arrays, linearly interpolated between samples.

    Times before the first or after the last sample hold the edge value.

    Parameters
    ----------
    emg_uv : ndarray, shape (n,)
        Calf EMG in uV, sample ``i`` at ``i / emg_fs`` s.
    emg_fs : float
        EMG sampling rate (Hz).
    shank_acc_g, foot_acc_g : ndarray, shape (m, 3)
        Accelerometers in g, sample ``i`` at ``i / shank_acc_fs`` (``foot_acc_fs``) s.
    shank_acc_fs, foot_acc_fs : float
        Accelerometer sampling rates (Hz).
    """

    def __init__(
        self,
        *,
        emg_uv: np.ndarray,
        emg_fs: float,
        shank_acc_g: np.ndarray,
        shank_acc_fs: float,
        foot_acc_g: np.ndarray,
        foot_acc_fs: float,
    ) -> None:
        self._signals: dict[str, tuple[np.ndarray, float]] = {
            "emg": (np.asarray(emg_uv, dtype=np.float64).reshape(-1, 1), float(emg_fs)),
            "shank_acc": (np.asarray(shank_acc_g, dtype=np.float64), float(shank_acc_fs)),
            "foot_acc": (np.asarray(foot_acc_g, dtype=np.float64), float(foot_acc_fs)),
        }
        for role, (values, fs) in self._signals.items():
            if values.shape[0] < 1 or not fs > 0:
                raise ValueError(f"{role}: need at least one sample and fs > 0")
            if role != "emg" and (values.ndim != 2 or values.shape[1] != 3):
                raise ValueError(f"{role}: expected shape (m, 3), got {values.shape}")

    @property
    def duration_s(self) -> float:
        """Time span covered by every signal (s)."""
        return min(v.shape[0] / fs for v, fs in self._signals.values())

    def __call__(self, role: str, t_s: np.ndarray) -> np.ndarray:
        """Values of ``role`` at times ``t_s``: shape (n,) for EMG, (n, 3) for accelerometers."""
        values, fs = self._signals[role]
        pos = np.clip(np.asarray(t_s, dtype=np.float64) * fs, 0.0, values.shape[0] - 1)
        i0 = np.minimum(np.floor(pos).astype(np.int64), values.shape[0] - 1)
        i1 = np.minimum(i0 + 1, values.shape[0] - 1)
        frac = (pos - i0)[:, None]
        out = values[i0] * (1.0 - frac) + values[i1] * frac
        return out[:, 0] if role == "emg" else out


class ManualClock:
    """A clock that only moves when told: ``clock()`` returns the current time (s)."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.now_s = float(start_s)

    def __call__(self) -> float:
        return self.now_s

    def advance(self, dt_s: float) -> float:
        """Move forward by ``dt_s`` seconds; return the new time."""
        if dt_s < 0:
            raise ValueError("a clock cannot go backwards")
        self.now_s += dt_s
        return self.now_s


class ScaledClock:
    """Wall time since creation, multiplied by ``factor`` (time compression for live runs)."""

    def __init__(self, *, factor: float, source: Callable[[], float] = time.monotonic) -> None:
        if not factor > 0:
            raise ValueError("factor must be positive")
        self._factor = factor
        self._source = source
        self._t0 = source()

    def __call__(self) -> float:
        return (self._source() - self._t0) * self._factor
