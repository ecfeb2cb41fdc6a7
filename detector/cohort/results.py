"""Per-night result files and the content-hash cache of a batch's output directory.

Layout of ``OUT/``::

    nights/<sha256>-<parameter hash, 16 hex>.json   one night's replay result
    hashes.jsonl                                   path, size, mtime -> sha256 (append-only)

A result file is written atomically (temporary file, then rename), so a batch killed at any
moment leaves only whole results; a rerun finds them and skips those nights. Files are 0600,
directories 0700 (health data).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from detector.errors import CrampInputError
from detector.safe_files import write_private_text

NIGHTS_DIR = "nights"
HASH_CACHE = "hashes.jsonl"


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) owner-only if missing; refuse a non-directory."""
    if path.exists() and not path.is_dir():
        raise CrampInputError(str(path), "exists and is not a directory")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


class ResultStore:
    """The result files and hash cache under one output directory.

    Parameters
    ----------
    out_dir : Path
        Output directory (created 0700 if missing).
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = private_dir(out_dir)
        self.nights_dir = private_dir(out_dir / NIGHTS_DIR)
        self._cache_path = out_dir / HASH_CACHE

    def result_path(self, sha256: str, parameter_hash: str) -> Path:
        """Where the result of these bytes under this parameter set lives."""
        return self.nights_dir / f"{sha256}-{parameter_hash[:16]}.json"

    def read(self, sha256: str, parameter_hash: str) -> dict[str, Any] | None:
        """The stored replay result (``cramp replay --json`` recording shape), or ``None``.

        A file that is unreadable or belongs to other bytes or parameters counts as absent
        (it is derived data: the night is simply replayed again).
        """
        path = self.result_path(sha256, parameter_hash)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (not isinstance(doc, dict) or doc.get("sha256") != sha256
                or doc.get("parameter_hash") != parameter_hash
                or not isinstance(doc.get("recording"), dict)):
            return None
        return doc["recording"]

    def write(self, sha256: str, parameter_hash: str, recording: dict[str, Any]) -> Path:
        """Store one night's result atomically; return its path."""
        path = self.result_path(sha256, parameter_hash)
        doc = {"sha256": sha256, "parameter_hash": parameter_hash, "recording": recording}
        write_private_text(path, json.dumps(doc, indent=1, sort_keys=True, allow_nan=False)
                           + "\n")
        return path

    def load_hashes(self) -> dict[tuple[str, int, int], str]:
        """The cache of content hashes: ``(absolute path, size, mtime_ns) -> sha256``.

        A torn last line (a batch killed while appending) is ignored.
        """
        out: dict[tuple[str, int, int], str] = {}
        try:
            lines = self._cache_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return out
        except (OSError, UnicodeDecodeError) as exc:
            raise CrampInputError(str(self._cache_path), f"cannot read the hash cache ({exc})"
                                  ) from None
        for line in lines:
            try:
                row = json.loads(line)
                out[(str(row["path"]), int(row["size"]), int(row["mtime_ns"]))] = str(
                    row["sha256"])
            except (ValueError, KeyError, TypeError):
                continue
        return out

    def add_hash(self, path: str, size: int, mtime_ns: int, sha256: str) -> None:
        """Append one entry to the hash cache."""
        line = json.dumps({"path": path, "size": size, "mtime_ns": mtime_ns,
                           "sha256": sha256}) + "\n"
        fd = os.open(self._cache_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
