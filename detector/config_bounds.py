"""Physical ranges of every configuration value, keyed by its TOML key.

:data:`FIELD_BOUNDS` declares the range of each known key. A field without an entry (one added
later) still gets a default rule chosen by its unit suffix (``_s``, ``_hz``, ``_uv``, ``_g``,
``_deg``, ``fraction``) and, failing that, "finite and within +-1e9", so no configuration
value can be infinite, NaN or astronomically large. :func:`check_bounds` walks a config's
dataclass fields generically and raises :class:`~detector.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from detector.errors import ConfigError, brief
from detector.limits import MAX_ACC_G, MAX_EMG_UV, MAX_FS_HZ

DAY_S = 86_400.0


@dataclass(frozen=True)
class Bounds:
    """A closed or half-open interval ``lo .. hi`` with the reason for it."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False
    unit: str = ""

    def contains(self, value: float) -> bool:
        """True when ``value`` is finite and inside the interval."""
        if not math.isfinite(value):
            return False
        above = value > self.lo if self.lo_open else value >= self.lo
        below = value < self.hi if self.hi_open else value <= self.hi
        return above and below

    def describe(self) -> str:
        """The interval in words, e.g. ``(0, 86400] s``."""
        unit = f" {self.unit}" if self.unit else ""
        return (f"{'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}"
                f"{')' if self.hi_open else ']'}{unit}")


def _pos(hi: float, unit: str = "") -> Bounds:
    return Bounds(0.0, hi, lo_open=True, unit=unit)


def _frac(*, lo_open: bool = False) -> Bounds:
    return Bounds(0.0, 1.0, lo_open=lo_open)


FIELD_BOUNDS: dict[str, Bounds] = {
    "epoch_s": Bounds(0.01, 1.0, unit="s"),
    "band_drift_segment_s": Bounds(1.0, 600.0, unit="s"),  # >= 1 s: a fit per segment
    "ganglion_rejoin_hold_s": Bounds(0.05, 1.0, unit="s"),  # within the first 201-sample cycle
    "polar_clock_trust_s": Bounds(0.1, 3600.0, unit="s"),  # above the link's delays
    "emg.highpass_hz": _pos(1000.0, "Hz"),
    "emg.lowpass_hz": _pos(MAX_FS_HZ / 2, "Hz"),
    "emg.filter_order": Bounds(1, 8),
    "emg.min_fs_hz": Bounds(10.0, MAX_FS_HZ, unit="Hz"),
    "emg.mains_hz": _pos(1000.0, "Hz"),
    "emg.notch_q": Bounds(5.0, 500.0),  # below 5 a notch removes much of the EMG band
    "emg.baseline_block_s": Bounds(0.5, 600.0, unit="s"),
    "emg.baseline_window_s": Bounds(0.5, DAY_S, unit="s"),
    "emg.baseline_percentile": Bounds(0.0, 100.0),
    "emg.baseline_floor_uv": _pos(1e4, "uV"),
    "emg.active_ratio": Bounds(1.0, 1000.0),
    "emg.active_rise_uv": Bounds(0.0, 1e4, unit="uV"),
    "emg.flat_uv": _pos(1e3, "uV"),
    "emg.saturation_fraction": _frac(lo_open=True),
    "emg.hum_fraction": _frac(lo_open=True),
    "emg.spectrum_low_hz": Bounds(1.0, 1000.0, unit="Hz"),
    "emg.spectrum_high_hz": Bounds(1.0, 5000.0, unit="Hz"),
    "emg.lift_flat_s": Bounds(0.1, DAY_S, unit="s"),
    "emg.flicker_flat_s": Bounds(0.1, 60.0, unit="s"),
    "motion.lying_max_incline_deg": Bounds(0.0, 90.0, lo_open=True, hi_open=True, unit="deg"),
    "motion.movement_g": _pos(16.0, "g"),
    "motion.tremor_highpass_hz": _pos(1000.0, "Hz"),
    "motion.tremor_lowpass_hz": _pos(MAX_FS_HZ / 2, "Hz"),
    "motion.tremor_g": _pos(16.0, "g"),
    "motion.tremor_ratio": Bounds(1.0, 1000.0),
    "motion.tremor_floor_g": _pos(16.0, "g"),
    "motion.plantar_flexion_deg": _pos(180.0, "deg"),
    "motion.neutral_offset_deg": Bounds(-180.0, 180.0, unit="deg"),
    "motion.min_sagittal_g": _pos(2.0, "g"),
    "motion.pull_deg": _pos(90.0, "deg"),
    "motion.pull_lookback_s": _pos(120.0, "s"),
    "motion.pull_min_sagittal_g": _pos(1.0, "g"),
    "episode.min_duration_s": _pos(3600.0, "s"),
    "episode.max_dip_s": Bounds(0.0, 600.0, unit="s"),
    "episode.held_max_dip_s": Bounds(0.0, 600.0, unit="s"),
    "episode.confirmed_held_dip_s": Bounds(0.0, 600.0, unit="s"),
    "episode.onset_lookback_s": Bounds(0.0, 600.0, unit="s"),
    "episode.onset_ratio": Bounds(1.0, 1000.0),
    "episode.onset_rise_uv": Bounds(0.0, 1e4, unit="uV"),
    "episode.pull_onset_deg": _pos(90.0, "deg"),
    "episode.pull_onset_s": _pos(60.0, "s"),
    "episode.min_duty": _frac(),
    "episode.aftermath_s": Bounds(0.0, 3600.0, unit="s"),
    "episode.min_confidence": _frac(),
    "evidence.activity_min_dof": Bounds(1.0, 1e5),
    "evidence.tremor_min_dof": Bounds(1.0, 1e5),
    "evidence.max_burst_excess": Bounds(-5.0, 10.0),  # log units: e^10 is beyond any envelope
    "evidence.standing_level_ratio": Bounds(0.0, 100.0),
    "evidence.weak_min_tonic_ratio": Bounds(0.0, 100.0),
    "evidence.weak_max_start_ratio": Bounds(1.0, 1e9),  # 1e9: off
    "evidence.max_burst_skew": Bounds(1.0, 1e9),  # 1e9: off
    "evidence.burst_skew_min_reach": Bounds(0.0, 10.0),  # log units
    "evidence.tiptoe_min_pf_deg": Bounds(0.0, 90.0, unit="deg"),
    "evidence.weak_settle_s": Bounds(0.0, DAY_S, unit="s"),
    "evidence.weak_max_fast_modulation": Bounds(0.0, 10.0),
    "evidence.standing_max_fast_modulation": Bounds(0.0, 10.0),  # log units
    "evidence.emg_rest_veto_ratio": Bounds(1.0, 100.0),
    "evidence.emg_rest_veto_rise_uv": Bounds(0.0, 1000.0, unit="uV"),
    "evidence.tremor_corroborated_ratio": Bounds(1.0, 1000.0),
    "evidence.balance_sway_deg": Bounds(0.0, 90.0, unit="deg"),
    "evidence.sway_block_s": Bounds(0.1, 10.0, unit="s"),
    "evidence.review_from_s": Bounds(0.0, 600.0, unit="s"),
    "evidence.review_to_s": Bounds(3.0, 900.0, unit="s"),
    "evidence.review_max_rhythm": Bounds(0.0, 2.0),
    "evidence.review_repeats": Bounds(1, 30),
    "evidence.review_run_min_walks": Bounds(1, 100),
    "evidence.review_later_max_rhythm": Bounds(0.0, 2.0),
    "evidence.review_max_stride_corr": Bounds(-1.0, 1.0),
    "evidence.review_stride_smooth_s": Bounds(0.0, 10.0, unit="s"),
    "evidence.tiptoe_max_s": Bounds(0.0, 600.0, unit="s"),
    "evidence.tiptoe_level_ratio": Bounds(0.0, 100.0),
    "evidence.tiptoe_pre_s": Bounds(0.5, 20.0, unit="s"),
    "evidence.tiptoe_min_contrast": Bounds(1.0, 100.0),
    "evidence.relaxed_max_uv": Bounds(0.0, 1000.0, unit="uV"),
    "evidence.relaxed_step_ratio": Bounds(0.0, 100.0),
    "evidence.relaxed_floor_ratio": Bounds(1.0, 100.0),
    "evidence.shift_block_s": Bounds(0.5, 60.0, unit="s"),
    "evidence.shift_max_log_sd": Bounds(0.0, 10.0),
    "evidence.shift_max_level_ratio": Bounds(0.0, 100.0),
    "evidence.standing_hold_max_ratio": Bounds(0.0, 100.0),
    "in_bed.block_s": Bounds(1.0, 3600.0, unit="s"),
    "in_bed.max_movement_fraction": _frac(),
    "in_bed.min_rest_s": _pos(DAY_S, "s"),
    "in_bed.max_gap_fill_s": _pos(DAY_S, "s"),
}
"""Range of each configuration value, by TOML key (``section.key``, or ``key`` at top level)."""

_SUFFIX_BOUNDS: tuple[tuple[str, Bounds], ...] = (
    ("_s", Bounds(0.0, DAY_S, unit="s")),
    ("_hz", _pos(MAX_FS_HZ, "Hz")),
    ("_uv", Bounds(0.0, MAX_EMG_UV, unit="uV")),
    ("_g", Bounds(0.0, MAX_ACC_G, unit="g")),
    ("_deg", Bounds(-360.0, 360.0, unit="deg")),
    ("fraction", _frac()),
)
_ANY_NUMBER = Bounds(-1e9, 1e9)


def bounds_for(key: str) -> Bounds:
    """The declared range of ``key``, or the default rule for its unit suffix."""
    if key in FIELD_BOUNDS:
        return FIELD_BOUNDS[key]
    name = key.rsplit(".", 1)[-1]
    for suffix, bounds in _SUFFIX_BOUNDS:
        if name.endswith(suffix):
            return bounds
    return _ANY_NUMBER


def _numbers(value: Any) -> list[float] | None:
    """The number(s) in a config value, or None for a non-numeric value (strings, None)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, tuple) and all(isinstance(v, int | float) and not isinstance(v, bool)
                                        for v in value):
        return list(value)
    return None


def check_bounds(obj: Any, *, prefix: str = "") -> None:
    """Check every numeric field of a config dataclass (recursively) against its range.

    Raises
    ------
    ConfigError
        Naming the first value that is not finite or outside its range, with the range.
    """
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_bounds(value, prefix=f"{key}.")
            continue
        numbers = _numbers(value)
        if numbers is None:
            continue
        bounds = bounds_for(key)
        for v in numbers:
            try:
                ok = bounds.contains(float(v))
            except OverflowError:  # an integer too large for a float
                ok = False
            if not ok:
                raise ConfigError(key, f"expected a finite number in {bounds.describe()}, "
                                       f"got {brief(v)}")
