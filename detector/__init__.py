"""Night-cramp detector: find calf cramps in leg-band recordings (EMG and accelerometers)."""

__version__ = "0.1.0"
"""The package version (the one source: ``pyproject.toml`` reads it from here). A literal, not
``importlib.metadata``: looking the version up costs tens of ms at every start."""

__all__ = ["__version__"]
