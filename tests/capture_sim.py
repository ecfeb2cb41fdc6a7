"""A plain-loop central for the firmware model, for capture tests (no Bluetooth stack).

It connects, starts the streams, advances the firmware in steps, reconnects after outages and
asks for backfill from the sequence number after the last one received, the way the recorder
does. Run as a script it writes a capture until killed (used by the SIGKILL test).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detector.profiles.legband_codec import (
    decode_data_packet,
)
from detector.profiles.legband_control import (
    BackfillCommand,
    BackfillResult,
    BackfillUnavailable,
    SetRateCommand,
    StartCommand,
    decode_response,
    encode_command,
)
from firmware_sim.firmware import ArrayFeed, Firmware, FirmwareConfig

RAW_AND_ACCEL = 0x0D
STREAMS = (1, 3, 4)


@dataclass
class Central:
    """Drives a :class:`Firmware` and hands every notification to ``on_packet``.

    ``on_packet(payload, received_s)`` gets host times ``epoch_s + true time``, plus
    ``delay_s(rng)`` when given (arrival order is kept: times never decrease).
    """

    fw: Firmware
    on_packet: Callable[[bytes, float], None]
    epoch_s: float
    att_mtu: int = 247
    last_seq: dict[int, int] = field(default_factory=dict)
    sent: list[tuple[bytes, float]] = field(default_factory=list)
    _last_t: float = -np.inf

    def start(self, *, emg_rate_hz: int) -> None:
        self._link_up()
        for cmd in (SetRateCommand(1, emg_rate_hz), StartCommand(RAW_AND_ACCEL)):
            response = decode_response(self.fw.handle_command(encode_command(cmd)))
            assert response.ok, response

    def _link_up(self) -> None:
        self.fw.connect()
        self.fw.set_att_mtu(self.att_mtu)
        self.fw.set_data_notifications(True)

    def run(self, until_s: float, *, step_s: float, rng: np.random.Generator | None = None,
            max_delay_s: float = 0.0) -> None:
        t = self.fw.now_s
        while t < until_s - 1e-9:
            t = min(until_s, t + step_s)
            for payload in self.fw.advance_to(t):
                pkt = decode_data_packet(payload)
                self.last_seq[pkt.stream_id] = pkt.seq
                delay = float(rng.uniform(0.0, max_delay_s)) if rng is not None else 0.0
                received = max(self._last_t, self.epoch_s + t + delay)
                self._last_t = received
                self.on_packet(payload, received)

    def outage(self, *, down_s: float, up_s: float, step_s: float) -> None:
        """Lose the link at ``down_s``, reconnect at ``up_s`` and ask for backfill."""
        self.run(down_s, step_s=step_s)
        self.fw.disconnect()
        self.run(up_s, step_s=step_s)
        self._link_up()
        for sid in STREAMS:
            if sid not in self.last_seq:
                continue
            frm = (self.last_seq[sid] + 1) % (1 << 16)
            answer = decode_response(self.fw.handle_command(
                encode_command(BackfillCommand(sid, frm))))
            if isinstance(answer.result, BackfillUnavailable):
                answer = decode_response(self.fw.handle_command(
                    encode_command(BackfillCommand(sid, answer.result.oldest_seq))))
            assert isinstance(answer.result, BackfillResult), answer


def sine_feed(duration_s: float) -> ArrayFeed:
    """Smooth test signals: EMG 37 Hz sine (uV), accelerometers slow tilts (g)."""
    t_emg = np.arange(int(duration_s * 1000) + 2) / 1000.0
    t_acc = np.arange(int(duration_s * 50) + 2) / 50.0
    acc = np.stack([np.cos(0.1 * t_acc), 0.1 * np.sin(0.3 * t_acc), np.sin(0.1 * t_acc)], 1)
    return ArrayFeed(emg_uv=300.0 * np.sin(2 * np.pi * 37.0 * t_emg), emg_fs=1000.0,
                     shank_acc_g=acc, shank_acc_fs=50.0, foot_acc_g=acc[:, ::-1].copy(),
                     foot_acc_fs=50.0)


def write_until_killed(path: Path) -> None:
    """Write a capture of the firmware model for up to an hour of simulated time.

    After each status event is written, its simulated time is printed on stdout (flushed), so
    a test knows what the capture must hold when it kills the process.
    """
    from detector.capture.writer import CaptureWriter

    fw = Firmware(sine_feed(3600.0), config=FirmwareConfig(clock_ppm=40.0),
                  rng=np.random.default_rng(1))
    epoch = 1.7e9
    with CaptureWriter(path, session={"profile": "legband", "leg": "left"}) as writer:
        central = Central(fw, lambda p, t: writer.packet(source="legband:data", payload=p,
                                                         received_s=t), epoch_s=epoch)
        central.start(emg_rate_hz=1000)
        sim_s = 0.0
        while sim_s < 3600.0:
            sim_s += 0.5
            central.run(sim_s, step_s=0.05)
            writer.event("status", at_s=epoch + sim_s, sim_s=sim_s)
            print(f"{sim_s:.1f}", flush=True)


if __name__ == "__main__":
    write_until_killed(Path(sys.argv[1]))
