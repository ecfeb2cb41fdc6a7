"""All detector thresholds in one typed, frozen configuration, loadable from TOML.

A TOML file only needs the values it changes::

    [episode]
    min_duration_s = 15.0

    [in_bed]
    night_window = "21:30-09:00"

Unknown sections or keys, and values of the wrong type, raise :class:`ConfigError` naming the
key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.config_checks import parse_night_window as parse_night_window
from detector.config_checks import validate_config
from detector.config_evidence import EvidenceConfig as EvidenceConfig
from detector.errors import ConfigError, CrampInputError, brief
from detector.safe_files import check_input_file


@dataclass(frozen=True, kw_only=True)
class EmgConfig:
    """EMG conditioning, envelope, baseline and quality thresholds."""

    highpass_hz: float = 20.0
    """Lower edge of the EMG band-pass (Hz)."""
    lowpass_hz: float = 450.0
    """Upper edge of the band-pass (Hz); lowered to 0.9 x Nyquist for slow rates."""
    filter_order: int = 4
    """Butterworth order of each band edge."""
    min_fs_hz: float = 200.0
    """Slowest EMG sampling rate accepted (Hz); the band needs at least 2 x 100 Hz."""
    mains_hz: tuple[float, ...] = (50.0, 60.0)
    """Mains frequencies notched out (Hz); both by default, so no region setting is needed."""
    notch_q: float = 30.0
    """Quality factor of each mains notch."""
    baseline_block_s: float = 5.0
    """Block length over which the resting-level estimate is updated (s)."""
    baseline_window_s: float = 1200.0
    """History over which the resting level is estimated (s)."""
    baseline_percentile: float = 10.0
    """Percentile of block medians taken as the resting level."""
    baseline_floor_uv: float = 0.5
    """Lowest resting level assumed (uV RMS), so a silent channel does not make noise look big."""
    active_ratio: float = 4.0
    """Envelope must exceed this multiple of the resting level to count as contraction."""
    active_rise_uv: float = 8.0
    """...and exceed the resting level by at least this much (uV), as in AASM leg-movement rules."""
    flat_uv: float = 0.2
    """Band-passed RMS below this (uV) over an epoch means a flat, lifted electrode."""
    saturation_fraction: float = 0.01
    """Fraction of an epoch's samples at the ADC rails above which the epoch is saturated."""
    hum_fraction: float = 0.6
    """Fraction of band power at the mains frequencies (what the notches remove, fitted per
    epoch: pipeline/mains.py) above which an epoch is 'hum'."""
    spectrum_low_hz: float = 60.0
    """Low corner of the surface-EMG power spectrum assumed when a front end's band covers
    only part of it (Shwedyk, Balasubramanian and Scott 1977: ``f^2 fh^4 / ((f^2 + fl^2)
    (f^2 + fh^2)^2)``; calf corners about 50-80 Hz), so the absolute rises
    (``active_rise_uv``, ``evidence.corroborated_rise_uv``), stated over the full band
    ``highpass_hz``-``lowpass_hz``, are scaled to the amplitude share the band actually kept."""
    spectrum_high_hz: float = 150.0
    """High corner of that spectrum (Hz; calf about 110-320 Hz, median frequency 85-180 Hz)."""
    lift_flat_s: float = 10.0
    """An unbroken flat stretch (every epoch below ``flat_uv``) this long is a lifted or dead
    electrode (s): from then on its epochs are unseen, not resting level 0, so a long lift does
    not hold the resting baseline at its floor. Shorter flat runs broken by quantisation steps
    are a coarse ADC reading a quiet calf as zeros: on a channel that has shown such flicker
    (``flicker_flat_s``) within ``baseline_window_s``, flat runs of any length count as rest
    (pipeline/lift.py)."""
    flicker_flat_s: float = 1.0
    """A flat run that ends within this (s) is a coarse ADC's flicker at rest (single flat
    epochs between quantisation steps), not an electrode off and back on, which takes longer."""


@dataclass(frozen=True, kw_only=True)
class MotionConfig:
    """Accelerometer features: posture, movement, ankle angle and calf tremor."""

    lying_max_incline_deg: float = 40.0
    """Shank inclination above horizontal up to which the leg counts as lying (deg)."""
    movement_g: float = 0.06
    """Whole-leg movement above which an epoch is gross movement, not a held posture (g)."""
    tremor_highpass_hz: float = 5.0
    """Lower edge of the mechanomyogram (calf tremor) band (Hz)."""
    tremor_lowpass_hz: float = 50.0
    """Upper edge of the tremor band (Hz), applied where the shank's rate allows (below 0.45 x
    its rate; up to 100 Hz it is the Nyquist limit instead): the bulk of a contracting calf's
    mechanomyogram lies below 50 Hz, while a sensor at 208-416 Hz spreads its own noise up to
    its Nyquist frequency, which would otherwise count as tremor."""
    tremor_g: float = 0.002
    """Tremor-band RMS on the shank above which the calf counts as vibrating (g), a floor
    under the relative criterion below (``tremor_ratio`` x the night's own resting level, which
    carries the sensor's noise); the level is averaged to ``evidence.tremor_min_dof``
    independent samples, so 3x rest is many times its scatter."""
    tremor_ratio: float = 3.0
    """...and above this multiple of the tremor's own resting level (a noisy sensor)."""
    tremor_floor_g: float = 0.0005
    """Lowest resting tremor level assumed (g)."""
    plantar_flexion_deg: float = 20.0
    """Foot-to-shank angle beyond neutral that counts as forced plantar flexion (deg)."""
    neutral_offset_deg: float = 0.0
    """Foot-to-shank angle measured in neutral posture (calibration), subtracted (deg)."""
    min_sagittal_g: float = 0.3
    """Gravity component needed in each sensor's sagittal plane to measure the angle (g); a
    leg lying tipped 17 deg or more off a pure side posture still shows its ankle angle."""
    pull_deg: float = 10.0
    """Turn of the foot towards plantar flexion against the shank within ``pull_lookback_s``
    (deg) that counts as the foot being pulled (a cramp pulls it by 10 deg or more past its
    relaxed angle), read from the change of the relative angle (``AnklePull``); lying on a
    side, it lets tremor above ``evidence.tremor_corroborated_ratio`` x rest suffice."""
    pull_lookback_s: float = 10.0
    """Time between the two still epochs whose relative angles are compared (s): longer than
    a cramp's 1-5 s build-up, so its whole pull is seen during its first seconds."""
    pull_min_sagittal_g: float = 0.02
    """Gravity needed in each sensor's sagittal plane, in both epochs, to read the pull (g):
    a 10 deg turn moves 0.02 g by 3.5 mg, several times the scatter of an epoch's mean
    (sensor noise and calf tremor, about 1 mg). A sensor's fixed zero-g offset ``b`` adds
    the same vector to both epochs: the sign of the turn stays right and its size within a
    factor ``s / (s +- b)`` while ``b`` is under half the sagittal gravity ``s``, whereas the
    absolute angle is off by up to ``asin(b / s)`` (hence ``min_sagittal_g``); the default
    assumes offsets of 10 mg or less (a calibrated sensor)."""
    ankle_min_deg: float = -45.0
    """Most dorsiflexed angle an ankle can take (deg); beyond it the angle is reported unknown
    (a slipped sensor or a moving leg, not an ankle: the range of motion is about -30..50)."""
    ankle_max_deg: float = 75.0
    """Most plantar-flexed angle an ankle can take (deg); beyond it the angle is unknown."""
    dorsiflexion_deg: float = 10.0
    """Foot pulled up by this much (deg) or more: a calf stretch, never a calf cramp (which
    pulls the foot the other way)."""


@dataclass(frozen=True, kw_only=True)
class EpisodeConfig:
    """How evidence becomes a cramp episode."""

    min_duration_s: float = 10.0
    """Shortest sustained contraction logged as a cramp (s); leg movements last 0.5-10 s.
    Held at the epoch grid's resolution: a run one epoch shorter counts (a contraction of
    exactly this length fills only parts of its first and last epochs)."""
    max_dip_s: float = 1.5
    """Longest lull inside one cramp (s); cramps are irregular and fire in bursts."""
    held_max_dip_s: float = 3.0
    """With a foot angle (both accelerometers, not the EMG-only mode): longest lull inside one
    cramp while the foot stays held where the cramp pulled it (s). A cramp holds the foot
    pulled into plantar flexion for its whole length, while its mechanomyogram (the calf
    tremor) waxes and wanes and can lull for seconds, most at low accelerometer rates
    (25 Hz: a tremor band under 12.5 Hz); while the foot stays turned by at least
    ``motion.pull_deg`` past its resting angle before the onset (the median angle over the
    ``onset_lookback_s`` before it) and within ``motion.pull_deg`` of the angle the run held
    it at (its median over the run's last second before the lull), on a still leg and
    without the EMG seen at rest, the contraction goes on. A foot that merely rests pointed
    (a prone sleeper's, by gravity and the mattress) is not turned past its own resting
    angle and bridges nothing; a release (the angle falling back by a cramp's pull) ends
    the lull's bridge at once, and past this bound a lull ends the run whatever the foot
    does. At or under ``max_dip_s`` it bridges nothing more than ``max_dip_s`` does."""
    confirmed_held_dip_s: float = 10.0
    """With a foot angle (as ``held_max_dip_s``): longest lull bridged by the same held foot
    once the run has been confirmed a cramp (s). A long weak cramp's tremor waxes and wanes
    about its activity threshold for minutes and can lie under its rest criterion for
    several seconds at a time (seen: up to 7 s within a 387-s cramp lying on a side, the
    foot held 25 deg past its resting angle throughout, the leg still); the contraction has
    not ended, so its continuation must not face a fresh ``min_duration_s`` duty test
    (which such a stretch fails, logging the cramp far too short). A release, gross
    movement (a rollover, a stretch, a leg-movement series: the angle unknown or turned
    back) or the EMG seen at rest still ends the bridge at once. Bounded by the shortest
    cramp (``min_duration_s``): a quiet stretch as long as a cramp is not a lull within
    one. Runs not yet confirmed keep ``held_max_dip_s``; under it, it is ``held_max_dip_s``,
    and with ``held_max_dip_s`` at or under ``max_dip_s`` (no held bridge) nothing more is
    bridged here either."""
    onset_lookback_s: float = 5.0
    """How far back an onset may move over the contraction's ramp-up (s)."""
    onset_ratio: float = 1.5
    """The ramp-up starts where the envelope last sat below this multiple of the resting
    level..."""
    onset_rise_uv: float = 2.0
    """...or within this much of it (uV; the AASM leg-movement offset criterion)."""
    pull_onset_deg: float = 1.0
    """With a foot angle (both accelerometers): the foot is being pulled towards plantar
    flexion at an epoch when its angle rose by more than this over the preceding
    ``pull_onset_s`` (deg); a run's onset moves back over that pull, and its end on over the
    foot's release (the angle still falling by more than this over the following
    ``pull_onset_s``), at most ``onset_lookback_s`` and ``max_dip_s``. A contracting calf
    turns the foot from the first tenths of a second of its build-up, and a gravity angle
    of a still leg is steady to 0.1-0.3 deg per epoch (sensor noise over 0.1 s; more lying
    near a side), while the EMG envelope and the calf tremor cross their thresholds
    part-way up the build-up: a tenth of the pull a cramp exerts (``motion.pull_deg``) and
    several times the angle's scatter."""
    pull_onset_s: float = 0.5
    """Time over which that turn of the foot is taken (s): a cramp's 1-5 s build-up turns
    the foot by 20-50 deg, i.e. by more than ``pull_onset_deg`` within this from its first
    tenths of a second; a resting foot does not."""
    min_duty: float = 0.6
    """Fraction of a contraction's first ``min_duration_s`` that must be active; rhythmic
    bursts (walking, series of leg movements) stay below it."""
    aftermath_s: float = 20.0
    """With EMG only: sustained activity starting this soon after an episode ended is taken as
    the standing, stretching or massage that follows most cramps, not as a new cramp (with an
    accelerometer, posture and movement tell them apart instead) (s)."""
    min_confidence: float = 0.3
    """Episodes scored below this are dropped."""


@dataclass(frozen=True, kw_only=True)
class InBedConfig:
    """In-bed period and the night window."""

    night_window: str | None = "20:00-10:00"
    """Local clock window in which the sleeper is expected in bed, ``HH:MM-HH:MM``; ``None``
    disables the window (every time counts)."""
    timezone: str | None = None
    """IANA time zone for the night window and display; ``None`` is the machine's zone."""
    block_s: float = 60.0
    """Resolution of the in-bed decision (s)."""
    max_movement_fraction: float = 0.2
    """Largest fraction of moving epochs in a block still counted as rest."""
    min_rest_s: float = 1800.0
    """Shortest rest block that can start an in-bed period (s)."""
    max_gap_fill_s: float = 3600.0
    """Wake blocks shorter than this between rest blocks are bridged (s)."""


@dataclass(frozen=True, kw_only=True)
class DetectorConfig:
    """Every threshold of the detector. Defaults are the documented starting point."""

    emg: EmgConfig = field(default_factory=EmgConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    episode: EpisodeConfig = field(default_factory=EpisodeConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    in_bed: InBedConfig = field(default_factory=InBedConfig)
    epoch_s: float = 0.1
    """Feature resolution of the whole pipeline (s)."""
    band_drift_segment_s: float = 10.0
    """Multi-band nights: seconds of a band's own time per segment of constant shift when
    its drift against the host is fitted (:class:`~detector.night.band_drift.DriftGrid`).
    A 300 ppm drift moves a sample in 3.3 s at 1 kHz; at 10 s the shift changes by at most
    one sample per segment up to 2000 ppm at 50 Hz (by more at higher rates or drifts).
    Written into the night manifest when recording, so a replay places the samples as the
    live run did whatever config it is given."""
    ganglion_rejoin_hold_s: float = 1.0
    """Ganglion: s of a stream restarted by a reconnection held back to time its gap by its
    least delayed arrival (kept in the capture header; docs/pipeline.md)."""
    polar_clock_trust_s: float = 5.0
    """Polar: its stamps are UTC if its first frame arrives within this (s) of them, else its
    start is that arrival (kept in the capture header; docs/pipeline.md)."""

    def __post_init__(self) -> None:
        validate_config(self)

    def to_dict(self) -> dict[str, Any]:
        """Return every parameter as plain Python values (for JSON and the episode store)."""
        return dataclasses.asdict(self)

    def replace(self, **sections: Any) -> DetectorConfig:
        """Return a copy with whole sections or ``section__key`` values replaced."""
        data = self.to_dict()
        for key, value in sections.items():
            if "__" in key:
                section, name = key.split("__", 1)
                data[section][name] = value
            else:
                data[key] = value
        return config_from_dict(data, where="<replace>")


_SECTIONS = {"emg": EmgConfig, "motion": MotionConfig, "episode": EpisodeConfig,
             "evidence": EvidenceConfig, "in_bed": InBedConfig}
_TOP_LEVEL = ("epoch_s", "band_drift_segment_s", "ganglion_rejoin_hold_s",
              "polar_clock_trust_s")
"""Numbers of the config outside any section."""


def _coerce(where: str, value: Any, default: Any, annotation: str) -> Any:
    if "tuple" in annotation:
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(where, f"expected a list of numbers, got {brief(value)}")
        try:
            return tuple(float(v) for v in value)
        except OverflowError:
            raise ConfigError(where, f"expected finite numbers, got {brief(value)}") from None
    if "str" in annotation:
        if value is None and "None" in annotation:
            return None
        if not isinstance(value, str):
            raise ConfigError(where, f"expected a string, got {brief(value)}")
        return value
    if annotation == "bool":
        if not isinstance(value, bool):
            raise ConfigError(where, f"expected true or false, got {brief(value)}")
        return value
    if annotation == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(where, f"expected an integer, got {brief(value)}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(where, f"expected a number, got {brief(value)}")
    try:
        return float(value)
    except OverflowError:
        raise ConfigError(where, f"expected a finite number, got {brief(value)}") from None


def config_from_dict(data: dict[str, Any], *, where: str) -> DetectorConfig:
    """Build a config from nested dicts (as parsed from TOML); missing keys keep defaults."""
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in _TOP_LEVEL:
            kwargs[key] = _coerce(f"{where}: {key}", value, None, "float")
            continue
        if key not in _SECTIONS:
            raise ConfigError(f"{where}: {key}", f"unknown section; expected one of "
                              f"{', '.join([*_SECTIONS, *_TOP_LEVEL])}")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {key}", "expected a table of values")
        cls = _SECTIONS[key]
        fields = {f.name: f for f in dataclasses.fields(cls)}
        section: dict[str, Any] = {}
        for name, item in value.items():
            if name not in fields:
                raise ConfigError(f"{where}: {key}.{name}", f"unknown key; expected one of "
                                  f"{', '.join(fields)}")
            f = fields[name]
            section[name] = _coerce(f"{where}: {key}.{name}", item, f.default, str(f.type))
        kwargs[key] = cls(**section)
    try:
        return DetectorConfig(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.where}", exc.problem) from None


def load_config(path: str | Path) -> DetectorConfig:
    """Load a TOML config file over the defaults.

    Raises
    ------
    ConfigError
        If the file is missing, not TOML, or holds an unknown key or a bad value.
    """
    try:
        p = check_input_file(path, what="config file")
    except ConfigError:
        raise
    except CrampInputError as exc:
        raise ConfigError(exc.where, exc.problem) from None
    import tomllib  # only when a config file is read (a few ms at every start-up otherwise)

    try:
        text = p.read_bytes().decode("utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(str(p), "config file not found") from None
    except OSError as exc:
        raise ConfigError(str(p), f"cannot read the config file ({exc.strerror})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(p), f"not a valid TOML file ({exc})") from None
    except RecursionError:
        raise ConfigError(str(p), "not a valid TOML file (nested too deeply)") from None
    return config_from_dict(data, where=str(p))
