"""The pipeline feeds the EMG step estimate a long block in growing pieces: the estimate's
marks are those of one push of the whole block, and the pieces do grow (positive control)."""

from __future__ import annotations

import numpy as np
import pytest

from detector.pipeline import chain
from detector.pipeline.emg_step import StepEstimate
from detector.signals import SignalBlock


@pytest.mark.parametrize("kind", ["fine", "coarse", "coarse with NaN", "drifting"])
def test_pieces_give_the_marks_of_one_push(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    x = {"fine": np.round(20.0 * rng.standard_normal(n) / 0.25) * 0.25,
         "coarse": np.round(14.0 * rng.standard_normal(n) / 12.0) * 12.0,
         "coarse with NaN": np.round(14.0 * rng.standard_normal(n) / 12.0) * 12.0,
         # no lattice: the step keeps falling all through the block
         "drifting": np.cumsum(rng.standard_normal(n)) * np.geomspace(1.0, 1e-6, n)}[kind]
    if kind == "coarse with NaN":
        x[[0, 1023, 1024, 70_000]] = np.nan
    x[150_000:] += 0.125  # a finer step late in the block (seen unless already fine enough)
    sizes: list[int] = []
    push = StepEstimate.push

    def spy(self: StepEstimate, samples: np.ndarray, *, start_sample: int) -> None:
        sizes.append(samples.shape[0])
        push(self, samples, start_sample=start_sample)

    for start in (0, 5000):  # a block that follows an earlier one, too
        whole = StepEstimate(fs=1000.0, epochs_per_s=10, enough_uv=4.0)
        pieces = StepEstimate(fs=1000.0, epochs_per_s=10, enough_uv=4.0)
        if start:
            head = np.round(rng.standard_normal(start) * 2.0) * 24.0
            whole.push(head, start_sample=0)
            pieces.push(head, start_sample=0)
        whole.push(x, start_sample=start)
        monkeypatch.setattr(StepEstimate, "push", spy)
        chain._push_in_pieces(pieces, SignalBlock(data=x, fs=1000.0, start_sample=start))
        monkeypatch.setattr(StepEstimate, "push", push)
        assert pieces._marks == whole._marks
        assert whole._marks  # a step was found
        assert [whole.at(k) for k in range(0, n // 100, 97)] == \
            [pieces.at(k) for k in range(0, n // 100, 97)]
    first = chain.STEP_FIRST_SAMPLES
    assert sizes[:3] == [first, 4 * first, 16 * first] and sum(sizes) == 2 * n
