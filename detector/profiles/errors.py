"""Errors raised by the decoders of real bands' protocols (Polar PMD, Myo)."""

from __future__ import annotations

from detector.errors import CrampInputError


class DecodeError(CrampInputError):
    """Bytes from a band, or a decoding parameter, that do not follow the documented layout.

    Parameters
    ----------
    where : str
        The characteristic, field or parameter at fault (e.g. ``"polar_pmd.data"``).
    problem : str
        What is wrong and what was expected, in one line.
    """
