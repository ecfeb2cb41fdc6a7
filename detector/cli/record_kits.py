"""The simulated multi-band kits of ``cramp record --kit`` and the ``--band``/``--kit`` options.

Kept apart from :mod:`detector.cli.record_multi` so that ``cramp record --help`` loads no
pipeline, capture code or scipy.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class KitBand:
    """One band of a simulated kit.

    ``leg`` is ``"both"`` for a Ganglion on both calves; ``channel_legs`` then says which
    input (0-3) is on which leg.
    """

    band: str
    role: str
    leg: str = "left"
    channel_legs: tuple[tuple[int, str], ...] = ()

    @property
    def legs(self) -> tuple[str, ...]:
        """The legs the band covers."""
        return tuple(sorted(leg for _ch, leg in self.channel_legs)) if self.leg == "both" \
            else (self.leg,)


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
    "ganglion-both-legs": (KitBand(band="ganglion", role="emg", leg="both",
                                   channel_legs=((0, "left"), (2, "right"))),),
}
"""The simulated kits of ``--kit``."""

KIT_ACC_FS_HZ = 100
"""Rate (Hz) the night model synthesises a kit's accelerometers at: its fastest, whose calf
tremor (mechanomyogram) band reaches 45 Hz, nearly the whole 5-50 Hz of a contracting calf.
Each simulated band is given the night resampled to the rate its session negotiates, the
real bands' choice (:func:`detector.cli.record_other.session_for`: a Polar Verity Sense on
the shank in SDK mode at 416 Hz, a Movesense shank at 208 Hz, feet at 52 Hz), so the shank
sees the mechanomyogram as a real band would, not folded into a 50 Hz stream's 25 Hz."""


def register_options(p: argparse.ArgumentParser) -> None:
    """Add ``--band`` and ``--kit`` to ``cramp record``."""
    p.add_argument("--band", action="append", metavar="ROLE[@LEG]=ADDR",
                   help="a band of a multi-band night and its place: emg, shank or foot, "
                        "with @left/@right when there are bands on both legs, emg@both "
                        "for one Ganglion on both calves (repeat)")
    p.add_argument("--ganglion-channels", metavar="CH=LEG,CH=LEG",
                   help="with --band emg@both=ADDR: which Ganglion channel (1-4, as printed "
                        "on the board) is over which calf, e.g. 1=left,3=right")
    p.add_argument("--kit", choices=tuple(KITS),
                   help="with --simulate: a simulated multi-band kit")
