"""Bulk decoding of LegBand notifications agrees with the one-packet decoder, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.capture.index import rows_at
from detector.errors import CrampInputError
from detector.profiles import legband_batch
from detector.profiles.legband_batch import decode_data_batch, decode_payloads
from detector.profiles.legband_codec import decode_data_packet, packet_values
from tests.test_assembler import packet

FIELDS = ("stream_id", "seq", "first_sample", "device_ticks", "rate_code", "range_code",
          "n_samples")


@st.composite
def payloads(draw: st.DrawFn) -> list[bytes]:
    out = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["good", "good", "flip", "random", "cut"]))
        if kind == "random":
            out.append(draw(st.binary(max_size=40)))
            continue
        p = packet(draw(st.sampled_from([1, 3, 4])), draw(st.integers(0, (1 << 32) - 1)),
                   draw(st.integers(1, 12)), seq=draw(st.integers(0, 65535)),
                   backfill=draw(st.booleans()), range_code=draw(st.integers(0, 1)))
        if kind == "cut":  # a valid header with no samples, or part of one, after it
            p = p[:12 + draw(st.integers(0, 1))]
        if kind == "flip":
            raw = bytearray(p)
            raw[draw(st.integers(0, len(raw) - 1))] ^= draw(st.integers(1, 255))
            p = bytes(raw)
        out.append(p)
    return out


@settings(max_examples=200, deadline=None)
@given(pays=payloads(), pad=st.integers(0, 7))
def test_batch_equals_one_packet_decoder(pays: list[bytes], pad: int) -> None:
    by_bytes = decode_payloads(pays)
    lengths = np.array([len(p) for p in pays], dtype=np.int64)
    arr = np.frombuffer(b"\x00" * pad + b"".join(pays), dtype=np.uint8)  # any alignment
    offsets = pad + np.cumsum(lengths) - lengths
    by_array = decode_data_batch(arr, offsets, lengths)
    # headers read beforehand (as the capture scan does): 13 bytes from each payload's start,
    # the next payload's bytes past a short one, zeros past the end of the buffer
    by_heads = decode_data_batch(arr, offsets, lengths, heads=rows_at(arr, offsets, 13))
    saved = legband_batch.SMALL_BODY_BYTES
    legband_batch.SMALL_BODY_BYTES = -1  # every body divided, none looked up in the table
    try:
        by_division = decode_data_batch(arr, offsets, lengths)
    finally:
        legband_batch.SMALL_BODY_BYTES = saved
    decoded = []
    for p in pays:
        try:
            decoded.append(decode_data_packet(p))
        except CrampInputError:
            decoded.append(None)
    for batch in (by_bytes, by_array, by_heads, by_division):
        assert batch.ok.tolist() == [d is not None for d in decoded]
        for i, d in enumerate(decoded):
            if d is None:
                continue
            assert [int(getattr(batch, f)[i]) for f in FIELDS] == [getattr(d, f) for f in FIELDS]
            assert bool(batch.backfill[i]) == d.backfill
        for sid in (1, 3, 4):
            rows = np.flatnonzero(batch.ok & (batch.stream_id == sid))
            if rows.size:
                want = np.concatenate([packet_values(decoded[i]) for i in rows])  # type: ignore[arg-type]
                got = batch.values(rows)
                assert got.shape == want.shape and got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)


def test_uniform_packets_at_every_alignment_and_a_positive_control() -> None:
    pays = [packet(1, 40 * i, 40, seq=i) for i in range(9)]
    for pad in range(8):
        arr = np.frombuffer(b"\x01" * pad + b"".join(pays), dtype=np.uint8)
        lengths = np.full(9, len(pays[0]), dtype=np.int64)
        batch = decode_data_batch(arr, pad + np.arange(9) * len(pays[0]), lengths)
        want = np.concatenate([packet_values(decode_data_packet(p)) for p in pays])
        np.testing.assert_array_equal(batch.values(np.arange(9)), want)
        shifted = decode_data_batch(arr, pad + 1 + np.arange(8) * len(pays[0]), lengths[:8])
        assert not shifted.ok.any()  # one byte off: no valid header


@settings(max_examples=150, deadline=None)
@given(sid=st.sampled_from([1, 3, 4]), n=st.integers(1, 9), count=st.integers(1, 60),
       ranges=st.lists(st.integers(0, 1), min_size=1, max_size=3), chunk=st.integers(1, 40),
       corrupt=st.sets(st.integers(0, 59), max_size=5), pad=st.integers(0, 3))
def test_values_in_cache_sized_slices_equal_the_one_packet_decoder(
        sid: int, n: int, count: int, ranges: list[int], chunk: int, corrupt: set[int],
        pad: int) -> None:
    """Packets of one stream and one sample count are scaled a slice of rows at a time
    (any slice size, down to one value, so slices end inside and between packets): the
    samples of every row equal :func:`packet_values` of the packet, whatever the ranges
    (one for all rows: the sliced path; mixed: the general one), the alignment, and with
    damaged packets among them (not ``ok``: left out of the rows)."""
    pays = []
    for i in range(count):
        p = packet(sid, 1000 + n * i, n, seq=i, range_code=ranges[i % len(ranges)])
        if i in corrupt:
            p = p[:1] + b"\xff" + p[2:]  # reserved flag bits and codes set: not a valid header
        pays.append(p)
    lengths = np.array([len(p) for p in pays], dtype=np.int64)
    arr = np.frombuffer(b"\x00" * pad + b"".join(pays), dtype=np.uint8)
    batch = decode_data_batch(arr, pad + np.cumsum(lengths) - lengths, lengths)
    rows = np.flatnonzero(batch.ok)
    assert rows.tolist() == [i for i in range(count) if i not in corrupt]
    if not rows.size:
        return
    want = np.concatenate([packet_values(decode_data_packet(pays[i])) for i in rows])
    saved = legband_batch.VALUES_CHUNK_VALUES
    legband_batch.VALUES_CHUNK_VALUES = chunk
    try:
        got = batch.values(rows)
        shifted = batch.values(rows[1:]) if rows.size > 1 else None
    finally:
        legband_batch.VALUES_CHUNK_VALUES = saved
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    # positive control: the same rows one packet off in the file give other samples
    if shifted is not None:
        assert not np.array_equal(shifted, want[:shifted.shape[0]])
