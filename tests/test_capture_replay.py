"""Captures replay like the live run: clock fit, exact samples and gaps, same episodes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from capture_sim import Central

from detector.capture.clockfit import PacketTimes, fit_clock, unwrap
from detector.capture.recording import CaptureRecording
from detector.capture.writer import CaptureWriter
from detector.cli.main import main
from detector.config import DetectorConfig
from detector.evaluation import match_events
from detector.night.tick_grid import TickGrid, placed_streams
from detector.night.timeline import clock_time, map_result
from detector.pipeline.chain import NightPipeline
from detector.profiles.legband import LEGBAND
from detector.profiles.legband_codec import decode_data_packet
from detector.replay import run_source
from detector.signals import SignalBlock
from firmware_sim.firmware import ArrayFeed, Firmware, FirmwareConfig
from firmware_sim.night import random_scenario, synthesize

TICK_HZ = 32768


def synthetic_streams(rng: np.random.Generator, *, rtc_ppm: float, acc_ppm: float,
                      span_s: float, t_start: float) -> tuple[dict[int, PacketTimes],
                                                              dict[int, float]]:
    """Packets of a band whose clocks drift, received with jitter, bursts and stragglers."""
    streams, rates = {}, {}
    for sid, rate, per, ppm in ((1, 1000, 116, rtc_ppm), (3, 50, 10, acc_ppm),
                                (4, 50, 10, acc_ppm)):
        true_rate = rate * (1 + ppm * 1e-6)
        first = np.arange(0, int(span_s * rate), per)
        n = np.full(first.shape, per)
        ticks = (2**32 - 7000 + np.floor(first / true_rate * TICK_HZ * (1 + rtc_ppm * 1e-6))
                 ).astype(np.int64) % 2**32  # the RTC wraps early in the run
        t_end = (first + n - 1) / true_rate
        delay = 0.0075 + rng.uniform(0.0, 0.3, first.size)  # connection interval + jitter
        slow = rng.random(first.size) < 0.05  # stragglers: a slow central
        delay[slow] += rng.uniform(1.0, 30.0, slow.sum())
        burst = (t_end > 0.4 * span_s) & (t_end < 0.4 * span_s + 90.0)  # a backlog
        delay[burst] += rng.uniform(2.0, 5.0, burst.sum())
        streams[sid] = PacketTimes(
            counter=unwrap(first, modulus=2**32), n_samples=n,
            ticks=unwrap(ticks, modulus=2**32), received_s=t_start + t_end + delay,
            live=np.ones(first.size, dtype=bool))
        rates[sid] = true_rate
    return streams, rates


@pytest.mark.parametrize(("seed", "rtc_ppm", "acc_ppm"),
                         [(1, 100.0, -100.0), (2, -100.0, 100.0), (3, 37.0, -64.0)])
def test_clock_fit_absorbs_drift_jitter_and_outliers(seed: int, rtc_ppm: float,
                                                     acc_ppm: float) -> None:
    t_start = 1_705_350_000.25
    streams, rates = synthetic_streams(np.random.default_rng(seed), rtc_ppm=rtc_ppm,
                                       acc_ppm=acc_ppm, span_s=3600.0, t_start=t_start)
    fit = fit_clock(streams, tick_hz=TICK_HZ, nominal_rates_hz={1: 1000.0, 3: 50.0, 4: 50.0})
    assert abs(fit.start_s - t_start) < 0.050
    assert abs(fit.drift_ppm - rtc_ppm) < 5.0
    for sid, true_rate in rates.items():
        assert abs(fit.streams[sid].rate_hz / true_rate - 1.0) * 1e6 < 5.0
        assert fit.streams[sid].origin == 0


def test_clock_fit_places_a_stream_whose_first_packets_were_lost() -> None:
    streams, _ = synthetic_streams(np.random.default_rng(4), rtc_ppm=50.0, acc_ppm=50.0,
                                   span_s=600.0, t_start=1.7e9)
    s3 = streams[3]
    keep = s3.counter >= 30  # the first three accelerometer packets never arrived
    streams[3] = PacketTimes(counter=s3.counter[keep], n_samples=s3.n_samples[keep],
                             ticks=s3.ticks[keep], received_s=s3.received_s[keep],
                             live=s3.live[keep])
    fit = fit_clock(streams, tick_hz=TICK_HZ, nominal_rates_hz={1: 1000.0, 3: 50.0, 4: 50.0})
    assert fit.streams[3].origin == 0 and fit.streams[4].origin == 0


# ------------------------------------------------------------------------ a simulated night
NIGHT_S = 900.0
SHORT_OUTAGE = (400.0, 430.0)  # backfilled completely
LONG_OUTAGE = (560.0, 740.0)  # longer than the band's 128 s buffer: a gap
EMG_PPM, ACC_PPM = 70.0, -50.0


@dataclass
class SimNight:
    path: Path
    sent: list[tuple[bytes, float]]
    feed: ArrayFeed
    truth: pd.DataFrame
    start_s: float


def quiet_night() -> tuple[object, object]:
    """A model night whose cramps keep clear of the outages (so the truth is detectable)."""
    for seed in range(40):
        sc = random_scenario(duration_s=NIGHT_S, rng=np.random.default_rng(seed), fs_emg=1000.0,
                             fs_acc=50.0, n_cramps=2, artefacts=False)
        spans = [(e.onset_s, e.end_s) for e in sc.events if e.kind == "cramp"]
        if all(b + 20 < o0 or a > o1 + 20 for a, b in spans
               for o0, o1 in (SHORT_OUTAGE, (LONG_OUTAGE[0] - 5, LONG_OUTAGE[1]))):
            return sc, synthesize(sc, rng=np.random.default_rng(seed + 100))
    raise AssertionError("no suitable scenario")


@pytest.fixture(scope="module")
def sim_night(tmp_path_factory: pytest.TempPathFactory) -> SimNight:
    sc, night = quiet_night()
    feed = ArrayFeed(emg_uv=night.emg_uv, emg_fs=night.fs_emg,  # type: ignore[attr-defined]
                     shank_acc_g=night.shank_acc_g, shank_acc_fs=night.fs_acc,  # type: ignore[attr-defined]
                     foot_acc_g=night.foot_acc_g, foot_acc_fs=night.fs_acc)  # type: ignore[attr-defined]
    fw = Firmware(feed, config=FirmwareConfig(clock_ppm=EMG_PPM, accel_clock_ppm=ACC_PPM),
                  rng=np.random.default_rng(0))
    path = tmp_path_factory.mktemp("night") / "night.capture"
    start_s = sc.start_utc.timestamp()  # type: ignore[attr-defined]
    sent: list[tuple[bytes, float]] = []
    with CaptureWriter(path, session={"profile": "legband", "leg": sc.leg},  # type: ignore[attr-defined]
                       background_sync=False) as writer:
        def on_packet(payload: bytes, received_s: float) -> None:
            sent.append((payload, received_s))
            writer.packet(source="legband:data", payload=payload, received_s=received_s)

        central = Central(fw, on_packet, epoch_s=start_s)
        central.start(emg_rate_hz=1000)
        writer.event("connected", at_s=start_s)
        central.outage(down_s=SHORT_OUTAGE[0], up_s=SHORT_OUTAGE[1], step_s=0.1)
        central.outage(down_s=LONG_OUTAGE[0], up_s=LONG_OUTAGE[1], step_s=0.1)
        central.run(NIGHT_S, step_s=0.1)
    return SimNight(path=path, sent=sent, feed=feed, truth=night.truth,  # type: ignore[attr-defined]
                    start_s=start_s)


def delivered_by_stream(sent: list[tuple[bytes, float]]) -> dict[int, np.ndarray]:
    """Which sample counters reached the host (computed from the raw packets)."""
    out: dict[int, np.ndarray] = {}
    for payload, _t in sent:
        p = decode_data_packet(payload)
        arr = out.setdefault(p.stream_id, np.zeros(2_000_000, dtype=bool))
        arr[p.first_sample:p.first_sample + p.n_samples] = True
    return out


def feed_live(pipe: NightPipeline, released: list[tuple[str, SignalBlock]]) -> None:
    """Push released blocks, contiguous ones of a role joined (one push per role run)."""
    runs: list[tuple[str, SignalBlock]] = []
    for role, block in released:
        prev = next((i for i in range(len(runs) - 1, -1, -1) if runs[i][0] == role), None)
        if prev is not None and runs[prev][1].end_sample == block.start_sample:
            joined = np.concatenate([runs[prev][1].data, block.data])
            runs[prev] = (role, SignalBlock(data=joined, fs=block.fs,
                                            start_sample=runs[prev][1].start_sample))
        else:
            runs.append((role, block))
    for role, block in runs:
        pipe.push(role, block)


def test_samples_exact_where_delivered_and_gaps_exact_where_not(sim_night: SimNight) -> None:
    rec = CaptureRecording(sim_night.path)
    assert abs(rec.info.start_utc.timestamp() - sim_night.start_s) < 0.050
    true_rates = {"emg": 1000 * (1 + EMG_PPM * 1e-6), "shank_acc": 50 * (1 + ACC_PPM * 1e-6),
                  "foot_acc": 50 * (1 + ACC_PPM * 1e-6)}
    sid_of = {"emg": 1, "shank_acc": 3, "foot_acc": 4}
    for role, rate in true_rates.items():  # the clock fit sees the drift ...
        assert abs(rec.fit.streams[sid_of[role]].rate_hz / rate - 1) * 1e6 < 10.0
        # ... and the pipeline runs on the band's own grid, as live
        assert rec.info.channels[role].fs == {"emg": 1000, "shank_acc": 50, "foot_acc": 50}[role]
    delivered = delivered_by_stream(sim_night.sent)
    released = {role: np.zeros(2_000_000, dtype=bool) for role in sid_of}
    # the accelerometers run on their own oscillator: replay places them on the RTC's (= the
    # EMG's) grid, so grid slot k holds the accelerometer sample taken at RTC time k / 50 s
    # (within a sample: a slip holds one sample for two slots, or leaves one out)
    to_grid = (1 + EMG_PPM * 1e-6) / (1 + ACC_PPM * 1e-6)  # acc counter -> RTC grid slot

    def sampled(role: str, k: np.ndarray) -> np.ndarray:
        lsb = (8192 if role == "emg" else 4) / 32768
        t_true = k / true_rates[role]  # when the firmware sampled them (run starts at 0)
        return np.clip(np.rint(sim_night.feed(role, t_true) / lsb), -32768, 32767) * lsb

    unplaced_differs = False
    for role, block in rec.blocks(45.0):
        k = np.arange(block.start_sample, block.end_sample)
        released[role][k] = True
        if role == "emg":
            np.testing.assert_array_equal(block.data, sampled(role, k))
            continue
        c = np.rint(k / to_grid)
        near = [np.all(block.data == sampled(role, c + j), axis=1) for j in (-1, 0, 1)]
        assert np.all(near[0] | near[1] | near[2]), role
        # control: the sample of the same counter (the old placement) is not what is there
        unplaced_differs |= not np.array_equal(block.data, sampled(role, k))
    assert unplaced_differs  # 120 ppm of relative drift: 5 slots by the end of 900 s
    for role, sid in sid_of.items():
        end = int(np.flatnonzero(delivered[sid]).max()) + 1
        ratio = 1.0 if role == "emg" else to_grid
        if role == "emg":
            np.testing.assert_array_equal(released[role][:end], delivered[sid][:end])
        else:  # as many slots as samples, give or take the slips
            n_rel, n_del = int(released[role].sum()), int(delivered[sid][:end].sum())
            assert abs(n_rel - n_del) <= 1 + abs(to_grid - 1) * end, (n_rel, n_del)
        missing = np.flatnonzero(~delivered[sid][:end])
        gaps = [g for g in rec.gaps if g.role == role]
        assert len(gaps) == 1  # the short outage was backfilled completely
        (gap,) = gaps
        fs = rec.info.channels[role].fs
        assert gap.samples_missing == missing.size
        assert abs(round(gap.start_s * fs) - missing[0] * ratio) <= 1.0
        assert abs(round(gap.end_s * fs) - (missing[-1] + 1) * ratio) <= 1.0
        # the band keeps 128 s: the outage minus the buffer is lost, plus what ages out of
        # the buffer while the backfill (about 1100 packets at ~800/s) is on its way
        lost_s = gap.samples_missing / fs
        assert LONG_OUTAGE[1] - LONG_OUTAGE[0] - 128.0 < lost_s
        assert lost_s < LONG_OUTAGE[1] - LONG_OUTAGE[0] - 128.0 + 3.0
        s = rec.stats[role]
        assert s.late == 0 and s.backfilled > 0 and s.lost == missing.size


def test_replay_episodes_match_truth_and_the_live_pipeline(sim_night: SimNight) -> None:
    cfg = DetectorConfig().replace(in_bed__night_window=None)
    rec = CaptureRecording(sim_night.path)
    replayed = run_source(rec, config=cfg, chunk_s=60.0)
    # live: the same packets in the same order, the pipeline fed once a second of arrivals
    asm = rec.assembler()
    pipe = NightPipeline(rec.info.channels, config=cfg, start_utc=rec.info.start_utc,
                         leg=rec.info.leg)
    # the accelerometers go onto the RTC's grid by their ticks, each packet seen as it comes
    grids = {sid: (role, TickGrid(fs_hz=rec.info.channels[role].fs, tick_hz=TICK_HZ))
             for role, sid in placed_streams(rec.info.channels, profile=LEGBAND).items()}

    def placed(blocks: list[tuple[str, SignalBlock]]) -> list[tuple[str, SignalBlock]]:
        out = []
        for role, block in blocks:
            grid = next((g for r, g in grids.values() if r == role), None)
            b = block if grid is None else grid.place(block, origin=0)
            if b is not None:
                out.append((role, b))
        return out

    pending: list[tuple[str, SignalBlock]] = []
    second = int(sim_night.sent[0][1])
    for payload, received_s in sim_night.sent:
        if int(received_s) != second:
            feed_live(pipe, pending)
            pending, second = [], int(received_s)
        p = decode_data_packet(payload)
        if p.stream_id in grids:  # no wrap in 900 s: the raw fields are the unwrapped ones
            grids[p.stream_id][1].observe(p.first_sample, p.n_samples, p.device_ticks)
        pending += placed(asm.push(payload, received_s=received_s))
    feed_live(pipe, pending + placed(asm.flush()))
    pipe.flush(end_s=rec.info.duration_s)
    rates = {r: c.fs for r, c in rec.info.channels.items()}
    live = map_result(pipe.result(rec.info), lambda s: clock_time(rec.clock, rates, s))
    assert list(live.episodes) == list(replayed.episodes)  # same grid, same clock
    assert [e.onset_s for e in pipe.detector.episodes] != [e.onset_s for e in live.episodes]
    assert sorted((g.role, g.samples_missing) for g in pipe.gaps) \
        == sorted((g.role, g.samples_missing) for g in replayed.gaps)
    cramps = sim_night.truth[sim_night.truth.kind == "cramp"]
    truth = list(zip(cramps.onset_s, cramps.duration_s, strict=True))
    m = match_events(list(replayed.episodes), truth)
    assert len(m.pairs) == len(truth) == 2 and not m.unmatched_detected
    for pair in m.pairs:
        assert abs(pair.detected.onset_s - pair.truth.onset_s) < 3.0


def test_cramp_replay_reads_a_capture(sim_night: SimNight,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["replay", str(sim_night.path), "--no-store", "--json", "-"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    (night,) = doc["recordings"]
    assert len(night["episodes"]) == 2
