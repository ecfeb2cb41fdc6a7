"""The typed configuration and its TOML loader."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.config import (
    ConfigError,
    DetectorConfig,
    config_from_dict,
    load_config,
    parse_night_window,
)


def test_defaults_are_the_documented_ones() -> None:
    cfg = DetectorConfig()
    assert cfg.episode.min_duration_s == 10.0
    assert cfg.in_bed.night_window == "20:00-10:00"
    assert cfg.emg.mains_hz == (50.0, 60.0)
    d = cfg.to_dict()
    assert d["episode"]["min_duration_s"] == 10.0 and d["epoch_s"] == 0.1


def test_toml_overrides_only_what_it_names(tmp_path: Path) -> None:
    p = tmp_path / "t.toml"
    p.write_text('[episode]\nmin_duration_s = 15\n[in_bed]\nnight_window = "21:30-09:00"\n'
                 '[emg]\nmains_hz = [60]\n')
    cfg = load_config(p)
    assert cfg.episode.min_duration_s == 15.0
    assert cfg.in_bed.night_window == "21:30-09:00"
    assert cfg.emg.mains_hz == (60.0,)
    assert cfg.emg.active_ratio == DetectorConfig().emg.active_ratio


@pytest.mark.parametrize(("text", "match"), [
    ("[episode]\nmin_duration = 5\n", r"episode\.min_duration: unknown key"),
    ("[episod]\nmin_duration_s = 5\n", r"episod: unknown section"),
    ("[episode]\nmin_duration_s = 'ten'\n", r"expected a number"),
    ("[episode]\nmin_duration_s = -1\n",
     r"episode\.min_duration_s: expected a finite number in \(0, 3600\] s, got -1"),
    ("[in_bed]\nnight_window = '25:00-07:00'\n", r"not a 24-hour clock time"),
    ("[emg]\nlowpass_hz = 10\n", r"emg\.lowpass_hz: must be above"),
    ("[emg]\nmains_hz = [50, -60]\n",
     r"emg\.mains_hz: expected a finite number in \(0, 1000\] Hz, got -60"),
    ("[evidence]\nreview_later_max_rhythm = 0.9\n",
     r"evidence\.review_later_max_rhythm: expected at least evidence\.review_max_rhythm"),
    ("[evidence]\nreview_repeats = 0\n", r"evidence\.review_repeats"),
    ("[evidence]\ntiptoe_level_ratio = -1\n", r"evidence\.tiptoe_level_ratio"),
    ("[evidence]\ntiptoe_pre_s = 40\n", r"evidence\.tiptoe_pre_s"),
    ("not toml [", r"not a valid TOML file"),
])
def test_bad_config_names_the_key(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match) as exc:
        load_config(p)
    assert str(p) in str(exc.value)
    assert "\n" not in str(exc.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.toml")


def test_night_window_parsing() -> None:
    assert parse_night_window("20:00-10:00", where="w") == (1200, 600)
    assert parse_night_window(" 21:30 - 06:15 ", where="w") == (1290, 375)
    for bad in ("2000-1000", "20:00", "20:00-20:00", "ab:cd-10:00"):
        with pytest.raises(ConfigError):
            parse_night_window(bad, where="w")


_values = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.lists(st.floats(-100, 100), max_size=3))


@settings(max_examples=200, deadline=None)
@given(data=st.dictionaries(
    st.sampled_from(["emg", "motion", "episode", "in_bed", "epoch_s", "other"]),
    st.one_of(_values, st.dictionaries(
        st.sampled_from(["highpass_hz", "lowpass_hz", "filter_order", "mains_hz",
                         "min_duration_s", "max_dip_s", "night_window", "timezone",
                         "tremor_g", "unknown_key"]), _values, max_size=4)),
    max_size=4))
def test_any_parsed_toml_gives_a_config_or_a_one_line_config_error(data: dict) -> None:
    try:
        cfg = config_from_dict(data, where="fuzz.toml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml") and "\n" not in str(exc)
    else:
        assert cfg.emg.lowpass_hz > cfg.emg.highpass_hz > 0
        assert cfg.episode.min_duration_s > 0


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="0123456789:- ab", max_size=14))
def test_night_window_parser_accepts_valid_windows_only(text: str) -> None:
    try:
        start, end = parse_night_window(text, where="w")
    except ConfigError as exc:
        assert str(exc).startswith("w: ")
    else:
        assert 0 <= start < 1440 and 0 <= end < 1440 and start != end
