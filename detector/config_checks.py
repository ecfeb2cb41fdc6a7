"""Checks of a detector configuration beyond its fields' types.

:func:`validate_config` runs when a :class:`~detector.config.DetectorConfig` is built: every
value finite and within its physical range (:mod:`detector.config_bounds`), then the rules
that tie values together (a band's edges in order, a ratio above 1, the night window's
format). :func:`parse_night_window` reads the ``"HH:MM-HH:MM"`` night window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from detector.config_bounds import check_bounds
from detector.errors import ConfigError
from detector.text_fields import is_ascii_digits

if TYPE_CHECKING:
    from detector.config import DetectorConfig


def validate_config(cfg: DetectorConfig) -> None:
    """Check every value of a config: in its bounds, and consistent with the others.

    Raises
    ------
    ConfigError
        Naming the TOML key of the first value that fails and what was expected.
    """
    check_bounds(cfg)  # every value finite and in its physical range, by TOML key

    def positive(where: str, value: float) -> None:
        if not value > 0:
            raise ConfigError(where, f"must be > 0, got {value!r}")

    positive("epoch_s", cfg.epoch_s)
    positive("band_drift_segment_s", cfg.band_drift_segment_s)
    positive("ganglion_rejoin_hold_s", cfg.ganglion_rejoin_hold_s)
    positive("polar_clock_trust_s", cfg.polar_clock_trust_s)
    if abs(round(1.0 / cfg.epoch_s) * cfg.epoch_s - 1.0) > 1e-9:
        raise ConfigError("epoch_s", "must divide one second evenly (e.g. 0.1, 0.05, 0.2)")
    e = cfg.emg
    positive("emg.highpass_hz", e.highpass_hz)
    if not e.lowpass_hz > e.highpass_hz:
        raise ConfigError("emg.lowpass_hz", "must be above emg.highpass_hz")
    if not 1 <= e.filter_order <= 8:
        raise ConfigError("emg.filter_order", f"expected 1 to 8, got {e.filter_order}")
    for name in ("min_fs_hz", "notch_q", "baseline_block_s", "baseline_window_s",
                 "baseline_floor_uv", "active_ratio", "flat_uv"):
        positive(f"emg.{name}", getattr(e, name))
    if not all(f > 0 and f < 1e6 for f in e.mains_hz):
        raise ConfigError("emg.mains_hz", f"expected positive frequencies in Hz, got {e.mains_hz}")
    nyquist_hz = e.min_fs_hz / 2
    too_high = [f for f in e.mains_hz if not f < 0.96 * nyquist_hz]
    if too_high:
        raise ConfigError("emg.mains_hz", f"notch at {too_high[0]:g} Hz is not below the Nyquist "
                          f"frequency of the slowest accepted EMG (emg.min_fs_hz / 2 = "
                          f"{nyquist_hz:g} Hz); raise emg.min_fs_hz or drop it")
    if e.baseline_window_s < e.baseline_block_s:
        raise ConfigError("emg.baseline_window_s", "must be at least emg.baseline_block_s")
    if not 0 <= e.baseline_percentile <= 100:
        raise ConfigError("emg.baseline_percentile", "expected a percentile from 0 to 100")
    for name in ("saturation_fraction", "hum_fraction"):
        if not 0 < getattr(e, name) <= 1:
            raise ConfigError(f"emg.{name}", "expected a fraction in (0, 1]")
    positive("emg.spectrum_low_hz", e.spectrum_low_hz)
    if not e.spectrum_high_hz > e.spectrum_low_hz:
        raise ConfigError("emg.spectrum_high_hz", "must be above emg.spectrum_low_hz")
    m = cfg.motion
    for name in ("movement_g", "tremor_highpass_hz", "tremor_g", "tremor_ratio",
                 "tremor_floor_g", "plantar_flexion_deg", "min_sagittal_g", "pull_deg",
                 "pull_lookback_s", "pull_min_sagittal_g"):
        positive(f"motion.{name}", getattr(m, name))
    if not m.tremor_lowpass_hz > m.tremor_highpass_hz:
        raise ConfigError("motion.tremor_lowpass_hz", "must be above motion.tremor_highpass_hz")
    if not 0 < m.lying_max_incline_deg < 90:
        raise ConfigError("motion.lying_max_incline_deg", "expected an angle in (0, 90) degrees")
    if not -90 <= m.ankle_min_deg < 0:
        raise ConfigError("motion.ankle_min_deg", f"expected -90 to 0 deg, got {m.ankle_min_deg}")
    if not m.plantar_flexion_deg < m.ankle_max_deg <= 90:
        raise ConfigError("motion.ankle_max_deg", "expected above motion.plantar_flexion_deg "
                          f"and at most 90 deg, got {m.ankle_max_deg}")
    if not 0 < m.dorsiflexion_deg < -m.ankle_min_deg:
        raise ConfigError("motion.dorsiflexion_deg", "expected between 0 and -ankle_min_deg, "
                          f"got {m.dorsiflexion_deg}")
    if not m.min_sagittal_g < 1:
        raise ConfigError("motion.min_sagittal_g", "expected below 1 g")
    if not m.pull_min_sagittal_g <= m.min_sagittal_g:
        raise ConfigError("motion.pull_min_sagittal_g", "expected at most motion.min_sagittal_g")
    if not m.pull_lookback_s >= cfg.epoch_s:
        raise ConfigError("motion.pull_lookback_s", "expected at least one epoch")
    p = cfg.episode
    positive("episode.min_duration_s", p.min_duration_s)
    if p.max_dip_s < 0:
        raise ConfigError("episode.max_dip_s", "must be >= 0")
    if p.held_max_dip_s < 0:
        raise ConfigError("episode.held_max_dip_s", "must be >= 0")
    if p.confirmed_held_dip_s < 0:
        raise ConfigError("episode.confirmed_held_dip_s", "must be >= 0")
    if p.aftermath_s < 0:
        raise ConfigError("episode.aftermath_s", "must be >= 0")
    if p.onset_lookback_s < 0:
        raise ConfigError("episode.onset_lookback_s", "must be >= 0")
    if p.onset_rise_uv < 0:
        raise ConfigError("episode.onset_rise_uv", "must be >= 0")
    if not p.onset_ratio >= 1:
        raise ConfigError("episode.onset_ratio", "must be >= 1")
    for name in ("min_duty", "min_confidence"):
        if not 0 <= getattr(p, name) <= 1:
            raise ConfigError(f"episode.{name}", "expected a fraction in [0, 1]")
    v = cfg.evidence
    for name, lo, hi in (("corroborated_ratio", 1.0, 100.0), ("emg_rest_veto_ratio", 1.0, 100.0),
                         ("tremor_corroborated_ratio", 1.0, 1000.0),
                         ("corroborated_rise_uv", 0.0, 1000.0),
                         ("emg_rest_veto_rise_uv", 0.0, 1000.0),
                         ("smooth_s", 0.0, 10.0), ("max_rhythm", 0.0, 2.0),
                         ("max_lull_fraction", 0.0, 1.0), ("max_burst_excess", -5.0, 10.0),
                         ("lull_ratio", 0.0, 1.0), ("tremor_fraction", 0.0, 1.0),
                         ("duration_span_s", 1e-3, 3600.0), ("rest_between_s", 0.0, 600.0),
                         ("rest_floor_ratio", 1.0, 100.0), ("rest_floor_hold_s", 0.0, 7200.0),
                         ("rest_fraction", 0.0, 1.0), ("standing_level_ratio", 0.0, 100.0),
                         ("weak_min_tonic_ratio", 0.0, 100.0),
                         ("weak_max_start_ratio", 1.0, 1e9), ("max_burst_skew", 1.0, 1e9),
                         ("burst_skew_min_reach", 0.0, 10.0),
                         ("weak_max_fast_modulation", 0.0, 10.0),
                         ("standing_max_fast_modulation", 0.0, 10.0),
                         ("emg_only_min_duty", 0.0, 1.0), ("review_max_rhythm", 0.0, 2.0),
                         ("balance_sway_deg", 0.0, 90.0), ("sway_block_s", 0.1, 10.0),
                         ("review_later_max_rhythm", 0.0, 2.0), ("tiptoe_max_s", 0.0, 600.0),
                         ("tiptoe_level_ratio", 0.0, 100.0), ("tiptoe_pre_s", 0.5, 20.0),
                         ("tiptoe_min_contrast", 1.0, 100.0),
                         ("review_max_stride_corr", -1.0, 1.0),
                         ("review_stride_smooth_s", 0.0, 10.0),
                         ("relaxed_max_uv", 0.0, 1000.0), ("shift_block_s", 0.5, 60.0),
                         ("relaxed_step_ratio", 0.0, 100.0),
                         ("relaxed_floor_ratio", 1.0, 100.0),
                         ("shift_max_log_sd", 0.0, 10.0),
                         ("shift_max_level_ratio", 0.0, 100.0),
                         ("standing_hold_max_ratio", 0.0, 100.0)):
        value = getattr(v, name)
        if not lo <= value <= hi:  # also refuses NaN
            raise ConfigError(f"evidence.{name}", f"expected {lo:g} to {hi:g}, got {value!r}")
    if v.tremor_corroborated_ratio > m.tremor_ratio:
        raise ConfigError("evidence.tremor_corroborated_ratio",
                          f"expected at most motion.tremor_ratio ({m.tremor_ratio:g}), "
                          f"got {v.tremor_corroborated_ratio!r}")
    if v.review_later_max_rhythm < v.review_max_rhythm:
        raise ConfigError("evidence.review_later_max_rhythm",
                          f"expected at least evidence.review_max_rhythm "
                          f"({v.review_max_rhythm:g}), got {v.review_later_max_rhythm!r}")
    if isinstance(v.review_repeats, bool) or not 1 <= v.review_repeats <= 30:
        raise ConfigError("evidence.review_repeats", f"expected 1 to 30, got {v.review_repeats!r}")
    if isinstance(v.review_run_min_walks, bool) or not 1 <= v.review_run_min_walks <= 100:
        raise ConfigError("evidence.review_run_min_walks",
                          f"expected 1 to 100, got {v.review_run_min_walks!r}")
    if not 3.0 <= v.review_to_s - v.review_from_s <= 600.0:
        raise ConfigError("evidence.review_to_s", "must be 3 to 600 s after evidence.review_from_s")
    for name in ("base_emg", "base_acc", "plantar_flexion_weight", "plantar_flexion_weight_acc",
                 "tremor_weight", "tremor_weight_acc", "still_weight", "duration_weight",
                 "duty_weight", "hum_penalty", "unusable_penalty"):
        value = getattr(v, name)
        if not 0 <= value <= 1:
            raise ConfigError(f"evidence.{name}", f"expected a weight from 0 to 1, got {value!r}")
    b = cfg.in_bed
    if b.night_window is not None:
        parse_night_window(b.night_window, where="in_bed.night_window")
    for name in ("block_s", "min_rest_s", "max_gap_fill_s"):
        positive(f"in_bed.{name}", getattr(b, name))


def parse_night_window(text: str, *, where: str) -> tuple[int, int]:
    """Parse ``"HH:MM-HH:MM"`` into start and end minutes after midnight.

    Raises
    ------
    ConfigError
        If the text is not two 24-hour clock times joined by ``-``.
    """
    parts = text.strip().split("-")
    if len(parts) != 2:
        raise ConfigError(where, f"expected HH:MM-HH:MM, got {text!r}")
    minutes = []
    for part in parts:
        hh, sep, mm = part.strip().partition(":")
        if not (sep and is_ascii_digits(hh) and is_ascii_digits(mm) and len(mm) == 2):
            raise ConfigError(where, f"expected HH:MM-HH:MM, got {text!r}")
        h, m = int(hh), int(mm)
        if not (0 <= h <= 23 and 0 <= m <= 59):
            raise ConfigError(where, f"time {part.strip()!r} is not a 24-hour clock time")
        minutes.append(h * 60 + m)
    if minutes[0] == minutes[1]:
        raise ConfigError(where, "start and end of the night window are the same")
    return minutes[0], minutes[1]
