"""Errors of a real MEMS accelerometer strapped on a limb: zero-g offset, gain, mounting.

The night model's leg geometry (:mod:`firmware_sim.night_posture`) gives the specific force in
the *limb's* frame. A consumer band does not read that exactly:

- its sensor frame sits turned from the limb's axes by a few degrees (the band rides around
  the shank's long axis, the pod tilts on the calf's curve or on the foot's dorsum);
- every axis reads ``gain * true + offset``: a zero-g offset of a few tens of mg
  (consumer 3-axis MEMS parts of the LIS2DH / LSM6DS class state a typical zero-g level of
  about +-40 mg per axis at +-2 g full scale, before board stress and temperature drift) and
  a sensitivity error of a few percent (typical tolerances of about +-1-3 %; cross-axis
  sensitivity of about 1 % is folded into the mounting rotation).

A :class:`SensorErrors` holds one sensor's fixed errors for a night; :func:`draw_sensor_errors`
draws them from an injected generator, and :meth:`SensorErrors.apply` turns the limb-frame
specific force into what the sensor reports (before its white noise). ``None`` in a scenario
means an ideal sensor, as in hand-built scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.errors import CrampInputError

OFFSET_SD_G = 0.025
"""Standard deviation of each axis's zero-g offset (g): a typical +-40 mg datasheet figure
read as about 1.6 sd, so most draws are tens of mg."""
OFFSET_MAX_G = 0.08
"""Largest zero-g offset magnitude drawn on one axis (g): about twice the typical figure."""
GAIN_SD = 0.02
"""Standard deviation of each axis's sensitivity error (fraction of 1: 0.02 = 2 %)."""
GAIN_MAX = 0.05
"""Largest sensitivity error magnitude drawn on one axis (fraction of 1)."""
STRAP_ROLL_MAX_DEG = 12.0
"""Largest rotation of the pod about the limb's long axis (deg): a strap sits a little round
the shank (or the foot clip a little tipped to one side)."""
TILT_MAX_DEG = 5.0
"""Largest tilt of the pod about each of the two other axes (deg): the pod rests on the
calf's curve or the instep, not square to the bone."""


@dataclass(frozen=True, kw_only=True)
class SensorErrors:
    """Fixed errors of one accelerometer for a night.

    Attributes
    ----------
    offset_g : tuple of 3 float
        Zero-g offset of each sensor axis (g), added to the reading.
    gain : tuple of 3 float
        Sensitivity of each sensor axis (1 = ideal), multiplying the reading.
    rotation_deg : tuple of 3 float
        Mounting rotation of the sensor from the limb frame about the limb's x, y and z axes
        (deg), applied in that order (x first).
    """

    offset_g: tuple[float, float, float] = (0.0, 0.0, 0.0)
    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        for name in ("offset_g", "gain", "rotation_deg"):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != (3,) or not np.all(np.isfinite(value)):
                raise CrampInputError(f"sensor.{name}", "expected 3 finite numbers")
        if not all(0.5 < g < 1.5 for g in self.gain):
            raise CrampInputError("sensor.gain", "expected gains between 0.5 and 1.5")
        if not all(abs(o) <= 0.5 for o in self.offset_g):
            raise CrampInputError("sensor.offset_g", "expected offsets within +-0.5 g")
        if not all(abs(r) <= 45.0 for r in self.rotation_deg):
            raise CrampInputError("sensor.rotation_deg", "expected rotations within +-45 deg")

    def matrix(self) -> np.ndarray:
        """Return the 3x3 matrix from limb-frame to sensor-frame vectors (no offset)."""
        ax, ay, az = np.deg2rad(np.asarray(self.rotation_deg, dtype=np.float64))
        rx = np.array([[1, 0, 0], [0, np.cos(ax), np.sin(ax)], [0, -np.sin(ax), np.cos(ax)]])
        ry = np.array([[np.cos(ay), 0, -np.sin(ay)], [0, 1, 0], [np.sin(ay), 0, np.cos(ay)]])
        rz = np.array([[np.cos(az), np.sin(az), 0], [-np.sin(az), np.cos(az), 0], [0, 0, 1]])
        return np.diag(self.gain) @ (rz @ ry @ rx)

    def apply(self, limb_g: np.ndarray) -> np.ndarray:
        """Return what the sensor reads (g, shape (n, 3)) for limb-frame specific force (g)."""
        return limb_g @ self.matrix().T + np.asarray(self.offset_g)


def draw_sensor_errors(rng: np.random.Generator, *, long_axis: int) -> SensorErrors:
    """Draw one sensor's errors for a night.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the draws.
    long_axis : int
        Index (0-2) of the limb axis the strap goes round (the shank's x; the foot's x); the
        mounting rotation about it is up to :data:`STRAP_ROLL_MAX_DEG`, about the other two up
        to :data:`TILT_MAX_DEG`.

    Returns
    -------
    SensorErrors
    """
    offset = np.clip(rng.normal(0.0, OFFSET_SD_G, 3), -OFFSET_MAX_G, OFFSET_MAX_G)
    gain = 1.0 + np.clip(rng.normal(0.0, GAIN_SD, 3), -GAIN_MAX, GAIN_MAX)
    limits = np.full(3, TILT_MAX_DEG)
    limits[long_axis] = STRAP_ROLL_MAX_DEG
    rotation = rng.uniform(-limits, limits)
    return SensorErrors(offset_g=tuple(float(v) for v in offset),  # type: ignore[arg-type]
                        gain=tuple(float(v) for v in gain),  # type: ignore[arg-type]
                        rotation_deg=tuple(float(v) for v in rotation))  # type: ignore[arg-type]
