"""The episode store: nights, episodes, gaps and run history in one SQLite file.

``save_night(result)`` is what ``cramp replay`` and ``cramp record`` call; the report and the
exports read nights back with :func:`load_night` / :func:`load_nights_on`.

The names below are imported on first use (PEP 562): a command's ``--help`` that only needs
:func:`default_db_path` does not load numpy and the night codec.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detector.store.db import connect, default_db_path, open_store, transaction
    from detector.store.night_queries import (
        day_totals,
        last_night_dates,
        load_night,
        load_nights_on,
        night_dates,
        night_ids_on,
        night_runs,
        parse_night_date,
        select_night_dates,
        stored_zone,
    )
    from detector.store.nights import (
        DayTotals,
        QualityPeriod,
        RunRecord,
        StoredNight,
        night_date_for,
        resolve_zone,
        save_night,
    )
    from detector.store.schema import CURRENT_VERSION, migrate, schema_version

_DB = ("connect", "default_db_path", "open_store", "transaction")
_SCHEMA = ("CURRENT_VERSION", "migrate", "schema_version")
_QUERIES = ("day_totals", "last_night_dates", "load_night", "load_nights_on", "night_dates",
            "night_ids_on", "night_runs", "parse_night_date", "select_night_dates",
            "stored_zone")

__all__ = [
    "CURRENT_VERSION",
    "DayTotals",
    "QualityPeriod",
    "RunRecord",
    "StoredNight",
    "connect",
    "day_totals",
    "default_db_path",
    "last_night_dates",
    "load_night",
    "load_nights_on",
    "migrate",
    "night_date_for",
    "night_dates",
    "night_ids_on",
    "night_runs",
    "open_store",
    "parse_night_date",
    "resolve_zone",
    "save_night",
    "schema_version",
    "select_night_dates",
    "stored_zone",
    "transaction",
]


def __getattr__(name: str) -> Any:
    """Import ``name`` from the submodule that defines it (first access only)."""
    if name not in __all__:
        raise AttributeError(f"module 'detector.store' has no attribute {name!r}")
    module = ("detector.store.db" if name in _DB else
              "detector.store.schema" if name in _SCHEMA else
              "detector.store.night_queries" if name in _QUERIES else "detector.store.nights")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
