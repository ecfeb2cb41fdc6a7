"""Reading a store whose contents may be damaged: one clear line instead of a traceback.

A store can be edited by hand, half-restored from a backup or written by a buggy version; its
cells may then hold text that is not UTF-8, JSON that does not parse, a date that is not a
date or a number where text belongs. The read-only commands wrap their reads in
:func:`damaged_store_errors`, which turns such a failure into a
:class:`~detector.errors.CrampInputError` naming the store file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from detector.errors import CrampError, CrampInputError


@contextmanager
def damaged_store_errors(db_path: Path | str | None) -> Iterator[None]:
    """Turn a failure to decode the store's contents into a one-line input error.

    Parameters
    ----------
    db_path : Path or str, optional
        The store file, for the message (``None``: the default store).

    Raises
    ------
    CrampInputError
        When the block raises ``ValueError`` (bad text, JSON, dates, numbers), ``TypeError``
        or ``KeyError`` (a cell of the wrong type or shape) or ``sqlite3.DatabaseError``.
    """
    if db_path is None:
        from detector.store.db import default_db_path

        db_path = default_db_path()
    try:
        yield
    except CrampError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError, sqlite3.DatabaseError) as exc:
        text = str(exc).strip().splitlines()
        detail = f"{type(exc).__name__}: {text[0][:120]}" if text else type(exc).__name__
        raise CrampInputError(str(db_path), f"the episode store holds damaged or unexpected "
                                            f"values ({detail})") from None
