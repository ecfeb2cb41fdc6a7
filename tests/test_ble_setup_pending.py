"""At a high simulated speed no night time passes between the band advertising and streaming.

The paced band's clock holds while the session is linking and while the GATT set-up after
the link runs (device information, subscriptions, rates, START): ``connect_pending``. At
600x one clock step is 6 s of the night, so a set-up of a few dozen event-loop turns used to
let minutes of the night go by before the band started sampling for the session.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from ble_helpers import record_night

from firmware_sim.stepped_band import paced_session_config, paced_step_s

SPEED = 600.0
NIGHT_S = 300.0


def _start_delay_s(tmp_path: Path, *, hold_setup: bool) -> tuple[float, int]:
    """Night seconds before the band's first START, and EMG samples received."""
    night = asyncio.run(record_night(
        tmp_path, duration_s=NIGHT_S, seed=4, step_s=paced_step_s(SPEED),
        session_config=paced_session_config(mtu=247, speed=SPEED), hold_setup=hold_setup))
    recorder = night.session.recorder
    assert recorder is not None and night.summary.connections == 1
    delay = recorder.start_utc.timestamp() - night.scenario.start_utc.timestamp()
    return delay, night.summary.counts["emg"].received


@pytest.mark.parametrize("hold_setup", [True, False])
def test_the_night_is_recorded_from_its_start_at_600x(tmp_path: Path,
                                                      hold_setup: bool) -> None:
    step = paced_step_s(SPEED)
    delay, emg = _start_delay_s(tmp_path, hold_setup=hold_setup)
    if hold_setup:
        # at most a step (a hold cut short by the driver's real-time limit on a busy machine)
        assert 0.0 <= delay <= step
        assert emg >= (NIGHT_S - step) * 1000  # the EMG of the whole night is there
    else:
        # positive control: holding only while linking, the set-up lets the clock run on
        assert delay > 5 * step
        assert emg < (NIGHT_S - 5 * step) * 1000
