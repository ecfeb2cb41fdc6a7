"""Conversion of physical dimensions to the package's canonical units.

EMG is carried in microvolts (``uV``) and acceleration in standard gravity (``g``). A reader
looks up the scale factor for the unit a file states and multiplies the samples by it.
Spelling is tolerated: case, spaces, ``µ``/``μ`` for micro, ``^`` and ``²`` in ``m/s^2``.
"""

from __future__ import annotations

from detector.errors import CrampInputError

STANDARD_GRAVITY_M_S2 = 9.80665
"""Standard gravity (m/s^2), the value of 1 g."""

_EMG_TO_UV: dict[str, float] = {
    "nv": 1e-3,
    "uv": 1.0,
    "mv": 1e3,
    "v": 1e6,
}

_ACC_TO_G: dict[str, float] = {
    "g": 1.0,
    "mg": 1e-3,
    "m/s2": 1.0 / STANDARD_GRAVITY_M_S2,
    "mm/s2": 1e-3 / STANDARD_GRAVITY_M_S2,
}


def normalise_unit(unit: str) -> str:
    """Return a unit string reduced to a lookup key.

    Lower case, no spaces, ``µ``/``μ`` written ``u``, ``s^2``/``s²``/``s**2``/``s/s`` written
    ``s2``.

    Parameters
    ----------
    unit : str
        Unit as written in a file or on the command line.

    Returns
    -------
    str
        The normalised key (e.g. ``"uv"``, ``"m/s2"``).
    """
    key = "".join(unit.split()).lower()
    key = key.replace("\u00b5", "u").replace("\u03bc", "u")
    for square in ("s**2", "s^2", "s\u00b2", "s/s"):
        key = key.replace(square, "s2")
    return key


def is_emg_unit(unit: str) -> bool:
    """Return True if ``unit`` is a voltage unit this package converts to microvolts."""
    return normalise_unit(unit) in _EMG_TO_UV


def is_acc_unit(unit: str) -> bool:
    """Return True if ``unit`` is an acceleration unit this package converts to g."""
    return normalise_unit(unit) in _ACC_TO_G


def emg_scale_to_uv(unit: str, *, signal: str) -> float:
    """Return the factor that converts EMG samples in ``unit`` to microvolts.

    Parameters
    ----------
    unit : str
        Voltage unit: ``uV``, ``µV``, ``μV``, ``mV``, ``V`` or ``nV`` (case and spaces ignored).
    signal : str
        Name of the signal, used as the place of the error (e.g. ``"night.edf: signal 'EMG'"``).

    Returns
    -------
    float
        Multiply samples in ``unit`` by this to get microvolts.

    Raises
    ------
    CrampInputError
        If the unit is empty or not a known voltage unit.
    """
    key = normalise_unit(unit)
    if key not in _EMG_TO_UV:
        raise CrampInputError(
            signal,
            f"EMG unit {unit!r} is not known; expected one of uV, mV, V, nV "
            "(pass --emg-unit to state it)",
        )
    return _EMG_TO_UV[key]


def acc_scale_to_g(unit: str, *, signal: str) -> float:
    """Return the factor that converts acceleration samples in ``unit`` to g.

    Parameters
    ----------
    unit : str
        Acceleration unit: ``g``, ``mg``, ``m/s2``, ``m/s^2``, ``m/s²`` or ``mm/s2``.
    signal : str
        Name of the signal, used as the place of the error.

    Returns
    -------
    float
        Multiply samples in ``unit`` by this to get g (1 g = 9.80665 m/s^2).

    Raises
    ------
    CrampInputError
        If the unit is empty or not a known acceleration unit.
    """
    key = normalise_unit(unit)
    if key not in _ACC_TO_G:
        raise CrampInputError(
            signal,
            f"acceleration unit {unit!r} is not known; expected one of g, mg, m/s2, mm/s2 "
            "(pass --acc-unit to state it)",
        )
    return _ACC_TO_G[key]
