"""Several simulated bands stepped as one, for a multi-band night on one simulated clock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class BandGroup:
    """Steps every band in turn; "awaiting a connection" while any band is.

    Parameters
    ----------
    bands : sequence
        Simulated peripherals (``step()``, ``awaiting_connection()``, ``connected``).
    """

    def __init__(self, bands: Sequence[Any]) -> None:
        self.bands = list(bands)

    async def step(self) -> int:
        """Step every band; return the notifications sent."""
        sent = 0
        for band in self.bands:
            sent += await band.step()
        return int(sent)

    def awaiting_connection(self) -> bool:
        """True while some band is reachable but not connected."""
        return any(b.awaiting_connection() for b in self.bands)

    @property
    def connected(self) -> bool:
        """True when every band is connected."""
        return all(b.connected for b in self.bands)
