"""Polar PMD settings negotiation: features, SDK mode, choosing rate/range/resolution."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.profiles.errors import DecodeError
from detector.profiles.polar_pmd import MeasurementType, PmdSettings, parse_settings
from detector.profiles.polar_settings import (
    CALF_MMG_WISH,
    FOOT_WISH,
    VERITY_SDK_ACC_RANGES_G,
    VERITY_SDK_ACC_RATES_HZ,
    AccWish,
    build_sdk_mode_command,
    choose_acc_settings,
    parse_features,
    wants_sdk_mode,
)

VERITY_NORMAL = PmdSettings(sample_rates_hz=(52,), resolutions_bits=(16,), ranges=(8,))
VERITY_SDK = PmdSettings(sample_rates_hz=VERITY_SDK_ACC_RATES_HZ, resolutions_bits=(16,),
                         ranges=VERITY_SDK_ACC_RANGES_G)
H10 = PmdSettings(sample_rates_hz=(25, 50, 100, 200), resolutions_bits=(16,), ranges=(2, 4, 8))


def test_features_and_sdk_mode_commands() -> None:
    assert parse_features(bytes([0x0F, 0x05, 0x00])) == {MeasurementType.ECG,
                                                         MeasurementType.ACC}
    verity = parse_features(bytes([0x0F, 0x26, 0x02]))
    assert MeasurementType.SDK_MODE in verity and MeasurementType.ACC in verity
    assert build_sdk_mode_command(enable=True) == bytes([0x02, 0x09])
    assert build_sdk_mode_command(enable=False) == bytes([0x03, 0x09])
    for bad in (b"", b"\xf0\x05"):
        with pytest.raises(DecodeError, match="expected 0x0f"):
            parse_features(bad)


def test_verity_sense_goes_to_sdk_mode_and_416_hz_for_the_calf() -> None:
    verity = parse_features(bytes([0x0F, 0x26, 0x02]))
    assert wants_sdk_mode(VERITY_NORMAL, verity, CALF_MMG_WISH)
    chosen = choose_acc_settings(VERITY_SDK, CALF_MMG_WISH)
    assert (chosen.sample_rate_hz, chosen.range_g, chosen.resolution_bits) == (416, 8, 16)
    # the foot needs no SDK mode; a sensor without SDK mode is not asked for it
    assert not wants_sdk_mode(VERITY_NORMAL, verity, FOOT_WISH)
    assert not wants_sdk_mode(H10, frozenset({MeasurementType.ACC}), CALF_MMG_WISH)
    assert choose_acc_settings(VERITY_NORMAL, FOOT_WISH).sample_rate_hz == 52


def test_choice_rules() -> None:
    h10 = choose_acc_settings(H10, CALF_MMG_WISH)  # slower than wished: the fastest offered
    assert (h10.sample_rate_hz, h10.range_g) == (200, 8)
    wide = choose_acc_settings(H10, AccWish(fs_hz=60, min_fs_hz=25, range_g=16))
    assert (wide.sample_rate_hz, wide.range_g) == (100, 8)  # the widest offered
    narrow = choose_acc_settings(VERITY_SDK, AccWish(fs_hz=26, min_fs_hz=26, range_g=3))
    assert (narrow.sample_rate_hz, narrow.range_g) == (26, 4)
    with_channels = PmdSettings(sample_rates_hz=(52,), resolutions_bits=(16,), ranges=(8,),
                                channels=(3,))
    assert choose_acc_settings(with_channels, FOOT_WISH).channels == 3
    with pytest.raises(DecodeError, match="at most 52 Hz; at least 100 Hz"):
        choose_acc_settings(VERITY_NORMAL, AccWish(fs_hz=200, min_fs_hz=100, range_g=8))
    with pytest.raises(DecodeError, match="offered no"):
        choose_acc_settings(PmdSettings(sample_rates_hz=(52,)), FOOT_WISH)
    with pytest.raises(ValueError):
        AccWish(fs_hz=50, min_fs_hz=100, range_g=8)


def test_round_trip_through_the_settings_list_of_the_simulator() -> None:
    from firmware_sim.polar_sim import acc_settings_list

    offered = parse_settings(acc_settings_list(fs=52))
    assert choose_acc_settings(offered, FOOT_WISH).sample_rate_hz == 52


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=40))
def test_any_settings_bytes_give_a_choice_or_one_decode_error(data: bytes) -> None:
    try:
        chosen = choose_acc_settings(parse_settings(data), FOOT_WISH)
    except DecodeError as exc:
        assert str(exc)
        return
    assert chosen.sample_rate_hz >= FOOT_WISH.min_fs_hz


@settings(deadline=None, max_examples=200)
@given(st.binary(max_size=6))
def test_any_feature_bytes_parse_or_raise(data: bytes) -> None:
    try:
        found = parse_features(data)
    except DecodeError:
        assert not data or data[0] != 0x0F
        return
    assert all(0 <= n < 8 * (len(data) - 1) for n in found)
