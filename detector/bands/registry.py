"""The band registry: every kind of band the detector can record, described once, as data.

Each :class:`BandKind` says how to recognise the band (advertised or served service UUIDs,
then the advertised name), which pipeline roles it can fill (``emg``: calf surface EMG,
``shank``/``foot``: an accelerometer strapped to the shank or the foot), how many legs one
band can cover, and where the code that records, replays and simulates it lives. The code is
named by an import path string (``"package.module:attribute"``) and imported only when
:func:`load_object` is called, so reading the table imports no session, no capture reader and
never :mod:`firmware_sim` (which is loaded only where ``--simulate`` is chosen).

Adding a band is one new profile module (profile as data + pure decoders), a session, an
assembler (shared by the live session and capture replay) and one entry in :data:`BANDS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from detector.errors import CrampInputError
from detector.profiles.legband import LEGBAND as LEGBAND_PROFILE

POLAR_PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
"""``detector.profiles.polar_pmd.POLAR_PMD.service_uuid`` (a test checks they agree), written
out so that reading the table, as every capture replay does, does not import the Polar codec
(about 4 ms)."""

BAND_ROLES = ("emg", "shank", "foot")
"""Places a band can take in a night: calf EMG, shank accelerometer, foot accelerometer."""
ROLE_CHANNELS: dict[str, str] = {"emg": "emg", "shank": "shank_acc", "foot": "foot_acc"}
"""Pipeline channel role fed by each band role."""


@dataclass(frozen=True, kw_only=True)
class BandKind:
    """One kind of band, as data.

    Attributes
    ----------
    name : str
        Profile name, written in capture headers and scan output (e.g. ``"polar_pmd"``).
    label : str
        One line for people (scan table, docs).
    service_uuids : tuple of str
        128-bit service UUIDs (lowercase) any of which identifies the band.
    uuid_patterns : tuple of (str, str)
        ``(prefix, suffix)`` pairs: a UUID starting and ending so identifies the band (for
        vendor bases such as the Myo's ``d506xxxx-…``).
    name_prefixes : tuple of str
        Advertised-name prefixes that identify the band when no UUID is advertised.
    roles : tuple of str
        Roles of :data:`BAND_ROLES` the band can fill; ``default_roles`` are those it fills
        when none is given.
    default_roles : tuple of str
        Roles filled by one band of this kind with no ``--band ROLE=`` assignment.
    max_legs : int
        Legs one band can cover at once (a 4-channel EMG board: 2).
    session : str
        Import path of the session class recording it over BLE.
    assembler : str
        Import path of the notification assembler shared by the live session and the replay
        of its capture: for the consumer bands ``factory(session_meta, *, where)``, for the
        LegBand the :class:`~detector.capture.assembler.StreamAssembler` class.
    capture_source : str
        Import path of the class replaying the band's capture as a recording
        (``cls(path, *, capture=, min_emg_fs_hz=, start_utc=)``).
    capture_sources : tuple of str
        Capture packet source names the band's session writes.
    simulator : str
        Import path of the simulated peripheral class (in :mod:`firmware_sim`).
    simulate_choice : str
        Name of the band for ``--simulate-band``.
    own_clock : bool
        The band's sample indices count its own oscillator (Polar: the ns stamps of its
        frames; Movesense: the ms stamps of its messages; Ganglion: the packet IDs of its
        200 Hz cycles) and its assembler notes each packet's host receive time
        (``RoleTrack.arrivals``): on a multi-band night the band's drift against the host is
        fitted to those arrivals (:class:`~detector.night.band_drift.DriftGrid`). False for a
        band indexed by the host's receive times (Myo) or with its own clock fit (LegBand).
    """

    name: str
    label: str
    service_uuids: tuple[str, ...] = ()
    uuid_patterns: tuple[tuple[str, str], ...] = ()
    name_prefixes: tuple[str, ...] = ()
    roles: tuple[str, ...]
    default_roles: tuple[str, ...]
    max_legs: int = 1
    session: str
    assembler: str
    capture_source: str = "detector.capture.other_sources:OtherBandCapture"
    capture_sources: tuple[str, ...]
    simulator: str
    simulate_choice: str
    own_clock: bool = False

    def __post_init__(self) -> None:
        bad = [r for r in (*self.roles, *self.default_roles) if r not in BAND_ROLES]
        if bad or not set(self.default_roles) <= set(self.roles):
            raise ValueError(f"band {self.name}: roles must be among {BAND_ROLES} and the "
                             "default roles among its roles")
        if any(u != u.lower() for u in self.service_uuids):
            raise ValueError(f"band {self.name}: service UUIDs must be lowercase text")

    def matches_uuids(self, uuids: Iterable[str]) -> bool:
        """True when one of ``uuids`` (lowercase) identifies this band."""
        for u in uuids:
            if u in self.service_uuids:
                return True
            if any(u.startswith(p) and u.endswith(s) for p, s in self.uuid_patterns):
                return True
        return False

    def matches_name(self, name: str) -> bool:
        """True when the advertised ``name`` starts with one of the band's prefixes."""
        return any(name.startswith(p) for p in self.name_prefixes)

    def load(self, what: str) -> Any:
        """Import and return the object named by the ``what`` field (``"session"``, ...)."""
        return load_object(getattr(self, what))


def load_object(path: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute.

    Raises
    ------
    ValueError
        Not of that form, or no such module or attribute.
    """
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"import path {path!r}; expected 'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load {path!r}: {exc}") from exc


LEGBAND = BandKind(
    name="legband", label="LegBand (calf EMG + shank and foot accelerometers)",
    service_uuids=(LEGBAND_PROFILE.service_uuid,),
    name_prefixes=(LEGBAND_PROFILE.local_name_prefix,),
    roles=("emg", "shank", "foot"), default_roles=("emg", "shank", "foot"),
    session="detector.ble.session:LegBandSession",
    assembler="detector.capture.assembler:StreamAssembler",
    capture_source="detector.capture.recording:CaptureRecording",
    capture_sources=("legband:data", "legband:control", "legband:status", "legband:command"),
    simulator="firmware_sim.gatt:LegBandPeripheral", simulate_choice="legband")
POLAR_PMD = BandKind(
    name="polar_pmd", label="Polar PMD (accelerometer: Verity Sense, OH1, H10)",
    service_uuids=(POLAR_PMD_SERVICE_UUID,), name_prefixes=("Polar ",),
    roles=("shank", "foot"), default_roles=("foot",),
    session="detector.ble.polar_negotiated:NegotiatedPolarSession",
    assembler="detector.capture.polar_source:polar_assembler",
    capture_sources=("polar:acc", "polar:control", "polar:command"),
    simulator="firmware_sim.polar_sim:PolarPeripheral", simulate_choice="polar",
    own_clock=True)
MYO = BandKind(
    name="myo", label="Myo armband (8-channel EMG, IMU)",
    uuid_patterns=(("d506", "-a904-deb9-4748-2c7f4a124842"),),
    roles=("emg", "shank"), default_roles=("emg", "shank"),
    session="detector.ble.other_bands:MyoSession",
    assembler="detector.capture.other_sources:myo_assembler",
    capture_sources=("myo:emg0", "myo:emg1", "myo:emg2", "myo:emg3", "myo:imu",
                     "myo:command"),
    simulator="firmware_sim.myo_sim:MyoPeripheral", simulate_choice="myo")
MOVESENSE = BandKind(
    name="movesense", label="Movesense (accelerometer/gyro, GATT SensorData protocol)",
    service_uuids=("34802252-7185-4d5d-b431-630e7050e8f0",), name_prefixes=("Movesense",),
    roles=("shank", "foot"), default_roles=("shank",),
    session="detector.ble.movesense_session:MovesenseSession",
    assembler="detector.capture.movesense_source:movesense_assembler",
    capture_sources=("movesense:data", "movesense:command"),
    simulator="firmware_sim.movesense_sim:MovesensePeripheral", simulate_choice="movesense",
    own_clock=True)
GANGLION = BandKind(
    name="ganglion", label="OpenBCI Ganglion (4-channel biosignal, calf EMG)",
    service_uuids=("0000fe84-0000-1000-8000-00805f9b34fb",), name_prefixes=("Ganglion",),
    roles=("emg",), default_roles=("emg",), max_legs=2,
    session="detector.ble.ganglion_session:GanglionSession",
    assembler="detector.capture.ganglion_source:ganglion_assembler",
    capture_sources=("ganglion:data", "ganglion:command"),
    simulator="firmware_sim.ganglion_sim:GanglionPeripheral", simulate_choice="ganglion",
    own_clock=True)

BANDS: tuple[BandKind, ...] = (LEGBAND, POLAR_PMD, MYO, MOVESENSE, GANGLION)
"""Every band kind, in recognition order (UUIDs first over all bands, then names)."""


def band_named(name: str) -> BandKind:
    """The band kind called ``name`` (a profile name, any case).

    Raises
    ------
    CrampInputError
        No such band.
    """
    wanted = name.strip().lower()
    for band in BANDS:
        if band.name == wanted:
            return band
    raise CrampInputError("band", f"unknown band {name!r}; expected one of "
                          + ", ".join(b.name for b in BANDS))


def band_for_simulate_choice(choice: str) -> BandKind:
    """The band kind ``--simulate-band CHOICE`` means.

    Raises
    ------
    CrampInputError
        No such choice.
    """
    for band in BANDS:
        if band.simulate_choice == choice:
            return band
    raise CrampInputError("--simulate-band", f"unknown band {choice!r}; expected one of "
                          + ", ".join(b.simulate_choice for b in BANDS))


def band_for_advert(service_uuids: Iterable[str], name: str | None = None) -> BandKind | None:
    """Recognise a band from its service UUIDs, then from its name.

    Parameters
    ----------
    service_uuids : iterable of str
        Advertised or discovered service UUIDs (any case, 128-bit text form).
    name : str, optional
        Advertised or GAP device name.

    Returns
    -------
    BandKind or None
        The band, or ``None`` for anything the detector does not support.
    """
    uuids = [u.lower() for u in service_uuids]
    for band in BANDS:
        if band.matches_uuids(uuids):
            return band
    text = (name or "").strip()
    for band in BANDS:
        if text and band.matches_name(text):
            return band
    return None
