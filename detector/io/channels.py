"""Which of a file's signals are the calf EMG and the shank and foot accelerometers.

A :class:`ChannelMap` says what the user told us (labels, units, rate, start time). The
function :func:`resolve_channels` finds the named labels, or recognises the roles from the
labels when the map leaves them out, and guesses the leg from clear cues only.

An axis label prefixed with ``-`` (``"-Acc Y"``) is read with its sign flipped, to undo the
mounting of a sensor. A label that really starts with ``-`` is matched as written first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from detector.errors import CrampInputError
from detector.io.units import is_acc_unit, is_emg_unit

Axes = tuple[str, str, str]


@dataclass(frozen=True, kw_only=True)
class ChannelMap:
    """What the user says about a recording's channels.

    Attributes
    ----------
    emg : str, optional
        Label of the calf EMG signal.
    shank_acc, foot_acc : tuple of 3 str, optional
        Labels of the x, y, z axes of the shank and foot accelerometers; ``-`` in front of a
        label flips that axis.
    emg_unit, acc_unit : str, optional
        Units of the EMG and accelerometer samples, overriding the file's (e.g. ``"mV"``,
        ``"mg"``).
    fs : float, optional
        Sampling rate in Hz of a CSV table without a time column.
    start_utc : datetime, optional
        Start of the recording (timezone-aware), overriding the file's.
    """

    emg: str | None = None
    shank_acc: Axes | None = None
    foot_acc: Axes | None = None
    emg_unit: str | None = None
    acc_unit: str | None = None
    fs: float | None = None
    start_utc: datetime | None = None

    def __post_init__(self) -> None:
        for option, axes in (("--shank-acc", self.shank_acc), ("--foot-acc", self.foot_acc)):
            if axes is not None and len(axes) != 3:
                raise CrampInputError(option, f"expected 3 labels (x, y, z), got {len(axes)}")
        if self.fs is not None and not (math.isfinite(self.fs) and self.fs > 0):
            raise CrampInputError("--fs", f"expected a positive sampling rate in Hz, got {self.fs}")
        if self.start_utc is not None:
            if self.start_utc.tzinfo is None or self.start_utc.utcoffset() is None:
                raise CrampInputError("--start", "expected a time with a time zone (e.g. +01:00)")
            object.__setattr__(self, "start_utc", self.start_utc.astimezone(UTC))


def parse_axes(text: str, *, option: str) -> Axes:
    """Parse ``"X,Y,Z"`` from the command line into three labels.

    Parameters
    ----------
    text : str
        Three comma-separated labels; a leading ``-`` on a label flips that axis.
    option : str
        Name of the option, used in the error (e.g. ``"--shank-acc"``).

    Raises
    ------
    CrampInputError
        If there are not exactly three non-empty labels.
    """
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or not all(parts) or any(p == "-" for p in parts):
        raise CrampInputError(
            option, f"expected three comma-separated labels like 'X,Y,-Z', got {text!r}"
        )
    return (parts[0], parts[1], parts[2])


@dataclass(frozen=True)
class SignalRef:
    """One of a file's signals used for a role: its label, index and sign (+1 or -1)."""

    label: str
    index: int
    sign: float = 1.0


@dataclass(frozen=True, kw_only=True)
class ResolvedChannels:
    """The file's signals chosen for each role, and the leg."""

    emg: SignalRef | None
    shank_acc: tuple[SignalRef, SignalRef, SignalRef] | None
    foot_acc: tuple[SignalRef, SignalRef, SignalRef] | None
    leg: str = "unknown"

    def roles(self) -> dict[str, tuple[SignalRef, ...]]:
        """Return the roles found, in pipeline order, each with its 1 or 3 signals."""
        out: dict[str, tuple[SignalRef, ...]] = {}
        if self.emg is not None:
            out["emg"] = (self.emg,)
        if self.shank_acc is not None:
            out["shank_acc"] = self.shank_acc
        if self.foot_acc is not None:
            out["foot_acc"] = self.foot_acc
        return out


_SPLIT = re.compile(r"[^a-z0-9]+")
_BRACKET_UNIT = re.compile(r"^(?P<name>.*?)\s*[\[(](?P<unit>[^\])]*)[\])]\s*$")
_CALF_WORDS = ("gastroc", "calf", "soleus", "surae")
_CALF_TOKENS = {"gas", "gast", "lg", "mg", "gl", "gm", "sol"}
_LEG_TOKENS = {"leg", "legs", "lleg", "rleg", "lat", "rat", "tib", "ta", "plm", "limb"}
_CHIN_TOKENS = {"chin", "submental", "ment", "mental"}
_FOOT_WORDS = ("foot", "feet", "toe", "instep")
_SHANK_WORDS = ("shank", "shin", "tibia", "calf", "leg")
_ACC_AXIS = re.compile(r"acc(?:el(?:eration|erometer)?)?([xyz])")


def split_unit(label: str) -> tuple[str, str | None]:
    """Split a column label into its name and the unit it states, if any.

    ``"EMG (mV)"`` and ``"Acc X [m/s2]"`` state a unit in brackets; ``"emg_uv"`` and
    ``"acc_x_mg"`` end in a unit after an underscore. A trailing token counts as a unit only
    when it is a known voltage or acceleration unit.

    Returns
    -------
    tuple of (str, str or None)
        The label without the unit, and the unit text (``None`` if none).
    """
    m = _BRACKET_UNIT.match(label)
    if m:
        return m.group("name").strip(), m.group("unit").strip()
    head, sep, tail = label.rpartition("_")
    if sep and head and (is_emg_unit(tail) or is_acc_unit(tail)):
        return head, tail
    return label, None


def _tokens(label: str) -> list[str]:
    return [t for t in _SPLIT.split(label.lower()) if t]


def _lookup(labels: Sequence[str], wanted: str, *, where: str) -> SignalRef:
    """Find ``wanted`` among ``labels``: exact, then ignoring case/spaces, then without units."""
    sign = 1.0
    name = wanted.strip()
    if name not in labels and name.startswith("-") and len(name) > 1:
        sign, name = -1.0, name[1:].strip()
    if name in labels:
        return SignalRef(name, labels.index(name), sign)
    for key in (lambda s: s.strip().lower(), lambda s: split_unit(s.strip())[0].lower()):
        hits = [i for i, lab in enumerate(labels) if key(lab) == key(name)]
        if len(hits) == 1:
            return SignalRef(labels[hits[0]], hits[0], sign)
    shown = ", ".join(labels[:40]) + (", ..." if len(labels) > 40 else "")
    raise CrampInputError(where, f"no signal labelled {wanted!r}; signals are: {shown}")


def _emg_score(label: str) -> int:
    low = label.lower()
    toks = set(_tokens(label))
    if "acc" in low or toks & _CHIN_TOKENS:
        return 0
    if any(w in low for w in _CALF_WORDS) or (toks & _CALF_TOKENS and "emg" in low):
        return 3
    if toks & _LEG_TOKENS or "tibial" in low:
        return 2
    return 1 if "emg" in low else 0


def _detect_emg(labels: Sequence[str], used: set[int], *, where: str) -> SignalRef | None:
    scored = [(i, _emg_score(lab)) for i, lab in enumerate(labels) if i not in used]
    best = max((s for _, s in scored), default=0)
    if best == 0:
        return None
    top = [i for i, s in scored if s == best]
    if len(top) > 1:
        names = ", ".join(repr(labels[i]) for i in top)
        raise CrampInputError(
            where, f"several signals could be the calf EMG ({names}); pass --emg LABEL"
        )
    return SignalRef(labels[top[0]], top[0])


def _acc_axis(label: str) -> tuple[str, str] | None:
    """Return (group key, axis) for an accelerometer-like label, else None."""
    name, _unit = split_unit(label)
    if "acc" not in name.lower():
        return None
    toks = _tokens(name)
    found = []
    for k, tok in enumerate(toks):
        m = _ACC_AXIS.fullmatch(tok)
        if tok in ("x", "y", "z"):
            found.append((k, tok, "*"))
        elif m:
            found.append((k, m.group(1), "acc*"))
    if len(found) != 1:
        return None
    k, axis, placeholder = found[0]
    key = " ".join([*toks[:k], placeholder, *toks[k + 1 :]])
    return key, axis


def _location(key: str) -> str | None:
    foot = any(w in key for w in _FOOT_WORDS)
    shank = any(w in key for w in _SHANK_WORDS)
    if foot != shank:
        return "foot" if foot else "shank"
    return None


def _detect_acc(
    labels: Sequence[str], used: set[int], *, skip: set[str], where: str
) -> dict[str, tuple[SignalRef, SignalRef, SignalRef]]:
    groups: dict[str, dict[str, list[int]]] = {}
    for i, lab in enumerate(labels):
        if i in used:
            continue
        hit = _acc_axis(lab)
        if hit is not None:
            groups.setdefault(hit[0], {}).setdefault(hit[1], []).append(i)
    triples: dict[str, tuple[SignalRef, SignalRef, SignalRef]] = {}
    for key, axes in groups.items():
        if sorted(axes) == ["x", "y", "z"] and all(len(v) == 1 for v in axes.values()):
            x, y, z = (SignalRef(labels[axes[a][0]], axes[a][0]) for a in "xyz")
            triples[key] = (x, y, z)
    out: dict[str, tuple[SignalRef, SignalRef, SignalRef]] = {}
    for loc in ("shank", "foot"):
        keys = [k for k in triples if _location(k) == loc]
        if loc in skip:
            continue
        if len(keys) > 1:
            names = "; ".join(",".join(r.label for r in triples[k]) for k in keys)
            raise CrampInputError(
                where, f"several accelerometers could be the {loc} ({names}); "
                f"pass --{loc}-acc X,Y,Z"
            )
        if keys:
            out[loc] = triples[keys[0]]
    if len(triples) == 1 and not out:
        out["shank"] = next(iter(triples.values()))
    return out


def detect_leg(labels: Sequence[str], *, emg_label: str | None = None) -> str:
    """Guess the leg from clear cues in labels (``L``/``Left``/``LAT``..., ``R``/``Right``...).

    Parameters
    ----------
    labels : sequence of str
        Labels of the signals used (EMG and accelerometer axes).
    emg_label : str, optional
        The EMG label; only there do ``LAT``/``RAT`` (left/right anterior tibialis) count.

    Returns
    -------
    {"left", "right", "unknown"}
        ``"unknown"`` when there is no cue or the cues disagree.
    """
    cues: set[str] = set()
    for lab in labels:
        low = lab.lower()
        toks = set(_tokens(lab))
        if lab == emg_label:
            toks = {{"lat": "l", "rat": "r"}.get(t, t) for t in toks}
        if "left" in low or toks & {"l", "lleg"}:
            cues.add("left")
        if "right" in low or toks & {"r", "rleg"}:
            cues.add("right")
    return cues.pop() if len(cues) == 1 else "unknown"


def resolve_channels(
    labels: Sequence[str], channel_map: ChannelMap, *, where: str
) -> ResolvedChannels:
    """Choose the file's signals for EMG, shank and foot accelerometers.

    Roles named in ``channel_map`` are looked up; the others are recognised from the labels.

    Parameters
    ----------
    labels : sequence of str
        The file's signal (or column) labels, in file order.
    channel_map : ChannelMap
        What the user said.
    where : str
        The file name, used in errors.

    Returns
    -------
    ResolvedChannels
        Indexes refer to positions in ``labels``.

    Raises
    ------
    CrampInputError
        A named label is missing, a role is ambiguous, or nothing usable is found.
    """
    labels = list(labels)
    emg = _lookup(labels, channel_map.emg, where=where) if channel_map.emg else None
    named: dict[str, tuple[SignalRef, SignalRef, SignalRef]] = {}
    for loc, axes in (("shank", channel_map.shank_acc), ("foot", channel_map.foot_acc)):
        if axes is not None:
            a, b, c = (_lookup(labels, ax, where=where) for ax in axes)
            named[loc] = (a, b, c)
    used = {r.index for t in named.values() for r in t} | ({emg.index} if emg else set())
    if emg is None:
        emg = _detect_emg(labels, used, where=where)
        if emg is not None:
            used.add(emg.index)
    if len(named) < 2:
        auto = _detect_acc(labels, used, skip=set(named), where=where)
        for loc, triple in auto.items():
            named.setdefault(loc, triple)
    if emg is None and not named:
        shown = ", ".join(labels[:40]) + (", ..." if len(labels) > 40 else "")
        raise CrampInputError(
            where,
            f"no EMG or accelerometer signal recognised among: {shown}; "
            "pass --emg LABEL and/or --shank-acc X,Y,Z (and --foot-acc X,Y,Z)",
        )
    used_labels = [r.label for t in named.values() for r in t]
    leg_labels = ([emg.label] if emg else []) + used_labels
    return ResolvedChannels(
        emg=emg,
        shank_acc=named.get("shank"),
        foot_acc=named.get("foot"),
        leg=detect_leg(leg_labels, emg_label=emg.label if emg else None),
    )
