"""The band registry: one table that scan, record, replay and simulation read."""

from __future__ import annotations

import subprocess
import sys

import pytest

from detector.bands.registry import (
    BANDS,
    BandKind,
    band_for_advert,
    band_for_simulate_choice,
    band_named,
    load_object,
)
from detector.ble.scan import PROFILE_LABELS, profile_of
from detector.errors import CrampInputError


@pytest.mark.parametrize("band", BANDS, ids=lambda b: b.name)
def test_each_band_is_recognised_by_its_uuid_and_its_name(band: BandKind) -> None:
    uuids = list(band.service_uuids) or [f"{p}0001{s}" for p, s in band.uuid_patterns]
    assert profile_of([u.upper() for u in uuids]) == band.name
    for prefix in band.name_prefixes:
        assert profile_of([], f"{prefix}X1234") == band.name
    assert PROFILE_LABELS[band.name] == band.label


def test_unknown_devices_are_not_bands() -> None:
    assert band_for_advert(["0000180f-0000-1000-8000-00805f9b34fb"], "Headphones") is None
    assert band_for_advert(["d5070001-a904-deb9-4748-2c7f4a124842"]) is None  # not the Myo base
    assert band_for_advert([], "") is None
    assert band_for_advert([], "Polar") is None  # the prefix is "Polar " with its space


def test_uuid_wins_over_a_misleading_name() -> None:
    polar = band_named("polar_pmd")
    assert band_for_advert(list(polar.service_uuids), "LegBand-0001") is polar


@pytest.mark.parametrize("band", BANDS, ids=lambda b: b.name)
def test_every_import_path_of_the_table_resolves(band: BandKind) -> None:
    for field in ("session", "assembler", "capture_source", "simulator"):
        obj = band.load(field)
        assert callable(obj), f"{band.name}.{field}"
    assert band.load("session").profile_name == band.name
    assert band_for_simulate_choice(band.simulate_choice) is band


def test_names_and_choices_are_unique_and_lookups_fail_clearly() -> None:
    assert len({b.name for b in BANDS}) == len(BANDS)
    assert len({b.simulate_choice for b in BANDS}) == len(BANDS)
    assert band_named(" Polar_PMD ").name == "polar_pmd"
    with pytest.raises(CrampInputError, match="unknown band 'fitbit'"):
        band_named("fitbit")
    with pytest.raises(CrampInputError, match="--simulate-band"):
        band_for_simulate_choice("fitbit")


def test_load_object_rejects_bad_paths() -> None:
    assert load_object("detector.bands.registry:band_named") is band_named
    for bad in ("detector.bands.registry", "detector.nothing_here:x",
                "detector.bands.registry:nothing_here", ":x"):
        with pytest.raises(ValueError, match=r"import path|cannot load"):
            load_object(bad)


def test_band_kinds_validate_their_roles() -> None:
    with pytest.raises(ValueError, match="roles"):
        BandKind(name="x", label="x", roles=("calf",), default_roles=(), session="a:b",
                 assembler="a:b", capture_sources=(), simulator="a:b", simulate_choice="x")
    with pytest.raises(ValueError, match="roles"):
        BandKind(name="x", label="x", roles=("foot",), default_roles=("emg",), session="a:b",
                 assembler="a:b", capture_sources=(), simulator="a:b", simulate_choice="x")


def test_product_layers_do_not_import_the_simulator() -> None:
    code = ("import sys, detector.bands, detector.ble.scan, detector.ble.other_bands, "
            "detector.capture.recording, detector.capture.other_sources, detector.cli.main, "
            "detector.cli.record_cmd, detector.cli.record_other\n"
            "bad = sorted(m for m in sys.modules if m.startswith('firmware_sim'))\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == ""
    # positive control: loading a simulator by its path does import firmware_sim
    control = subprocess.run(
        [sys.executable, "-c", "import sys; from detector.bands import BANDS; "
         "BANDS[1].load('simulator'); print('firmware_sim.polar_sim' in sys.modules)"],
        capture_output=True, text=True, check=True, timeout=60)
    assert control.stdout.strip() == "True"
