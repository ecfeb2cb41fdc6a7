"""Fault-injection soak: a night through the real BleakClient with faults at every BLE call.

Radio outages, random errors / foreign cancellations / hangs / dropped links at every BLE call,
malformed notifications and host stalls of seconds to a minute: the night must reach the
morning, every sample delivered must be the band's, every sample not delivered must be an
exact reported gap, nothing may be lost while the host was never without data for most of the
band's buffer, and the capture must replay to the same samples and gaps. The 8-h version is
``benchmarks/soak.py``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from firmware_sim.soak import check_soak, soak_night


def test_a_fault_injected_night_reaches_the_morning_and_accounts_for_every_sample(
        tmp_path: Path) -> None:
    logging.getLogger("bumble").setLevel(logging.CRITICAL)
    night = asyncio.run(soak_night(tmp_path, duration_s=600.0, seed=3, call_fault_p=0.1,
                                   outages_per_hour=40.0, stalls_per_hour=24.0, step_s=1.0,
                                   cover_faults_every=3))
    assert night.summary.reason == "morning"
    kinds = {k.split(":")[1] for k in night.faults}
    assert {"hang", "disconnect", "cancel"} <= kinds and len(night.stalls) >= 2
    malformed = sum(n for k, n in night.faults.items() if k.startswith("notification:"))
    assert malformed > 0 and night.summary.corrupt_packets == malformed
    assert sum(night.survived.values()) >= 3  # failures logged and survived
    account = check_soak(night)
    assert account.longest_silence_s > 30.0  # the host stalls happened
    # check_soak proved: nothing lost unless the host went without data for most of the
    # band's buffer, and every loss is an exact reported gap (what arrives by the morning
    # depends on the machine's speed: connections take real time)
    for role, taken in account.taken.items():
        assert 0 < account.delivered[role] and account.delivered[role] + account.lost[role] <= taken


def test_a_placed_first_round_injects_every_fault_kind_whatever_the_draws() -> None:
    import numpy as np

    from firmware_sim.faults import FAULT_KINDS, FaultInjector

    def picks(cover_every: int) -> list[str | None]:
        inj = FaultInjector(rng=np.random.default_rng(0), call_fault_p=0.0, malformed_p=0.0,
                            data_uuid="x", header_size=4, cover_every=cover_every)
        return [inj.pick("connect") for _ in range(20)]

    placed = picks(3)
    assert [i for i, k in enumerate(placed, start=1) if k is not None] == [3, 6, 9, 12]
    assert sorted(k for k in placed if k is not None) == sorted(FAULT_KINDS)
    # control: drawn faults at probability 0 inject nothing
    assert picks(0) == [None] * 20
