"""Polar PMD accelerometer data frames: pure decoders, sample times, mapping to the pipeline.

The profile, commands and control-point parsing live in :mod:`detector.profiles.polar_pmd`.
A data frame is ``[measurement type][u64 timestamp][frame type][payload]``: the timestamp is
that of the *last* sample, ns since 2000-01-01T00:00:00 UTC. Frame type bit 7 marks a
delta-compressed frame. ACC raw types 0/1/2 hold 3 x int8/int16/int24 per sample, in mG.
Compressed frames hold a reference sample (3 x int16) and blocks ``[bit width][count][count x 3
deltas]``, bits read LSB-first, each delta sign-extended and added to the previous sample. Type
0x80 values times factor x 1000 are mG; type 0x81 values are mG (times factor when it is not 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detector.errors import CrampInputError
from detector.profiles.errors import DecodeError
from detector.profiles.polar_pmd import (
    POLAR_EPOCH_UNIX_S,
    POLAR_PMD,
    Bytes,
    MeasurementType,
)
from detector.signals import ChannelSpec

_MAX_TIMESTAMP_NS = 2**62
"""Frame timestamps from here on (year 2146) are rejected: int64 arithmetic stays exact."""

# ------------------------------------------------------------------------------ data frames


@dataclass(frozen=True, kw_only=True)
class FrameHeader:
    """The 10-byte header of a PMD data frame.

    Attributes
    ----------
    measurement_type : int
        Byte 0 (see :class:`MeasurementType`).
    timestamp_ns : int
        Time of the frame's last sample, ns since 2000-01-01 UTC (u64).
    frame_type : int
        Frame type without the compression bit (0-127).
    compressed : bool
        True for a delta-compressed frame.
    """

    measurement_type: int
    timestamp_ns: int
    frame_type: int
    compressed: bool


def parse_frame_header(data: Bytes) -> FrameHeader:
    """Decode the header of a PMD data frame.

    Raises
    ------
    DecodeError
        Fewer than 10 bytes.
    """
    raw = bytes(data)
    if len(raw) < POLAR_PMD.header_bytes:
        raise DecodeError("polar_pmd.data",
                          f"{len(raw)} bytes; a frame header is {POLAR_PMD.header_bytes}")
    kind = raw[9]
    return FrameHeader(measurement_type=raw[0],
                       timestamp_ns=int.from_bytes(raw[1:9], "little"),
                       frame_type=kind & 0x7F,
                       compressed=bool(kind & POLAR_PMD.compressed_bit))


@dataclass(frozen=True, kw_only=True, eq=False)
class AccFrame:
    """A decoded accelerometer frame.

    Attributes
    ----------
    timestamp_ns : int
        Time of the last sample, ns since 2000-01-01 UTC (the frame's timestamp).
    frame_type : int
        Frame type without the compression bit.
    compressed : bool
        True for a delta-compressed frame.
    counts : ndarray of int64, shape (n, 3)
        Values as carried by the frame (mG for raw frames, device units for compressed).
    acc_mg : ndarray of float64, shape (n, 3)
        Acceleration in milli-g, axes x, y, z of the device.
    sample_times_ns : ndarray of int64, shape (n,)
        Time of each sample, ns since 2000-01-01 UTC; the last equals ``timestamp_ns``.
    fs : float
        Sampling rate of the stream (Hz).
    """

    timestamp_ns: int
    frame_type: int
    compressed: bool
    counts: np.ndarray
    acc_mg: np.ndarray
    sample_times_ns: np.ndarray
    fs: float

    @property
    def n_samples(self) -> int:
        """Number of samples in the frame."""
        return int(self.counts.shape[0])

    @property
    def unix_times_s(self) -> np.ndarray:
        """Sample times as Unix seconds (float64, shape (n,))."""
        return pmd_ns_to_unix_s(self.sample_times_ns)


def pmd_ns_to_unix_s(timestamp_ns: np.ndarray | int) -> np.ndarray:
    """Convert PMD timestamps (ns since 2000-01-01 UTC) to Unix seconds (float64)."""
    return np.asarray(timestamp_ns, dtype=np.float64) / 1e9 + POLAR_EPOCH_UNIX_S


def _signed_le(raw: bytes, width: int) -> np.ndarray:
    """Signed little-endian integers of ``width`` bytes each, as int64."""
    if width in (1, 2):
        return np.frombuffer(raw, dtype=f"<i{width}").astype(np.int64)
    octets = np.frombuffer(raw, dtype=np.uint8).astype(np.int64).reshape(-1, width)
    values = np.zeros(octets.shape[0], dtype=np.int64)
    for i in range(width):
        values |= octets[:, i] << (8 * i)
    sign = np.int64(1) << (8 * width - 1)
    return np.where(values & sign, values - (sign << 1), values)


def decode_delta_payload(payload: Bytes, *, channels: int, resolution_bits: int) -> np.ndarray:
    """Decode a delta-compressed payload into samples.

    Parameters
    ----------
    payload : bytes-like
        Frame content after the 10-byte header.
    channels : int
        Values per sample.
    resolution_bits : int
        Resolution of the reference sample; it takes ``ceil(resolution_bits / 8)`` bytes
        per channel, signed little-endian.

    Returns
    -------
    ndarray of int64, shape (n, channels)
        The reference sample followed by one row per delta.

    Raises
    ------
    DecodeError
        Reference sample or block cut short, a bit width of 0 or above 32, a block of 0
        samples, or values leaving the 32-bit range the device computes in.
    """
    raw = bytes(payload)
    where = "polar_pmd.data"
    if channels < 1 or not 1 <= resolution_bits <= 32:
        raise DecodeError("polar_pmd.layout", f"{channels} channels of {resolution_bits} bits; "
                                              "expected >= 1 channel of 1-32 bits")
    ref_width = -(-resolution_bits // 8)
    ref_bytes = channels * ref_width
    if len(raw) < ref_bytes:
        raise DecodeError(where, f"compressed payload of {len(raw)} bytes; "
                                 f"the reference sample needs {ref_bytes}")
    rows = [_signed_le(raw[:ref_bytes], ref_width).reshape(1, channels)]
    offset = ref_bytes
    while offset < len(raw):
        if offset + 2 > len(raw):
            raise DecodeError(where, f"delta block header cut short at byte {offset}")
        width, count = raw[offset], raw[offset + 1]
        if not 1 <= width <= 32:
            raise DecodeError(where, f"delta bit width {width} at byte {offset}; expected 1-32")
        if count == 0:
            raise DecodeError(where, f"delta block of 0 samples at byte {offset}")
        n_bits = width * count * channels
        start, end = offset + 2, offset + 2 + -(-n_bits // 8)
        if end > len(raw):
            raise DecodeError(where, f"delta block at byte {offset} needs {end - start} bytes; "
                                     f"{len(raw) - start} left")
        bits = np.unpackbits(np.frombuffer(raw[start:end], dtype=np.uint8), bitorder="little")
        fields = bits[:n_bits].reshape(-1, width).astype(np.int64)
        values = fields @ (np.int64(1) << np.arange(width, dtype=np.int64))
        sign = np.int64(1) << (width - 1)
        values = np.where(values & sign, values - (sign << 1), values)
        rows.append(values.reshape(count, channels))
        offset = end
    samples = np.cumsum(np.concatenate(rows), axis=0)
    if samples.size and (samples.min() < -(2**31) or samples.max() >= 2**31):
        raise DecodeError(where, "accumulated deltas leave the 32-bit sample range")
    return samples


def sample_times_ns(
    timestamp_ns: int, n_samples: int, *, fs: float, previous_timestamp_ns: int | None = None
) -> np.ndarray:
    """Rebuild the time of each sample of a frame whose last sample is at ``timestamp_ns``.

    Parameters
    ----------
    timestamp_ns : int
        Frame timestamp (last sample), ns since 2000-01-01 UTC.
    n_samples : int
        Samples in the frame (>= 1).
    fs : float
        Sampling rate (Hz); sets the spacing when ``previous_timestamp_ns`` is None.
    previous_timestamp_ns : int, optional
        Timestamp of the previous frame of the same stream. When given, the samples are
        spread evenly over ``(previous, timestamp]`` as Polar's SDK does, which absorbs the
        device clock's drift against ``fs``.

    Returns
    -------
    ndarray of int64, shape (n_samples,)
        Sample times in ns since 2000-01-01 UTC, rounded half to even; the last is exact.

    Raises
    ------
    DecodeError
        ``fs`` not finite and positive, a previous timestamp not before this one, or times
        before 2000 or beyond the int64 range.
    """
    where = "polar_pmd.data"
    if not (math.isfinite(fs) and fs > 0):
        raise DecodeError("fs", f"sampling rate {fs!r} Hz; expected a finite positive number")
    if n_samples < 1:
        raise DecodeError(where, "a frame without samples")
    if timestamp_ns >= _MAX_TIMESTAMP_NS:
        raise DecodeError(where, f"timestamp {timestamp_ns} ns is beyond year 2146; "
                                 f"expected below {_MAX_TIMESTAMP_NS}")
    steps = np.arange(n_samples, dtype=np.float64)
    if previous_timestamp_ns is None:
        if (n_samples - 1) * (1e9 / fs) > timestamp_ns:
            raise DecodeError(where, f"{n_samples} samples at {fs} Hz would start before 2000 "
                                     f"(frame at {timestamp_ns} ns)")
        back = np.rint((n_samples - 1 - steps) * (1e9 / fs)).astype(np.int64)
        times = np.int64(timestamp_ns) - back
    else:
        if not 0 <= previous_timestamp_ns < timestamp_ns:
            raise DecodeError(where, f"timestamp {timestamp_ns} ns is not after the previous "
                                     f"frame's {previous_timestamp_ns} ns")
        delta = (timestamp_ns - previous_timestamp_ns) / n_samples
        times = np.int64(previous_timestamp_ns) + np.rint((steps + 1) * delta).astype(np.int64)
        times[-1] = timestamp_ns
    if times[0] < 0:
        raise DecodeError(where, f"first sample would be before 2000 (frame at {timestamp_ns} ns)")
    return times


def decode_acc_frame(
    data: Bytes, *, fs: float, factor: float, previous_timestamp_ns: int | None = None
) -> AccFrame:
    """Decode one ACC data notification.

    Parameters
    ----------
    data : bytes-like
        The notification's value (header and payload).
    fs : float
        Sampling rate the stream was started with (Hz).
    factor : float
        FACTOR from the start response (:func:`start_response_factor`; 1.0 when absent).
        Used by compressed frames only.
    previous_timestamp_ns : int, optional
        Previous frame's timestamp; see :func:`sample_times_ns`.

    Returns
    -------
    AccFrame
        Samples in mG with their times.

    Raises
    ------
    DecodeError
        Not an ACC frame, an unsupported frame type, a payload whose length does not match
        its type, a malformed compressed payload, or bad ``fs``/``factor``.
    """
    where = "polar_pmd.data"
    if not (math.isfinite(factor) and factor > 0):
        raise DecodeError("factor", f"{factor!r}; expected a finite positive number")
    header = parse_frame_header(data)
    if header.measurement_type != MeasurementType.ACC:
        raise DecodeError(where, f"measurement type {header.measurement_type}; expected ACC (2)")
    payload = bytes(data)[POLAR_PMD.header_bytes:]
    channels = POLAR_PMD.acc_channels
    if header.compressed:
        if header.frame_type not in (0, 1):
            raise DecodeError(where, f"compressed ACC frame type {header.frame_type}; "
                                     "expected 0 or 1")
        counts = decode_delta_payload(
            payload, channels=channels, resolution_bits=POLAR_PMD.acc_compressed_resolution_bits)
        if header.frame_type == 0:
            acc_mg = counts * (factor * 1000.0)
        else:
            acc_mg = counts.astype(np.float64) if factor == 1.0 else counts * factor
    else:
        width = POLAR_PMD.acc_raw_bytes.get(header.frame_type)
        if width is None:
            raise DecodeError(where, f"raw ACC frame type {header.frame_type}; expected 0, 1 or 2")
        step = width * channels
        if not payload or len(payload) % step:
            raise DecodeError(where, f"raw type {header.frame_type} payload of {len(payload)} "
                                     f"bytes; expected a positive multiple of {step}")
        counts = _signed_le(payload, width).reshape(-1, channels)
        acc_mg = counts.astype(np.float64)
    times = sample_times_ns(header.timestamp_ns, counts.shape[0], fs=fs,
                            previous_timestamp_ns=previous_timestamp_ns)
    return AccFrame(timestamp_ns=header.timestamp_ns, frame_type=header.frame_type,
                    compressed=header.compressed, counts=counts, acc_mg=acc_mg,
                    sample_times_ns=times, fs=float(fs))


# ------------------------------------------------------------------ mapping to the pipeline


@dataclass(frozen=True, kw_only=True)
class PolarFootMapping:
    """How a Polar sensor strapped to the foot feeds the pipeline's ``foot_acc`` channel.

    Attributes
    ----------
    axis_order : tuple of int
        Device axis (0 = x, 1 = y, 2 = z) that becomes the pipeline's x, y and z.
    axis_sign : tuple of int
        +1 or -1 per pipeline axis, applied after reordering.
    """

    axis_order: tuple[int, int, int] = (0, 1, 2)
    axis_sign: tuple[int, int, int] = (1, 1, 1)

    def __post_init__(self) -> None:
        if sorted(self.axis_order) != [0, 1, 2]:
            raise CrampInputError("polar.axis_order",
                                  f"{self.axis_order}; expected a permutation of (0, 1, 2)")
        if len(self.axis_sign) != 3 or any(s not in (1, -1) for s in self.axis_sign):
            raise CrampInputError("polar.axis_sign", f"{self.axis_sign}; expected three of +-1")


POLAR_ON_FOOT = PolarFootMapping()


def foot_acc_g(frame: AccFrame, *, mapping: PolarFootMapping = POLAR_ON_FOOT) -> np.ndarray:
    """Return the frame's samples as the pipeline's foot accelerometer.

    Returns
    -------
    ndarray of float64, shape (n, 3)
        Acceleration in g, axes reordered and signed as ``mapping`` says.
    """
    order = list(mapping.axis_order)
    return frame.acc_mg[:, order] * np.asarray(mapping.axis_sign, dtype=np.float64) / 1000.0


def foot_channel_spec(
    *, fs: float, range_g: float | None = None, mapping: PolarFootMapping = POLAR_ON_FOOT
) -> ChannelSpec:
    """Describe the ``foot_acc`` channel a Polar stream feeds.

    Parameters
    ----------
    fs : float
        Sampling rate the stream was started with (Hz).
    range_g : float, optional
        Full-scale range (+-g), giving the channel's rails.
    mapping : PolarFootMapping
        Axis mapping; names the source axes in pipeline order.
    """
    if not (math.isfinite(fs) and fs > 0):
        raise DecodeError("fs", f"sampling rate {fs!r} Hz; expected a finite positive number")
    names = ("x", "y", "z")
    labels = tuple(f"{'-' if s < 0 else ''}polar_acc_{names[a]}"
                   for a, s in zip(mapping.axis_order, mapping.axis_sign, strict=True))
    rails = None if range_g is None else (-float(range_g), float(range_g))
    return ChannelSpec(role="foot_acc", fs=float(fs), unit="g", source_labels=labels, rails=rails)
