"""Config values at the edge: every TOML key finite and in its physical range."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.config import DetectorConfig, config_from_dict, load_config
from detector.config_bounds import FIELD_BOUNDS, Bounds, bounds_for, check_bounds
from detector.errors import ConfigError


def _keys(obj: object, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out += _keys(value, f"{prefix}{f.name}.")
        elif isinstance(value, int | float | tuple) and not isinstance(value, bool):
            out.append(f"{prefix}{f.name}")
    return out


NUMERIC_KEYS = _keys(DetectorConfig())


def _nested(key: str, value: object) -> dict[str, object]:
    if "." not in key:
        return {key: value}
    section, name = key.split(".", 1)
    return {section: {name: value}}


def test_every_declared_key_exists_and_every_default_is_inside_its_range() -> None:
    assert set(FIELD_BOUNDS) <= set(NUMERIC_KEYS), set(FIELD_BOUNDS) - set(NUMERIC_KEYS)
    defaults = DetectorConfig()
    for key in NUMERIC_KEYS:
        value = defaults
        for part in key.split("."):
            value = getattr(value, part)
        for v in value if isinstance(value, tuple) else (value,):
            assert bounds_for(key).contains(float(v)), key


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(NUMERIC_KEYS),
       value=st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                       st.integers(min_value=-(10**400), max_value=10**400)))
def test_any_number_for_any_key_is_accepted_in_range_or_refused_naming_the_key(
        key: str, value: float) -> None:
    default = DetectorConfig()
    for part in key.split("."):
        default = getattr(default, part)
    if isinstance(default, tuple):
        item: object = [value]
    elif isinstance(default, int):
        item = value if isinstance(value, int) else 1.5  # a float for an int: a type error
    else:
        item = value
    try:
        cfg = config_from_dict(_nested(key, item), where="t.toml")
    except ConfigError as exc:
        assert str(exc).startswith("t.toml: ")
        assert "\n" not in str(exc) and len(str(exc)) < 300
        return
    got = cfg
    for part in key.split("."):
        got = getattr(got, part)
    for v in got if isinstance(got, tuple) else (got,):
        assert math.isfinite(v) and bounds_for(key).contains(float(v))


@pytest.mark.parametrize(("text", "fragment"), [
    ("epoch_s = inf\n", "epoch_s: expected a finite number in [0.01, 1] s, got inf"),
    ("[episode]\nmin_duration_s = inf\n", "episode.min_duration_s: expected a finite"),
    ("[emg]\nbaseline_window_s = 1e15\n", "emg.baseline_window_s: expected a finite number "
                                          "in [0.5, 86400] s"),
    ("[emg]\nnotch_q = 1e-300\n", "emg.notch_q: expected a finite number in [5, 500]"),
    ("[emg]\nmains_hz = [100.0]\n", "emg.mains_hz: notch at 100 Hz is not below the Nyquist"),
    ("[emg]\nmains_hz = [nan]\n", "emg.mains_hz: expected a finite number"),
    ("[emg]\nfilter_order = 100000000000000000000000\n", "emg.filter_order"),
    ("[emg]\nhighpass_hz = 1" + "0" * 400 + "\n", "emg.highpass_hz: expected a finite number, "
                                                  "got 1000"),
])
def test_absurd_values_from_the_issue_are_refused_by_key(tmp_path: Path, text: str,
                                                         fragment: str) -> None:
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert fragment in str(exc.value)
    assert "\n" not in str(exc.value) and len(str(exc.value)) < 300


def test_a_notch_raised_with_min_fs_is_accepted(tmp_path: Path) -> None:
    """Positive control for the Nyquist rule: 100 Hz is fine once EMG must be >= 400 Hz."""
    p = tmp_path / "c.toml"
    p.write_text("[emg]\nmains_hz = [100.0]\nmin_fs_hz = 400.0\n")
    assert load_config(p).emg.mains_hz == (100.0,)


@dataclasses.dataclass(frozen=True)
class _Later:
    """A section as another engineer might add it later, with no declared bounds."""

    settle_s: float = 2.0
    corner_hz: float = 3.0
    weight: float = 1.0


@pytest.mark.parametrize(("field", "value", "ok"), [
    ("settle_s", 2.0, True), ("settle_s", math.inf, False), ("settle_s", 1e9, False),
    ("settle_s", -1.0, False), ("corner_hz", 0.0, False), ("corner_hz", 1e4, True),
    ("weight", math.nan, False), ("weight", -5.0, True), ("weight", 1e12, False),
])
def test_fields_added_later_get_a_default_rule_by_unit_suffix(field: str, value: float,
                                                              ok: bool) -> None:
    cfg = _Later(**{field: value})
    if ok:
        check_bounds(cfg, prefix="later.")
    else:
        with pytest.raises(ConfigError, match=rf"^later\.{field}: expected a finite number"):
            check_bounds(cfg, prefix="later.")


def test_bounds_describe_open_and_closed_ends() -> None:
    assert Bounds(0.0, 1.0, lo_open=True, unit="s").describe() == "(0, 1] s"
    assert not Bounds(0.0, 1.0, lo_open=True).contains(0.0)
    assert Bounds(0.0, 1.0).contains(0.0) and not Bounds(0.0, 1.0).contains(math.nan)


@pytest.mark.parametrize("kind", ["directory", "fifo", "binary"])
def test_a_config_that_is_not_a_toml_file_is_one_line(tmp_path: Path, kind: str) -> None:
    import os

    p = tmp_path / "c.toml"
    if kind == "directory":
        p.mkdir()
        fragment = "is a directory; expected a regular config file"
    elif kind == "fifo":
        os.mkfifo(p)  # opening it would block for ever: it must be refused before that
        fragment = "is a FIFO (named pipe); expected a regular config file"
    else:
        p.write_bytes(bytes(range(256)))
        fragment = "not a valid TOML file"
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert fragment in str(exc.value) and str(p) in str(exc.value)
