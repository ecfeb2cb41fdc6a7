"""One small labelled cohort shared by the cohort tests (made once per test session)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from detector.cohort.simulate import CohortSpec, plan_cohort

COHORT_SPEC = CohortSpec(nights=10, hours=0.05, seed=2026, participants=5)
"""Ten 3-minute nights of five sleepers: small enough to replay in well under a second."""

_made: dict[str, Path] = {}


def shared_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cohort folder (simulated in-process, serially: no cluster needed to make it)."""
    if "dir" not in _made:
        from firmware_sim.simulate import simulate_night

        folder = tmp_path_factory.mktemp("cohort")
        nights = []
        for plan in plan_cohort(COHORT_SPEC):
            files = simulate_night(folder, hours=COHORT_SPEC.hours, seed=plan.seed,
                                   stem=plan.stem)
            nights.append({"index": plan.index, "seed": plan.seed,
                           "participant": plan.participant, "session": plan.session,
                           "stem": plan.stem, "recording": files.recording.name,
                           "truth": files.truth.name, "n_cramps": files.n_cramps})
        from dataclasses import asdict

        (folder / "cohort.json").write_text(json.dumps(
            {"kind": "cramp-cohort", "parameters": asdict(COHORT_SPEC), "nights": nights}))
        _made["dir"] = folder
    return _made["dir"]


def copy_cohort(src: Path, dst: Path, *, nights: int | None = None) -> list[Path]:
    """Copy the cohort's recordings and truth tables (the first ``nights``) into ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    recordings = sorted(src.glob("*.cramp"))[:nights]
    for rec in recordings:
        shutil.copy2(rec, dst / rec.name)
        truth = rec.with_name(rec.name.replace(".cramp", ".truth.tsv"))
        shutil.copy2(truth, dst / truth.name)
    return [dst / r.name for r in recordings]


_cluster: dict[str, Any] = {}


def shared_scheduler(request: pytest.FixtureRequest) -> str:
    """Address of a 2-worker local cluster the cohort tests share (closed at session end).

    Starting a cluster costs seconds; tests that are not about starting one use this.
    """
    if "address" not in _cluster:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None,
                               scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                               silence_logs=40)
        _cluster.update(cluster=cluster, address=cluster.scheduler_address)

        def close() -> None:
            _cluster.pop("cluster").close()
            _cluster.clear()

        request.session.addfinalizer(close)
    return str(_cluster["address"])
