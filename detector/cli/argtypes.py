"""Argument types for the ``cramp`` options: numbers in their physical ranges, safe names.

Each factory returns a callable for ``argparse``'s ``type=``; a value out of range becomes a
one-line usage error naming the option (exit code 2), before any work starts.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def bounded_float(lo: float, hi: float, *, unit: str = "", lo_open: bool = False
                  ) -> Callable[[str], float]:
    """A finite float in ``[lo, hi]`` (``(lo, hi]`` when ``lo_open``)."""
    shown = f" {unit}" if unit else ""
    left = "(" if lo_open else "["

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and value <= hi
        if not ok:
            raise argparse.ArgumentTypeError(
                f"expected a number in {left}{lo:g}, {hi:g}]{shown}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def bounded_int(lo: int, hi: int) -> Callable[[str], int]:
    """An integer in ``[lo, hi]``."""
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"expected an integer from {lo} to {hi}, "
                                             f"got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def file_stem(text: str) -> str:
    """A plain file-name stem: letters, digits, ``.``, ``_``, ``-``; no folders, no ``..``."""
    if not _STEM.fullmatch(text) or ".." in text:
        raise argparse.ArgumentTypeError(
            f"expected a plain file name (letters, digits, '.', '_', '-'; no folders), "
            f"got {text!r}")
    return text


SEED = bounded_int(0, 2**63 - 1)
"""A random seed: what :class:`numpy.random.SeedSequence` accepts (non-negative)."""
