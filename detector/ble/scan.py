"""Find supported bands nearby: the LegBand, Polar PMD devices and the Myo armband.

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

from detector.errors import CrampInputError
from detector.profiles.legband import LEGBAND

LEGBAND_PROFILE = "legband"
POLAR_PMD_PROFILE = "polar_pmd"
MYO_PROFILE = "myo"

POLAR_PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
"""Polar Measurement Data service."""
MYO_UUID_PREFIX = "d506"
MYO_UUID_SUFFIX = "-a904-deb9-4748-2c7f4a124842"
"""Myo UUIDs are ``d506xxxx-a904-deb9-4748-2c7f4a124842``."""

PROFILE_LABELS: dict[str, str] = {
    LEGBAND_PROFILE: "LegBand (calf EMG + shank and foot accelerometers)",
    POLAR_PMD_PROFILE: "Polar PMD (accelerometer)",
    MYO_PROFILE: "Myo armband (8-channel EMG, IMU)",
}


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
    profile : {"legband", "polar_pmd", "myo"}
        Device profile recognised.
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
    """Recognise a band from its service UUIDs, then from its name.

    Parameters
    ----------
    service_uuids : iterable of str
        Advertised or discovered service UUIDs (any case, 128-bit text form).
    name : str, optional
        Advertised or GAP device name.

    Returns
    -------
    str or None
        ``"legband"``, ``"polar_pmd"``, ``"myo"``, or ``None`` for anything else.
    """
    uuids = {u.lower() for u in service_uuids}
    if LEGBAND.service_uuid in uuids:
        return LEGBAND_PROFILE
    if POLAR_PMD_SERVICE_UUID in uuids:
        return POLAR_PMD_PROFILE
    if any(u.startswith(MYO_UUID_PREFIX) and u.endswith(MYO_UUID_SUFFIX) for u in uuids):
        return MYO_PROFILE
    text = (name or "").strip()
    if text.startswith(LEGBAND.local_name_prefix):
        return LEGBAND_PROFILE
    if text.startswith("Polar "):
        return POLAR_PMD_PROFILE
    return None


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
