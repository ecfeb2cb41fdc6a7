"""The typed configuration and its TOML loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.config import ConfigError, DetectorConfig, load_config, parse_night_window


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
    ("[episode]\nmin_duration_s = -1\n", r"episode\.min_duration_s: must be > 0"),
    ("[in_bed]\nnight_window = '25:00-07:00'\n", r"not a 24-hour clock time"),
    ("[emg]\nlowpass_hz = 10\n", r"emg\.lowpass_hz: must be above"),
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
