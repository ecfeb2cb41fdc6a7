"""Find supported bands nearby: every band kind of :data:`detector.bands.registry.BANDS`.

A band is recognised by the service UUIDs it advertises (or, once connected, the services it
serves), with its advertised name as a fallback: Polar devices often advertise only their name.
:func:`profile_of` is a pure function over UUID strings and a name; :func:`scan_bands` runs a
bleak scan (on any bleak backend, e.g. the in-process simulated band) and returns what it saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from detector.bands.registry import (
    BANDS,
    LEGBAND,
    MYO,
    POLAR_PMD,
    band_for_advert,
)
from detector.errors import CrampInputError

LEGBAND_PROFILE = LEGBAND.name
POLAR_PMD_PROFILE = POLAR_PMD.name
MYO_PROFILE = MYO.name

PROFILE_LABELS: dict[str, str] = {band.name: band.label for band in BANDS}
"""One line per band kind (from :data:`detector.bands.registry.BANDS`)."""


@dataclass(frozen=True, kw_only=True)
class FoundBand:
    """A supported band seen during a scan.

    Attributes
    ----------
    name : str
        Advertised local name (complete if a scan response was seen), or ``""``.
    address : str
        Bluetooth address (a UUID on macOS).
    rssi_dbm : int
        Strongest received signal strength seen (dBm).
    profile : str
        Device profile recognised (a band name of :data:`detector.bands.registry.BANDS`).
    service_uuids : tuple of str
        Advertised service UUIDs (lowercase 128-bit text).
    device : BLEDevice or None
        bleak's device handle (for connecting); not part of the JSON form.
    """

    name: str
    address: str
    rssi_dbm: int
    profile: str
    service_uuids: tuple[str, ...] = ()
    device: BLEDevice | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "address": self.address, "rssi_dbm": self.rssi_dbm,
                "profile": self.profile, "service_uuids": list(self.service_uuids)}


def profile_of(service_uuids: Iterable[str], name: str | None = None) -> str | None:
    """Recognise a band from its service UUIDs, then from its name (the band registry).

    Parameters
    ----------
    service_uuids : iterable of str
        Advertised or discovered service UUIDs (any case, 128-bit text form).
    name : str, optional
        Advertised or GAP device name.

    Returns
    -------
    str or None
        The band's name (``"legband"``, ``"polar_pmd"``, ``"myo"``, ``"movesense"``,
        ``"ganglion"``), or ``None`` for anything else.
    """
    band = band_for_advert(service_uuids, name)
    return None if band is None else band.name


ADAPTER_HINT = ("is Bluetooth switched on, an adapter plugged in and bluetoothd (BlueZ) "
                "running?")


def adapter_problem(exc: BaseException) -> str | None:
    """Why ``exc`` means that no Bluetooth adapter can be used, or ``None`` if it does not.

    On Linux bleak talks to BlueZ over the D-Bus system bus: without the bus socket the error
    is ``FileNotFoundError`` (or a refused/denied connection), without bluetoothd a D-Bus
    ``ServiceUnknown`` error, without an adapter a ``BleakError`` naming the adapter. These
    are a machine's state, not a band's: the caller reports them as such (one line at the
    start, a waiting status during the night).

    Parameters
    ----------
    exc : BaseException
        What a scan or connection attempt raised.

    Returns
    -------
    str or None
        A one-line description, or ``None`` for any other error.
    """
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError | PermissionError):
        return f"the system D-Bus (BlueZ) cannot be reached ({type(exc).__name__})"
    text = str(exc)
    lowered = text.lower()
    module = type(exc).__module__ or ""
    if module.startswith("dbus_fast") or "org.freedesktop.dbus" in lowered:
        return f"BlueZ did not answer over D-Bus ({text.splitlines()[0] if text else 'error'})"
    if isinstance(exc, BleakError) and ("adapter" in lowered or "org.bluez" in lowered
                                         or "bluetooth device is turned off" in lowered):
        return f"no usable Bluetooth adapter ({text.splitlines()[0]})"
    return None


class AdapterUnavailable(CrampInputError):
    """No Bluetooth adapter can be used on this machine (exit code 2 in the CLI)."""

    def __init__(self, problem: str) -> None:
        super().__init__("bluetooth", f"{problem}; {ADAPTER_HINT}")


def matches(band: FoundBand, wanted: str) -> bool:
    """True when ``wanted`` is the band's address (any case) or its name (exact or prefix)."""
    w = wanted.strip()
    return band.address.lower() == w.lower() or (bool(band.name) and band.name.startswith(w))


async def scan_bands(*, timeout_s: float, backend: type | None = None,
                     **backend_kwargs: Any) -> list[FoundBand]:
    """Scan for ``timeout_s`` seconds and return the supported bands seen, strongest first.

    Parameters
    ----------
    timeout_s : float
        Scan duration (s).
    backend : type, optional
        bleak scanner backend class (default: the platform's).
    **backend_kwargs
        Passed to the backend (e.g. ``link=`` for the in-process simulated band).
    """
    seen: dict[str, tuple[BLEDevice, AdvertisementData, int]] = {}

    def on_advert(device: BLEDevice, adv: AdvertisementData) -> None:
        old = seen.get(device.address)
        best = adv.rssi if old is None else max(old[2], adv.rssi)
        if old is not None and old[1].local_name and not adv.local_name:
            adv = old[1]  # keep the advertisement that carried a name
        elif old is not None and old[1].local_name and adv.local_name and \
                len(old[1].local_name) > len(adv.local_name):
            adv = old[1]  # keep the complete name over the shortened one
        seen[device.address] = (device, adv, best)

    try:
        scanner = BleakScanner(on_advert, backend=backend, **backend_kwargs)
        await scanner.start()
    except Exception as exc:
        problem = adapter_problem(exc)
        if problem is None:
            raise
        raise AdapterUnavailable(problem) from None
    try:
        await asyncio.sleep(timeout_s)
    finally:
        await scanner.stop()
    found = []
    for address, (device, adv, rssi) in seen.items():
        name = adv.local_name or device.name or ""
        profile = profile_of(adv.service_uuids, name)
        if profile is not None:
            found.append(FoundBand(name=name, address=address, rssi_dbm=int(rssi),
                                   profile=profile, service_uuids=tuple(adv.service_uuids),
                                   device=device))
    found.sort(key=lambda b: (-b.rssi_dbm, b.address))
    return found
