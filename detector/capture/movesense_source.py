"""Movesense accelerometer notifications -> ``shank_acc``/``foot_acc`` blocks (g).

The same :class:`MovesenseAssembler` runs in the recorder and in the replay of its capture
(:class:`~detector.capture.other_sources.OtherBandCapture`).

Each DATA notification carries the sensor time (ms) of its first sample. Within a connection
samples are counted on (the time stamps only confirm nothing was missed); the first
notification after a (re)connection is placed by its time stamp, which gives the exact gap
while the link was down (the sensor's clock keeps running; its u32 ms counter is unwrapped).
The stamps are whole milliseconds, so the clock's origin is averaged over every packet placed
so far; a stamp is then within 0.5 ms, which places a sample exactly below 1000 Hz and to
within one sample at 1666 Hz.
The sensor's clock is not an absolute time: the night's start is the host receive time of the
first notification less the samples it carried.
"""

from __future__ import annotations

from detector.capture.other_sources import Blocks, RoleTrack
from detector.errors import CrampInputError
from detector.profiles.movesense import (
    MOVESENSE,
    CommandResult,
    DataNotification,
    acc_channel_spec,
    acc_g,
    decode_imu_data,
    parse_notification,
)

DATA_SOURCE = "movesense:data"
COMMAND_SOURCE = "movesense:command"
ACC_REFERENCE = 1
"""Client reference of the accelerometer subscription."""
_WRAP_MS = 1 << 32


class MovesenseAssembler:
    """Movesense ``/Meas/Acc`` notifications -> one accelerometer role (g).

    Parameters
    ----------
    fs : int
        Rate subscribed to (Hz).
    role : {"shank_acc", "foot_acc"}
        Where the sensor is strapped.
    reference : int
        Client reference of the accelerometer subscription.
    """

    notes: tuple[str, ...] = ()

    def __init__(self, *, fs: int, role: str = "shank_acc",
                 reference: int = ACC_REFERENCE) -> None:
        if fs not in MOVESENSE.imu_rates_hz:
            raise CrampInputError("movesense rate", f"{fs} Hz; expected one of "
                                  + ", ".join(map(str, MOVESENSE.imu_rates_hz)))
        self.fs = float(fs)
        self.role = role
        self.reference = reference
        self.channels = {role: acc_channel_spec(role=role, fs=fs)}
        self.track = RoleTrack(self.channels[role])
        self.tracks = {role: self.track}
        self.start_unix_s: float | None = None
        self.refused: list[int] = []
        self._t0_ms: int | None = None
        self._last_ms: int | None = None
        self._wraps = 0
        self._fresh = True
        self._residual_sum_ms = 0.0
        self._residual_n = 0

    def new_connection(self) -> None:
        """A (re)connection: the next notification is placed by its time stamp."""
        self._fresh = True

    def _unwrap(self, ms: int) -> int:
        if self._last_ms is not None and ms < self._last_ms - _WRAP_MS // 2:
            self._wraps += 1
        self._last_ms = ms
        return ms + self._wraps * _WRAP_MS

    def push_notification(self, source: str, payload: bytes, *, received_s: float) -> Blocks:
        """Decode one notification; return the blocks it completes.

        Raises
        ------
        CrampInputError
            An undecodable notification (the caller counts it and goes on).
        """
        if source != DATA_SOURCE:
            return []
        message = parse_notification(payload)
        if isinstance(message, CommandResult):
            if message.status is not None and message.status >= 400:
                self.refused.append(message.status)
            return []
        assert isinstance(message, DataNotification)
        if message.reference != self.reference:
            return []
        data = decode_imu_data(message.payload, fs=self.fs)
        t_ms = self._unwrap(data.timestamp_ms)
        if self._t0_ms is None:
            self._t0_ms = t_ms
            self.start_unix_s = received_s - data.n_samples / self.fs
        by_time = round((t_ms - self._origin_ms()) * self.fs / 1000.0)
        counted = self.track.frontier
        close = abs(by_time - counted) <= max(2, data.n_samples // 2)
        first = counted if (not self._fresh and close) else by_time
        self._fresh = False
        # the ms stamps are rounded: the clock's origin is the mean over the placed packets
        self._residual_sum_ms += t_ms - first * 1000.0 / self.fs
        self._residual_n += 1
        return self.track.place(first, acc_g(data))

    def _origin_ms(self) -> float:
        assert self._t0_ms is not None
        return self._residual_sum_ms / self._residual_n if self._residual_n else self._t0_ms

    def flush(self) -> Blocks:
        """Release what is held."""
        return self.track.flush()


def movesense_assembler(session: dict[str, object], *, where: str) -> MovesenseAssembler:
    """The assembler a Movesense capture's metadata describes (``movesense.fs_hz``, ``role``).

    Raises
    ------
    CrampInputError
        Missing or invalid ``movesense`` metadata.
    """
    meta = session.get("movesense")
    if not isinstance(meta, dict):
        raise CrampInputError(where, "session metadata has no 'movesense' settings")
    fs, role = meta.get("fs_hz"), meta.get("role", "shank_acc")
    if not isinstance(fs, int) or isinstance(fs, bool) or role not in ("shank_acc",
                                                                        "foot_acc"):
        raise CrampInputError(where, "session 'movesense' needs an integer fs_hz and a role "
                              "of shank_acc or foot_acc")
    return MovesenseAssembler(fs=fs, role=str(role))
