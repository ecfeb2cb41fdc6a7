"""Bulk Movesense decoding equals the one-packet decoder, and a replay through it equals one
fed packet by packet (samples, gaps, counters, bad packets), whatever the stream holds:
split messages, lost parts, command results, foreign bytes, reconnections, clock wraps."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.capture.movesense_source import DATA_SOURCE, MovesenseAssembler
from detector.capture.other_sources import OtherBandCapture
from detector.capture.reader import read_capture
from detector.capture.writer import CaptureWriter
from detector.errors import CrampInputError
from detector.profiles.movesense import (
    DataNotification,
    acc_g,
    decode_imu_data,
    parse_notification,
)
from detector.profiles.movesense_batch import WIDTH, decode_matrix
from firmware_sim.movesense_sim import encode_acc_data, split_message

ORIGIN_S = 1.7e9
FS = 104


def _rows(payloads: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    mat = np.zeros((len(payloads), WIDTH + 3), dtype=np.uint8)
    for k, p in enumerate(payloads):
        mat[k, :len(p)] = np.frombuffer(p, dtype=np.uint8)
    return mat, np.array([len(p) for p in payloads], dtype=np.int64)


def _packet(draw: st.DrawFn) -> bytes:
    """A real DATA message (maybe with a non-finite value), or arbitrary bytes."""
    if draw(st.booleans()):
        n = draw(st.integers(1, 8))
        acc = np.array(draw(st.lists(st.floats(-80, 80, width=32), min_size=3 * n,
                                     max_size=3 * n)), dtype=np.float64)
        if draw(st.integers(0, 5)) == 0:
            acc[draw(st.integers(0, 3 * n - 1))] = draw(st.sampled_from([np.nan, np.inf]))
        return encode_acc_data(draw(st.integers(1, 255)),
                               timestamp_ms=draw(st.integers(0, 2**32 - 1)), acc_ms2=acc)
    head = draw(st.sampled_from([b"", b"\x01", b"\x02", b"\x03", b"\x02\x00", b"\x02\x01"]))
    return head + draw(st.binary(max_size=40))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_bulk_decode_equals_the_one_packet_decoder(data: st.DataObject) -> None:
    payloads = [_packet(data.draw) for _ in range(data.draw(st.integers(0, 10)))]
    batch = decode_matrix(*_rows(payloads))
    assert len(batch) == len(payloads)
    for k, p in enumerate(payloads):
        assert batch.payload(k) == p
        try:
            message = parse_notification(p)
            whole = isinstance(message, DataNotification) and message.part == 1
            imu = decode_imu_data(message.payload, fs=FS) if whole else None  # type: ignore[union-attr]
        except CrampInputError:
            imu = None
        assert bool(batch.simple[k]) == (imu is not None)
        if imu is not None:
            got = batch.acc_g[k]
            assert got is not None and got.dtype == np.float64
            assert got.tobytes() == acc_g(imu).tobytes()  # bit for bit
            assert batch.timestamp_ms[k] == imu.timestamp_ms
            assert batch.reference[k] == p[1]


def _night(rng: np.random.Generator, n_messages: int, per: int, *, fs: int
           ) -> list[tuple[str, object]]:
    """Messages (some split in two, some parts lost) with foreign notifications, stamp jumps,
    repeats and reconnections between them; the sensor clock may wrap."""
    out: list[tuple[str, object]] = []
    t = ORIGIN_S
    boot = int(rng.choice([1000, 2**32 - 3000]))
    k = 0
    for _ in range(n_messages):
        acc = rng.normal(0.0, 3.0, size=(per, 3))
        if rng.random() < 0.02:
            acc[0, 0] = np.nan
        message = encode_acc_data(1, timestamp_ms=boot + round(k * 1000.0 / fs), acc_ms2=acc)
        parts = split_message(message, max_bytes=int(rng.choice([244, 244, 8 + 6 * per])))
        t += per / fs
        u = rng.random()
        if u < 0.03:
            parts = parts[:1] if len(parts) > 1 else []  # a lost part / message
        elif u < 0.05:
            parts = parts[1:] if len(parts) > 1 else parts
        for p in parts:
            out.append(("packet", (p, t)))
        u = rng.random()
        if u < 0.03:
            out.append(("packet", (bytes(rng.integers(0, 256, int(rng.integers(0, 30)),
                                                      dtype=np.uint8)), t)))
        elif u < 0.05:
            out.append(("packet", (bytes([1, 1, 0x01, 0xFB]), t)))  # 507
        elif u < 0.07:
            out.append(("packet", (encode_acc_data(2, timestamp_ms=5, acc_ms2=acc), t)))
        k += per
        u = rng.random()
        if u < 0.04:
            k += int(rng.integers(1, 3 * per))  # samples the sensor sent while nobody heard
        elif u < 0.06:
            k -= int(rng.integers(1, per + 1))  # a repeat
        if rng.random() < 0.04:
            gap = int(rng.choice([0, 1, int(rng.integers(2, 500))]))  # 0-1: within a stamp's error
            k += gap
            t += gap / fs
            out.append(("connected", t))
    return out


def _write(path: Path, night: list[tuple[str, object]], *, fs: int) -> None:
    session = {"profile": "movesense", "movesense": {"fs_hz": fs, "role": "shank_acc"}}
    with CaptureWriter(path, session=session, background_sync=False) as w:
        w.packet(source="movesense:command", payload=b"\x01\x01/Meas/Acc/104",
                 received_s=ORIGIN_S)
        for kind, item in night:
            if kind == "connected":
                w.event("connected", at_s=float(item))  # type: ignore[arg-type]
            else:
                payload, t = item  # type: ignore[misc]
                w.packet(source=DATA_SOURCE, payload=payload, received_s=t)


def _one_by_one(path: Path, *, fs: int
                ) -> tuple[list[tuple[str, int, bytes]], MovesenseAssembler, int]:
    asm = MovesenseAssembler(fs=fs)
    blocks: list[tuple[str, int, bytes]] = []
    bad = 0
    for rec in read_capture(path).records:
        if getattr(rec, "kind", None) == "connected":
            asm.new_connection()
        elif getattr(rec, "source", None) is not None:
            try:
                got = asm.push_notification(rec.source, rec.payload,  # type: ignore[union-attr]
                                            received_s=rec.received_s)  # type: ignore[union-attr]
            except CrampInputError:
                bad += 1
                continue
            blocks += [(r, b.start_sample, b.data.tobytes()) for r, b in got]
    blocks += [(r, b.start_sample, b.data.tobytes()) for r, b in asm.flush()]
    return blocks, asm, bad


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.sampled_from([1, 8, 25]),
       st.sampled_from([7, 101, 8192]), st.booleans(), st.sampled_from([13, 104, 1666]))
def test_replay_through_the_bulk_decoder_equals_packet_by_packet(
        tmp_path_factory, seed: int, n_messages: int, per: int,  # type: ignore[no-untyped-def]
        window: int, touched: bool, fs: int) -> None:
    import detector.capture.other_sources as other_sources

    path = tmp_path_factory.mktemp("m") / "night.cramp"
    _write(path, _night(np.random.default_rng(seed), n_messages, per, fs=fs), fs=fs)
    want, asm, bad = _one_by_one(path, fs=fs)
    saved = other_sources.REPLAY_WINDOW
    other_sources.REPLAY_WINDOW = window  # windows of any size give the same night
    capture = read_capture(path)
    if touched:  # a file touched since its scan is read record by record, not from the table
        st_ = path.stat()
        os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1_000_000))
        assert not capture.records.unchanged()
    try:
        rec = OtherBandCapture(path, capture=capture)
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
    assert (last.start_unix_s, last.refused) == (asm.start_unix_s, asm.refused)
    assert sum(len(d) for _, _, d in got) > 0  # the night had samples to compare
