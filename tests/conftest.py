"""Test-wide settings: no test may touch the real user's data or config directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Shared CI machines vary in speed: no property test may fail on a per-example time limit.
# The default profile draws the same examples on every run (derandomised), so the README's
# test command and CI give the same verdict on the same code; the "explore" profile draws new,
# and more, examples on every run to hunt for inputs nobody has tried yet:
#   CRAMP_HYPOTHESIS_PROFILE=explore python -m pytest tests/test_io_fuzz.py
settings.register_profile("cramp", deadline=None, derandomize=True, database=None)
settings.register_profile("explore", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("CRAMP_HYPOTHESIS_PROFILE", "cramp"))


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                  ) -> Path:
    home = tmp_path_factory.mktemp("home")
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    return home
