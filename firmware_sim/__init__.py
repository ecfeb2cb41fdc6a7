"""Simulated leg band: a physiological model of a night, and the band's firmware.

The night model lives in :mod:`firmware_sim.night`; its public names are also available
here, imported on first use so that ``import firmware_sim.firmware`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "NightChunk",
    "NightEvent",
    "NightScenario",
    "SimulatedNight",
    "random_scenario",
    "synthesize",
    "synthesize_chunks",
    "truth_table",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("firmware_sim.night"), name)
    raise AttributeError(f"module 'firmware_sim' has no attribute {name!r}")
