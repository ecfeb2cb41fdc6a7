"""Creating files that hold health data: owner-only (0600), never clobbering by accident."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from detector.errors import CrampInputError


def write_private_text(path: str | Path, text: str, *, overwrite: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` with mode 0600.

    The data goes to a temporary file in the same directory first and is then renamed, so a
    crash never leaves a half-written file in place of a good one.

    Raises
    ------
    CrampInputError
        If the file exists and ``overwrite`` is false, or the directory is missing.
    """
    p = Path(path)
    if p.exists() and not overwrite:
        raise CrampInputError(str(p), "already exists; not overwriting it")
    if not p.parent.exists():
        raise CrampInputError(str(p), f"directory {p.parent} does not exist")
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks (identifies a recording)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
