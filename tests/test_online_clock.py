"""The online clock estimate converges to the morning fit, robust to host stalls and bursts."""

from __future__ import annotations

import numpy as np

from detector.capture.clockfit import PacketTimes, fit_clock
from detector.night.clock import OnlineClock

TICK_HZ = 32768.0
RATE_HZ = 50.0
PER_PACKET = 38
NIGHT_S = 8 * 3600.0
T0 = 1.77e9


def _packets(rng: np.random.Generator, *, ppm: float) -> dict[str, np.ndarray]:
    """One stream's packets: counters, ticks at +ppm, host arrivals with jitter and stalls."""
    counter = np.arange(0, int(NIGHT_S * RATE_HZ), PER_PACKET, dtype=np.int64)
    true_s = counter / (RATE_HZ * (1 + ppm * 1e-6))  # the band runs fast: more samples/s
    ticks = np.floor(true_s * TICK_HZ * (1 + ppm * 1e-6)).astype(np.int64)
    last_s = (counter + PER_PACKET - 1) / (RATE_HZ * (1 + ppm * 1e-6))
    received = T0 + last_s + rng.exponential(0.05, counter.size)
    for start, length in ((3000.0, 180.0), (15000.0, 300.0)):  # stalls, then a burst
        held = (last_s >= start) & (last_s < start + length)
        received[held] = T0 + start + length + rng.uniform(0, 1.0, int(held.sum()))
    received = np.maximum.accumulate(received)
    return {"counter": counter, "ticks": ticks, "received": received, "true": true_s}


def _online(p: dict[str, np.ndarray], upto: int) -> OnlineClock:
    clock = OnlineClock(tick_hz=TICK_HZ, nominal_rates_hz={3: RATE_HZ})
    for c, t, r in zip(p["counter"][:upto], p["ticks"][:upto], p["received"][:upto],
                       strict=True):
        clock.observe(3, counter=int(c), n_samples=PER_PACKET, ticks=int(t),
                      received_s=float(r), live=True)
    return clock


def test_the_online_estimate_tracks_the_morning_fit_through_the_night() -> None:
    rng = np.random.default_rng(0)
    p = _packets(rng, ppm=100.0)
    n = p["counter"].size
    fit = fit_clock({3: PacketTimes(counter=p["counter"], n_samples=np.full(n, PER_PACKET),
                                    ticks=p["ticks"], received_s=p["received"],
                                    live=np.ones(n, dtype=bool))},
                    tick_hz=TICK_HZ, nominal_rates_hz={3: RATE_HZ})
    timing = fit.streams[3]

    def morning(k: float) -> float:
        return timing.t0_s + (k - timing.origin) / timing.rate_hz

    for frac in (0.1, 0.45, 0.8, 1.0):  # what live knows at that point of the night
        upto = int(frac * n)
        clock = _online(p, upto)
        k = float(p["counter"][upto - 1])
        live = clock.host_time_s(3, k)
        assert live is not None
        assert abs(live - morning(k)) < 0.2, (frac, live - morning(k))
        assert abs(live - (T0 + p["true"][upto - 1])) < 0.2  # and both are right
    assert abs(_online(p, n).drift_ppm() - fit.drift_ppm) < 2.0  # type: ignore[operator]
    # positive control: the band's nominal clock is 2.9 s off by the end of the night
    k_end = float(p["counter"][-1])
    assert abs(T0 + k_end / RATE_HZ - morning(k_end)) > 2.5


def test_bins_stay_bounded_over_a_long_night() -> None:
    p = _packets(np.random.default_rng(1), ppm=-40.0)
    clock = _online(p, p["counter"].size)
    assert len(clock._bins) <= clock.max_bins
    assert clock.bin_s > 10.0  # the bins were merged as the night grew
