"""Which recordings a batch covers: files, folders, glob patterns and list files."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from detector.errors import CrampInputError

RECORDING_SUFFIXES: tuple[str, ...] = (
    ".cramp", ".capture", ".edf", ".bdf", ".rec", ".csv", ".tsv", ".txt",
    ".csv.gz", ".tsv.gz", ".txt.gz",
)
"""File endings taken as recordings when a folder is given."""
NOT_RECORDINGS: tuple[str, ...] = (
    ".truth.tsv", ".truth.csv", ".events.tsv", "_events.tsv", "_channels.tsv",
    "participants.tsv", "_scans.tsv",
)
"""File endings inside folders that are labels or metadata, never recordings."""
_GLOB_CHARS = set("*?[")


def expand_inputs(items: Iterable[str], *, list_files: Iterable[str] = ()) -> list[str]:
    """The absolute paths of the recordings named, sorted, each once.

    Parameters
    ----------
    items : iterable of str
        Files, folders (searched recursively for recordings) and glob patterns (``**``
        allowed).
    list_files : iterable of str
        Text files naming one recording (or folder, or pattern) per line; ``#`` starts a
        comment; relative names are read from the list file's folder.

    Raises
    ------
    CrampInputError
        A path that does not exist, a pattern or folder with no recording, an unreadable
        list file, or nothing at all to do.
    """
    names = [(item, Path.cwd()) for item in items]
    for lf in list_files:
        path = Path(lf)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CrampInputError(lf, f"cannot read the list file ({exc})") from None
        for line in text.splitlines():
            entry = line.split("#", 1)[0].strip()
            if entry:
                names.append((entry, path.parent.absolute()))
    found: set[str] = set()
    for name, base in names:
        found.update(_expand_one(name, base))
    if not found:
        raise CrampInputError("FILE", "no recordings given")
    return sorted(found)


def _expand_one(name: str, base: Path) -> list[str]:
    path = Path(name) if Path(name).is_absolute() else base / name
    if _GLOB_CHARS & set(name):
        hits = [Path(h) for h in glob.glob(str(path), recursive=True)]
        out = [p for h in hits for p in (_folder(h) if h.is_dir() else [h])]
        if not out:
            raise CrampInputError(name, "the pattern matches no recording")
        return [str(p.absolute()) for p in out]
    if path.is_dir():
        out = _folder(path)
        if not out:
            raise CrampInputError(name, "the folder holds no recording ("
                                  + ", ".join(RECORDING_SUFFIXES[:5]) + ", ...)")
        return [str(p.absolute()) for p in out]
    if not path.exists():
        raise CrampInputError(name, "no such file or folder")
    return [str(path.absolute())]


def _folder(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".") and _is_recording_name(p.name)]


def _is_recording_name(name: str) -> bool:
    low = name.lower()
    return low.endswith(RECORDING_SUFFIXES) and not low.endswith(NOT_RECORDINGS)
