"""``cramp record --simulate --dropouts N`` drops the link of every simulated consumer band.

The Movesense and Ganglion nights (and a Movesense pair, whose bands drop in turn) go
through the real BleakClient; the bands keep no buffer across a dropout, so the samples of
each outage are lost, counted and written to the capture as gaps, and the capture replays
to the samples and gaps counted live.
The control is the same night with ``--dropouts 0``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from detector.capture.multi_band import MultiBandRecording
from detector.capture.recording import open_capture
from detector.cli.main import main
from detector.cli.record_other import DROPOUT_MARGIN_S, DROPOUT_S, REJOIN_S, schedule_dropouts

SUMMARY = re.compile(r"(\d+) connection\(s\), (\d+) dropout\(s\)")
COUNTS = re.compile(r"(\w+): ([\d,]+) samples received \(([\d,]+) by backfill\), ([\d,]+) lost")
KIT_COUNTS = re.compile(r"(\w+_acc|emg\S*) ([\d,]+) received, ([\d,]+) lost")


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _replayed(source: object) -> tuple[int, int]:
    """Samples and missing samples (gaps) of a capture replayed."""
    samples = sum(b.n_samples for _role, b in source.blocks(5.0))  # type: ignore[attr-defined]
    return samples, sum(g.samples_missing for g in source.gaps)  # type: ignore[attr-defined]


@pytest.mark.parametrize("band", ["movesense", "ganglion"])
@pytest.mark.parametrize("dropouts", [3, 0])
def test_simulated_band_drops_the_link_as_often_as_asked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], band: str, dropouts: int) -> None:
    code = main(["record", "--simulate", "--simulate-band", band, "--hours", "0.1",
                 "--speed", "200", "--seed", "3", "--no-store", "--out", str(tmp_path),
                 "--dropouts", str(dropouts)])
    out = capsys.readouterr().out
    assert code == 0 and "night ended: morning" in out
    connections, seen = (int(v) for v in SUMMARY.search(out).groups())  # type: ignore[union-attr]
    assert seen == dropouts and connections == dropouts + 1
    ((_role, received, backfilled, lost),) = COUNTS.findall(out)
    assert _number(backfilled) == 0  # these bands keep nothing across a dropout
    if dropouts:  # every outage's samples lost: at least its shortest length each
        fs = 52 if band == "movesense" else 200
        assert _number(lost) >= dropouts * DROPOUT_S[0] * fs
    else:
        assert _number(lost) == 0
    (capture,) = tmp_path.glob("night-*.cramp")
    with open_capture(capture) as source:
        samples, missing = _replayed(source)
        n_gaps = len(source.gaps)
    assert (samples, missing) == (_number(received), _number(lost))
    assert n_gaps == dropouts


@pytest.mark.parametrize("dropouts", [3, 0])
def test_dropouts_shorter_than_a_clock_step_still_drop_the_link(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], dropouts: int) -> None:
    # at 2000x the simulated band's clock moves 20 s a step: most 2-20 s outages fall
    # between two steps, and each must still drop the link once
    code = main(["record", "--simulate", "--simulate-band", "movesense", "--hours", "0.2",
                 "--speed", "2000", "--seed", "3", "--no-store", "--out", str(tmp_path),
                 "--dropouts", str(dropouts)])
    out = capsys.readouterr().out
    assert code == 0 and "night ended: morning" in out
    connections, seen = (int(v) for v in SUMMARY.search(out).groups())  # type: ignore[union-attr]
    assert (connections, seen) == (dropouts + 1, dropouts)
    ((_role, received, _backfilled, lost),) = COUNTS.findall(out)
    (capture,) = tmp_path.glob("night-*.cramp")
    with open_capture(capture) as source:
        assert _replayed(source) == (_number(received), _number(lost))
        assert len(source.gaps) == dropouts


@pytest.mark.parametrize("dropouts", [2, 0])
def test_each_band_of_a_simulated_kit_drops_as_often_as_asked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], dropouts: int) -> None:
    code = main(["record", "--simulate", "--kit", "movesense-pair", "--hours", "0.1",
                 "--speed", "200", "--seed", "4", "--no-store", "--out", str(tmp_path),
                 "--dropouts", str(dropouts)])
    out = capsys.readouterr().out
    assert code == 0
    per_band = [tuple(int(v) for v in m) for m in SUMMARY.findall(out)]
    assert per_band == [(dropouts + 1, dropouts)] * 2
    counts = KIT_COUNTS.findall(out)
    assert len(counts) == 2
    (manifest,) = tmp_path.glob("night-*.night.json")
    with MultiBandRecording(manifest) as rec:
        samples, missing = _replayed(rec)
    assert samples == sum(_number(c[1]) for c in counts)
    assert missing == sum(_number(c[2]) for c in counts)
    assert (missing > 0) == (dropouts > 0)


@pytest.mark.parametrize("n", [1, 3, 7])
def test_scheduled_dropouts_are_disjoint_inside_the_night(n: int) -> None:
    duration_s = 600.0
    plan = schedule_dropouts(n, duration_s=duration_s, rng=np.random.default_rng(n))
    assert len(plan) == n
    ends = [a + d for a, d in plan]
    assert all(DROPOUT_S[0] <= d <= DROPOUT_S[1] for _a, d in plan)
    assert plan[0][0] >= DROPOUT_MARGIN_S and ends[-1] <= duration_s - DROPOUT_MARGIN_S
    assert all(ends[k] + REJOIN_S <= plan[k + 1][0] for k in range(n - 1))


def test_a_short_night_gets_the_dropouts_that_fit() -> None:
    # 200 s: 80 s between the first and last minute, room for 80 // 44 = 1 dropout
    plan = schedule_dropouts(5, duration_s=200.0, rng=np.random.default_rng(0))
    assert len(plan) == 1
    assert schedule_dropouts(5, duration_s=100.0, rng=np.random.default_rng(0)) == []


@pytest.mark.parametrize("dropouts", [5, 0])
def test_the_legband_gets_as_many_separate_dropouts_as_asked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], dropouts: int) -> None:
    # the LegBand's outages come from the same scheduler: disjoint, so none merge into one
    code = main(["record", "--simulate", "--hours", "0.1", "--speed", "300", "--seed", "7",
                 "--no-store", "--out", str(tmp_path), "--dropouts", str(dropouts)])
    out = capsys.readouterr().out
    assert code == 0 and "night ended: morning" in out
    _connections, seen = (int(v) for v in SUMMARY.search(out).groups())  # type: ignore[union-attr]
    assert seen == dropouts
    lost = [_number(v[3]) for v in COUNTS.findall(out)]
    assert len(lost) == 3 and lost == [0, 0, 0]  # within the band's buffer: backfilled
