"""Movesense sensors over the GATT SensorData protocol: profile as data and pure decoders.

Facts from Movesense's own open-source sample ``gatt_sensordata_app`` (movesense-device-lib:
``GATTSensorDataClient.cpp`` and its Python client) and the Movesense API definitions; the
code is written here. A sensor runs that app to serve the protocol.

GATT
    Service ``34802252-7185-4d5d-b431-630e7050e8f0``; the client writes commands to
    ``34800001-…`` and enables notifications on ``34800002-…``.
Commands (client -> sensor)
    ``[command][client reference][data]``: ``HELLO`` (0), ``SUBSCRIBE`` (1, the data is a
    resource path such as ``/Meas/Acc/104``), ``UNSUBSCRIBE`` (2, no data; the reference of
    the subscription). The reference is chosen by the client, 1-255 (never 0).
Notifications (sensor -> client)
    ``[type][client reference][data]``: ``COMMAND_RESULT`` (1; a 2-byte HTTP status, high
    byte first, e.g. ``01 FB`` = 507 "no free subscription slot", or ``Hello`` for HELLO) and
    ``DATA`` (2; the resource's binary form). A message longer than one notification is
    sent as ``DATA`` (its first bytes) then ``DATA_PART2`` (3, same reference, the rest):
    the message is the first part's data followed by the second's (the vendor's later
    Python client joins them so for ``/Meas/IMU9``). For ``/Meas/Acc/<rate>`` and
    ``/Meas/Gyro/<rate>`` that is a u32 little-endian timestamp (ms, the sensor's clock, of
    the first sample) followed by n x 3 float32 little-endian (m/s^2, or deg/s).
    The sensor ends every subscription when the link drops; the client subscribes again.
Rates
    Accelerometer and gyroscope: 13, 26, 52, 104, 208, 416, 833 and 1666 Hz.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from detector.profiles.errors import DecodeError
from detector.signals import ChannelSpec

Bytes = bytes | bytearray | memoryview

STANDARD_GRAVITY_MS2 = 9.80665
"""m/s^2 per g."""


@dataclass(frozen=True, kw_only=True)
class MovesenseProfile:
    """The GATT SensorData profile and the IMU's rates, as data.

    Attributes
    ----------
    service_uuid, command_uuid, data_uuid : str
        128-bit UUIDs (lowercase text).
    imu_rates_hz : tuple of int
        Rates the accelerometer and gyroscope offer (Hz).
    acc_range_g : float
        Accelerometer full scale the sensor runs at by default (+-g).
    name_prefix : str
        Advertised-name prefix (``"Movesense 123456789012"``).
    """

    service_uuid: str = "34802252-7185-4d5d-b431-630e7050e8f0"
    command_uuid: str = "34800001-7185-4d5d-b431-630e7050e8f0"
    data_uuid: str = "34800002-7185-4d5d-b431-630e7050e8f0"
    imu_rates_hz: tuple[int, ...] = (13, 26, 52, 104, 208, 416, 833, 1666)
    acc_range_g: float = 8.0
    name_prefix: str = "Movesense"


MOVESENSE = MovesenseProfile()


class Command(enum.IntEnum):
    """Command codes (byte 0 of a write)."""

    HELLO = 0
    SUBSCRIBE = 1
    UNSUBSCRIBE = 2


class Response(enum.IntEnum):
    """Notification types (byte 0 of a notification)."""

    COMMAND_RESULT = 1
    DATA = 2
    DATA_PART2 = 3


def _check_reference(reference: int) -> None:
    if not 1 <= reference <= 255:
        raise ValueError(f"client reference {reference}; expected 1-255")


def acc_path(*, fs: int) -> str:
    """The accelerometer resource at ``fs`` Hz, e.g. ``/Meas/Acc/104``.

    Raises
    ------
    ValueError
        A rate the sensor does not offer.
    """
    if fs not in MOVESENSE.imu_rates_hz:
        raise ValueError(f"{fs} Hz; the Movesense accelerometer offers "
                         + ", ".join(map(str, MOVESENSE.imu_rates_hz)) + " Hz")
    return f"/Meas/Acc/{fs}"


def build_subscribe(reference: int, path: str) -> bytes:
    """``SUBSCRIBE`` ``path`` under ``reference``.

    Examples
    --------
    >>> build_subscribe(99, "/Meas/Acc/13").hex(" ")
    '01 63 2f 4d 65 61 73 2f 41 63 63 2f 31 33'
    """
    _check_reference(reference)
    if not path or len(path.encode("utf-8")) > 150:
        raise ValueError("resource path must be 1-150 bytes of UTF-8")
    return bytes([Command.SUBSCRIBE, reference]) + path.encode("utf-8")


def build_unsubscribe(reference: int) -> bytes:
    """``UNSUBSCRIBE`` the subscription made under ``reference``."""
    _check_reference(reference)
    return bytes([Command.UNSUBSCRIBE, reference])


def build_hello(reference: int) -> bytes:
    """``HELLO`` (the sensor answers ``COMMAND_RESULT`` with ``Hello``)."""
    _check_reference(reference)
    return bytes([Command.HELLO, reference])


@dataclass(frozen=True, kw_only=True)
class CommandResult:
    """A ``COMMAND_RESULT`` notification.

    Attributes
    ----------
    reference : int
        The client reference of the command answered.
    status : int or None
        HTTP status (e.g. 507), or None for a text answer.
    text : str
        The text of a HELLO answer, else ``""``.
    """

    reference: int
    status: int | None
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class DataNotification:
    """A ``DATA`` or ``DATA_PART2`` notification: the subscription's reference and bytes.

    Attributes
    ----------
    reference : int
        Client reference of the subscription.
    payload : bytes
        The resource's bytes (a whole message, or one part of it).
    part : int
        1 for ``DATA`` (a message or its first part), 2 for ``DATA_PART2``.
    """

    reference: int
    payload: bytes
    part: int = 1


def parse_notification(data: Bytes) -> CommandResult | DataNotification:
    """Decode one notification of the data characteristic (its framing, not the payload).

    Raises
    ------
    DecodeError
        Shorter than 2 bytes, an unknown type, reference 0, or a result without a status.
    """
    raw = bytes(data)
    where = "movesense.data"
    if len(raw) < 2:
        raise DecodeError(where, f"{len(raw)} bytes; a notification has at least 2")
    kind, reference = raw[0], raw[1]
    if reference == 0:
        raise DecodeError(where, "client reference 0; references are 1-255")
    if kind == Response.DATA:
        return DataNotification(reference=reference, payload=raw[2:])
    if kind == Response.DATA_PART2:
        return DataNotification(reference=reference, payload=raw[2:], part=2)
    if kind != Response.COMMAND_RESULT:
        raise DecodeError(where, f"type {kind}; expected 1 (command result), 2 (data) or 3 "
                          "(data, second part)")
    body = raw[2:]
    if body.isascii() and body.isalpha():
        return CommandResult(reference=reference, status=None, text=body.decode("ascii"))
    if len(body) != 2:
        raise DecodeError(where, f"command result of {len(body)} bytes; expected a 2-byte "
                          "HTTP status or a text answer")
    return CommandResult(reference=reference, status=int.from_bytes(body, "big"))


class MessageJoiner:
    """Join ``DATA`` + ``DATA_PART2`` notifications into whole messages, per reference.

    A ``DATA`` notification may be a whole message or the first part of one; that is known
    only from the next notification of the same reference (a ``DATA_PART2`` continues it,
    a ``DATA`` starts the next message). So a ``DATA`` is held until then, or until
    :meth:`flush` (a reconnection, the end of the night): a one-notification delay, the same
    live and in replay. Each message keeps the receive time of its first part.
    """

    def __init__(self) -> None:
        self._held: dict[int, tuple[DataNotification, float]] = {}

    def push(self, message: DataNotification, received_s: float = 0.0
             ) -> list[tuple[DataNotification, float]]:
        """Take one notification; return the messages it completes, each with the receive
        time (s) of its first part.

        Raises
        ------
        DecodeError
            A second part with no first part held for its reference (the first was lost;
            the part is dropped).
        """
        if message.part == 1:
            out = self.release(message.reference)
            self._held[message.reference] = (message, received_s)
            return out
        held = self._held.pop(message.reference, None)
        if held is None:
            raise DecodeError("movesense.data", f"a second part (type 3) for reference "
                              f"{message.reference} with no first part before it")
        first, first_received_s = held
        return [(DataNotification(reference=first.reference,
                                  payload=first.payload + message.payload), first_received_s)]

    def release(self, reference: int) -> list[tuple[DataNotification, float]]:
        """The message held for ``reference`` as a whole message (empty if none)."""
        held = self._held.pop(reference, None)
        return [] if held is None else [held]

    def flush(self) -> list[tuple[DataNotification, float]]:
        """Every held message, as whole messages."""
        out = list(self._held.values())
        self._held.clear()
        return out


@dataclass(frozen=True, kw_only=True)
class ImuData:
    """One ``/Meas/Acc`` or ``/Meas/Gyro`` notification's samples.

    Attributes
    ----------
    timestamp_ms : int
        Sensor clock (ms, u32, wraps after about 49.7 days) of the first sample.
    values : ndarray of float64, shape (n, 3)
        x, y, z (m/s^2 for the accelerometer, deg/s for the gyroscope).
    fs : float
        Rate of the subscription (Hz).
    """

    timestamp_ms: int
    values: np.ndarray
    fs: float

    @property
    def n_samples(self) -> int:
        """Samples in the notification."""
        return int(self.values.shape[0])

    def sample_times_ms(self) -> np.ndarray:
        """Sensor time of each sample (ms, float64, not wrapped)."""
        return self.timestamp_ms + np.arange(self.n_samples) * (1000.0 / self.fs)


def decode_imu_data(payload: Bytes, *, fs: float) -> ImuData:
    """Decode the payload of a ``/Meas/Acc`` or ``/Meas/Gyro`` DATA notification.

    Parameters
    ----------
    payload : bytes-like
        The bytes after type and reference: u32 timestamp + n x 3 float32 (n >= 1).
    fs : float
        Rate subscribed to (Hz).

    Raises
    ------
    DecodeError
        A length that is not 4 + 12 n, or a value that is not finite.
    """
    raw = bytes(payload)
    where = "movesense.imu"
    if not (isinstance(fs, int | float) and math.isfinite(fs) and fs > 0):
        raise DecodeError(where, f"fs {fs!r}; expected a positive number of Hz")
    if len(raw) < 16 or (len(raw) - 4) % 12:
        raise DecodeError(where, f"payload of {len(raw)} bytes; expected 4 + 12 x n (n >= 1)")
    values = np.frombuffer(raw, dtype="<f4", offset=4).astype(np.float64).reshape(-1, 3)
    if not np.isfinite(values).all():
        raise DecodeError(where, "a sample value is not a finite number")
    return ImuData(timestamp_ms=int.from_bytes(raw[:4], "little"), values=values,
                   fs=float(fs))


def acc_g(data: ImuData) -> np.ndarray:
    """Accelerometer samples in g, shape (n, 3), in the sensor's axes."""
    return data.values / STANDARD_GRAVITY_MS2


def acc_channel_spec(*, role: str, fs: float, range_g: float = MOVESENSE.acc_range_g
                     ) -> ChannelSpec:
    """Describe the accelerometer channel a Movesense on the shank or foot feeds.

    Parameters
    ----------
    role : {"shank_acc", "foot_acc"}
    fs : float
        Rate (Hz).
    range_g : float
        Full scale (+-g).
    """
    if role not in ("shank_acc", "foot_acc"):
        raise ValueError(f"role {role!r}; a Movesense feeds shank_acc or foot_acc")
    return ChannelSpec(role=role, fs=float(fs), unit="g",  # type: ignore[arg-type]
                       source_labels=("movesense_acc_x", "movesense_acc_y", "movesense_acc_z"),
                       rails=(-float(range_g), float(range_g)))
