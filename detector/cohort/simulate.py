"""``cramp simulate --nights N``: a labelled cohort of simulated nights, written in parallel.

Night ``i`` (0-based) gets its own seed, drawn from ``numpy.random.SeedSequence(seed)``'s
``i``-th child, so the cohort is the same whatever the number of workers or the order in
which they finish; each seed lays out its own scenario (number and length of cramps, leg
movements, rollovers, artefacts, leg, bed time). Nights are dealt round-robin to
``participants`` simulated sleepers (``sub-001``...), as sessions ``ses-01``...

``OUT/cohort.json`` lists the cohort (parameters and, per night, seed, participant, session,
recording and truth table). A rerun with the same parameters completes a cohort whose run was
interrupted; with other parameters it refuses to mix them into the same folder.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detector.cohort.engine import Engine, map_unordered, progress_bar
from detector.cohort.night_task import one_line_error
from detector.cohort.results import private_dir
from detector.errors import CrampInputError
from detector.safe_files import write_private_text

MANIFEST = "cohort.json"


@dataclass(frozen=True, kw_only=True)
class PlannedNight:
    """One night of the cohort before it is simulated.

    Attributes
    ----------
    index : int
        Position in the cohort (0-based).
    seed : int
        Seed of this night's simulation.
    participant, session : str
        BIDS labels (``"001"``, ``"01"``).
    stem : str
        File name stem of the recording and truth table.
    """

    index: int
    seed: int
    participant: str
    session: str
    stem: str


@dataclass(frozen=True, kw_only=True)
class CohortSpec:
    """What every night of the cohort shares."""

    nights: int
    hours: float
    seed: int
    participants: int
    file_format: str = "capture"
    fs_emg: int = 1000
    fs_acc: int = 100
    att_mtu: int = 247
    n_cramps: int | None = None


def plan_cohort(spec: CohortSpec) -> list[PlannedNight]:
    """Seeds, participants and sessions of every night (pure; no file is touched)."""
    if spec.nights < 1:
        raise CrampInputError("--nights", f"expected at least 1, got {spec.nights}")
    if not 1 <= spec.participants <= spec.nights:
        raise CrampInputError("--participants",
                              f"expected 1 to {spec.nights} (the number of nights), "
                              f"got {spec.participants}")
    children = np.random.SeedSequence(spec.seed).spawn(spec.nights)
    width_p = max(3, len(str(spec.participants)))
    width_s = max(2, len(str(-(-spec.nights // spec.participants))))
    plans = []
    for i, child in enumerate(children):
        p, s = i % spec.participants + 1, i // spec.participants + 1
        participant, session = f"{p:0{width_p}d}", f"{s:0{width_s}d}"
        plans.append(PlannedNight(index=i, seed=int(child.generate_state(1)[0]),
                                  participant=participant, session=session,
                                  stem=f"sub-{participant}_ses-{session}_night"))
    return plans


def simulate_task(out_dir: str, plan: PlannedNight, spec: CohortSpec) -> dict[str, Any]:
    """Task: simulate one night into ``out_dir``; ``{"recording", "truth", "n_cramps"}``."""
    from firmware_sim.simulate import simulate_night

    try:
        files = simulate_night(Path(out_dir), hours=spec.hours, seed=plan.seed,
                               file_format=spec.file_format, fs_emg=spec.fs_emg,
                               fs_acc=spec.fs_acc, att_mtu=spec.att_mtu,
                               n_cramps=spec.n_cramps, stem=plan.stem)
    except Exception as exc:  # reported per night; the others go on
        return {"error": one_line_error(exc)}
    return {"recording": files.recording.name, "truth": files.truth.name,
            "n_cramps": files.n_cramps}


@dataclass(kw_only=True)
class CohortSummary:
    """What :func:`simulate_cohort` did."""

    manifest: Path
    simulated: int
    already_there: int
    failures: list[tuple[str, str]]
    elapsed_s: float


def simulate_cohort(out_dir: Path, spec: CohortSpec, *, engine: Engine,
                    progress: bool = True) -> CohortSummary:
    """Simulate every night of the cohort not yet in ``out_dir``; write the manifest.

    Raises
    ------
    CrampInputError
        If ``out_dir`` holds a cohort made with other parameters.
    """
    t0 = time.perf_counter()
    out_dir = private_dir(out_dir).absolute()
    plans = plan_cohort(spec)
    manifest = out_dir / MANIFEST
    params = asdict(spec)
    old = _read_manifest(manifest)
    if old is not None and old.get("parameters") != params:
        raise CrampInputError(str(manifest), "holds a cohort made with other parameters; "
                                             "choose another --out folder")
    suffix = ".cramp" if spec.file_format == "capture" else ".edf"
    todo, done = [], {}
    for plan in plans:
        rec, truth = out_dir / (plan.stem + suffix), out_dir / (plan.stem + ".truth.tsv")
        if rec.exists() and truth.exists():
            done[plan.index] = {"recording": rec.name, "truth": truth.name}
        else:
            rec.unlink(missing_ok=True)  # an interrupted simulation: made again, same seed
            todo.append(plan)
    failures: list[tuple[str, str]] = []
    if todo:
        bar = progress_bar(len(todo), desc="simulate") if progress else None
        for plan, out in map_unordered(engine, simulate_task, todo,
                                       args_of=lambda p: (str(out_dir), p),
                                       kwargs={"spec": spec}, name="cramp-simulate"):
            if "error" in out:
                failures.append((plan.stem, out["error"]))
            else:
                done[plan.index] = out
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
    nights = [{**asdict(p), **done[p.index]} for p in plans if p.index in done]
    doc = {"kind": "cramp-cohort", "parameters": params, "nights": nights}
    # the cohort list is this command's own file: a resumed or grown cohort rewrites it
    write_private_text(manifest, json.dumps(doc, indent=1) + "\n", force=True)
    return CohortSummary(manifest=manifest, simulated=len(todo) - len(failures),
                         already_there=len(plans) - len(todo), failures=sorted(failures),
                         elapsed_s=time.perf_counter() - t0)


def _read_manifest(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CrampInputError(str(path), f"not a readable cohort manifest ({exc})") from None
    if not isinstance(doc, dict) or doc.get("kind") != "cramp-cohort":
        raise CrampInputError(str(path), "not a cohort manifest written by cramp simulate")
    return doc


def read_cohort(folder: Path) -> dict[str, Any]:
    """The manifest of a cohort folder (for export), checked for its shape."""
    doc = _read_manifest(folder / MANIFEST)
    if doc is None:
        raise CrampInputError(str(folder), f"no {MANIFEST} here; simulate a cohort with "
                                           "'cramp simulate --nights N --out DIR'")
    nights = doc.get("nights")
    if not isinstance(nights, list) or not all(
            isinstance(n, dict) and {"participant", "session", "recording", "truth"} <= set(n)
            for n in nights):
        raise CrampInputError(str(folder / MANIFEST), "'nights' must list participant, "
                                                       "session, recording and truth")
    return doc
