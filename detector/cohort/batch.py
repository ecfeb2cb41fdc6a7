"""``cramp batch``: every night one task on the engine, results kept per night, then collated.

1. Content hashes: taken from the output directory's hash cache when the file's size and
   modification time are unchanged, else computed as tasks on the workers.
2. Each distinct content not yet replayed under this parameter set is replayed as one task
   (the adapter :func:`~detector.cohort.night_task.replay_night`); its result file is written
   as soon as it arrives, so a killed batch loses at most the nights in flight.
3. The tables of nights and episodes are collated from the result files, in sorted path
   order; failures go to ``failures.csv`` with their one-line error.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.cohort.engine import Engine, map_unordered, progress_bar
from detector.cohort.night_task import (
    ReplayOptions,
    hash_task,
    parameter_hash,
    replay_task,
)
from detector.cohort.results import ResultStore
from detector.cohort.tables import (
    EPISODE_COLUMNS,
    FAILURE_COLUMNS,
    NIGHT_COLUMNS,
    episode_rows,
    night_row,
    write_table,
)
from detector.config import DetectorConfig


@dataclass(kw_only=True)
class BatchSummary:
    """What a batch did.

    Attributes
    ----------
    total : int
        Recordings in the batch.
    skipped : int
        Recordings whose result was already there (no work done for them).
    replayed : int
        Recordings replayed in this run.
    failures : list of (str, str)
        Path and one-line error of each recording that failed.
    parameter_hash : str
        The parameter set's hash (in every table row).
    tables : list of Path
        Files written (nights, episodes, failures).
    elapsed_s : float
        Wall time of the run (s).
    engine_started : bool
        Whether any task ran (a fully resumed batch starts no cluster).
    """

    total: int = 0
    skipped: int = 0
    replayed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    parameter_hash: str = ""
    tables: list[Path] = field(default_factory=list)
    elapsed_s: float = 0.0
    engine_started: bool = False

    def line(self) -> str:
        """One-line summary for the terminal."""
        rate = self.replayed / self.elapsed_s * 60 if self.elapsed_s > 0 else 0.0
        return (f"batch: {self.total} night(s): {self.replayed} replayed, {self.skipped} "
                f"already done, {len(self.failures)} failed in {self.elapsed_s:.1f} s "
                f"({rate:.1f} nights/min); parameter hash {self.parameter_hash[:16]}")


def pin_timezone(config: DetectorConfig) -> DetectorConfig:
    """Fix the night window's time zone to this machine's, by name, if the config has none.

    Workers elsewhere (another machine, another ``TZ``) then read the night window alike, and
    the zone is part of the parameter hash.
    """
    if config.in_bed.timezone is not None:
        return config
    return config.replace(in_bed__timezone=local_zone_name())


def local_zone_name() -> str:
    """This machine's IANA time-zone name (``TZ``, else ``/etc/localtime``), else ``UTC``."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        candidates.append("")
    for name in candidates:
        if not name:
            continue
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        return name
    return "UTC"


def run_batch(paths: list[str], *, out_dir: Path, config: DetectorConfig,
              options: ReplayOptions, engine: Engine, progress: bool = True,
              on_result: Callable[[str], None] | None = None) -> BatchSummary:
    """Replay every recording not done yet under this parameter set; collate the tables.

    Parameters
    ----------
    paths : list of str
        Absolute recording paths (see :func:`~detector.cohort.inputs.expand_inputs`).
    out_dir : Path
        Output directory: result files, hash cache, tables.
    config : DetectorConfig
        Thresholds (give it a fixed time zone: see :func:`pin_timezone`).
    options : ReplayOptions
        Channel mapping, leg, CSV time unit.
    engine : Engine
        Where tasks run; started only if there is work.
    progress : bool
        Show a progress bar on a terminal.
    on_result : callable, optional
        Called with each path as its result file is written (tests use it to stop a batch
        halfway).

    Returns
    -------
    BatchSummary
    """
    t0 = time.perf_counter()
    out_dir = out_dir.absolute()
    paths = sorted(p for p in paths if not Path(p).is_relative_to(out_dir))
    store = ResultStore(out_dir)
    phash = parameter_hash(config, options)
    summary = BatchSummary(total=len(paths), parameter_hash=phash)
    failed: dict[str, str] = {}
    shas = content_hashes(paths, store, engine, failed)
    todo: dict[str, list[str]] = {}
    for path in paths:
        sha = shas.get(path)
        if sha is None:
            continue
        if store.read(sha, phash) is None:
            todo.setdefault(sha, []).append(path)
        else:
            summary.skipped += 1
    if todo:
        bar = progress_bar(sum(len(v) for v in todo.values()), desc="batch") if progress \
            else None
        t_work = time.perf_counter()
        done = 0
        for sha, out in map_unordered(engine, replay_task, list(todo),
                                      args_of=lambda s: (todo[s][0],),
                                      kwargs={"config": config, "options": options},
                                      name="cramp-replay"):
            group = todo[sha]
            if "result" in out:
                store.write(sha, phash, out["result"])
                summary.replayed += len(group)
                for p in group:
                    if on_result is not None:
                        on_result(p)
            else:
                for p in group:
                    failed[p] = out["error"]
            done += len(group)
            if bar is not None:
                rate = done / max(time.perf_counter() - t_work, 1e-9) * 60
                bar.set_postfix_str(f"failed {len(failed)}, {rate:.1f} nights/min",
                                    refresh=False)
                bar.update(len(group))
        if bar is not None:
            bar.close()
    summary.engine_started = engine.started
    summary.failures = sorted(failed.items())
    summary.tables = collate(paths, shas, store, phash, out_dir, summary.failures)
    summary.elapsed_s = time.perf_counter() - t0
    return summary


def content_hashes(paths: list[str], store: ResultStore, engine: Engine,
                   failed: dict[str, str]) -> dict[str, str]:
    """SHA-256 of each readable path (cached by size and mtime; computed on the workers).

    Unreadable paths are added to ``failed`` with their one-line error.
    """
    cache = store.load_hashes()
    shas: dict[str, str] = {}
    unknown = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError as exc:
            failed[path] = f"cannot read ({exc.strerror or exc})"
            continue
        sha = cache.get((path, st.st_size, st.st_mtime_ns))
        if sha is None:
            unknown.append(path)
        else:
            shas[path] = sha
    if unknown:
        for path, out in map_unordered(engine, hash_task, unknown, args_of=lambda p: (p,),
                                       kwargs={}, name="cramp-hash"):
            if "error" in out:
                failed[path] = out["error"]
                continue
            shas[path] = out["sha256"]
            store.add_hash(path, out["size"], out["mtime_ns"], out["sha256"])
    return shas


def collate(paths: list[str], shas: dict[str, str], store: ResultStore, phash: str,
            out_dir: Path, failures: list[tuple[str, str]]) -> list[Path]:
    """Write ``nights``, ``episodes`` (Parquet + CSV) and ``failures.csv`` for ``paths``."""
    nights: list[dict[str, Any]] = []
    episodes: list[dict[str, Any]] = []
    failed = {p for p, _ in failures}
    for path in paths:
        sha = shas.get(path)
        if sha is None or path in failed:
            continue
        rec = store.read(sha, phash)
        if rec is None:
            continue
        rec = {**rec, "path": path}
        result_file = str(store.result_path(sha, phash).relative_to(out_dir))
        nights.append(night_row(rec, sha256=sha, parameter_hash=phash,
                                result_file=result_file))
        episodes.extend(episode_rows(rec, sha256=sha, parameter_hash=phash))
    written = write_table(nights, NIGHT_COLUMNS, stem=out_dir / "nights")
    written += write_table(episodes, EPISODE_COLUMNS, stem=out_dir / "episodes")
    written += write_table([{"path": p, "error": e} for p, e in failures], FAILURE_COLUMNS,
                           stem=out_dir / "failures", parquet=False)
    return written
