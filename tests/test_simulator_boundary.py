"""The simulator plugs in from outside: product layers never import :mod:`firmware_sim`.

Only the entry points that exist to run a simulation may load it, and only inside the function
that the ``--simulate`` choice (or ``cramp cohort simulate``) calls: the CLI commands and the
cohort's simulate-a-night task. Everything else in :mod:`detector` (pipeline, BLE session,
night recorder, stores, reports) must work with the simulator absent.
"""

from __future__ import annotations

import ast
from pathlib import Path

import detector

PACKAGE = Path(detector.__file__).resolve().parent
ENTRY_POINTS = ("cli/", "cohort/simulate.py")
"""Paths (relative to the package) allowed to load the simulator lazily."""


def simulator_imports(source: str) -> list[tuple[int, bool]]:
    """Each import of ``firmware_sim`` in ``source``: ``(line, at module level)``."""
    tree = ast.parse(source)
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name == "firmware_sim" or name.startswith("firmware_sim.") for name in names):
            found.append((node.lineno, id(node) in top_level))
    return found


def boundary_violations(package: Path) -> list[str]:
    """``path:line`` of every import of the simulator that the boundary forbids."""
    bad = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        entry = rel.startswith(ENTRY_POINTS)
        for line, module_level in simulator_imports(path.read_text(encoding="utf-8")):
            if not entry or module_level:
                bad.append(f"{rel}:{line}")
    return bad


def test_no_product_module_imports_the_simulator() -> None:
    assert boundary_violations(PACKAGE) == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """Positive control: the scan flags imports it must flag and allows the lazy entry ones."""
    (tmp_path / "ble").mkdir()
    (tmp_path / "cli").mkdir()
    (tmp_path / "ble" / "session.py").write_text(
        "import numpy\nfrom firmware_sim.firmware import ManualClock\n", encoding="utf-8")
    (tmp_path / "ble" / "lazy.py").write_text(
        "def f():\n    import firmware_sim.night\n", encoding="utf-8")
    (tmp_path / "cli" / "record.py").write_text(
        "def run():\n    from firmware_sim.simulate import simulate_night\n", encoding="utf-8")
    (tmp_path / "cli" / "eager.py").write_text("import firmware_sim\n", encoding="utf-8")
    (tmp_path / "cli" / "other.py").write_text(
        "from firmware_simulator import x\nfrom .firmware_sim import y\n", encoding="utf-8")
    assert boundary_violations(tmp_path) == ["ble/lazy.py:2", "ble/session.py:2",
                                             "cli/eager.py:1"]
