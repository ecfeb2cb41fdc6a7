"""File boundaries: inputs checked before use, outputs atomic, private, never replacing oddities."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.errors import CrampInputError
from detector.safe_files import (
    check_input_file,
    ensure_private_dir,
    publish_file,
    write_output_text,
    write_private_text,
)

KINDS = ("missing", "regular", "symlink", "dangling", "fifo", "directory", "no-folder")


def _make(tmp: Path, kind: str) -> Path:
    p = tmp / f"target-{kind}"
    if kind == "regular":
        p.write_text("precious\n")
    elif kind == "symlink":
        (tmp / "real").write_text("precious\n")
        p.symlink_to(tmp / "real")
    elif kind == "dangling":
        p.symlink_to(tmp / "nowhere")
    elif kind == "fifo":
        os.mkfifo(p)
    elif kind == "directory":
        p.mkdir()
    elif kind == "no-folder":
        p = tmp / "no-such-folder" / "x.json"
    return p


def _state(p: Path) -> tuple:
    try:
        st_ = os.lstat(p)
    except FileNotFoundError:
        return ("missing",)
    if stat.S_ISREG(st_.st_mode):
        return ("file", p.read_bytes())
    if stat.S_ISLNK(st_.st_mode):
        return ("link", os.readlink(p))
    return ("other", stat.S_IFMT(st_.st_mode))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), force=st.booleans(),
       text=st.text(max_size=200))
def test_outputs_are_written_only_over_nothing_or_a_regular_file_with_force(
        tmp_path_factory: pytest.TempPathFactory, kind: str, force: bool, text: str) -> None:
    tmp = tmp_path_factory.mktemp("out")
    target = _make(tmp, kind)
    before = _state(target)
    real_before = _state(tmp / "real")
    allowed = kind == "missing" or (kind == "regular" and force)
    try:
        write_private_text(target, text, force=force)
    except CrampInputError as exc:
        assert not allowed, exc
        assert str(exc).startswith(str(target)) and "\n" not in str(exc)
        assert _state(target) == before
    else:
        assert allowed
        assert target.read_bytes() == text.encode("utf-8")
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert _state(tmp / "real") == real_before  # a symlink's target is never touched
    assert not [p for p in tmp.iterdir() if p.name.startswith(".cramp-")]  # no temp left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old\n")

    def write(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(CrampInputError, match=r"r\.json: cannot write the file \(the disk is "
                                              r"full\)"):
        publish_file(target, write, force=True)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_stdout_names_write_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert write_output_text("-", "a\n", force=False) is None
    assert write_output_text("/dev/stdout", "b\n", force=False) is None
    assert capsys.readouterr().out == "a\nb\n"
    assert write_output_text(tmp_path / "f.txt", "c\n", force=False) == tmp_path / "f.txt"


@pytest.mark.parametrize(("kind", "fragment"), [
    ("missing", "recording not found"), ("directory", "is a directory; expected a regular "
                                                      "recording"),
    ("fifo", "is a FIFO (named pipe); expected a regular recording"),
    ("dangling", "recording not found"),
])
def test_inputs_that_are_not_regular_files_are_refused_before_opening(
        tmp_path: Path, kind: str, fragment: str) -> None:
    p = _make(tmp_path, kind)
    with pytest.raises(CrampInputError) as exc:
        check_input_file(p, what="recording")
    assert str(exc.value) == f"{p}: {fragment}"


def test_a_regular_file_and_a_link_to_one_are_inputs(tmp_path: Path) -> None:
    assert check_input_file(_make(tmp_path, "regular")) == tmp_path / "target-regular"
    assert check_input_file(_make(tmp_path, "symlink")).read_text() == "precious\n"


def test_devices_are_not_inputs() -> None:
    with pytest.raises(CrampInputError, match=r"^/dev/zero: is a device; expected a regular"):
        check_input_file("/dev/zero")


def test_unreadable_input_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _make(tmp_path, "regular")
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as for another user's file
    with pytest.raises(CrampInputError, match=r"cannot read the file \(permission denied\)"):
        check_input_file(p)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_private_dirs_are_0700_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        made = ensure_private_dir(tmp_path / "a" / "data", tighten=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir()
    loose.chmod(0o777)
    ensure_private_dir(loose, tighten=False)  # a folder the user chose is left alone...
    assert stat.S_IMODE(loose.stat().st_mode) == 0o777
    ensure_private_dir(loose, tighten=True)  # ...the program's own data folder is tightened
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700


def test_a_file_where_a_directory_is_wanted(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(CrampInputError, match="is a file; expected a directory"):
        ensure_private_dir(f, tighten=False)
    assert f.read_text() == "x"
