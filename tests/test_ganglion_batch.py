"""Bulk Ganglion decoding equals the one-packet decoder, and a replay through it equals one
fed packet by packet (samples, gaps and counters), whatever the stream holds; the records
read from the scan's table (the other bands' replay) equal the record list's."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.capture.bulk_windows import table_records
from detector.capture.ganglion_source import DATA_SOURCE, GanglionAssembler
from detector.capture.other_sources import OtherBandCapture
from detector.capture.reader import read_capture
from detector.capture.writer import CaptureWriter
from detector.errors import CrampInputError
from detector.profiles.ganglion import GANGLION, PacketKind, decode_packet
from detector.profiles.ganglion_batch import KIND_ANCHOR, KIND_DELTA, KIND_NONE, decode_payloads
from firmware_sim.ganglion_sim import DeltaEncoder, encode_anchor

ORIGIN_S = 1.7e9


def _packet(draw: st.DrawFn) -> bytes:
    """A notification: a real anchor or delta packet, or arbitrary bytes (any ID, length)."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        counts = np.array(draw(st.lists(st.integers(-(1 << 23), (1 << 23) - 1),
                                        min_size=4, max_size=4)))
        return encode_anchor(counts)
    if choice == 1:
        bits = draw(st.sampled_from([18, 19]))
        enc = DeltaEncoder(np.zeros(4, dtype=np.int64), bits=bits)
        targets = np.array(draw(st.lists(st.integers(-(1 << 20), 1 << 20), min_size=8,
                                         max_size=8))).reshape(2, 4)
        return enc.encode(draw(st.integers(1, 100)), targets)[0]
    return draw(st.binary(min_size=0, max_size=24))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_bulk_decode_equals_decode_packet(data: st.DataObject) -> None:
    payloads = [_packet(data.draw) for _ in range(data.draw(st.integers(0, 12)))]
    batch = decode_payloads(payloads)
    assert len(batch) == len(payloads)
    for k, p in enumerate(payloads):
        try:
            packet = decode_packet(p)
        except CrampInputError:
            assert not batch.ok[k]
            continue
        assert batch.ok[k]
        if packet.kind is PacketKind.UNCOMPRESSED:
            assert batch.kind[k] == KIND_ANCHOR and batch.cycle_position[k] == 0
            assert batch.counts[k].tolist() == packet.counts[0].tolist()
        elif packet.deltas is not None:
            assert batch.kind[k] == KIND_DELTA
            assert batch.cycle_position[k] == packet.cycle_position
            assert batch.deltas[k].tolist() == packet.deltas.tolist()
        else:
            assert batch.kind[k] == KIND_NONE and packet.n_samples == 0


def _night(rng: np.random.Generator, n_cycles: int) -> list[tuple[str, object]]:
    """Cycles of real packets with losses, foreign bytes and reconnections between them."""
    out: list[tuple[str, object]] = []
    t = ORIGIN_S
    counts = np.cumsum(rng.integers(-3000, 3000, size=(201 * n_cycles, 4)), axis=0)
    bits = int(rng.choice([18, 19]))  # accelerometer on / off
    for c in range(n_cycles):
        base = c * GANGLION.samples_per_cycle
        cycle = [encode_anchor(counts[base])]
        enc = DeltaEncoder(counts[base], bits=bits)
        cycle += [enc.encode(n, counts[base + 2 * n - 1:base + 2 * n + 1])[0]
                  for n in range(1, 101)]
        for payload in cycle:
            t += 0.01
            u = rng.random()
            if u < 0.02:
                continue  # lost
            if u < 0.03:
                out.append(("packet", bytes(rng.integers(0, 256, int(rng.integers(0, 21)),
                                                         dtype=np.uint8))))
            out.append(("packet", (payload, t)))
        if rng.random() < 0.3:
            t += float(rng.uniform(0.5, 5.0))
            out.append(("connected", t))
    return out


LEGS = {0: "left", 3: "right"}  # channel 3: the last field of a packet, its last byte


def _assembler(legs: bool) -> GanglionAssembler:
    return GanglionAssembler(channel_legs=LEGS) if legs else GanglionAssembler(channel=3)


def _write(path: Path, night: list[tuple[str, object]], legs: bool) -> None:
    t = ORIGIN_S
    meta = {"channel_legs": {str(k): v for k, v in LEGS.items()}} if legs else {"channel": 3}
    with CaptureWriter(path, session={"profile": "ganglion", "ganglion": meta},
                       background_sync=False) as w:
        for kind, item in night:
            if kind == "connected":
                t = float(item)  # type: ignore[arg-type]
                w.event("connected", at_s=t)
            elif isinstance(item, tuple):
                payload, t = item
                w.packet(source=DATA_SOURCE, payload=payload, received_s=t)
            else:
                w.packet(source=DATA_SOURCE, payload=item, received_s=t)  # type: ignore[arg-type]


def _one_by_one(path: Path, legs: bool) -> tuple[list[tuple[str, int, list[float]]],
                                                 GanglionAssembler, int]:
    asm = _assembler(legs)
    blocks: list[tuple[str, int, list[float]]] = []
    bad = 0
    for rec in read_capture(path).records:
        if getattr(rec, "kind", None) == "connected":
            asm.new_connection()
        elif getattr(rec, "source", None) == DATA_SOURCE:
            try:
                got = asm.push_notification(DATA_SOURCE, rec.payload, received_s=rec.received_s)
            except CrampInputError:
                bad += 1
                continue
            blocks += [(r, b.start_sample, b.data.tolist()) for r, b in got]
    blocks += [(r, b.start_sample, b.data.tolist()) for r, b in asm.flush()]
    return blocks, asm, bad


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.sampled_from([7, 101, 8192]),
       st.booleans(), st.booleans())
def test_replay_through_the_bulk_decoder_equals_packet_by_packet(
        tmp_path_factory, seed: int, n_cycles: int, window: int,  # type: ignore[no-untyped-def]
        legs: bool, touched: bool) -> None:
    import detector.capture.other_sources as other_sources

    path = tmp_path_factory.mktemp("g") / "night.cramp"
    _write(path, _night(np.random.default_rng(seed), n_cycles), legs)
    want, asm, bad = _one_by_one(path, legs)
    saved = other_sources.REPLAY_WINDOW
    other_sources.REPLAY_WINDOW = window  # windows of any size give the same night
    capture = read_capture(path)
    if touched:  # a file touched since its scan is read record by record, not from the table
        st_ = path.stat()
        os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1_000_000))
        assert not capture.records.unchanged()
    try:
        rec = OtherBandCapture(path, capture=capture)
        got = [(r, b.start_sample, b.data.tolist()) for r, b in rec._replay()]
    except CrampInputError:
        assert not want  # no usable data either way
        return
    finally:
        other_sources.REPLAY_WINDOW = saved
    assert got == want
    assert rec.bad_packets == bad
    last = rec._last
    assert (last.lost_packets, last.unanchored_samples, last.estimated_gaps) == \
        (asm.lost_packets, asm.unanchored_samples, asm.estimated_gaps)
    assert [t.gaps for t in last.tracks.values()] == [t.gaps for t in asm.tracks.values()]
    assert sum(len(d) for _, _, d in got) > 0  # the night had samples to compare


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["polar:acc", "myo:emg0", "event"]),
                          st.binary(max_size=40)), max_size=40))
def test_records_from_the_table_equal_the_record_list(
        tmp_path_factory, items: list[tuple[str, bytes]]) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("t") / "night.cramp"
    with CaptureWriter(path, session={"profile": "polar_pmd"}, background_sync=False) as w:
        for k, (source, payload) in enumerate(items):
            if source == "event":
                w.event("connected", at_s=ORIGIN_S + k, note=payload.hex())
            else:
                w.packet(source=source, payload=payload, received_s=ORIGIN_S + k / 3)
    capture = read_capture(path)
    fast = table_records(capture)
    assert fast is not None
    assert list(fast) == list(capture.records)
    assert len(list(capture.records)) == len(items)  # every record was written and read
    st_ = path.stat()
    os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1_000_000))
    assert table_records(capture) is None  # a file touched since: read record by record
