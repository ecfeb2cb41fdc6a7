"""Band kinds as data: the one table that scanning, recording, replay and simulation read.

See :mod:`detector.bands.registry`.
"""

from detector.bands.registry import (
    BANDS,
    BandKind,
    band_for_advert,
    band_for_simulate_choice,
    band_named,
    load_object,
)

__all__ = ["BANDS", "BandKind", "band_for_advert", "band_for_simulate_choice", "band_named",
           "load_object"]
