"""The clock fit trusts the band's counters and ticks; the host only places the night in time.

Host arrival times are late by a delay that is never negative, but a real host also stalls for
minutes, delivers a backlog in one burst, runs a simulated night at any speed, or steps its
clock (NTP, an hour backwards). None of that may stretch or shrink the night.
"""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from detector.capture.clockfit import (
    HOST_TIME_LIMIT_S,
    MAX_DRIFT_PPM,
    PacketTimes,
    fit_clock,
    unwrap,
)

TICK_HZ = 32768
NOMINAL = {1: 1000.0, 3: 50.0}


def band_packets(rng: np.random.Generator, *, span_s: float, ppm: float = 40.0,
                 t_start: float = 1.7e9) -> tuple[dict[int, PacketTimes], dict[int, np.ndarray]]:
    """Packets of an EMG (1 kHz) and an accelerometer (50 Hz) stream, and their true ends."""
    streams, ends = {}, {}
    for sid, rate, per in ((1, 1000, 116), (3, 50, 10)):
        true_rate = rate * (1 + ppm * 1e-6)
        first = np.arange(0, max(per, int(span_s * rate)), per)
        n = np.full(first.shape, per)
        ticks = np.floor(first / true_rate * TICK_HZ * (1 + ppm * 1e-6)).astype(np.int64)
        t_end = t_start + (first + n - 1) / true_rate
        received = t_end + 0.0075 + rng.uniform(0.0, 0.05, first.size)
        streams[sid] = PacketTimes(counter=unwrap(first, modulus=2**32), n_samples=n,
                                   ticks=unwrap(ticks, modulus=2**32), received_s=received,
                                   live=np.ones(first.size, dtype=bool))
        ends[sid] = t_end
    return streams, ends


def with_received(streams: dict[int, PacketTimes], change) -> dict[int, PacketTimes]:  # type: ignore[no-untyped-def]
    return {sid: PacketTimes(counter=p.counter, n_samples=p.n_samples, ticks=p.ticks,
                             received_s=change(p.received_s.copy()), live=p.live)
            for sid, p in streams.items()}


def emg_rate_error_ppm(streams: dict[int, PacketTimes], ppm: float = 40.0) -> float:
    fit = fit_clock(streams, tick_hz=TICK_HZ, nominal_rates_hz=NOMINAL)
    return abs(fit.streams[1].rate_hz / (1000.0 * (1 + ppm * 1e-6)) - 1.0) * 1e6


def test_clean_host_times_fit_the_drift() -> None:
    # positive control for the perturbed cases below: the fit is tight when the host behaves
    streams, _ = band_packets(np.random.default_rng(0), span_s=4 * 3600.0)
    assert emg_rate_error_ppm(streams) < 2.0


def test_a_host_clock_step_moves_the_night_but_does_not_stretch_it() -> None:
    streams, _ = band_packets(np.random.default_rng(1), span_s=4 * 3600.0)
    t_step = 1.7e9 + 0.4 * 4 * 3600.0
    for step_s in (-3600.0, -30.0, 30.0, 600.0):
        stepped = with_received(streams, lambda r, s=step_s: np.where(r > t_step, r + s, r))
        fit = fit_clock(stepped, tick_hz=TICK_HZ, nominal_rates_hz=NOMINAL)
        assert emg_rate_error_ppm(stepped) < 20.0, step_s
        # the larger part of the night (after the step) sets where it sits in time
        assert abs(fit.start_s - (1.7e9 + step_s)) < 1.0, step_s


def test_minute_long_stalls_and_backlog_bursts_do_not_bias_the_fit() -> None:
    streams, _ = band_packets(np.random.default_rng(2), span_s=2 * 3600.0)

    def stall(r: np.ndarray) -> np.ndarray:
        for t0 in (1.7e9 + 1000.0, 1.7e9 + 5000.0):  # 4 min each: all delivered at the end
            inside = (r > t0) & (r < t0 + 240.0)
            r[inside] = t0 + 240.0 + np.linspace(0.0, 2.0, inside.sum())
        return r

    stalled = with_received(streams, stall)
    assert emg_rate_error_ppm(stalled) < 5.0
    fit = fit_clock(stalled, tick_hz=TICK_HZ, nominal_rates_hz=NOMINAL)
    assert abs(fit.start_s - 1.7e9) < 0.1


def test_a_host_running_600_times_fast_cannot_change_the_rate_beyond_a_crystal() -> None:
    streams, _ = band_packets(np.random.default_rng(3), span_s=3600.0)
    scaled = with_received(streams, lambda r: 1.7e9 + (r - 1.7e9) * 20.0)
    fit = fit_clock(scaled, tick_hz=TICK_HZ, nominal_rates_hz=NOMINAL)
    assert abs(fit.streams[1].rate_hz / 1000.0 - 1.0) * 1e6 <= MAX_DRIFT_PPM + 50.0
    assert abs(fit.drift_ppm) <= MAX_DRIFT_PPM + 1e-6


def test_a_capture_of_one_second_fits_at_the_nominal_rates() -> None:
    for span_s in (0.05, 0.3, 1.0, 1.5):
        streams, _ = band_packets(np.random.default_rng(4), span_s=span_s)
        fit = fit_clock(streams, tick_hz=TICK_HZ, nominal_rates_hz=NOMINAL)
        assert abs(fit.streams[1].rate_hz / 1000.0 - 1.0) * 1e6 < MAX_DRIFT_PPM + 50.0
        assert abs(fit.streams[3].rate_hz / 50.0 - 1.0) * 1e6 < MAX_DRIFT_PPM + 50.0
        assert abs(fit.start_s - 1.7e9) < 0.2


@settings(deadline=None, max_examples=60)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                          st.floats(min_value=-1e10, max_value=1e10)), min_size=1, max_size=40),
       st.integers(min_value=0, max_value=2**32 - 1))
def test_forged_packet_times_give_a_fit_or_a_value_error(times: list[float], tick0: int) -> None:
    n = len(times)
    counter = np.arange(n, dtype=np.int64) * 116
    ticks = (tick0 + np.arange(n, dtype=np.int64) * 3801) % 2**32
    pt = PacketTimes(counter=counter, n_samples=np.full(n, 116), ticks=unwrap(ticks, modulus=2**32),
                     received_s=np.asarray(times, dtype=np.float64), live=np.ones(n, dtype=bool))
    try:
        fit = fit_clock({1: pt}, tick_hz=TICK_HZ, nominal_rates_hz={1: 1000.0})
    except ValueError:
        assert not (np.abs(np.asarray(times)) < HOST_TIME_LIMIT_S).any()
        return
    assert np.isfinite(fit.start_s)
    assert abs(fit.streams[1].rate_hz / 1000.0 - 1.0) * 1e6 <= 2 * MAX_DRIFT_PPM + 1.0


@settings(max_examples=200, deadline=None)
@given(idx=st.lists(st.integers(0, 6), min_size=1, max_size=60), data=st.data())
def test_bin_minima_are_those_of_a_stable_sort(idx: list[int], data: st.DataObject) -> None:
    """Each non-empty bin's point of least value, the earliest of equal ones (ties drawn
    often), in bin order: what a stable sort by (bin, value) gives; with an infinite or NaN
    value too (the sort is used)."""
    from detector.capture.clockfit import _bin_minima

    v = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0, -2.5, 3.0, 1e-9]),
                                    min_size=len(idx), max_size=len(idx))))
    if data.draw(st.booleans()):
        v[data.draw(st.integers(0, len(idx) - 1))] = data.draw(
            st.sampled_from([np.inf, -np.inf, np.nan]))
    b = np.array(idx, dtype=np.int64)
    order = np.lexsort((v, b))
    first = np.ones(order.size, dtype=bool)
    first[1:] = b[order][1:] != b[order][:-1]
    assert _bin_minima(b, v, 7).tolist() == order[first].tolist()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(0, (1 << 16) - 1),
                          st.sampled_from([0, 1, 499, 500, 501, 999, 32767, 32768, 32769])),
                max_size=40), st.sampled_from([1 << 16, 1000]))
@example([0, 32768, 0, 32767, 65535, 32767], 1 << 16)  # steps of exactly half a modulus
@example([0, 500, 0, 499, 999, 499], 1000)
def test_unwrap_with_and_without_wraps_places_each_value_within_half_a_modulus(
        raw: list[int], modulus: int) -> None:
    """Counters given in arrival order (some wrapping, some not, the shortcut taken when no
    step wraps): each unwrapped value is congruent to its reading and within half a modulus
    of the one before, starting from the first reading (as the step-by-step rule)."""
    values = np.array([r % modulus for r in raw], dtype=np.int64)
    got = unwrap(values, modulus=modulus).tolist()
    want: list[int] = []
    half = modulus // 2
    for r in values.tolist():
        want.append(r if not want else want[-1] + (r - want[-1] + half) % modulus - half)
    assert got == want
    if values.size:  # a new array, never the readings themselves
        assert not np.shares_memory(unwrap(values, modulus=modulus), values)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                          st.sampled_from([0.0, -0.0, 1.0, -1.0])), min_size=1, max_size=40))
def test_median_is_numpys_bit_for_bit(values: list[float]) -> None:
    """The clock fit's median (no numpy.ma) gives ``np.median``'s value, sign of zero and NaN
    included."""
    import math

    from detector.capture.clockfit import median

    x = np.array(values, dtype=np.float64)
    got, want = median(x), float(np.median(x))
    assert (math.isnan(got) and math.isnan(want)) or (
        got == want and math.copysign(1.0, got) == math.copysign(1.0, want))
