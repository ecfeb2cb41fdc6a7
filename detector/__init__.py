"""Night-cramp detector: find calf cramps in leg-band recordings (EMG and accelerometers)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("night-cramp-detector")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
