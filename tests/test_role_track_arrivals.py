"""A band's arrivals are kept only where they may bound the lower envelope (bounded memory),
and the drift fitted from them is the one fitted from every packet's arrival."""

from __future__ import annotations

import numpy as np

from detector.capture.role_track import RoleTrack
from detector.night.band_drift import DriftGrid
from detector.signals import ChannelSpec, SignalBlock

FS = 200.0


def test_the_kept_arrivals_fit_the_drift_every_arrival_fits() -> None:
    rng = np.random.default_rng(7)
    n_packets = 60_000  # 10 min of a Ganglion: 2 samples a packet
    last = np.arange(n_packets) * 2 + 1
    # a band 700 ppm slow; each packet late by a connection event's delay (0-30 ms, bursts)
    received = 1.7e9 + last / FS * (1 + 700e-6) + rng.uniform(0.0, 0.03, n_packets)
    track = RoleTrack(ChannelSpec(role="emg", fs=FS, unit="uV"))
    every: list[tuple[int, float]] = []
    for k in range(n_packets):
        track.note_arrival(int(last[k]), float(received[k]))
        every.append((int(last[k]), float(received[k])))
    assert len(track.arrivals) < n_packets // 20  # a few per 10-s bin, not 100 a second
    kept = DriftGrid(fs_hz=FS, arrivals=track.arrivals, segment_s=10.0)
    full = DriftGrid(fs_hz=FS, arrivals=every, segment_s=10.0)
    for start in range(0, 2 * n_packets, 1000):
        block = SignalBlock(data=np.zeros(1000), fs=FS, start_sample=start)
        a, b = kept.place(block), full.place(block)
        assert a is not None and b is not None
        assert a.start_sample == b.start_sample and a.data.shape == b.data.shape
    assert kept._clock.host_line() == full._clock.host_line()
    assert full.shift_at(2 * n_packets - 1) > 50  # the control: the drift is there (84)


def test_a_run_of_packets_keeps_the_arrivals_packet_by_packet_keeps() -> None:
    rng = np.random.default_rng(3)
    n_packets = 20_000
    last = np.arange(n_packets, dtype=np.int64) * 2 + 1
    received = 1.7e9 + last / FS + rng.uniform(0.0, 0.03, n_packets)
    one, runs = (RoleTrack(ChannelSpec(role="emg", fs=FS, unit="uV")) for _ in range(2))
    for k in range(n_packets):
        one.note_arrival(int(last[k]), float(received[k]))
    cuts = np.sort(rng.choice(np.arange(1, n_packets), size=300, replace=False))
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, n_packets], strict=True):
        runs.note_arrivals(last[lo:hi], received[lo:hi])  # runs across bins, of any length
    assert runs.arrivals == one.arrivals
    assert 20 < len(one.arrivals) < n_packets // 10
