"""Bad-input campaign: several hundred malformed inputs through the real ``cramp`` CLI.

Usage::

    python benchmarks/bad_input_campaign.py [--jobs 2] [--only CLASS] [--timeout 90]
                                            [--json OUT] [--verbose]

Builds small fixtures (a 3-minute simulated night with one cramp as EDF+, as a band capture
and as an EMG-only CSV; an episode store holding it), then runs each case as a child process
(``python -m detector.cli.main ...``) with a timeout, in a scratch folder whose ``HOME`` and
``XDG_DATA_HOME`` point inside it. Each outcome is one of:

- ``clean error``: exit 2, exactly one ``error:`` line on stderr, no traceback, no warning;
- ``accepted valid``: exit 0 and the case's check of the output passed (e.g. the one cramp
  found at its true onset, the JSON parses, a file was written where it should be);
- ``traceback``: a Python traceback, a crash signal (an out-of-memory kill) or an unexpected
  exit code;
- ``hang``: the timeout expired (the process group is killed);
- ``wrong``: exit 0 on input that had to be refused, a warning printed, a valid input
  refused, an error that is not one line, or a side effect that must not happen (a file
  replaced, written outside its folder, a foreign database modified).

Cases that need an unprivileged user (permission denied) run as ``nobody`` via ``setpriv``
when the campaign runs as root; cases that need a full disk use a 64 KiB tmpfs when
``mount`` is allowed. Either is skipped (and counted as skipped) when not possible.

Exit status: 0 when no case ended as traceback, hang or wrong; 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTCOMES = ("clean error", "accepted valid", "traceback", "hang", "wrong")
CRAMP_ONSET_S = 98.5  # the fixture night's one cramp (truth table), 36.6 s long


@dataclass
class Result:
    """What a child process did."""

    rc: int | None
    out: str
    err: str
    timed_out: bool
    seconds: float


Check = Callable[[Result], str | None]


@dataclass
class Case:
    """One malformed (or valid control) input."""

    cls: str
    name: str
    argv: list[str]
    expect: str = "error"  # "error", "ok" (a correct result) or "either"
    check: Check | None = None  # for exit 0: None if the output is right, else the problem
    after: Callable[[], str | None] | None = None  # side effects, checked after any exit
    owner: str = ""  # "10a" for the capture-timing defects another branch owns
    user: str = "root"  # "nobody": run unprivileged
    allow_rc1: bool = False
    timeout: float = 90.0
    umask: int | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    case: Case
    outcome: str
    detail: str
    seconds: float


# ----------------------------------------------------------------------------- running


def run_child(case: Case, work: Path, timeout: float) -> Result:
    cmd = [sys.executable, "-m", "detector.cli.main", *case.argv]
    if case.user == "nobody":
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    env = {**os.environ, "HOME": str(work / "home"), "XDG_DATA_HOME": str(work / "xdg"),
           "TZ": "UTC", "PYTHONPATH": str(ROOT), "COLUMNS": "100", **case.env}
    env.pop("PYTHONWARNINGS", None)

    def pre() -> None:
        if case.umask is not None:
            os.umask(case.umask)

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=work / "cwd", env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=pre)
    try:
        out, err = proc.communicate(timeout=min(timeout, case.timeout))
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    return Result(proc.returncode, out.decode("utf-8", "replace"),
                  err.decode("utf-8", "replace"), timed_out, time.perf_counter() - t0)


def classify(case: Case, r: Result) -> tuple[str, str]:
    side = case.after() if case.after is not None else None
    last = r.err.strip().splitlines()[-1] if r.err.strip() else ""
    if r.timed_out:
        return "hang", f"no exit after {r.seconds:.0f} s"
    if "Traceback (most recent call last)" in r.err or r.rc is None or r.rc < 0 or \
            r.rc not in (0, 1, 2):
        return "traceback", last[:160] or f"exit {r.rc}"
    if side is not None:
        return "wrong", side
    if "Warning" in r.err and "warning:" not in r.err.lower().split("cramp:")[0]:
        return "wrong", "a Python warning was printed: " + next(
            (ln for ln in r.err.splitlines() if "Warning" in ln), "")[:160]
    if r.rc == 2:
        error_lines = [ln for ln in r.err.splitlines() if "error:" in ln]
        if len(error_lines) != 1 or not error_lines[0].startswith("cramp"):
            return "wrong", f"exit 2 but not one error line: {r.err.strip()[:160]!r}"
        if case.expect == "ok":
            return "wrong", f"valid input refused: {error_lines[0][:160]}"
        return "clean error", error_lines[0][:160]
    if r.rc == 1:
        if case.allow_rc1:
            return "accepted valid", "exit 1 (reported damage, as asked)"
        return "wrong", f"exit 1: {last[:160]}"
    if case.expect == "error":
        return "wrong", f"exit 0 on bad input: {r.out.strip()[:120]!r}"
    problem = case.check(r) if case.check is not None else None
    if problem:
        return "wrong", problem
    return "accepted valid", "ok"


# ----------------------------------------------------------------------------- checks


def json_out(r: Result) -> dict | None:
    try:
        return json.loads(r.out)
    except ValueError:
        return None


def found_cramp_at(onset_s: float) -> Check:
    """The fixture's one cramp is found at ``onset_s`` (within 5 s), 25-45 s long."""
    def check(r: Result) -> str | None:
        doc = json_out(r)
        if doc is None:
            return f"stdout is not JSON: {r.out[:80]!r}"
        eps = doc["recordings"][0]["episodes"]
        near = [e for e in eps if abs(e["onset_s"] - onset_s) < 5
                and 25 <= e["duration_s"] <= 45]
        if len(near) != 1 or len(eps) != 1:
            return f"expected the one cramp near {onset_s} s, got " \
                   f"{[(round(e['onset_s']), round(e['duration_s'])) for e in eps]}"
        return None
    return check


found_cramp = found_cramp_at(CRAMP_ONSET_S)


def sane_json(r: Result) -> str | None:
    """A replay JSON whose numbers are finite and whose night is the fixture's length."""
    doc = json_out(r)
    if doc is None:
        return f"stdout is not JSON: {r.out[:80]!r}"
    rec = doc["recordings"][0]
    if not 0 < rec["duration_s"] <= 7 * 86400:
        return f"duration {rec['duration_s']} s"
    for e in rec["episodes"]:
        if not (0 <= e["onset_s"] <= rec["duration_s"] + 1 and e["duration_s"] >= 0):
            return f"episode outside the recording: {e['onset_s']}"
    return None


def has_gap(r: Result) -> str | None:
    """The replay JSON lists a gap."""
    doc = json_out(r) or {"recordings": [{"gaps": []}]}
    return None if doc["recordings"][0]["gaps"] else "gap not reported"


def contains(text: str) -> Check:
    def check(r: Result) -> str | None:
        return None if text in r.out + r.err else f"output lacks {text!r}"
    return check


def all_of(*checks: Check) -> Check:
    def check(r: Result) -> str | None:
        for c in checks:
            problem = c(r)
            if problem:
                return problem
        return None
    return check


def unchanged(path: Path) -> Callable[[], str | None]:
    """The file (or link, FIFO) at ``path`` is exactly as it was."""
    before = snapshot(path)

    def after() -> str | None:
        now = snapshot(path)
        return None if now == before else f"{path.name} was modified ({before} -> {now})"
    return after


def snapshot(path: Path) -> tuple:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ("missing",)
    if stat.S_ISREG(st.st_mode):
        return ("file", stat.S_IMODE(st.st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    return ("other", stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode))


def absent(path: Path) -> Callable[[], str | None]:
    def after() -> str | None:
        return f"{path} was written" if path.exists() or path.is_symlink() else None
    return after


# ----------------------------------------------------------------------------- fixtures


def cli(work: Path, *argv: str) -> None:
    subprocess.run([sys.executable, "-m", "detector.cli.main", *argv], check=True, cwd=work,
                   env={**os.environ, "HOME": str(work / "home"), "PYTHONPATH": str(ROOT),
                        "XDG_DATA_HOME": str(work / "xdg"), "TZ": "UTC"},
                   stdout=subprocess.DEVNULL)


def build_fixtures(work: Path) -> dict[str, Path]:
    fx = work / "fx"
    fx.mkdir()
    for d in ("home", "xdg", "cwd", "out"):
        (work / d).mkdir()
    cli(work, "simulate", "--hours", "0.05", "--seed", "3", "--cramps", "1", "--format", "edf",
        "--out", str(fx), "--name", "night")
    cli(work, "simulate", "--hours", "0.05", "--seed", "3", "--cramps", "1", "--out", str(fx),
        "--name", "cap")
    edf, cap = fx / "night.edf", fx / "cap.cramp"
    csv_path = fx / "night.csv"
    write_emg_csv(edf, csv_path)
    store = fx / "store.sqlite3"
    cli(work, "replay", str(edf), "--db", str(store), "--no-night-window")
    for p in fx.iterdir():
        p.chmod(0o644)
    fx.chmod(0o755)
    work.chmod(0o755)
    for d in ("home", "xdg", "cwd", "out"):
        (work / d).chmod(0o777)
    return {"edf": edf, "cap": cap, "csv": csv_path, "store": store,
            "truth": fx / "night.truth.tsv"}


def write_emg_csv(edf: Path, out: Path) -> None:
    import numpy as np
    import pyedflib

    with pyedflib.EdfReader(str(edf)) as r:
        labels = r.getSignalLabels()
        i = next(k for k, lab in enumerate(labels) if "EMG" in lab)
        x = r.readSignal(i)
        fs = r.getSampleFrequency(i)
        unit = r.getPhysicalDimension(i)
    scale = {"uV": 1.0, "mV": 1000.0, "V": 1e6}[unit]
    t = np.arange(x.size) / fs
    with out.open("w") as fh:
        fh.write("time_s,emg_uv\n")
        for a, b in zip(t.tolist(), (x * scale).tolist(), strict=True):
            fh.write(f"{a:.4f},{b:.3f}\n")


def fifo(work: Path, name: str) -> Path:
    p = work / "special" / name
    p.parent.mkdir(exist_ok=True)
    os.mkfifo(p)
    return p


# ----------------------------------------------------------------------------- EDF editing

_SIG = (("label", 16), ("transducer", 80), ("dimension", 8), ("phys_min", 8), ("phys_max", 8),
        ("dig_min", 8), ("dig_max", 8), ("prefilter", 80), ("spr", 8), ("reserved", 32))
_FIXED = {"version": (0, 8), "patient": (8, 80), "recording": (88, 80), "startdate": (168, 8),
          "starttime": (176, 8), "header_bytes": (184, 8), "reserved": (192, 44),
          "n_records": (236, 8), "duration": (244, 8), "ns": (252, 4)}


def edf_edit(src: Path, dst: Path, *, fixed: dict[str, str] | None = None,
             signal_fields: dict[tuple[str, int], str] | None = None,
             tail: bytes = b"", truncate: int | None = None,
             flips: list[int] | None = None) -> Path:
    data = bytearray(src.read_bytes())
    ns = int(data[252:256])
    for name, text in (fixed or {}).items():
        off, width = _FIXED[name]
        data[off:off + width] = text.encode("latin-1").ljust(width)[:width]
    for (name, i), text in (signal_fields or {}).items():
        off = 256
        for fname, width in _SIG:
            if fname == name:
                pos = off + i * width
                data[pos:pos + width] = text.encode("latin-1").ljust(width)[:width]
                break
            off += ns * width
    for pos in flips or []:
        data[pos] ^= 0xFF
    if truncate is not None:
        data = data[:truncate]
    dst.write_bytes(bytes(data) + tail)
    return dst


def edf_signal_index(src: Path, needle: str) -> int:
    data = src.read_bytes()
    ns = int(data[252:256])
    labels = [data[256 + 16 * i:256 + 16 * (i + 1)].decode("latin-1") for i in range(ns)]
    return next(i for i, lab in enumerate(labels) if needle in lab)


# ----------------------------------------------------------------------------- capture editing


def capture_records(path: Path) -> tuple[bytes, list[tuple[int, bytes]]]:
    raw = path.read_bytes()
    head, pos, out = raw[:16], 16, []
    while pos + 9 <= len(raw):
        _sync, rtype, length = struct.unpack_from("<4sBI", raw, pos)
        body = raw[pos + 9:pos + 9 + length]
        out.append((rtype, body))
        pos += 9 + length + 4
    return head, out


def capture_write(dst: Path, head: bytes, records: list[tuple[int, bytes]]) -> Path:
    parts = [head]
    for rtype, body in records:
        h = struct.pack("<4sBI", b"\xd3\x1c\xa5\x7e", rtype, len(body))
        crc = zlib.crc32(body, zlib.crc32(h[4:]))
        parts += [h, body, struct.pack("<I", crc)]
    dst.write_bytes(b"".join(parts))
    return dst


def capture_retime(src: Path, dst: Path, change: Callable[[int, float, float], float],
                   keep_s: float | None = None) -> Path:
    """Rewrite each packet's host time with ``change(k, t, t0)``; keep ``keep_s`` seconds."""
    head, recs = capture_records(src)
    t0 = next(struct.unpack_from("<Hd", b)[1] for t, b in recs if t == 3)
    out, k = [], 0
    for rtype, body in recs:
        if rtype == 3:
            sid, t = struct.unpack_from("<Hd", body)
            if keep_s is not None and t - t0 > keep_s:
                continue
            body = struct.pack("<Hd", sid, change(k, t, t0)) + body[10:]
            k += 1
        elif rtype == 4 and keep_s is not None:
            at = struct.unpack_from("<d", body)[0]
            if at - t0 > keep_s:
                continue
        out.append((rtype, body))
    return capture_write(dst, head, out)


# ----------------------------------------------------------------------------- the cases


def cases(work: Path, fx: dict[str, Path], *, full_dir: Path | None,
          as_nobody: bool) -> list[Case]:
    edf, cap, csv_path, store = fx["edf"], fx["cap"], fx["csv"], fx["store"]
    bad = work / "bad"
    bad.mkdir()
    out = work / "out"
    base = ["--no-store", "--no-night-window", "--json", "-"]
    cs: list[Case] = []

    def replay(path: Path, *extra: str) -> list[str]:
        return ["replay", str(path), *base, *extra]

    # ---------------------------------------------------------------- config
    import tomllib  # noqa: F401  (the values below are TOML text)

    sys.path.insert(0, str(ROOT))
    from detector.config_bounds import FIELD_BOUNDS

    k = 0

    def cfg(text: str) -> Path:
        nonlocal k
        k += 1
        p = bad / f"c{k}.toml"
        p.write_text(text)
        return p

    def toml_line(key: str, value: str) -> str:
        if "." in key:
            section, name = key.split(".", 1)
            return f"[{section}]\n{name} = {value}\n"
        return f"{key} = {value}\n"

    for key in FIELD_BOUNDS:
        values = ["inf", "nan", "1e300"]
        if key == "emg.mains_hz":
            values = [f"[{v}]" for v in values]
        for v in values:
            cs.append(Case("config", f"{key}={v}", replay(edf, "--config",
                                                            str(cfg(toml_line(key, v))))))
    for text, name in [
        ("[emg]\nbaseline_window_s = 1e15\n", "baseline_window_s absurd"),
        ("epoch_s = 1e-300\n", "epoch_s tiny"), ("epoch_s = 0.3\n", "epoch_s not dividing 1 s"),
        ("[emg]\nmains_hz = [100.0]\n", "notch at Nyquist of min_fs"),
        ("[emg]\nmains_hz = [250.0]\nmin_fs_hz = 400.0\n", "notch above Nyquist of min fs"),
        ("[emg]\nnotch_q = 1e-300\n", "notch_q tiny"), ("[emg]\nnotch_q = 0\n", "notch_q 0"),
        ("[emg]\nfilter_order = 100000000000000000000000\n", "huge int"),
        ("[emg]\nhighpass_hz = 1" + "0" * 400 + "\n", "400-digit int"),
        ("[episode]\nmin_duration_s = 1e308\n", "min_duration 1e308"),
        ("[episode]\nmin_duration_s = 'ten'\n", "string"),
        ("[episode]\nmin_duration_s = true\n", "bool"),
        ("[episode]\nmin_duration_s = [1, 2]\n", "list for float"),
        ("[emg]\nmains_hz = 50\n", "scalar for list"),
        ("[emg]\nmains_hz = ['a']\n", "strings in list"),
        ("[in_bed]\nnight_window = 5\n", "number for string"),
        ("[in_bed]\nnight_window = '99:99-00:00'\n", "bad window"),
        ("[in_bed]\ntimezone = 'Mars/Olympus'\n", "bad zone"),
        ("[in_bed]\ntimezone = '../../../etc/passwd'\n", "zone path"),
        ("[nope]\nx = 1\n", "unknown section"), ("[emg]\nnope = 1\n", "unknown key"),
        ("emg = 3\n", "section not a table"), ("x = [" * 5000 + "]" * 5000 + "\n", "deep"),
        ("[emg\n", "not TOML"), ("a = " + "[" * 100000 + "\n", "very deep"),
        ("[emg]\nlowpass_hz = 10\n", "lowpass below highpass"),
        ("[in_bed]\nmin_rest_s = 1e12\n", "min_rest absurd"),
        ("[motion]\nlying_max_incline_deg = 90\n", "incline 90"),
        ("[episode]\nmin_duty = 1.5\n", "duty > 1"),
        ("[emg]\nbaseline_window_s = 1\nbaseline_block_s = 5\n", "window < block"),
    ]:
        cs.append(Case("config", name, replay(edf, "--config", str(cfg(text)))))
    raw = bad / "bin.toml"
    raw.write_bytes(bytes(range(256)) * 20)
    cs.append(Case("config", "binary file", replay(edf, "--config", str(raw))))
    latin = bad / "latin.toml"
    latin.write_bytes("[episode]\n# caf\xe9\nmin_duration_s = 12\n".encode("latin-1"))
    cs.append(Case("config", "not UTF-8", replay(edf, "--config", str(latin))))
    cs.append(Case("config", "directory", replay(edf, "--config", str(bad))))
    cs.append(Case("config", "FIFO", replay(edf, "--config", str(fifo(work, "cfg.toml")))))
    cs.append(Case("config", "/dev/zero", replay(edf, "--config", "/dev/zero")))
    cs.append(Case("config", "missing", replay(edf, "--config", str(bad / "none.toml"))))
    cs.append(Case("config", "record FIFO", ["record", "--simulate", "--config",
                                             str(fifo(work, "cfg2.toml"))]))
    if as_nobody:
        secret = bad / "secret.toml"
        secret.write_text("[episode]\nmin_duration_s = 12\n")
        secret.chmod(0o600)
        cs.append(Case("config", "unreadable", replay(edf, "--config", str(secret)),
                       user="nobody"))
    for text, name in [("[episode]\nmin_duration_s = 12\n", "min_duration 12"),
                       ("[emg]\nmains_hz = [60]\n", "60 Hz only"),
                       ("[emg]\nnotch_q = 20\n", "notch_q 20"), ("", "empty file"),
                       ("epoch_s = 0.05\n", "epoch 0.05"),
                       ("[in_bed]\ntimezone = 'Europe/Berlin'\n", "zone")]:
        cs.append(Case("config", f"valid: {name}", replay(edf, "--config", str(cfg(text))),
                       expect="ok", check=found_cramp))

    # ---------------------------------------------------------------- paths and outputs
    cs.append(Case("paths", "valid: --json -", replay(edf), expect="ok", check=found_cramp))
    cs.append(Case("paths", "valid: --json /dev/stdout",
                   ["replay", str(edf), "--no-store", "--no-night-window", "--json",
                    "/dev/stdout"], expect="ok", check=found_cramp))
    target = out / "real.json"
    target.write_text("precious\n")
    link = out / "link.json"
    link.symlink_to(target)
    p_fifo = fifo(work, "out.json")
    existing = out / "existing.json"
    existing.write_text("precious\n")
    for name, dest, extra in [("symlink", link, []), ("symlink --force", link, ["--force"]),
                              ("FIFO", p_fifo, []), ("FIFO --force", p_fifo, ["--force"]),
                              ("existing file", existing, [])]:
        cs.append(Case("paths", f"--json {name}",
                       ["replay", str(edf), "--no-store", "--json", str(dest), *extra],
                       after=all_of_after(unchanged(dest), unchanged(target))))
    for dev in ("/dev/null", "/dev/full"):
        cs.append(Case("paths", f"--json {dev} --force",
                       ["replay", str(edf), "--no-store", "--json", dev, "--force"],
                       after=unchanged(Path(dev))))
    forced = out / "forced.json"
    forced.write_text("old\n")
    cs.append(Case("paths", "valid: --json existing --force",
                   ["replay", str(edf), "--no-store", "--no-night-window", "--json",
                    str(forced), "--force"], expect="ok",
                   check=lambda r: None if json.loads(forced.read_text())["recordings"]
                   [0]["episodes"] else "no episodes in the file written"))
    fresh = out / "fresh.json"
    cs.append(Case("paths", "valid: --json new file",
                   ["replay", str(edf), "--no-store", "--json", str(fresh)], expect="ok",
                   check=lambda r: None if fresh.exists() and stat.S_IMODE(
                       fresh.stat().st_mode) == 0o600 else "not written 0600"))
    for name, dest in [("directory", out), ("missing folder", out / "nope" / "x.json"),
                       ("dot", Path(".")), ("trailing slash", Path(str(out) + "/"))]:
        cs.append(Case("paths", f"--json {name}",
                       ["replay", str(edf), "--no-store", "--json", str(dest)]))
    cs.append(Case("paths", "eval --json symlink",
                   ["eval", str(edf), "--labels", str(fx["truth"]), "--json", str(link)],
                   after=unchanged(target)))
    cs.append(Case("paths", "eval --json FIFO",
                   ["eval", str(edf), "--labels", str(fx["truth"]), "--json", str(p_fifo)]))
    cs.append(Case("paths", "valid: eval --json -",
                   ["eval", str(edf), "--labels", str(fx["truth"]), "--no-night-window",
                    "--json", "-"], expect="ok",
                   check=lambda r: None if (json_out(r) or {}).get("pooled") else "no JSON"))
    # inputs
    rec_fifo = fifo(work, "rec.edf")
    for name, path in [("missing", bad / "none.edf"), ("directory", bad),
                       ("FIFO .edf", rec_fifo), ("FIFO .csv", fifo(work, "rec.csv")),
                       ("FIFO .cramp", fifo(work, "rec.cramp")), ("/dev/zero", Path("/dev/zero")),
                       ("/dev/null", Path("/dev/null")), ("empty", bad / "empty.edf"),
                       ("symlink loop", bad / "loop.edf")]:
        cs.append(Case("paths", f"replay {name}", replay(path)))
    (bad / "empty.edf").write_bytes(b"")
    (bad / "loop.edf").symlink_to(bad / "loop.edf")
    ok_link = bad / "ok-link.edf"
    ok_link.symlink_to(edf)
    cs.append(Case("paths", "valid: replay via symlink", replay(ok_link), expect="ok",
                   check=found_cramp))
    cs.append(Case("paths", "recover FIFO", ["recover", str(fifo(work, "r.cramp"))]))
    cs.append(Case("paths", "recover directory", ["recover", str(bad)]))
    cs.append(Case("paths", "recover /dev/zero", ["recover", "/dev/zero"]))
    cs.append(Case("paths", "eval --labels FIFO",
                   ["eval", str(edf), "--labels", str(fifo(work, "l.tsv"))]))
    cs.append(Case("paths", "eval --pred FIFO", ["eval", "--pred", str(fifo(work, "p.json"))]))
    cs.append(Case("paths", "causes --rules-file FIFO",
                   ["causes", "--db", str(store), "--rules-file", str(fifo(work, "r.toml"))]))
    cs.append(Case("paths", "--db FIFO", ["replay", str(edf), "--db",
                                          str(fifo(work, "db.sqlite3"))]))
    cs.append(Case("paths", "--db directory", ["replay", str(edf), "--db", str(out)]))
    cs.append(Case("paths", "report --db FIFO", ["report", "--db", str(fifo(work, "r.db"))]))
    cs.append(Case("paths", "report --db missing", ["report", "--db", str(bad / "no.db")],
                   after=absent(bad / "no.db")))
    # report / export outputs
    rep_existing = out / "rep.html"
    rep_existing.write_text("precious")
    for name, dest, extra in [("symlink", link, []), ("FIFO", p_fifo, ["--force"]),
                              ("existing", rep_existing, []), ("directory", out, []),
                              ("missing folder", out / "no" / "r.html", [])]:
        cs.append(Case("paths", f"report --out {name}",
                       ["report", "--db", str(store), "--out", str(dest), *extra],
                       after=all_of_after(unchanged(target), unchanged(rep_existing))))
    for fmt in ("csv", "json", "edf"):
        for name, dest in [("symlink", link), ("FIFO", p_fifo), ("existing", rep_existing),
                           ("directory", out)]:
            cs.append(Case("paths", f"export {fmt} --out {name}",
                           ["export", "--db", str(store), "--format", fmt, "--out", str(dest)],
                           after=all_of_after(unchanged(target), unchanged(rep_existing))))
    exp_ok = out / "events.csv"
    cs.append(Case("paths", "valid: export csv", ["export", "--db", str(store), "--format",
                                                  "csv", "--out", str(exp_ok)], expect="ok",
                   check=lambda r: None if exp_ok.exists() and "onset" in exp_ok.read_text()
                   else "no events table"))
    rep_ok = out / "ok.html"
    cs.append(Case("paths", "valid: report --out", ["report", "--db", str(store), "--out",
                                                     str(rep_ok)], expect="ok",
                   check=lambda r: None if rep_ok.exists() else "no report"))
    # simulate / record directories and names
    a_file = out / "a-file"
    a_file.write_text("x")
    cs.append(Case("paths", "simulate --out a file", ["simulate", "--hours", "0.05", "--seed",
                                                      "1", "--out", str(a_file)],
                   after=unchanged(a_file)))
    cs.append(Case("paths", "record --out a file", ["record", "--simulate", "--out",
                                                    str(a_file)], after=unchanged(a_file)))
    sim_dir = out / "sim"
    sim_dir.mkdir()
    for nm in ("../escape", "/tmp/abs", "a/b", ".hidden", "..", "", "x" * 300, "a\nb"):
        cs.append(Case("paths", f"simulate --name {nm[:20]!r}",
                       ["simulate", "--hours", "0.05", "--seed", "1", "--out", str(sim_dir),
                        "--name", nm], after=absent(out / "escape.cramp")))
    cs.append(Case("paths", "valid: simulate into a new folder",
                   ["simulate", "--hours", "0.02", "--seed", "2", "--out",
                    str(out / "new" / "dir")], expect="ok",
                   check=lambda r: None if stat.S_IMODE((out / "new" / "dir").stat().st_mode)
                   == 0o700 else "new folder not 0700"))
    if as_nobody:
        ro_dir = work / "rodir"
        ro_dir.mkdir(mode=0o755)
        cs.append(Case("paths", "--json in unwritable folder",
                       ["replay", str(edf), "--no-store", "--json", str(ro_dir / "x.json")],
                       user="nobody"))
        cs.append(Case("paths", "--db in unwritable folder",
                       ["replay", str(edf), "--db", str(ro_dir / "x.sqlite3")], user="nobody"))
        cs.append(Case("paths", "simulate --out unwritable",
                       ["simulate", "--hours", "0.05", "--seed", "1", "--out", str(ro_dir)],
                       user="nobody"))
        cs.append(Case("paths", "record --out unwritable",
                       ["record", "--simulate", "--out", str(ro_dir / "sub")], user="nobody"))
        cs.append(Case("paths", "report --out unwritable",
                       ["report", "--db", str(store), "--out", str(ro_dir / "r.html")],
                       user="nobody"))
        secret = bad / "secret.edf"
        shutil.copy(edf, secret)
        secret.chmod(0o600)
        cs.append(Case("paths", "unreadable recording", replay(secret), user="nobody"))
    if full_dir is not None:
        cs.append(Case("paths", "--json on a full disk",
                       ["replay", str(edf), "--no-store", "--json", str(full_dir / "x.json")]))
        cs.append(Case("paths", "report --out on a full disk",
                       ["report", "--db", str(store), "--out", str(full_dir / "r.html")]))
        cs.append(Case("paths", "--db on a full disk",
                       ["replay", str(edf), "--db", str(full_dir / "s.sqlite3")]))
        cs.append(Case("paths", "simulate on a full disk",
                       ["simulate", "--hours", "0.05", "--seed", "1", "--out", str(full_dir)]))
        cs.append(Case("paths", "export edf on a full disk",
                       ["export", "--db", str(store), "--format", "edf", "--out",
                        str(full_dir / "x.edf")]))
    # data directory mode
    for umask in (0o000, 0o022):
        home = work / f"home{umask:o}"
        home.mkdir(mode=0o777)
        home.chmod(0o777)

        def mode_check(r: Result, home: Path = home) -> str | None:
            d = home / "night-cramp-detector"
            stores = sorted(d.glob("*.sqlite3")) if d.is_dir() else []
            if not stores:
                return "no data directory or store created"
            db = stores[0]
            modes = (stat.S_IMODE(d.stat().st_mode), stat.S_IMODE(db.stat().st_mode))
            return None if modes == (0o700, 0o600) else f"modes {modes[0]:o}/{modes[1]:o}"
        cs.append(Case("paths", f"valid: data dir at umask {umask:03o}",
                       ["replay", str(edf)], expect="ok", check=mode_check, umask=umask,
                       env={"XDG_DATA_HOME": str(home)}))

    # ---------------------------------------------------------------- EDF headers
    emg_i = edf_signal_index(edf, "EMG")
    n = 0

    def e(**kw: object) -> Path:
        nonlocal n
        n += 1
        return edf_edit(edf, bad / f"h{n}.edf", **kw)  # type: ignore[arg-type]

    for fld, values in [
        ("phys_min", ["1e308", "-1e308", "nan", "inf", "-inf", "1e30", "x", "", "3200"]),
        ("phys_max", ["1e308", "-1e308", "nan", "inf", "1e30", "-3200", "", "1e-300"]),
        ("dig_min", ["32767", "-99999999", "1e3", "nan", "0.5", ""]),
        ("dig_max", ["-32768", "99999999", "nan", "", "2.5"]),
        ("spr", ["0", "-1", "99999999", "1e9", "nan", "", "1"]),
        ("dimension", ["kV", "V", "xx", "", "\x00\x01", "nV"]),
        ("label", ["", "\xff\xfe", "EMG EMG EMG"]),
    ]:
        for v in values:
            cs.append(Case("edf header", f"EMG {fld}={v!r}",
                           replay(e(signal_fields={(fld, emg_i): v})), expect="either",
                           check=sane_json))
    for fld, values in [
        ("n_records", ["-1", "0", "99999999", "nan", "", "1e9"]),
        ("duration", ["0", "-1", "1e-9", "1e9", "nan", "inf", "", "1e-300"]),
        ("ns", ["0", "9999", "-1", "", "1"]),
        ("header_bytes", ["0", "99999999", "-5", ""]),
        ("startdate", ["99.99.99", "", "aa.bb.cc", "31.02.24"]),
        ("starttime", ["99.99.99", "", "25.61.61"]),
        ("version", ["1       ", "\xff" * 8]),
        ("reserved", ["EDF+D", "BDF+C", "\x00" * 44]),
    ]:
        for v in values:
            cs.append(Case("edf header", f"{fld}={v!r}", replay(e(fixed={fld: v})),
                           expect="either", check=sane_json))
    size = edf.stat().st_size
    for cut in (0, 100, 255, 256, 300, 256 * 3, size // 2, size - 1):
        cs.append(Case("edf header", f"truncated at {cut}", replay(e(truncate=cut)),
                       expect="either", check=sane_json))
    cs.append(Case("edf header", "valid: 1000 trailing bytes",
                   replay(e(tail=b"\x00" * 1000)), expect="ok",
                   check=all_of(found_cramp, contains("ignored"))))
    rng = random.Random(10)
    header_len = int(edf.read_bytes()[184:192])
    for k2 in range(30):
        flips = [rng.randrange(0, header_len) for _ in range(rng.randint(1, 4))]
        cs.append(Case("edf header", f"header bit flips #{k2}", replay(e(flips=flips)),
                       expect="either", check=sane_json))
    # the notes a reader makes are shown to the user
    cs.append(Case("reader notes", "valid: EDF start taken as UTC shown",
                   ["replay", str(edf), "--no-store"], expect="ok",
                   check=contains("taken as UTC")))
    cs.append(Case("reader notes", "valid: ignored trailing bytes shown",
                   ["replay", str(e(tail=b"\x00" * 100)), "--no-store"], expect="ok",
                   check=contains("ignored")))
    cs.append(Case("reader notes", "valid: CSV without a date shown",
                   ["replay", str(csv_path), "--no-store"], expect="ok",
                   check=contains("start time not known")))
    cs.append(Case("reader notes", "valid: notes in --json",
                   replay(edf), expect="ok",
                   check=lambda r: None if (json_out(r) or {"recordings": [{}]})["recordings"]
                   [0].get("notes") else "no notes in JSON"))
    cs.append(Case("reader notes", "valid: capture fit note shown",
                   ["replay", str(cap), "--no-store"], expect="ok",
                   check=contains("reader note")))

    # ---------------------------------------------------------------- CSV
    lines = csv_path.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    m = 0

    def c(text: str, suffix: str = ".csv") -> Path:
        nonlocal m
        m += 1
        p = bad / f"t{m}{suffix}"
        p.write_text(text)
        return p

    body = "\n".join(rows) + "\n"
    for late in ("1e9", "1e7", "1e15", "1e6", "200000", "1e300"):
        cs.append(Case("csv", f"late row at {late} s",
                       replay(c(header + "\n" + body + f"{late},1.0\n"))))
    cs.append(Case("csv", "valid: a 10-s gap", replay(c(header + "\n" + "\n".join(
        rows[:60000]) + "\n" + "\n".join(
        f"{float(r.split(',')[0]) + 10:.4f},{r.split(',')[1]}" for r in rows[60000:]) + "\n")),
        expect="ok", check=all_of(found_cramp_at(CRAMP_ONSET_S + 10), has_gap)))
    for step in ("1e-9", "1e-12", "1e-6"):
        cs.append(Case("csv", f"time step {step}", replay(c(header + "\n" + "".join(
            f"{i * float(step):.17g},1.0\n" for i in range(3000))))))
    for fs in ("1e9", "0", "-1", "inf", "nan", "1e-9", "abc", "1e400"):
        cs.append(Case("csv", f"--fs {fs}", replay(c("emg_uv\n" + "1.0\n" * 3000), "--fs", fs)))
    cs.append(Case("csv", "valid: --fs 1000 without time column",
                   replay(c("emg_uv\n" + "".join(r.split(",")[1] + "\n" for r in rows)),
                          "--fs", "1000"), expect="ok", check=found_cramp))
    cs.append(Case("csv", "128-KiB header line", replay(c("a" * 131072 + ",emg_uv\n1,2\n"))))
    cs.append(Case("csv", "128-KiB header field", replay(c("time_s,\"" + "b" * 131072
                                                            + "\"\n1,2\n"))))
    cs.append(Case("csv", "1-MiB line, no newline", replay(c("x" * (1 << 20)))))
    cs.append(Case("csv", "10000 columns", replay(c(",".join(f"c{i}" for i in range(10000))
                                                    + "\n" + ",".join("1" * 10000) + "\n"))))
    for name, text in [
        ("empty", ""), ("header only", "time_s,emg_uv\n"), ("one row", "time_s,emg_uv\n0,1\n"),
        ("non-monotonic", "time_s,emg_uv\n0,1\n0.002,1\n0.001,1\n" + "".join(
            f"{0.003 + i / 1000:.3f},1\n" for i in range(3000))),
        ("duplicate times", "time_s,emg_uv\n" + "0,1\n" * 3000),
        ("NaN cell", header + "\n" + body.replace(rows[500], "0.5000,nan", 1)),
        ("inf cell", header + "\n" + body.replace(rows[500], "0.5000,inf", 1)),
        ("1e400 cell", header + "\n" + body.replace(rows[500], "0.5000,1e400", 1)),
        ("1e307 mV", "time_s,emg_mv\n" + "".join(f"{i / 1000:.3f},1e307\n" for i in range(3000))),
        ("1e308 uV", "time_s,emg_uv\n" + "".join(f"{i / 1000:.3f},1e308\n"
                                                  for i in range(3000))),
        ("text cell", header + "\n" + body.replace(rows[500], "0.5000,abc", 1)),
        ("no unit", "time_s,emg\n" + "".join(f"{i / 1000:.3f},1\n" for i in range(3000))),
        ("no time, no --fs", "emg_uv\n" + "1\n" * 3000),
        ("ambiguous time unit", "time,emg_uv\n" + "".join(f"{i * 5000},1\n"
                                                          for i in range(3000))),
        ("duplicate columns", "time_s,emg_uv,emg_uv\n0,1,1\n0.001,1,1\n"),
        ("two time columns", "time_s,time_ms,emg_uv\n0,0,1\n0.001,1,1\n"),
        ("ragged rows", header + "\n" + body.replace(rows[10], rows[10] + ",1,2,3", 1)),
        ("quotes unbalanced", "time_s,\"emg_uv\n0,1\n"),
        ("nul bytes", "time_s,emg_uv\n" + "\x00" * 1000),
        ("negative time", "time_s,emg_uv\n" + "".join(f"{-3 + i / 1000:.3f},1\n"
                                                       for i in range(3000))),
        ("time 1e300", "time_s,emg_uv\n" + "".join(f"{1e300 + i * 1e290:.6g},1\n"
                                                    for i in range(3000))),
        ("huge unix time", "time_s,emg_uv\n" + "".join(f"{5e9 + i / 1000:.3f},1\n"
                                                        for i in range(3000))),
        ("emg at 50 Hz", "time_s,emg_uv\n" + "".join(f"{i / 50:.3f},1\n" for i in range(3000))),
        ("accelerometer 1e300 g", "time_s,acc_x_g,acc_y_g,acc_z_g\n" + "".join(
            f"{i / 100:.2f},1e300,0,0\n" for i in range(3000))),
        ("accelerometer 0.2 Hz", "time_s,acc_x_g,acc_y_g,acc_z_g\n" + "".join(
            f"{i * 5},0,0,1\n" for i in range(3000))),
    ]:
        cs.append(Case("csv", name, replay(c(text)), expect="either", check=sane_json))
    (bad / "utf16.csv").write_bytes(("time_s,emg_uv\n0,1\n0.001,1\n").encode("utf-16"))
    cs.append(Case("csv", "UTF-16", replay(bad / "utf16.csv")))
    (bad / "fake.csv.gz").write_bytes(b"not gzip at all")
    cs.append(Case("csv", "named .gz, not gzip", replay(bad / "fake.csv.gz")))
    (bad / "trunc.csv.gz").write_bytes(zlib.compress(b"time_s,emg_uv\n0,1\n" * 10)[:30])
    cs.append(Case("csv", "truncated gzip", replay(bad / "trunc.csv.gz")))
    import gzip as _gz
    (bad / "gz.csv.gz").write_bytes(_gz.compress(csv_path.read_bytes()))
    cs.append(Case("csv", "valid: gzip CSV", replay(bad / "gz.csv.gz"), expect="ok",
                   check=found_cramp))
    cs.append(Case("csv", "valid: ms time column", replay(c("time_ms,emg_uv\n" + "".join(
        f"{float(r.split(',')[0]) * 1000:.1f},{r.split(',')[1]}\n" for r in rows))),
        expect="ok", check=found_cramp))
    rng2 = random.Random(11)
    raw_csv = csv_path.read_bytes()[:200_000]
    for k3 in range(15):
        data = bytearray(raw_csv)
        for _ in range(rng2.randint(1, 20)):
            data[rng2.randrange(len(data))] = rng2.randrange(256)
        p = bad / f"flip{k3}.csv"
        p.write_bytes(bytes(data))
        cs.append(Case("csv", f"byte flips #{k3}", replay(p), expect="either", check=sane_json))

    # ---------------------------------------------------------------- store
    def store_copy(name: str, edit: Callable[[sqlite3.Connection], None] | None = None,
                   data: bytes | None = None) -> Path:
        p = bad / name
        if data is not None:
            p.write_bytes(data)
            return p
        shutil.copy(store, p)
        conn = sqlite3.connect(p)
        if edit is not None:
            edit(conn)
        conn.commit()
        conn.close()
        return p

    raw_store = store.read_bytes()
    damaged = {
        "random bytes": store_copy("s1.db", data=os.urandom(8192)),
        "zero bytes": store_copy("s2.db", data=b""),
        "truncated": store_copy("s3.db", data=raw_store[:len(raw_store) // 3]),
        "header only": store_copy("s4.db", data=raw_store[:100]),
        "bad JSON cell": store_copy("s5.db", lambda cn: cn.execute(
            "UPDATE recordings SET channels_json = '{not json'")),
        "non-UTF-8 text": store_copy("s6.db", lambda cn: cn.execute(
            "UPDATE recordings SET start_utc = CAST(x'ff00fe' AS TEXT)")),
        "number for date": store_copy("s7.db", lambda cn: cn.execute(
            "UPDATE nights SET night_date = 12345")),
        "bad date text": store_copy("s8.db", lambda cn: cn.execute(
            "UPDATE nights SET night_date = '2024-99-99'")),
        "text for number": store_copy("s9.db", lambda cn: cn.execute(
            "UPDATE recordings SET duration_s = 'long'")),
        "blob in JSON": store_copy("s10.db", lambda cn: cn.execute(
            "UPDATE nights SET quality_json = x'00ff'")),
        "JSON of wrong shape": store_copy("s11.db", lambda cn: cn.execute(
            "UPDATE nights SET quality_json = '[1,2,3]'")),
        "newer schema": store_copy("s12.db", lambda cn: cn.execute("PRAGMA user_version = 999")),
        "episodes NaN": store_copy("s13.db", lambda cn: cn.execute(
            "UPDATE episodes SET onset_s = 'nan'")),
        "dropped table": store_copy("s14.db", lambda cn: cn.execute("DROP TABLE episodes")),
    }
    for name, path in damaged.items():
        for argv in (["report", "--out", str(out / f"r-{path.stem}.html")], ["report", "--text"],
                     ["export", "--format", "csv", "--out", str(out / f"e-{path.stem}.csv")],
                     ["export", "--format", "json", "--out", str(out / f"e-{path.stem}.json")],
                     ["diary", "list"], ["causes"]):
            db_args = (["diary", "--db", str(path), "list"] if argv[0] == "diary"
                       else [*argv, "--db", str(path)])
            cs.append(Case("store", f"{name}: {' '.join(argv[:2])}", db_args, expect="either",
                           check=lambda r: None, after=unchanged(path)))
    foreign = bad / "foreign.db"
    cn = sqlite3.connect(foreign)
    cn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    cn.execute("INSERT INTO contacts VALUES ('a', '1')")
    cn.commit()
    cn.close()
    foreign.chmod(0o644)
    for argv in (["report"], ["report", "--text"], ["export", "--format", "csv", "--out",
                                                   str(out / "f.csv")], ["causes"],
                 ["replay", str(edf)], ["profile"]):
        cs.append(Case("store", f"foreign SQLite: {' '.join(argv[:2])}",
                       [*argv, "--db", str(foreign)], after=unchanged(foreign)))
    cs.append(Case("store", "foreign SQLite: diary list",
                   ["diary", "--db", str(foreign), "list"], after=unchanged(foreign)))
    ro = bad / "ro.sqlite3"
    shutil.copy(store, ro)
    ro.chmod(0o444)
    ro_dir = work / "ro-store"
    ro_dir.mkdir()
    shutil.copy(store, ro_dir / "s.sqlite3")
    (ro_dir / "s.sqlite3").chmod(0o444)
    ro_dir.chmod(0o555)
    for label, path in (("read-only file", ro), ("read-only file in read-only dir",
                                                  ro_dir / "s.sqlite3")):
        for argv in (["report", "--text"], ["causes"], ["export", "--format", "json",
                                                         "--out", "-"]):
            cs.append(Case("store", f"valid: {label}: {argv[0]}", [*argv, "--db", str(path)],
                           expect="ok", check=lambda r: None if r.out.strip() else "no output",
                           after=unchanged(path), user="nobody" if as_nobody else "root"))
    cs.append(Case("store", "valid: report --text on the store",
                   ["report", "--text", "--db", str(store)], expect="ok",
                   check=contains("cramp"), after=unchanged(store)))

    # ---------------------------------------------------------------- options
    for opt in ("inf", "nan", "0", "-1", "1e9", "abc"):
        cs.append(Case("options", f"record --speed {opt}", ["record", "--simulate", "--speed",
                                                             opt]))
    for opt in ("-1", "abc", str(2**64), "1.5"):
        cs.append(Case("options", f"record --seed {opt}", ["record", "--simulate", "--seed",
                                                            opt]))
        cs.append(Case("options", f"simulate --seed {opt}",
                       ["simulate", "--hours", "0.05", "--seed", opt, "--out", str(sim_dir)]))
    for opt in ("100000", "-1", "1e3"):
        cs.append(Case("options", f"record --dropouts {opt}", ["record", "--simulate",
                                                                "--dropouts", opt]))
    for opt in ("1e6", "0", "-1", "nan", "inf", "25"):
        cs.append(Case("options", f"record --hours {opt}", ["record", "--simulate", "--hours",
                                                             opt]))
        cs.append(Case("options", f"simulate --hours {opt}",
                       ["simulate", "--hours", opt, "--seed", "1", "--out", str(sim_dir)]))
    for opt in ("0", "1000", "-5", "x"):
        cs.append(Case("options", f"record --mtu {opt}", ["record", "--simulate", "--mtu", opt]))
    for opt in ("-1", "1000000", "x"):
        cs.append(Case("options", f"simulate --cramps {opt}",
                       ["simulate", "--hours", "0.05", "--seed", "1", "--cramps", opt,
                        "--out", str(sim_dir)]))
    cs.append(Case("options", "record --until 25:00", ["record", "--simulate", "--until",
                                                        "25:00"]))
    cs.append(Case("options", "record --tz Mars/Olympus",
                   ["record", "--simulate", "--tz", "Mars/Olympus"]))
    deep = bad / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    cs.append(Case("options", "eval --pred deep JSON", ["eval", "--pred", str(deep)]))
    deep_obj = bad / "deep2.json"
    deep_obj.write_text('{"recordings": ' + '{"a":' * 50000 + "1" + "}" * 50000 + "}")
    cs.append(Case("options", "eval --pred deep object", ["eval", "--pred", str(deep_obj)]))
    for name, text in [("not JSON", "{"), ("list", "[]"), ("no recordings", "{}"),
                       ("bad episode", '{"recordings": [{"path": "x.edf", "episodes": '
                                       '[{"onset_s": "a"}]}]}'),
                       ("huge number", '{"recordings": [{"path": "x", "episodes": '
                                       '[{"onset_s": 1e999, "duration_s": 1}]}]}')]:
        p = bad / f"pred-{len(cs)}.json"
        p.write_text(text)
        cs.append(Case("options", f"eval --pred {name}", ["eval", "--pred", str(p)]))
    for opt in ("nan", "inf", "-1", "x"):
        cs.append(Case("options", f"eval --min-overlap-s {opt}",
                       ["eval", str(edf), "--labels", str(fx["truth"]), "--min-overlap-s", opt]))
        cs.append(Case("options", f"eval --onset-tolerance-s {opt}",
                       ["eval", str(edf), "--labels", str(fx["truth"]),
                        "--onset-tolerance-s", opt]))
    for opt, val in [("--night-window", "25:00-07:00"), ("--night-window", "x"),
                     ("--tz", "Mars/Olympus"), ("--tz", "../../etc/passwd"), ("--tz", ""),
                     ("--start", "yesterday"), ("--start", "99999-01-01T00:00:00+00:00"),
                     ("--leg", "middle"), ("--shank-acc", "A,B"), ("--shank-acc", ",,"),
                     ("--foot-acc", "-,-,-"), ("--emg", "nope"), ("--emg-unit", "kV"),
                     ("--emg-unit", ""), ("--acc-unit", "xx"), ("--time-unit", "h")]:
        cs.append(Case("options", f"replay {opt} {val!r}", replay(edf, opt, val)))
    for argv in (["report", "--night", "2024-13-45"], ["report", "--night", "x"],
                 ["report", "--last", "0"], ["report", "--last", "-1"],
                 ["report", "--last", str(10**12)], ["report", "--tz", "Nowhere/Land"],
                 ["export", "--format", "csv", "--out", "-", "--last", str(10**30)],
                 ["causes", "--last", str(10**12)], ["causes", "--last", "0"],
                 ["causes", "--night", "2024-02-30"]):
        cs.append(Case("options", " ".join(argv[:3])[:40], [*argv, "--db", str(store)]))
    for argv in (["causes", "--plan-stretching", "--weeks", "3"],
                 ["causes", "--plan-stretching", "--weeks", "1000"],
                 ["causes", "--plan-stretching", "--seed", "-1"],
                 ["causes", "--plan-stretching", "--start", "2024-99-01"],
                 ["diary", "list", "--last", "0"], ["diary", "list", "--last", str(10**12)],
                 ["diary", "add", "--date", "2024-02-30"], ["profile", "--age", "-5"],
                 ["profile", "--age", "1e9"], ["profile", "--pregnant", "maybe"],
                 ["scan", "--simulate", "--timeout", "inf"],
                 ["scan", "--simulate", "--timeout", "-1"],
                 ["scan", "--simulate", "--timeout", "nan"]):
        db_args = [*argv[:1], "--db", str(bad / "opt.sqlite3"), *argv[1:]] \
            if argv[0] in ("diary",) else [*argv, *(["--db", str(bad / "opt.sqlite3")]
                                                    if argv[0] in ("profile", "causes")
                                                    else [])]
        cs.append(Case("options", " ".join(argv)[:40], db_args))
    cs.append(Case("options", "record without an adapter (10a)", ["record"], owner="10a",
                   timeout=60))

    # ---------------------------------------------------------------- capture timing
    def retime(name: str, change: Callable[[int, float, float], float],
               keep_s: float | None = None) -> Path:
        return capture_retime(cap, bad / f"{name}.cramp", change, keep_s)

    n_pk = sum(1 for t, _ in capture_records(cap)[1] if t == 3)
    timing = [
        ("first ~1 s only", retime("t1", lambda k, t, t0: t, keep_s=1.0 / 60)),
        ("first ~3 s only", retime("t3", lambda k, t, t0: t, keep_s=3.0 / 60)),
        ("host step +30 s", retime("st1", lambda k, t, t0: t + (30 if k > n_pk // 3 else 0))),
        ("host step +600 s", retime("st2", lambda k, t, t0: t + (600 if k > n_pk // 2 else 0))),
        ("host step -1 h", retime("st3", lambda k, t, t0: t - (3600 if k > n_pk // 2 else 0))),
        ("all packets same time", retime("f1", lambda k, t, t0: t0)),
        ("packet times reversed", retime("f2", lambda k, t, t0: t0 + 1e3 - k * 0.01)),
        ("random packet times", retime("f3", lambda k, t, t0: t0 + random.Random(k).random()
                                       * 1e6)),
        ("packet times 1e300", retime("f4", lambda k, t, t0: 1e300 + k)),
        ("packet times 0", retime("f5", lambda k, t, t0: 0.0)),
        ("packet times -1e9", retime("f6", lambda k, t, t0: -1e9 + k)),
        ("stall of 10 min", retime("f7", lambda k, t, t0: t + (600 if k > n_pk // 2 else 0)
                                   - (600 if k > n_pk // 2 + 50 else 0))),
    ]
    for name, path in timing:
        cs.append(Case("capture timing", f"replay: {name}", replay(path), expect="either",
                       check=sane_json, owner="10a"))
        cp = bad / f"rec-{path.name}"
        shutil.copy(path, cp)
        cs.append(Case("capture timing", f"recover: {name}", ["recover", str(cp)],
                       expect="either", check=lambda r: None, owner="10a", allow_rc1=True))
    size = cap.stat().st_size
    for cut in (0, 8, 16, 100, 1000, size // 10, size // 2, size - 3):
        p = bad / f"cut{cut}.cramp"
        p.write_bytes(cap.read_bytes()[:cut])
        cs.append(Case("capture timing", f"capture cut at {cut}", replay(p), expect="either",
                       check=sane_json, owner="10a"))
    cs.append(Case("capture timing", "valid: capture replays", replay(cap), expect="ok",
                   check=found_cramp))
    return cs


def all_of_after(*afters: Callable[[], str | None]) -> Callable[[], str | None]:
    def after() -> str | None:
        for a in afters:
            problem = a()
            if problem:
                return problem
        return None
    return after


# ----------------------------------------------------------------------------- main


def mount_small_disk(work: Path, name: str, size: str, *, fill: bool) -> Path | None:
    """A tmpfs of ``size`` at ``work/name`` (filled up when ``fill``); None if not allowed."""
    if os.geteuid() != 0:
        return None
    d = work / name
    d.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs",
                         str(d)], capture_output=True).returncode == 0
    if not ok:
        return None
    if not fill:
        return d
    try:  # fill it up
        with open(d / "filler", "wb") as fh:
            while True:
                fh.write(b"\x00" * 4096)
                fh.flush()
    except OSError:
        pass
    return d


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", metavar="CLASS", action="append",
                    help="run only this class (repeatable)")
    ap.add_argument("--timeout", type=float, default=90.0, help="seconds per case")
    ap.add_argument("--json", metavar="OUT", help="write every outcome as JSON")
    ap.add_argument("--verbose", action="store_true", help="list every case that failed")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="cramp-campaign-"))
    full = small = None
    try:
        fx = build_fixtures(work)
        full = mount_small_disk(work, "full", "64k", fill=True)
        small = mount_small_disk(work, "small", "300k", fill=False)
        as_nobody = os.geteuid() == 0 and shutil.which("setpriv") is not None
        all_cases = cases(work, fx, full_dir=full, as_nobody=as_nobody)
        if small is not None:  # the disk fills up while the night is being recorded
            all_cases.append(Case("store", "record until the disk is full", [
                "record", "--simulate", "--hours", "0.1", "--speed", "120", "--out",
                str(small), "--db", str(small / "s.sqlite3")], owner="10a", timeout=300))
        if args.only:
            all_cases = [c for c in all_cases if c.cls in args.only]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(lambda c: (c, run_child(c, work, args.timeout)), all_cases))
        outcomes = []
        for c, r in results:
            o, detail = classify(c, r)
            outcomes.append(Outcome(c, o, detail, r.seconds))
        elapsed = time.perf_counter() - t0
    finally:
        for mounted in (full, small):
            if mounted is not None:
                subprocess.run(["umount", str(mounted)], check=False)
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
        shutil.rmtree(work, ignore_errors=True)
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for o in outcomes:
        table[o.case.cls][o.outcome] += 1
    width = max(len(k) for k in table) + 2
    print(f"{'class':<{width}}" + "".join(f"{h:>16}" for h in OUTCOMES) + f"{'total':>8}")
    total: Counter[str] = Counter()
    for cls, counts in table.items():
        total.update(counts)
        print(f"{cls:<{width}}" + "".join(f"{counts[h]:>16}" for h in OUTCOMES)
              + f"{sum(counts.values()):>8}")
    print(f"{'all':<{width}}" + "".join(f"{total[h]:>16}" for h in OUTCOMES)
          + f"{sum(total.values()):>8}")
    print(f"{len(outcomes)} cases in {elapsed:.0f} s with {args.jobs} jobs; full-disk cases "
          f"{'run' if full else 'skipped'}; permission cases "
          f"{'run as nobody' if os.geteuid() == 0 else 'skipped'}")
    failed = [o for o in outcomes if o.outcome in ("traceback", "hang", "wrong")]
    for o in failed:
        owner = f" [owned by {o.case.owner}]" if o.case.owner else ""
        print(f"  {o.outcome:9} {o.case.cls}: {o.case.name}{owner}: {o.detail}")
    if args.verbose:
        for o in outcomes:
            print(f"  {o.outcome:14} {o.seconds:5.1f}s {o.case.cls}: {o.case.name}: {o.detail}")
    if args.json:
        Path(args.json).write_text(json.dumps([
            {"class": o.case.cls, "case": o.case.name, "outcome": o.outcome,
             "detail": o.detail, "owner": o.case.owner, "seconds": round(o.seconds, 2)}
            for o in outcomes], indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
