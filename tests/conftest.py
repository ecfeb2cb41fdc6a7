"""Test-wide settings: no test may touch the real user's data or config directories."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# Shared CI machines vary in speed: no property test may fail on a per-example time limit.
settings.register_profile("cramp", deadline=None)
settings.load_profile("cramp")


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                  ) -> Path:
    home = tmp_path_factory.mktemp("home")
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    return home
