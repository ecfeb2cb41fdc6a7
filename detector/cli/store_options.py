"""``--db`` / ``--store``: which episode store a command reads or writes.

Three stores live in the user data directory (``detector.store.db.STORE_FILES``): the sleeper's
own nights (``personal``, what the report, diary and causes read by default), replays of files
for tuning and the sample recordings (``replays``, where ``cramp replay`` writes by default)
and simulated demo nights (``demo``, where ``cramp record --simulate`` writes). ``--db PATH``
names any other file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the database module loads with the store, not with every command's options
    import sqlite3

STORE_KINDS: tuple[str, ...] = ("personal", "replays", "demo")
STORE_HELP = {
    "personal": "your own recorded nights",
    "replays": "replayed files (tuning, the sample recordings)",
    "demo": "simulated demo nights",
}


def add_store_choice(p: argparse.ArgumentParser | argparse._ArgumentGroup,
                     *, default: str, verb: str = "read") -> None:
    """Add ``--db PATH`` and ``--store KIND`` (mutually exclusive) to ``p``.

    Parameters
    ----------
    p : ArgumentParser or argument group
    default : {"personal", "replays", "demo"}
        The store used when neither option is given.
    verb : str
        "read" or "write", for the help text.
    """
    group = p.add_mutually_exclusive_group()
    group.add_argument("--db", metavar="PATH", type=Path,
                       help=f"episode store file to {verb} (default: the {default} store)")
    group.add_argument("--store", choices=STORE_KINDS, default=None,
                       help=f"which store in the user data folder to {verb}: "
                            + "; ".join(f"{k} = {v}" for k, v in STORE_HELP.items())
                            + f" (default {default})")
    # the default travels with the parsed options (argument groups have no set_defaults)
    p.add_argument("--store-default", dest="store_default", default=default,
                   choices=STORE_KINDS, help=argparse.SUPPRESS)


def store_kind(args: argparse.Namespace) -> str | None:
    """The store kind chosen (``None`` when ``--db`` names a file)."""
    if getattr(args, "db", None) is not None:
        return None
    chosen = getattr(args, "store", None)
    return str(chosen or getattr(args, "store_default", "personal"))


def db_path_from_args(args: argparse.Namespace) -> Path:
    """The store file the options ask for."""
    from detector.store.db import store_path

    if getattr(args, "db", None) is not None:
        return Path(args.db)
    kind = store_kind(args)
    return store_path(kind or "personal")


def one_night_per_recording(args: argparse.Namespace) -> bool:
    """Whether each recording is its own night (the replays store: unrelated files)."""
    return store_kind(args) == "replays"


def other_stores_hint(args: argparse.Namespace) -> str:
    """A sentence naming the other stores that hold nights, for an empty-store message."""
    from detector.store.db import store_path

    here = store_kind(args)
    others = [k for k in STORE_KINDS if k != here and store_path(k).is_file()]
    if not others:
        return ""
    return "; nights are in " + " and ".join(f"--store {k} ({STORE_HELP[k]})" for k in others)


def connect_for_reading(args: argparse.Namespace) -> sqlite3.Connection:
    """Open the chosen store for a command that reads nights; clear errors when empty.

    Raises
    ------
    CrampInputError
        If the store file does not exist or holds no night (naming the stores that do).
    """
    from detector.errors import CrampInputError
    from detector.store import connect, night_dates
    from detector.store.guard import damaged_store_errors

    path = db_path_from_args(args)
    kind = store_kind(args)
    what = f"the {kind} store" if kind else "this store"
    if not path.exists():
        raise CrampInputError(str(path), f"no nights in {what} yet{other_stores_hint(args)}")
    conn = connect(path, read_only=True)  # reading never creates, migrates or chmods it
    try:
        with damaged_store_errors(path):
            empty = not night_dates(conn)
    except BaseException:
        conn.close()
        raise
    if empty:
        conn.close()
        raise CrampInputError(str(path), f"no nights in {what} yet{other_stores_hint(args)}")
    return conn
