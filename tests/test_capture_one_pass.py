"""The replay of a consumer band's capture decodes the file once (issue 11).

:class:`OtherBandCapture` fixes its ``info`` by replaying the capture through the band's
assembler; the blocks of that pass are kept for the first ``blocks`` call, so every data packet
is decoded once. Counted on the band's bulk decoder (rows decoded), not timed. The control:
with nothing kept (``keep_decoded_bytes=0``, a capture too big to hold) the same night comes
from a second decoding pass, and both give the same blocks, bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detector.capture.movesense_source import DATA_SOURCE, MovesenseAssembler
from detector.capture.other_sources import OtherBandCapture
from detector.capture.reader import read_capture
from detector.capture.writer import CaptureWriter
from firmware_sim.movesense_sim import encode_acc_data

ORIGIN_S = 1.7e9
FS = 104
PER = 8
N_MESSAGES = 400  # about 31 s of ACC at 104 Hz: several 0.5-s blocks and 10-s chunks


@pytest.fixture(scope="module")
def capture_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Movesense capture: ACC messages of 8 samples, one reconnection with a gap."""
    rng = np.random.default_rng(11)
    path = tmp_path_factory.mktemp("onepass") / "night.cramp"
    session = {"profile": "movesense", "movesense": {"fs_hz": FS, "role": "shank_acc"}}
    with CaptureWriter(path, session=session, background_sync=False) as w:
        k = 0
        for m in range(N_MESSAGES):
            if m == N_MESSAGES // 2:
                k += 50  # samples nobody heard, then a reconnection
                w.event("connected", at_s=ORIGIN_S + k / FS)
            acc = rng.normal(0.0, 3.0, size=(PER, 3))
            payload = encode_acc_data(1, timestamp_ms=1000 + round(k * 1000.0 / FS),
                                      acc_ms2=acc)
            k += PER
            w.packet(source=DATA_SOURCE, payload=payload, received_s=ORIGIN_S + k / FS + 0.02)
    return path


def _replay(path: Path, monkeypatch: pytest.MonkeyPatch, **kw: int
            ) -> tuple[int, list[tuple[str, int, bytes]], OtherBandCapture]:
    """Rows the bulk decoder decoded while opening and replaying once; the blocks."""
    decoded = [0]
    bulk = MovesenseAssembler.decode_rows

    def counting(mat: np.ndarray, lengths: np.ndarray) -> object:
        decoded[0] += mat.shape[0]
        return bulk(mat, lengths)

    monkeypatch.setattr(MovesenseAssembler, "decode_rows", staticmethod(counting))
    rec = OtherBandCapture(path, capture=read_capture(path), **kw)
    blocks = [(r, b.start_sample, b.data.tobytes()) for r, b in rec.blocks(10.0)]
    monkeypatch.undo()
    return decoded[0], blocks, rec


def test_every_data_packet_is_decoded_once(capture_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    decoded, blocks, rec = _replay(capture_path, monkeypatch)
    assert decoded == N_MESSAGES  # one pass: open (info) and blocks share it
    # control: nothing kept, so blocks() decodes the file a second time, to the same night
    decoded_twice, again, rec2 = _replay(capture_path, monkeypatch, keep_decoded_bytes=0)
    assert decoded_twice == 2 * N_MESSAGES
    assert blocks == again
    assert sum(len(d) for _, _, d in blocks) == N_MESSAGES * PER * 3 * 8  # every sample, f64
    assert rec.info == rec2.info and rec.gaps == rec2.gaps
    assert len(rec.gaps) == 1  # the reconnection's gap


def test_a_second_blocks_call_decodes_again_to_the_same_night(capture_path: Path) -> None:
    rec = OtherBandCapture(capture_path, capture=read_capture(capture_path))
    first = [(r, b.start_sample, b.data.tobytes()) for r, b in rec.blocks(10.0)]
    second = [(r, b.start_sample, b.data.tobytes()) for r, b in rec.blocks(10.0)]
    assert first and first == second  # the kept blocks are let go, not handed out twice
    closed = OtherBandCapture(capture_path, capture=read_capture(capture_path))
    closed.close()  # lets go of the kept blocks: blocks() decodes again
    assert [(r, b.start_sample, b.data.tobytes()) for r, b in closed.blocks(10.0)] == first
