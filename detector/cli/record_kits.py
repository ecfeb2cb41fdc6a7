"""The simulated multi-band kits of ``cramp record --kit`` and the ``--band``/``--kit`` options.

Kept apart from :mod:`detector.cli.record_multi` so that ``cramp record --help`` loads no
pipeline, capture code or scipy.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class KitBand:
    """One band of a simulated kit."""

    band: str
    role: str
    leg: str = "left"


KITS: dict[str, tuple[KitBand, ...]] = {
    "polar-pair": (KitBand(band="polar_pmd", role="shank"),
                   KitBand(band="polar_pmd", role="foot")),
    "movesense-pair": (KitBand(band="movesense", role="shank"),
                       KitBand(band="movesense", role="foot")),
    "ganglion": (KitBand(band="ganglion", role="emg"),),
    "ganglion-polar": (KitBand(band="ganglion", role="emg"),
                       KitBand(band="polar_pmd", role="shank"),
                       KitBand(band="polar_pmd", role="foot")),
    "both-legs": (KitBand(band="ganglion", role="emg", leg="left"),
                  KitBand(band="ganglion", role="emg", leg="right")),
}
"""The simulated kits of ``--kit``."""


def register_options(p: argparse.ArgumentParser) -> None:
    """Add ``--band`` and ``--kit`` to ``cramp record``."""
    p.add_argument("--band", action="append", metavar="ROLE[@LEG]=ADDR",
                   help="a band of a multi-band night and its place: emg, shank or foot, "
                        "with @left/@right when there are bands on both legs (repeat)")
    p.add_argument("--kit", choices=tuple(KITS),
                   help="with --simulate: a simulated multi-band kit")
