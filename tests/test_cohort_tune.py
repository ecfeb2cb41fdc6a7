"""``cramp tune``: search spaces, ranking on tuning nights, the verdict on held-out nights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cohort_helpers import shared_cohort, shared_scheduler

from detector.cli.main import main
from detector.cohort.search import load_search, parameter_sets
from detector.cohort.tables import read_table
from detector.cohort.tune import split_nights
from detector.config import DetectorConfig, load_config


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    return shared_cohort(tmp_path_factory, request)


@pytest.fixture(scope="module")
def scheduler(request: pytest.FixtureRequest) -> str:
    return shared_scheduler(request)


def test_tune_beats_a_bad_start_and_matches_defaults_on_held_out_nights(
        cohort: Path, scheduler: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Start from a set that drops every cramp shorter than 90 s; the grid also holds the
    # defaults (10 s) and a middling value. Tuning must pick a set whose held-out F1 is at
    # least the defaults', and strictly above the bad start's.
    start = tmp_path / "start.toml"
    start.write_text("[episode]\nmin_duration_s = 90.0\n")
    search = tmp_path / "search.toml"
    search.write_text('[search]\nmethod = "grid"\nseed = 5\n\n'
                      "[parameters.episode]\nmin_duration_s = [10.0, 40.0, 90.0]\n")
    out = tmp_path / "tune"
    argv = ["tune", str(cohort), "--search", str(search), "--out", str(out), "--config",
            str(start), "--holdout", "0.4", "--scheduler", scheduler, "--no-progress", "--tz",
            "UTC"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    rows = read_table(out / "tune.parquet")
    assert [r["rank"] for r in rows] == [1, 2, 3]  # 90 s twice is one set: deduplicated
    by_param = {r["parameters"]: r for r in rows}
    defaults = by_param["episode.min_duration_s=10.0"]
    bad = by_param["(starting set)"]
    best = rows[0]
    assert all(r["nights"] == 6 for r in rows)  # 10 nights, 4 held out
    assert [r["f1"] for r in rows] == sorted((r["f1"] for r in rows), reverse=True)
    assert best["heldout_f1"] >= defaults["heldout_f1"]
    assert best["heldout_f1"] > bad["heldout_f1"]  # the held-out figure does discriminate
    assert "held-out nights (4): best set F1" in text and "is at least as good as" in text
    set_no = defaults["set"]
    assert (f"is at least as good as the detector defaults' (set #{set_no}) F1 "
            f"{defaults['heldout_f1']:.3f}") in text
    tuned = load_config(out / "best.toml")
    assert tuned.episode.min_duration_s == float(best["parameters"].split("=")[1])
    assert tuned.episode.min_duration_s < 90.0
    assert all(len(r["parameter_hash"]) == 64 and r["detector_version"] for r in rows)

    # Tuning replays never reach an episode store (personal or replays); a replay does.
    from detector.store.db import STORE_FILES, store_path

    assert not any(store_path(kind).exists() for kind in STORE_FILES)
    assert main(["replay", str(sorted(cohort.glob("*.cramp"))[0]), "--tz", "UTC",
                 "--store", "personal"]) == 0
    assert store_path("personal").exists()
    capsys.readouterr()

    # Cross-validation by night reuses every replay (nothing to run again).
    assert main([*argv[:-7], "--folds", "2", "--scheduler", scheduler, "--no-progress",
                 "--tz", "UTC"]) == 0
    text = capsys.readouterr().out
    assert "0 replayed, 30 reused" in text
    assert "cross-validated over 2 folds of nights: tuned F1" in text
    assert "at least as good as the starting set" in text


def test_search_space_grid_random_and_errors(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[search]\nmethod = "grid"\n[parameters.episode]\n'
                 "min_duration_s = [10.0, 12.0]\nmin_confidence = { min = 0.3, max = 0.5, "
                 "steps = 3 }\n[parameters.emg]\nfilter_order = [2, 4]\n")
    sets, skipped = parameter_sets(load_search(f), DetectorConfig())
    # 2 x 3 x 2 = 12 combinations; the one equal to the defaults is not repeated.
    assert len(sets) == 1 + 12 - 1 and not skipped and sets[0][0] == {}
    assert {s[1].episode.min_confidence for s in sets} == {0.3, 0.4, 0.5}
    f.write_text('[search]\nmethod = "random"\nsamples = 6\nseed = 9\n[parameters.emg]\n'
                 "active_ratio = { min = 2.0, max = 8.0, log = true }\n")
    a, _ = parameter_sets(load_search(f), DetectorConfig())
    b, _ = parameter_sets(load_search(f), DetectorConfig())
    assert [s[0] for s in a] == [s[0] for s in b] and len(a) == 7
    assert all(2.0 <= s[1].emg.active_ratio <= 8.0 for s in a[1:])
    f.write_text('[parameters.emg]\nhighpass_hz = [20.0, 500.0]\n')
    sets, skipped = parameter_sets(load_search(f), DetectorConfig())
    assert len(sets) == 1 and len(skipped) == 1 and "lowpass" in skipped[0]
    f.write_text("[parameters.episode]\nmin_durations = [1.0]\n")
    (tmp_path / "n.cramp").write_bytes(b"")
    assert main(["tune", str(tmp_path / "n.cramp"), "--search", str(f), "--out",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "parameters.episode.min_durations: unknown key" in err and len(err.splitlines()) == 1


def test_night_split_depends_only_on_content_and_seed() -> None:
    shas = [f"{i:064x}" for i in range(10)]
    fold = split_nights(shas, holdout=0.3, folds=0, seed=4)
    assert sum(fold) == 3
    shuffled = list(np.random.default_rng(1).permutation(10))
    again = split_nights([shas[i] for i in shuffled], holdout=0.3, folds=0, seed=4)
    assert [again[shuffled.index(i)] for i in range(10)] == fold
    assert split_nights(shas, holdout=0.3, folds=0, seed=5) != fold  # the seed matters
    k = split_nights(shas, holdout=0.0, folds=3, seed=4)
    assert sorted(k) == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
