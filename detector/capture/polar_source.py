"""Polar PMD accelerometer notifications -> ``foot_acc``/``shank_acc`` blocks (g), by stamps.

The same :class:`PolarAccAssembler` runs in the recorder (:mod:`detector.ble.other_bands`,
:mod:`detector.ble.polar_negotiated`) and in the replay of its capture
(:class:`~detector.capture.other_sources.OtherBandCapture`; in bulk by
:func:`~detector.capture.polar_rows.push_rows`), fed the same packets and connection events in
the same order.

Frames carry the time of their last sample (device clock), so sample indices come from the
timestamps and ``fs``: within a connection frames are counted on (the timestamps only confirm
nothing was missed); the first frame after a (re)connection is placed by its timestamp, which
gives the exact gap.

The stamps count nanoseconds since 2000-01-01 on the band's own clock, set only when a phone
syncs it. The night's start is the first sample's stamp when the first frame arrives within
``clock_trust_s`` of its last sample's stamp (a set clock: the arrival is late by the link's
delay only); otherwise the clock is not set (or far off) and the start is put on the host's
clock by that frame's arrival (its last sample taken when it was received, so late by the
link's delay), with a note. The gaps and sample positions still come from the stamps.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from detector.bands import registry as band_registry
from detector.capture.polar_rows import push_rows
from detector.capture.role_track import Blocks, RoleTrack
from detector.errors import CrampInputError
from detector.profiles.polar_batch import WIDTH, PolarBatch, decode_matrix
from detector.profiles.polar_pmd import (
    ControlOpcode,
    ControlPointResponse,
    parse_control_point_message,
    start_response_factor,
)
from detector.profiles.polar_pmd_frames import (
    POLAR_ON_FOOT,
    PolarFootMapping,
    decode_acc_frame,
    foot_acc_g,
    foot_channel_spec,
    pmd_ns_to_unix_s,
)

POLAR_PROFILE = band_registry.POLAR_PMD.name
POLAR_CONTROL_SOURCE = "polar:control"
POLAR_ACC_SOURCE = "polar:acc"
CLOCK_TRUST_S = 5.0
"""Default of the config's ``polar_clock_trust_s`` (a capture without ``polar.clock_trust_s``
in its header was recorded with it)."""


class PolarAccAssembler:
    """Polar ACC frames -> ``foot_acc`` (or ``shank_acc``) blocks (g), indexed by timestamps.

    Parameters
    ----------
    fs : float
        Rate the stream was started with (Hz).
    range_g : float
        Full-scale range (+-g).
    mapping : PolarFootMapping
        Device axes -> pipeline axes.
    role : {"foot_acc", "shank_acc"}
        Where the sensor is strapped.
    clock_trust_s : float
        Largest distance (s) between the first frame's arrival and its last sample's stamp
        for which the band's clock is taken as set (the config's ``polar_clock_trust_s``).
    """

    def __init__(self, *, fs: float, range_g: float,
                 mapping: PolarFootMapping = POLAR_ON_FOOT, role: str = "foot_acc",
                 clock_trust_s: float = CLOCK_TRUST_S) -> None:
        if role not in ("foot_acc", "shank_acc"):
            raise CrampInputError("polar role", f"{role!r}; expected foot_acc or shank_acc")
        self.fs = float(fs)
        self.mapping = mapping
        self.factor = 1.0
        spec = foot_channel_spec(fs=fs, range_g=range_g, mapping=mapping)
        self.channels = {role: dataclasses.replace(spec, role=role)}  # type: ignore[arg-type]
        self.track = RoleTrack(self.channels[role])
        self.tracks = {role: self.track}
        self.start_unix_s: float | None = None
        self.clock_trust_s = float(clock_trust_s)
        self.clock_off_s: float | None = None
        """Host receive time less the stamp of the first frame's last sample (s), when it
        was more than ``clock_trust_s``: the band's clock was not set."""
        self.notes: tuple[str, ...] = ()
        self._t_ref_ns: int | None = None
        self._prev_ns: int | None = None

    data_source = POLAR_ACC_SOURCE  # the notifications decode_rows decodes, and their width
    payload_width = WIDTH
    replay_window = 1024  # records per bulk window: 244-byte frames, peak memory stays low

    def new_connection(self) -> None:
        """A (re)connection: the next frame is placed by its timestamp alone."""
        self._prev_ns = None

    def on_control(self, payload: bytes) -> None:
        """Take the FACTOR of a successful START response (compressed frames need it)."""
        msg = parse_control_point_message(payload)
        if isinstance(msg, ControlPointResponse) and msg.ok and msg.opcode == ControlOpcode.START:
            self.factor = start_response_factor(msg)

    def push_notification(self, source: str, payload: bytes, *, received_s: float) -> Blocks:
        """One captured/received notification: ACC data decoded (:meth:`push`), a control
        point response taken (:meth:`on_control`), anything else ignored.

        Raises
        ------
        CrampInputError
            An undecodable frame (the caller counts it and goes on).
        """
        if source == POLAR_ACC_SOURCE:
            return self.push(payload, received_s=received_s)
        if source == POLAR_CONTROL_SOURCE:
            self.on_control(payload)
        return []

    def push(self, payload: bytes, *, received_s: float | None = None) -> Blocks:
        """Decode one data notification (host receive time ``received_s``, s); return the
        blocks it completes.

        Raises
        ------
        CrampInputError
            An undecodable frame (the caller counts it and goes on).
        """
        prev = self._prev_ns
        header_ts = int.from_bytes(payload[1:9], "little") if len(payload) >= 9 else 0
        if prev is not None and header_ts <= prev:
            prev = None
        frame = decode_acc_frame(payload, fs=self.fs, factor=self.factor,
                                 previous_timestamp_ns=prev)
        return self._place_frame(frame.timestamp_ns, int(frame.sample_times_ns[0]),
                                 foot_acc_g(frame, mapping=self.mapping),
                                 received_s=received_s)

    def _place_frame(self, timestamp_ns: int, first_ns: int, data: np.ndarray, *,
                     received_s: float | None = None) -> Blocks:
        """Place a decoded frame (last and first sample times, samples (n, 3) in g)."""
        if self._t_ref_ns is None:
            self._t_ref_ns = first_ns
            self.start_unix_s = float(pmd_ns_to_unix_s(self._t_ref_ns))
            if received_s is not None:
                off = float(received_s) - float(pmd_ns_to_unix_s(timestamp_ns))
                if not abs(off) <= self.clock_trust_s:
                    self.clock_off_s = off
                    self.start_unix_s += off
                    way = "behind" if off > 0 else "ahead of"
                    self.notes = (f"the Polar's clock was {abs(off) / 3600.0:.2f} h {way} the "
                                  "host's (not set by a phone?): its start is placed by the "
                                  "host's receive time of its first frame",)
        by_time = round((first_ns - self._t_ref_ns) * self.fs / 1e9)
        counted = self.track.frontier
        first = counted if (self._prev_ns is not None and abs(by_time - counted)
                            <= max(2, data.shape[0] // 2)) else by_time
        self._prev_ns = timestamp_ns
        return self.track.place(first, data, received_s=received_s)

    def decode_rows(self, mat: np.ndarray, lengths: np.ndarray) -> PolarBatch:
        """Bulk decoder of data notifications as rows of bytes (:meth:`push_decoded_rows`)."""
        return decode_matrix(mat, lengths, mapping=self.mapping)

    push_decoded_rows = push_rows
    """Rows ``lo .. hi-1`` of a bulk-decoded batch as :meth:`push` row by row (a replay)."""

    def flush(self) -> Blocks:
        """Release what is held."""
        return self.track.flush()



def polar_assembler(session: dict[str, object], *, where: str) -> PolarAccAssembler:
    """The assembler a Polar capture's session metadata describes (``polar.fs_hz``, ``range_g``).

    Raises
    ------
    CrampInputError
        Missing or invalid ``polar`` metadata.
    """
    meta = session.get("polar")
    if not isinstance(meta, dict):
        raise CrampInputError(where, "session metadata has no 'polar' settings")
    fs, range_g = meta.get("fs_hz"), meta.get("range_g")
    if not isinstance(fs, int | float) or not isinstance(range_g, int | float) or fs <= 0 \
            or range_g <= 0:
        raise CrampInputError(where, "session 'polar' settings need positive fs_hz and range_g")
    role = meta.get("role", "foot_acc")
    if role not in ("foot_acc", "shank_acc"):
        raise CrampInputError(where, "session 'polar.role' must be foot_acc or shank_acc")
    trust = meta.get("clock_trust_s", CLOCK_TRUST_S)
    if not isinstance(trust, int | float) or isinstance(trust, bool) or not trust > 0:
        raise CrampInputError(where, "session 'polar.clock_trust_s' must be a positive number")
    return PolarAccAssembler(fs=float(fs), range_g=float(range_g), role=str(role),
                             clock_trust_s=float(trust))
