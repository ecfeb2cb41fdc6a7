"""Files at the edge: inputs checked before work starts, outputs written atomically and privately.

Inputs (:func:`check_input_file`) must exist, be regular files and be readable; a FIFO, a
device or a directory given as an input is refused before anything opens it, so nothing can
hang on a pipe that never ends.

Outputs (:func:`publish_file`, :func:`write_private_text`, :func:`write_output_text`) are
written to a temporary file in the target's own folder, flushed to disk and then moved into
place, so a crash or a full disk never leaves a half-written file where a good one was. An
existing regular file is replaced only with ``force``; a symbolic link, FIFO, device or
directory at the target is never replaced. Files are created 0600 (they hold health data);
directories made for health data are 0700 whatever the umask.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from detector.errors import CrampInputError

STDOUT_NAMES: tuple[str, ...] = ("-", "/dev/stdout")
"""Output names that mean "standard output"."""


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def _os_problem(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    return exc.strerror or type(exc).__name__


def check_input_file(path: str | Path, *, what: str = "file", where: str | None = None) -> Path:
    """Return ``path`` if it names a readable regular file; raise a one-line error otherwise.

    Parameters
    ----------
    path : str or Path
        The input as the user gave it (symbolic links are followed).
    what : str
        What the file should be, for the message (e.g. ``"config file"``).
    where : str, optional
        How the message names the file (default: the path as given).

    Raises
    ------
    CrampInputError
        Missing, a directory, a FIFO/device/socket, or not readable.
    """
    p = Path(path)
    where = str(p) if where is None else where
    try:
        st = p.stat()
    except FileNotFoundError:
        raise CrampInputError(where, f"{what} not found") from None
    except OSError as exc:
        raise CrampInputError(where, f"cannot open the {what} ({_os_problem(exc)})") from None
    if not stat.S_ISREG(st.st_mode):
        raise CrampInputError(where, f"is {_kind(st.st_mode)}; expected a regular {what}")
    if not os.access(p, os.R_OK):
        raise CrampInputError(where, f"cannot read the {what} (permission denied)")
    return p


def is_stdout(name: str | Path) -> bool:
    """True when an output name means standard output (``-`` or ``/dev/stdout``)."""
    return str(name) in STDOUT_NAMES


def check_output_path(path: str | Path, *, force: bool) -> Path:
    """Check that ``path`` may be written: its folder is writable, nothing special is there.

    Raises
    ------
    CrampInputError
        The target is a directory, symbolic link, FIFO or device; it is an existing file and
        ``force`` is false; or its folder is missing or not writable.
    """
    p = Path(path)
    where = str(p)
    if p.name in ("", ".", ".."):
        raise CrampInputError(where, "expected a file name, not a directory")
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise CrampInputError(where, f"cannot check the output ({_os_problem(exc)})") from None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise CrampInputError(where, f"is {_kind(st.st_mode)}; not replacing it (expected "
                                         "a new or regular file name)")
        if not force:
            raise CrampInputError(where, "already exists; choose another name or pass --force")
    parent = p.parent
    if not parent.is_dir():
        raise CrampInputError(where, f"folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CrampInputError(where, f"cannot write in folder {parent} (permission denied)")
    return p


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_file(out: str | Path, write: Callable[[Path], None], *, force: bool) -> Path:
    """Write a private (0600) file without ever leaving a half-written one at ``out``.

    ``write(tmp)`` creates the content at a temporary path in a private folder next to
    ``out``; the result is flushed and moved to ``out``. An existing regular file is replaced
    only when ``force`` is set; anything else at ``out`` is never replaced.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    CrampInputError
        If ``out`` may not be written (see :func:`check_output_path`) or writing fails (disk
        full, permission denied, ...).
    """
    import tempfile  # here, not at start-up: most commands write no file (about 2 ms)

    out = check_output_path(out, force=force)
    where = str(out)
    try:
        tmp_dir = Path(tempfile.mkdtemp(prefix=".cramp-", dir=out.parent))
    except OSError as exc:
        raise CrampInputError(where, f"cannot write here ({_os_problem(exc)})") from None
    try:
        tmp = tmp_dir / out.name
        write(tmp)
        tmp.chmod(0o600)
        _fsync_file(tmp)
        if force:
            check_output_path(out, force=True)  # nothing special appeared meanwhile
            os.replace(tmp, out)
        else:
            try:
                os.link(tmp, out)  # fails if out appeared meanwhile: never overwrite
            except FileExistsError:
                raise CrampInputError(where, "already exists; choose another name or pass "
                                             "--force") from None
    except OSError as exc:
        raise CrampInputError(where, f"cannot write the file ({_os_problem(exc)})") from None
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return out


def write_private_text(path: str | Path, text: str, *, force: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` with mode 0600, atomically (see :func:`publish_file`).

    Raises
    ------
    CrampInputError
        If the file exists and ``force`` is false, the target is not a regular file, or the
        folder is missing, unwritable or full.
    """
    def write(tmp: Path) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)

    return publish_file(path, write, force=force)


def write_output_text(name: str | Path, text: str, *, force: bool) -> Path | None:
    """Write ``text`` to standard output (``-``, ``/dev/stdout``) or to a private file.

    Returns
    -------
    Path or None
        The file written, or ``None`` for standard output.
    """
    if is_stdout(name):
        sys.stdout.write(text)
        sys.stdout.flush()
        return None
    return write_private_text(name, text, force=force)


def ensure_private_dir(path: str | Path, *, tighten: bool) -> Path:
    """Create ``path`` (and missing parents) as a directory; the leaf is made mode 0700.

    Parameters
    ----------
    path : str or Path
        The directory.
    tighten : bool
        Also set 0700 on an existing directory (for the program's own data directory; a
        folder the user chose is left as it is).

    Raises
    ------
    CrampInputError
        ``path`` exists and is not a directory, or it cannot be created.
    """
    p = Path(path)
    where = str(p)
    if p.exists() and not p.is_dir():
        raise CrampInputError(where, "is a file; expected a directory")
    try:
        created = False
        if not p.is_dir():
            p.parent.mkdir(parents=True, exist_ok=True)
            try:
                p.mkdir(mode=0o700)
                created = True
            except FileExistsError:
                created = False
        if created or tighten:
            st = p.stat()
            if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != 0o700:
                p.chmod(0o700)  # chmod is not subject to the umask
    except OSError as exc:
        raise CrampInputError(where, f"cannot create the directory ({_os_problem(exc)})") \
            from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise CrampInputError(where, "cannot write in this directory (permission denied)")
    return p


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks (identifies a recording)."""
    import hashlib  # only where a recording is identified, not at every start-up

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
