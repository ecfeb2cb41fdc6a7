"""The parameter search of ``cramp tune``: a TOML of lists and ranges, grid or seeded random.

::

    [search]
    method = "random"      # or "grid": every combination
    samples = 24           # random: parameter sets drawn (besides the starting set)
    seed = 1               # random draws and the split of nights

    [parameters.episode]
    min_duration_s = [8.0, 10.0, 12.0, 15.0]          # a list: these values
    min_confidence = { min = 0.2, max = 0.6, steps = 5 }  # a range: grid takes ``steps``
                                                      # evenly spaced values, random draws
                                                      # uniformly (``log = true``: log-uniform)
    [parameters.emg]
    active_ratio = { min = 3.0, max = 6.0, steps = 4 }

Set 0 is always the starting configuration (the defaults, or ``--config``), so the search
can only match or beat it on the nights it is tuned on.
"""

from __future__ import annotations

import dataclasses
import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detector.config import DetectorConfig, config_from_dict
from detector.errors import ConfigError, CrampInputError

_SECTION_NAMES = ("emg", "motion", "episode", "in_bed")


@dataclass(frozen=True, kw_only=True)
class Axis:
    """Values one parameter may take.

    Attributes
    ----------
    key : str
        ``section.name`` (e.g. ``"episode.min_duration_s"``).
    values : tuple, optional
        Listed values.
    low, high : float, optional
        A range, inclusive.
    steps : int, optional
        Grid points over the range.
    log : bool
        Draw/space the range logarithmically.
    integer : bool
        The parameter is an integer.
    """

    key: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    steps: int | None = None
    log: bool = False
    integer: bool = False

    def grid(self) -> list[Any]:
        """The grid values of this axis."""
        if self.values is not None:
            return list(self.values)
        if self.steps is None:
            raise CrampInputError(f"parameters.{self.key}", "a range needs 'steps' for a "
                                                            "grid search")
        assert self.low is not None and self.high is not None
        pts = (np.geomspace(self.low, self.high, self.steps) if self.log
               else np.linspace(self.low, self.high, self.steps))
        return [self._cast(v) for v in pts]

    def draw(self, rng: np.random.Generator) -> Any:
        """One random value of this axis."""
        if self.values is not None:
            return self.values[int(rng.integers(len(self.values)))]
        assert self.low is not None and self.high is not None
        if self.log:
            return self._cast(float(np.exp(rng.uniform(np.log(self.low), np.log(self.high)))))
        return self._cast(float(rng.uniform(self.low, self.high)))

    def _cast(self, v: float) -> Any:
        return round(v) if self.integer else round(float(v), 6)


@dataclass(frozen=True, kw_only=True)
class SearchSpace:
    """A parsed search TOML."""

    method: str
    samples: int
    seed: int
    axes: tuple[Axis, ...]


def load_search(path: str | Path) -> SearchSpace:
    """Read and check a search TOML (see the module docstring).

    Raises
    ------
    CrampInputError
        Unreadable file, unknown section or key, or a list/range that is not valid.
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise CrampInputError(str(p), "search file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CrampInputError(str(p), f"not a valid TOML file ({exc})") from None
    unknown = set(data) - {"search", "parameters"}
    if unknown:
        raise CrampInputError(f"{p}: {sorted(unknown)[0]}", "unknown section; expected "
                                                             "[search] and [parameters]")
    search = data.get("search", {})
    method = search.get("method", "grid")
    if method not in ("grid", "random"):
        raise CrampInputError(f"{p}: search.method", f"expected grid or random, got {method!r}")
    samples, seed = search.get("samples", 20), search.get("seed", 0)
    for name, value, lo in (("samples", samples, 1), ("seed", seed, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < lo:
            raise CrampInputError(f"{p}: search.{name}", f"expected an integer >= {lo}")
    axes = []
    params = data.get("parameters", {})
    for section, keys in params.items():
        if section not in _SECTION_NAMES or not isinstance(keys, dict):
            raise CrampInputError(f"{p}: parameters.{section}", "expected a table named after "
                                  f"a config section ({', '.join(_SECTION_NAMES)})")
        cls = type(getattr(DetectorConfig(), section))
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for name, spec in keys.items():
            key = f"{section}.{name}"
            if name not in fields:
                raise CrampInputError(f"{p}: parameters.{key}", "unknown key; expected one of "
                                      + ", ".join(fields))
            axes.append(_axis(key, spec, integer=str(fields[name].type) == "int",
                              where=f"{p}: parameters.{key}"))
    if not axes:
        raise CrampInputError(f"{p}: parameters", "lists no parameter to search")
    return SearchSpace(method=method, samples=samples, seed=seed, axes=tuple(axes))


def _axis(key: str, spec: Any, *, integer: bool, where: str) -> Axis:
    if isinstance(spec, list):
        if not spec:
            raise CrampInputError(where, "expected a non-empty list of values")
        return Axis(key=key, values=tuple(spec), integer=integer)
    if not isinstance(spec, dict) or not {"min", "max"} <= set(spec) or \
            set(spec) - {"min", "max", "steps", "log"}:
        raise CrampInputError(where, "expected a list of values or {min, max[, steps, log]}")
    lo, hi = spec["min"], spec["max"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi)) \
            or not lo < hi:
        raise CrampInputError(where, "expected numbers with min < max")
    steps = spec.get("steps")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool)
                              or steps < 2):
        raise CrampInputError(where, "steps: expected an integer >= 2")
    log = spec.get("log", False)
    if not isinstance(log, bool) or (log and lo <= 0):
        raise CrampInputError(where, "log: expected true/false, and min > 0 with true")
    return Axis(key=key, low=float(lo), high=float(hi), steps=steps, log=log, integer=integer)


def parameter_sets(space: SearchSpace, base: DetectorConfig
                   ) -> tuple[list[tuple[dict[str, Any], DetectorConfig]], list[str]]:
    """The candidate sets: ``(overrides, config)`` with set 0 the base, each once.

    Returns
    -------
    sets : list of (dict, DetectorConfig)
        Overrides (``"section.key" -> value``) and the configuration they give.
    skipped : list of str
        One line per drawn set the configuration rejects (e.g. a high-pass above the
        low-pass), which is left out.
    """
    if space.method == "grid":
        combos = itertools.product(*(a.grid() for a in space.axes))
        drawn = [dict(zip((a.key for a in space.axes), c, strict=True)) for c in combos]
    else:
        rng = np.random.default_rng(space.seed)
        drawn = [{a.key: a.draw(rng) for a in space.axes} for _ in range(space.samples)]
    sets: list[tuple[dict[str, Any], DetectorConfig]] = [({}, base)]
    seen = {_canonical(base)}
    skipped = []
    for overrides in drawn:
        try:
            cfg = apply_overrides(base, overrides)
        except ConfigError as exc:
            skipped.append(f"{_describe(overrides)}: {exc}")
            continue
        if _canonical(cfg) not in seen:
            seen.add(_canonical(cfg))
            sets.append((overrides, cfg))
    return sets, skipped


def apply_overrides(base: DetectorConfig, overrides: dict[str, Any]) -> DetectorConfig:
    """``base`` with ``"section.key"`` values replaced (validated like a config file)."""
    data = base.to_dict()
    for key, value in overrides.items():
        section, name = key.split(".", 1)
        data[section][name] = value
    return config_from_dict(data, where="search")


def _canonical(cfg: DetectorConfig) -> str:
    import json

    return json.dumps(cfg.to_dict(), sort_keys=True)


def _describe(overrides: dict[str, Any]) -> str:
    return "; ".join(f"{k}={v}" for k, v in overrides.items()) or "(starting set)"


def config_toml(cfg: DetectorConfig, *, reference: DetectorConfig, header: str) -> str:
    """TOML of the values of ``cfg`` that differ from ``reference`` (ready for --config)."""
    lines = [f"# {line}" for line in header.splitlines()]
    ref, new = reference.to_dict(), cfg.to_dict()
    for section in (*_SECTION_NAMES,):
        diffs = [(k, v) for k, v in new[section].items() if v != ref[section][k]]
        if diffs:
            lines += ["", f"[{section}]"] + [
                f"# {k}: none (TOML has no null; give the option instead, e.g. "
                "--no-night-window)" if v is None else f"{k} = {_toml_value(v)}"
                for k, v in diffs]
    if len(lines) == len(header.splitlines()) and new["epoch_s"] == ref["epoch_s"]:
        lines.append("# the starting set was best: nothing to change")
    if new["epoch_s"] != ref["epoch_s"]:
        lines.insert(len(header.splitlines()), f"epoch_s = {_toml_value(new['epoch_s'])}")
    return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    return str(v)
