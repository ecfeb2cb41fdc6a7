"""One small labelled cohort shared by the cohort tests (made once per test session)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from detector.cohort.simulate import CohortSpec

COHORT_SPEC = CohortSpec(nights=10, hours=0.05, seed=2026, participants=5)
"""Ten 3-minute nights of five sleepers: small enough to replay in well under a second."""

_made: dict[str, Any] = {}


def shared_cohort(tmp_path_factory: pytest.TempPathFactory,
                  request: pytest.FixtureRequest) -> Path:
    """The cohort folder, made once by ``cramp simulate --nights`` on the shared cluster."""
    if "dir" not in _made:
        from detector.cli.main import main

        folder = tmp_path_factory.mktemp("cohort")
        spec = COHORT_SPEC
        argv = ["simulate", "--nights", str(spec.nights), "--participants",
                str(spec.participants), "--hours", str(spec.hours), "--seed", str(spec.seed),
                "--out", str(folder), "--scheduler", shared_scheduler(request),
                "--no-progress"]
        if main(argv) != 0:
            raise AssertionError("cramp simulate --nights failed")
        _made["dir"] = folder
        _made["argv"] = argv
    return _made["dir"]


def cohort_argv() -> list[str]:
    """The ``cramp simulate`` arguments that made the shared cohort."""
    return list(_made["argv"])


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
