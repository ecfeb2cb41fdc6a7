"""A capture replayed in bulk gives exactly what pushing its packets one at a time gives."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from capture_sim import Central, sine_feed
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.capture.recording import CaptureRecording
from detector.capture.writer import CaptureWriter
from detector.errors import CrampInputError
from detector.night.legband import LegBandRuns
from detector.profiles.legband import LEGBAND
from detector.profiles.legband_codec import decode_data_packet
from detector.signals import SignalBlock
from firmware_sim.firmware import Firmware, FirmwareConfig

EPOCH_S = 1.7e9


def joined(pairs: list[tuple[str, SignalBlock]]) -> dict[str, list[tuple[int, np.ndarray]]]:
    out: dict[str, list[tuple[int, np.ndarray]]] = {}
    for role, b in pairs:
        runs = out.setdefault(role, [])
        if runs and runs[-1][0] + runs[-1][1].shape[0] == b.start_sample:
            runs[-1] = (runs[-1][0], np.concatenate([runs[-1][1], b.data]))
        else:
            runs.append((b.start_sample, b.data))
    return out


@pytest.fixture(scope="module")
def messy_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 min with a backfilled outage, one too long to backfill, and broken packets."""
    fw = Firmware(sine_feed(360.0), config=FirmwareConfig(clock_ppm=30.0),
                  rng=np.random.default_rng(3))
    path = tmp_path_factory.mktemp("bulk") / "messy.cramp"
    count = [0]
    with CaptureWriter(path, session={"profile": "legband", "leg": "left"},
                       background_sync=False) as writer:
        def on_packet(payload: bytes, received_s: float) -> None:
            count[0] += 1
            writer.packet(source="legband:data", payload=payload, received_s=received_s)
            k = count[0]
            if k % 97 == 0:  # the same notification twice
                writer.packet(source="legband:data", payload=payload, received_s=received_s)
            if k % 131 == 0:  # cut short: not a whole sample
                writer.packet(source="legband:data", payload=payload[:-1],
                              received_s=received_s)
            if k % 173 == 0:  # another protocol version
                writer.packet(source="legband:data", payload=bytes([0x20 | payload[0] & 15])
                              + payload[1:], received_s=received_s)
            if k % 211 == 0:  # another rate code for the stream
                writer.packet(source="legband:data", payload=payload[:1]
                              + bytes([payload[1] ^ 0x04]) + payload[2:], received_s=received_s)
            if k == 50:
                writer.packet(source="legband:data", payload=b"", received_s=received_s)
            if k % 400 == 0:
                writer.event("status", at_s=received_s, k=k)

        central = Central(fw, on_packet, epoch_s=EPOCH_S)
        central.start(emg_rate_hz=1000)
        central.outage(down_s=60.0, up_s=80.0, step_s=0.1)
        central.outage(down_s=150.0, up_s=300.0, step_s=0.1)
        central.run(360.0, step_s=0.1)
    return path


def test_bulk_replay_equals_one_packet_at_a_time(messy_capture: Path) -> None:
    rec = CaptureRecording(messy_capture)
    bulk = joined(list(rec.blocks(7.0)))
    # one packet at a time, as live: the assembler, and the accelerometers placed on the
    # RTC's grid by their ticks (here 30 ppm apart: they slip one sample by the end)
    runs = LegBandRuns(profile=LEGBAND, channels=rec.info.channels, hold_s=rec.hold_s)
    pairs: list[tuple[str, SignalBlock]] = runs.start_run(run_start_ticks=0, offsets={})
    refused = at_changed_rate = 0
    for packet in rec.packets():
        try:
            decoded = decode_data_packet(packet.payload)
        except CrampInputError:
            refused += 1
            continue
        try:
            pairs += runs.push(decoded, received_s=packet.received_s)
        except CrampInputError:
            refused += 1
            at_changed_rate += 1
    ref = joined(pairs + runs.flush())
    assert runs.current is not None
    asm = runs.current.assembler
    assert bulk.keys() == ref.keys() == {"emg", "shank_acc", "foot_acc"}
    for role in ref:
        assert [s for s, _ in bulk[role]] == [s for s, _ in ref[role]]
        for (_, x), (_, y) in zip(bulk[role], ref[role], strict=True):
            np.testing.assert_array_equal(x, y)
    assert rec.stats == runs.stats()
    # the gaps: the EMG's as the assembler has them, the accelerometers' on the RTC's grid
    assert [g for g in rec.gaps if g.role == "emg"] == [g for g in asm.gaps if g.role == "emg"]
    assert sorted((g.role, g.samples_missing) for g in rec.gaps) == \
        sorted((g.role, g.samples_missing) for g in asm.gaps)
    fs = {r: c.fs for r, c in rec.info.channels.items()}
    placed = {(g.role, round(g.start_s * fs[g.role]), round(g.end_s * fs[g.role]))
              for g in rec.gaps
              if g.role != "emg"}
    on_grid = set()
    for role, blocks in ref.items():
        if role != "emg":
            on_grid |= {(role, a + len(x), b) for (a, x), (b, _) in itertools.pairwise(blocks)}
    assert placed == on_grid  # where the placed blocks leave their holes
    # positive controls: the capture really is messy, and the scan counted what was refused
    assert len(rec.gaps) == 3 and all(s.duplicates > 0 for s in rec.stats.values())
    assert at_changed_rate == asm.rejected_packets > 10 and refused > at_changed_rate
    assert any(f"{rec._bad_packets} undecodable" in n for n in rec.info.notes)
    assert any(f"{rec._rate_changes} packet(s) at a changed rate" in n for n in rec.info.notes)
    assert rec._bad_packets + rec._rate_changes == refused


def test_blocks_are_cut_at_the_asked_length(messy_capture: Path) -> None:
    rec = CaptureRecording(messy_capture)
    target = round(7.0 * rec.info.channels["emg"].fs)
    emg = [b for role, b in rec.blocks(7.0) if role == "emg"]
    gap_starts = {round(g.start_s * rec.info.channels["emg"].fs) for g in rec.gaps
                  if g.role == "emg"}
    for b, nxt in itertools.pairwise(emg):
        if b.end_sample in gap_starts:  # a block ends early at a gap
            assert nxt.start_sample > b.end_sample
        else:
            assert b.n_samples == target


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(0, 300), max_size=40), big=st.booleans())
def test_distinct_stream_ids_come_in_order_of_first_appearance(values: list[int],
                                                               big: bool) -> None:
    """Counted (small ids) or sorted (large values): the distinct values, in the order they
    first appear."""
    from detector.capture.recording import pd_unique

    v = np.array(values, dtype=np.int64) * (10_000 if big else 1)
    want = list(dict.fromkeys(v.tolist()))
    assert pd_unique(v) == want
