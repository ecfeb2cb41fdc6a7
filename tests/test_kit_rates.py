"""Simulated kits record each band at the settings a real band is recorded at."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.capture.multi_band import MultiBandRecording
from detector.cli.main import main


@pytest.mark.parametrize(("kit", "shank_hz", "foot_hz"), [
    ("polar-pair", 416.0, 52.0),  # Verity Sense: SDK mode on the shank, normal mode foot
    ("movesense-pair", 208.0, 52.0),
])
def test_a_kit_records_the_negotiated_rates(tmp_path: Path, kit: str, shank_hz: float,
                                            foot_hz: float,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["record", "--simulate", "--kit", kit, "--hours", "0.02", "--no-store",
                 "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "left leg (acc)" in out
    (manifest,) = tmp_path.glob("night-*.night.json")
    with MultiBandRecording(manifest, leg="left") as rec:
        channels = rec.info.channels
        assert {r: s.fs for r, s in channels.items()} == {"shank_acc": shank_hz,
                                                          "foot_acc": foot_hz}
        # the shank stream holds the calf's tremor band, not only a 25 Hz Nyquist band
        assert channels["shank_acc"].fs / 2 > 50.0
