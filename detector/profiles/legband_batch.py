"""Bulk decoding of LegBand data notifications: numpy views over many payloads at once.

:func:`decode_data_batch` reads the headers of any number of notifications held in one byte
buffer (a joined list of payloads, or a mapped capture file) with one structured gather, and
checks every packet exactly as :func:`~detector.profiles.legband_codec.decode_data_header`
does, as array operations. It never raises for a bad packet: the packet's ``ok`` is False.
:meth:`DataBatch.values` then decodes the samples of any rows into the stream's unit with the
same arithmetic as :func:`~detector.profiles.legband_codec.packet_values`, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from detector.profiles.legband import LEGBAND, LegBandProfile

Bytes = bytes | bytearray | memoryview

HEADER_DTYPE = np.dtype([("vs", "u1"), ("flags", "u1"), ("seq", "<u2"), ("first", "<u4"),
                         ("ticks", "<u4")])
"""One data-packet header (the profile's ``"<BBHII"``), 12 bytes."""


@dataclass(frozen=True, kw_only=True, eq=False)
class DataBatch:
    """Header fields of many data notifications, and where their samples are.

    Attributes
    ----------
    buffer : ndarray of uint8, shape (size,)
        The bytes the payloads lie in.
    ok : ndarray of bool, shape (n,)
        True where the payload is a valid data packet of the profile (as
        :func:`~detector.profiles.legband_codec.decode_data_header` would accept it).
    stream_id, seq, first_sample, device_ticks, rate_code, range_code, n_samples : ndarray of
    int64, shape (n,)
        As in :class:`~detector.profiles.legband_codec.DataPacket` (0 where not ``ok``).
    backfill : ndarray of bool, shape (n,)
    sample_offset : ndarray of int64, shape (n,)
        Byte offset in ``buffer`` of each packet's first sample.
    profile : LegBandProfile
    """

    buffer: np.ndarray
    ok: np.ndarray
    stream_id: np.ndarray
    seq: np.ndarray
    first_sample: np.ndarray
    device_ticks: np.ndarray
    rate_code: np.ndarray
    range_code: np.ndarray
    n_samples: np.ndarray
    backfill: np.ndarray
    sample_offset: np.ndarray
    profile: LegBandProfile
    source: Any = None
    """The buffer object ``buffer`` views (bytes or mmap), when slicing it gives bytes."""

    def __len__(self) -> int:
        return int(self.ok.shape[0])

    def counts(self, rows: np.ndarray) -> np.ndarray:
        """ADC counts of ``rows`` (all of one stream), concatenated in row order.

        Returns
        -------
        ndarray of int16, shape (sum of n_samples,) or (sum, axes)
        """
        rows = np.asarray(rows, dtype=np.int64)
        if not rows.size:
            raise ValueError("no rows to decode")
        spec = self.profile.stream(int(self.stream_id[rows[0]]))
        per_row = self.n_samples[rows] * spec.axes  # int16 values per packet
        offsets = self.sample_offset[rows]
        total = int(per_row.sum())
        if bool(np.all(per_row == per_row[0])):  # one width: one gather of whole rows
            rows_bytes = _row_items(self.buffer, 2 * int(per_row[0]))[offsets]
            out = rows_bytes.view(np.uint8).view(self.profile.data.sample_dtype)
            return out.reshape(-1, spec.axes) if spec.axes > 1 else out
        if self.source is not None:  # one bytes slice per packet, joined
            src = self.source
            ends = (offsets + 2 * per_row).tolist()
            joined = b"".join([src[x:y] for x, y in zip(offsets.tolist(), ends, strict=True)])
            out = np.frombuffer(joined, dtype=self.profile.data.sample_dtype)
            return out.reshape(-1, spec.axes) if spec.axes > 1 else out
        out = np.empty(total, dtype=np.int16)
        for parity in (0, 1):  # packets of different lengths: one int16 view per byte parity
            sel = np.flatnonzero(offsets % 2 == parity)
            if not sel.size:
                continue
            end = parity + 2 * ((self.buffer.shape[0] - parity) // 2)
            words = self.buffer[parity:end].view(self.profile.data.sample_dtype)
            lens = per_row[sel]
            starts_out = (np.cumsum(per_row) - per_row)[sel]
            out[_positions(starts_out, lens)] = words[_positions((offsets[sel] - parity) // 2,
                                                                 lens)]
        return out.reshape(-1, spec.axes) if spec.axes > 1 else out

    def values(self, rows: np.ndarray) -> np.ndarray:
        """Samples of ``rows`` (all of one stream) in the stream's unit, in row order.

        Same arithmetic as :func:`~detector.profiles.legband_codec.packet_values` per packet
        (counts as float64 times the LSB of the packet's range).

        Returns
        -------
        ndarray of float64, shape (sum of n_samples,) or (sum, axes)
            uV for EMG streams, g for accelerometers.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if not rows.size:
            raise ValueError("no rows to decode")
        spec = self.profile.stream(int(self.stream_id[rows[0]]))
        codes = self.range_code[rows]
        lsbs = np.array([spec.lsb(fs) for fs in spec.full_scales], dtype=np.float64)
        per_row = self.n_samples[rows] * spec.axes
        if bool(np.all(codes == codes[0])) and bool(np.all(per_row == per_row[0])):
            return self._scaled_rows(rows, int(per_row[0]), lsbs[codes[0]], spec.axes)
        counts = self.counts(rows)
        if np.all(codes == codes[0]):  # int16 -> float64 and the product in one pass
            return np.multiply(counts, lsbs[codes[0]], dtype=np.float64)
        out = counts.astype(np.float64)
        per_sample = np.repeat(lsbs[codes], self.n_samples[rows])
        out *= per_sample[:, None] if spec.axes > 1 else per_sample
        return out


    def _scaled_rows(self, rows: np.ndarray, width: int, lsb: np.float64,
                     axes: int) -> np.ndarray:
        """:meth:`values` of packets of one sample count and one range: the samples gathered
        a cache-sized slice of rows at a time and scaled straight into the float64 result
        (no int16 copy of the whole selection is made).

        Parameters
        ----------
        rows : ndarray of int64, shape (n,)
            Packets of one stream, each of ``width`` int16 values.
        width : int
            int16 values per packet (samples times axes).
        lsb : float64
            Unit per count of the packets' range.
        axes : int
            Values per sample.

        Returns
        -------
        ndarray of float64, shape (n * width / axes,) or (n * width / axes, axes)
        """
        items = _row_items(self.buffer, 2 * width)
        offsets = self.sample_offset[rows]
        n = int(rows.shape[0])
        out = np.empty((n, width), dtype=np.float64)
        step = max(1, VALUES_CHUNK_VALUES // width)
        sample = self.profile.data.sample_dtype
        for i in range(0, n, step):
            counts = items[offsets[i:i + step]].view(np.uint8).view(sample)
            np.multiply(counts.reshape(-1, width), lsb, out=out[i:i + step])
        return out.reshape(-1, axes) if axes > 1 else out.reshape(-1)


VALUES_CHUNK_VALUES = 1 << 17
"""int16 values :meth:`DataBatch.values` gathers at a time before scaling them (256 KiB: the
gathered counts stay in cache until they are scaled)."""


def _header_view(heads: np.ndarray, hsize: int) -> np.ndarray:
    """The first ``hsize`` bytes of each row of ``heads`` (uint8, shape (n, >= hsize)) as
    :data:`HEADER_DTYPE` records: a view of C-contiguous rows (the fields at their offsets in
    an item as wide as a row), else a copy of those bytes."""
    width = int(heads.shape[1])
    if heads.flags.c_contiguous and heads.dtype == np.uint8 and width >= hsize:
        padded = np.dtype({"names": list(HEADER_DTYPE.names or ()),
                           "formats": [HEADER_DTYPE.fields[f][0] for f in HEADER_DTYPE.names],
                           "offsets": [HEADER_DTYPE.fields[f][1] for f in HEADER_DTYPE.names],
                           "itemsize": width})
        return heads.view(padded).reshape(-1)
    return np.ascontiguousarray(heads[:, :hsize]).view(HEADER_DTYPE).reshape(-1)


def _row_items(buffer: np.ndarray, width: int) -> np.ndarray:
    """``buffer`` (uint8, contiguous) as overlapping items of ``width`` bytes, one starting at
    every byte offset: a gather of them copies whole rows (each one ``memcpy``); a strided
    ``buffer`` is copied first."""
    buffer = np.ascontiguousarray(buffer)
    return np.ndarray(shape=(max(0, int(buffer.shape[0]) - width + 1),),
                      dtype=np.dtype((np.void, width)), buffer=buffer, strides=(1,))


def _positions(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Indices ``starts[i] + arange(lens[i])`` for every i, concatenated."""
    total = int(lens.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
    return shift + np.arange(total, dtype=np.int64)


def decode_data_batch(buffer: np.ndarray | Bytes, offsets: np.ndarray, lengths: np.ndarray, *,
                      profile: LegBandProfile = LEGBAND,
                      heads: np.ndarray | None = None) -> DataBatch:
    """Decode the headers of many data notifications lying in one buffer.

    Parameters
    ----------
    buffer : ndarray of uint8, bytes or mmap, shape (size,)
        Bytes holding the payloads (e.g. a mapped capture, or payloads joined). The samples
        of packets of one length are copied out by one row gather from a window view; packets
        of different lengths by slicing bytes or an mmap, or by a gather from an array.
    offsets, lengths : ndarray of int, shape (n,)
        Start and length (bytes) of each payload in ``buffer``.
    profile : LegBandProfile
        Profile whose layout is used.
    heads : ndarray of uint8, shape (n, >= 12), optional
        The first bytes of each payload, already read (the capture scan reads them with the
        record heads); used instead of reading the headers from ``buffer``. Bytes past a
        payload's length are not looked at.

    Returns
    -------
    DataBatch
        ``ok`` False for every payload :func:`~detector.profiles.legband_codec.
        decode_data_header` would refuse (short, wrong version, unknown stream, reserved
        flags, undefined rate or range code, body not a positive multiple of the sample size).
    """
    source = None if isinstance(buffer, np.ndarray | memoryview) else buffer
    buf = buffer if isinstance(buffer, np.ndarray) else np.frombuffer(buffer, dtype=np.uint8)
    off = np.asarray(offsets, dtype=np.int64)
    length = np.asarray(lengths, dtype=np.int64)
    layout = profile.data
    hsize = layout.header_size
    if hsize != HEADER_DTYPE.itemsize:
        raise ValueError(f"profile header of {hsize} bytes; the batch decoder reads "
                         f"{HEADER_DTYPE.itemsize}")
    n = off.shape[0]
    long_enough = length >= hsize
    every = bool(long_enough.all())
    if heads is not None:  # read already: the header bytes, zero where the payload is short
        head = _header_view(heads, hsize)
        if not every:
            head = head.copy()  # never write into the caller's bytes
            head[~long_enough] = np.zeros((), dtype=HEADER_DTYPE)
    elif every and n:  # one row gather from a window view of the bytes
        head = sliding_window_view(buf, hsize)[off].view(HEADER_DTYPE).reshape(-1)
    else:
        head = np.zeros(n, dtype=HEADER_DTYPE)
        if long_enough.any():
            raw = sliding_window_view(buf, hsize)[off[long_enough]]
            head[long_enough] = raw.view(HEADER_DTYPE).reshape(-1)
    # every check on the two header bytes at once: a table over (version|stream, flags)
    valid, stream_of, width_of = _header_tables(profile)
    vs = head["vs"].astype(np.intp)
    flags = head["flags"]
    body = length - hsize
    ok = long_enough & np.take(valid, (vs << 8) | flags)
    n_samples, whole = _samples_in(body, vs, width_of)
    ok &= whole
    all_ok = bool(ok.all())
    bad = ~ok

    def field(values: np.ndarray, *, fresh: bool = False) -> np.ndarray:
        out = values if fresh else values.astype(np.int64)  # int64, 0 set where not ok
        if not all_ok:
            out[bad] = 0
        return out

    codes = flags.astype(np.int64)
    rate_code = (codes >> layout.rate_shift) & layout.code_mask
    range_code = codes & layout.code_mask
    return DataBatch(
        buffer=buf, ok=ok, stream_id=field(np.take(stream_of, vs), fresh=True),
        seq=field(head["seq"]), first_sample=field(head["first"]),
        device_ticks=field(head["ticks"]), rate_code=field(rate_code, fresh=True),
        range_code=field(range_code, fresh=True), n_samples=field(n_samples, fresh=True),
        backfill=ok & ((codes & layout.backfill_flag) != 0),
        sample_offset=field(off + hsize, fresh=True), profile=profile, source=source,
    )


def _header_tables(profile: LegBandProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables of the header's first two bytes for ``profile``.

    Returns
    -------
    valid : ndarray of bool, shape (65536,)
        By ``vs << 8 | flags``: the version is the profile's, the stream is defined, no
        reserved flag is set and the rate and range codes are defined for the stream (the
        checks of :func:`~detector.profiles.legband_codec.decode_data_header` on those bytes).
    stream_of : ndarray of int64, shape (256,)
        By ``vs``: the stream id (``vs & 0x0F``).
    width_of : ndarray of int64, shape (256,)
        By ``vs``: sample bytes of the stream (0 when the profile has no such stream or the
        version is not the profile's).
    """
    layout = profile.data
    n_rates = np.zeros(16, dtype=np.int64)
    n_ranges = np.zeros(16, dtype=np.int64)
    sample_bytes = np.zeros(16, dtype=np.int64)
    for spec in profile.streams:
        n_rates[spec.stream_id] = len(spec.rates_hz)
        n_ranges[spec.stream_id] = len(spec.full_scales)
        sample_bytes[spec.stream_id] = spec.sample_bytes
    byte = np.arange(256, dtype=np.int64)
    stream_of = byte & 0x0F
    width_of = np.where((byte >> 4) == layout.version, sample_bytes[stream_of], 0)
    vs, flags = byte[:, None], byte[None, :]
    sid = vs & 0x0F
    valid = (((vs >> 4) == layout.version) & (sample_bytes[sid] > 0)
             & ((flags & layout.reserved_flags) == 0)
             & (((flags >> layout.rate_shift) & layout.code_mask) < n_rates[sid])
             & ((flags & layout.code_mask) < n_ranges[sid]))
    return valid.reshape(-1), stream_of, width_of


SMALL_BODY_BYTES = 4096
"""Bodies up to this long (all a BLE notification can hold) are divided into samples by a
table lookup, not an int64 division per packet."""


def _samples_in(body: np.ndarray, vs: np.ndarray, width_of: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Samples in each body and whether it is a positive whole number of them.

    Parameters
    ----------
    body : ndarray of int64, shape (n,)
        Body bytes after the header (negative for a payload shorter than the header).
    vs : ndarray of intp, shape (n,)
        The header's first byte (version and stream).
    width_of : ndarray of int64, shape (256,)
        Sample bytes by first byte (0: no such stream, counted as 1 here).

    Returns
    -------
    n_samples : ndarray of int64, shape (n,)
        ``body // width`` (a fresh array; 0 for a short payload).
    whole : ndarray of bool, shape (n,)
        ``body > 0`` and ``body % width == 0``.
    """
    width = np.maximum(width_of, 1)
    b = np.maximum(body, 0)
    top = int(b.max()) if b.size else 0
    if top > SMALL_BODY_BYTES:
        w = np.take(width, vs)
        return b // w, (b > 0) & (b % w == 0)
    span = np.arange(top + 1, dtype=np.int64)[None, :]
    quotient = (span // width[:, None]).reshape(-1)  # by (first byte, body bytes)
    fits = ((span % width[:, None] == 0) & (span > 0)).reshape(-1)
    key = vs * (top + 1) + b
    return np.take(quotient, key), np.take(fits, key)


def decode_payloads(payloads: Sequence[Bytes], *,
                    profile: LegBandProfile = LEGBAND) -> DataBatch:
    """:func:`decode_data_batch` over separate payloads (joined into one buffer first)."""
    parts = [bytes(p) if not isinstance(p, bytes) else p for p in payloads]
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    offsets = np.cumsum(lengths) - lengths
    return decode_data_batch(b"".join(parts), offsets, lengths, profile=profile)
