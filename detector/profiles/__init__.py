"""Device profiles: what a band is, as data (UUIDs, streams, rates, scales, packet layouts).

A profile says nothing about transport; decoders are pure functions in sibling ``*_codec``
modules. Both the client and :mod:`firmware_sim` import the same profile, so the byte layout
of a band is written down exactly once.
"""

from detector.profiles.legband import LEGBAND, LegBandProfile, StreamSpec

__all__ = ["LEGBAND", "LegBandProfile", "StreamSpec"]
