"""Bulk Polar PMD decoding equals the one-packet decoder, and a replay through it equals one
fed packet by packet (samples, gaps, counters, bad packets), whatever the stream holds: raw
frames of types 0/1/2, delta-compressed frames (one-packet path), foreign bytes, repeated,
late and jumping timestamps, control responses and reconnections."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from detector.capture.other_sources import OtherBandCapture
from detector.capture.polar_rows import first_sample_ns
from detector.capture.polar_source import (
    POLAR_ACC_SOURCE,
    POLAR_CONTROL_SOURCE,
    PolarAccAssembler,
    polar_assembler,
)
from detector.capture.reader import read_capture
from detector.capture.writer import CaptureWriter
from detector.errors import CrampInputError
from detector.profiles.polar_batch import WIDTH, decode_matrix
from detector.profiles.polar_pmd_frames import (
    PolarFootMapping,
    decode_acc_frame,
    foot_acc_g,
    sample_times_ns,
)
from tests.test_polar_pmd import encode_compressed

FS = 52.0
START_NS = 820_000_000_000_000_000  # 2026
# a successful ACC START response carrying FACTOR = 2.44e-4 (float32), as the device sends it
START_RESPONSE = bytes([0xF0, 0x02, 0x02, 0x00, 0x00, 0x05, 0x01]) + struct.pack("<f", 2.44e-4)


def _rows(payloads: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    mat = np.zeros((len(payloads), WIDTH + 3), dtype=np.uint8)
    for k, p in enumerate(payloads):
        mat[k, :len(p)] = np.frombuffer(p, dtype=np.uint8)
    return mat, np.array([len(p) for p in payloads], dtype=np.int64)


def _raw(frame_type: int, samples: np.ndarray, ts: int) -> bytes:
    width = {0: 1, 1: 2, 2: 3}[frame_type]
    body = b"".join(int(v).to_bytes(width, "little", signed=True) for v in samples.ravel())
    return bytes([2]) + ts.to_bytes(8, "little") + bytes([frame_type]) + body


def _packet(draw: st.DrawFn) -> bytes:
    """A raw ACC frame (any type, maybe cut or foreign), a compressed one, or arbitrary bytes."""
    kind = draw(st.integers(0, 3))
    ts = draw(st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 10**6),
                        st.integers(2**62 - 2, 2**62 + 2)))
    if kind <= 1:
        frame_type = draw(st.integers(0, 2))
        n = draw(st.integers(1, 12))
        bits = 8 * (frame_type + 1)
        samples = np.array(draw(st.lists(st.integers(-(2**(bits - 1)), 2**(bits - 1) - 1),
                                         min_size=3 * n, max_size=3 * n)), dtype=np.int64)
        p = _raw(frame_type, samples, ts)
        if kind == 1:  # cut, foreign measurement type, or another frame type byte
            p = draw(st.sampled_from([p[:-1], p[:10], bytes([1]) + p[1:],
                                      p[:9] + bytes([draw(st.integers(3, 255))]) + p[10:]]))
        return p
    if kind == 2:
        n = draw(st.integers(1, 6))
        samples = np.array(draw(st.lists(st.integers(-32768, 32767), min_size=3 * n,
                                         max_size=3 * n)), dtype=np.int64).reshape(n, 3)
        return bytes([2]) + ts.to_bytes(8, "little") + bytes([0x81]) \
            + encode_compressed(samples, [n - 1] if n > 1 else [], 0)
    return draw(st.binary(max_size=40))


@settings(max_examples=300, deadline=None)
@given(st.data(), st.sampled_from([(0, 1, 2), (2, 0, 1)]), st.sampled_from([(1, 1, 1),
                                                                         (-1, 1, -1)]))
def test_bulk_decode_equals_the_one_packet_decoder(data: st.DataObject, order: tuple[int, ...],
                                                   sign: tuple[int, ...]) -> None:
    mapping = PolarFootMapping(axis_order=order, axis_sign=sign)  # type: ignore[arg-type]
    payloads = [_packet(data.draw) for _ in range(data.draw(st.integers(0, 10)))]
    batch = decode_matrix(*_rows(payloads), mapping=mapping)
    assert len(batch) == len(payloads)
    for k, p in enumerate(payloads):
        assert batch.payload(k) == p
        ts = int.from_bytes(p[1:9], "little")
        safe = p[:1] + (10**15).to_bytes(8, "little") + p[9:] if len(p) >= 10 else p
        try:  # the sample-time checks are the row loop's (the replay test below)
            frame = decode_acc_frame(safe, fs=FS, factor=1.0)
        except CrampInputError:
            frame = None
        expected = frame is not None and not frame.compressed and ts < 2**62
        assert bool(batch.simple[k]) == expected
        got = batch.acc_g[k]
        if frame is not None and expected:
            assert got is not None and got.dtype == np.float64
            assert got.tobytes() == foot_acc_g(frame, mapping=mapping).tobytes()  # bit for bit
            assert batch.timestamp_ns[k] == ts
            assert batch.n_samples[k] == frame.n_samples
        else:
            assert got is None


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.integers(0, 700), st.integers(0, 10**6), st.integers(0, 2**62 - 1)),
       st.integers(1, 600),
       st.one_of(st.sampled_from([1.0, 2.0, 25.0, 52.0, 104.0, 416.0, 1e9, 3e9, 4e8, 8e8]),
                 st.floats(0.01, 1e10)),
       st.one_of(st.none(), st.integers(0, 10**6), st.integers(0, 2**62 - 1)))
@example(5, 6, 1e9, None).via("the first sample exactly at 2000-01-01")
@example(5, 7, 1e9, None).via("one ns before 2000: refused")
def test_first_sample_time_equals_the_one_packet_times(ts: int, n: int, fs: float,
                                                        prev: int | None) -> None:
    if prev is not None and prev >= ts:
        prev = None if ts == 0 else prev % ts  # the row loop passes only an earlier one
    try:
        want: int | None = int(sample_times_ns(ts, n, fs=fs, previous_timestamp_ns=prev)[0])
    except CrampInputError:
        want = None
    assert first_sample_ns(ts, n, fs=fs, previous_timestamp_ns=prev) == want


def _night(rng: np.random.Generator, n_frames: int, per: int) -> list[tuple[str, object]]:
    """Frames of one stream with the device clock drifting, lost, repeated, late and jumping
    frames, compressed and foreign ones, control responses and reconnections between them."""
    out: list[tuple[str, object]] = [("control", (START_RESPONSE, 0.0))]
    t = 1.7e9
    k = 0
    step_ns = 1e9 / FS * (1 + float(rng.normal(0, 1e-4)))
    for _ in range(n_frames):
        n = per if rng.random() < 0.8 else int(rng.integers(1, 2 * per + 1))
        k += n
        ts = START_NS + round(k * step_ns)
        samples = rng.integers(-2000, 2000, size=(n, 3))
        t += n / FS
        u = rng.random()
        if u < 0.1:
            p = bytes([2]) + ts.to_bytes(8, "little") + bytes([0x80 | int(rng.integers(0, 2))]) \
                + encode_compressed(samples, [n - 1] if n > 1 else [], int(rng.integers(0, 3)))
        elif u < 0.15:
            p = _raw(0, np.clip(samples, -128, 127), ts)
        elif u < 0.2:  # at most WIDTH bytes, the longest notification BLE carries
            p = _raw(2, samples[:(WIDTH - 10) // 9], ts)
        else:
            p = _raw(1, samples, ts)
        out.append(("packet", (p, t)))
        u = rng.random()
        if u < 0.03:
            out.append(("packet", (bytes(rng.integers(0, 256, int(rng.integers(0, 30)),
                                                      dtype=np.uint8)), t)))
        elif u < 0.05:
            out.append(("packet", (p, t)))  # a repeat
        elif u < 0.07:
            out.append(("packet", (_raw(1, samples, ts - int(rng.integers(0, 10**10))), t)))
        elif u < 0.08:
            out.append(("packet", (_raw(1, samples, int(rng.integers(0, 10**9))), t)))  # 2000
        elif u < 0.09:
            out.append(("control", (START_RESPONSE, t)))
        u = rng.random()
        if u < 0.04:
            k += int(rng.integers(1, 3 * per))  # samples the sensor sent while nobody heard
        elif u < 0.08:  # as many as a counted-on frame may be off by, and one more
            k += max(2, per // 2) + int(rng.integers(0, 2))
        if rng.random() < 0.04:
            gap = int(rng.choice([0, 1, int(rng.integers(2, 500))]))
            k += gap
            t += gap / FS
            out.append(("connected", t))
    return out


def _write(path: Path, night: list[tuple[str, object]]) -> None:
    session = {"profile": "polar_pmd", "polar": {"fs_hz": FS, "range_g": 8}}
    with CaptureWriter(path, session=session, background_sync=False) as w:
        for kind, item in night:
            if kind == "connected":
                w.event("connected", at_s=float(item))  # type: ignore[arg-type]
            else:
                payload, t = item  # type: ignore[misc]
                source = POLAR_CONTROL_SOURCE if kind == "control" else POLAR_ACC_SOURCE
                w.packet(source=source, payload=payload, received_s=t)


def _one_by_one(path: Path) -> tuple[list[tuple[str, int, bytes]], PolarAccAssembler, int]:
    asm = PolarAccAssembler(fs=FS, range_g=8)
    blocks: list[tuple[str, int, bytes]] = []
    bad = 0
    for rec in read_capture(path).records:
        if getattr(rec, "kind", None) == "connected":
            asm.new_connection()
        elif getattr(rec, "source", None) == POLAR_CONTROL_SOURCE:
            asm.on_control(rec.payload)  # type: ignore[union-attr]
        elif getattr(rec, "source", None) == POLAR_ACC_SOURCE:
            try:
                got = asm.push(rec.payload,  # type: ignore[union-attr]
                               received_s=rec.received_s)  # type: ignore[union-attr]
            except CrampInputError:
                bad += 1
                continue
            blocks += [(r, b.start_sample, b.data.tobytes()) for r, b in got]
    blocks += [(r, b.start_sample, b.data.tobytes()) for r, b in asm.flush()]
    return blocks, asm, bad


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.sampled_from([1, 4, 36]),
       st.sampled_from([7, 101, 8192]), st.booleans())
def test_replay_through_the_bulk_decoder_equals_packet_by_packet(
        tmp_path_factory, seed: int, n_frames: int, per: int,  # type: ignore[no-untyped-def]
        window: int, touched: bool) -> None:
    import detector.capture.other_sources as other_sources

    path = tmp_path_factory.mktemp("p") / "night.cramp"
    _write(path, _night(np.random.default_rng(seed), n_frames, per))
    want, asm, bad = _one_by_one(path)
    saved = other_sources.REPLAY_WINDOW
    other_sources.REPLAY_WINDOW = window  # windows of any size give the same night
    capture = read_capture(path)
    if touched:  # a file touched since its scan is read record by record, not from the table
        st_ = path.stat()
        os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1_000_000))
        assert not capture.records.unchanged()
    try:
        rec = OtherBandCapture(path, capture=capture)
        assert hasattr(rec._last, "decode_rows")  # the bulk path was taken
        got = [(r, b.start_sample, b.data.tobytes()) for r, b in rec._replay()]
    except CrampInputError:
        assert not want  # no usable data either way
        return
    finally:
        other_sources.REPLAY_WINDOW = saved
    assert got == want
    assert rec.bad_packets == bad
    last, tr = rec._last, asm.track
    assert (last.track.received, last.track.lost, last.track.duplicates, last.track.frontier) \
        == (tr.received, tr.lost, tr.duplicates, tr.frontier)
    assert last.track.gaps == tr.gaps
    assert (last.start_unix_s, last.factor) == (asm.start_unix_s, asm.factor)
    assert sum(len(d) for _, _, d in got) > 0  # the night had samples to compare


def test_a_frame_longer_than_a_notification_is_judged_whole_as_packet_by_packet(
        tmp_path: Path) -> None:
    # frames in step, one of them a doctored record: a whole raw frame of more samples than
    # BLE carries in one notification (its first WIDTH bytes alone would be a shorter frame)
    rng = np.random.default_rng(11)
    n_long = (WIDTH - 10) // 6 + 40
    sizes = [36] * 10 + [n_long] + [36] * 10
    night: list[tuple[str, object]] = [("control", (START_RESPONSE, 0.0))]
    k = 0
    for n in sizes:
        k += n
        frame = _raw(1, rng.integers(-2000, 2000, size=(n, 3)), START_NS + round(k * 1e9 / FS))
        night.append(("packet", (frame, 1.7e9 + k / FS)))
    assert max(len(item[0]) for _, item in night[1:]) > WIDTH  # type: ignore[index]
    path = tmp_path / "night.cramp"
    _write(path, night)
    want, asm, bad = _one_by_one(path)
    assert asm.track.received == sum(sizes) and bad == 0  # packet by packet: taken whole
    for touched in (False, True):  # from the record table, and record by record
        capture = read_capture(path)
        if touched:
            st_ = path.stat()
            os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1_000_000))
        rec = OtherBandCapture(path, capture=capture)
        got = [(r, b.start_sample, b.data.tobytes()) for r, b in rec._replay()]
        assert got == want and rec.bad_packets == bad


def test_the_clock_trust_comes_from_the_capture_header() -> None:
    meta = {"fs_hz": 52, "range_g": 8}
    assert polar_assembler({"polar": meta}, where="c").clock_trust_s == 5.0
    asm = polar_assembler({"polar": {**meta, "clock_trust_s": 0.5}}, where="c")
    assert asm.clock_trust_s == 0.5
    for bad in (0, -1.0, "1", True):
        with pytest.raises(CrampInputError, match="clock_trust_s"):
            polar_assembler({"polar": {**meta, "clock_trust_s": bad}}, where="c")
