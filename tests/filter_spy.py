"""A spy on the filter kernel: what each call of the section loop was given."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from detector.pipeline import filters


@dataclass(frozen=True)
class KernelCall:
    """One call of :func:`detector.pipeline.filters.sosfilt_inplace`."""

    sections: int
    """Second-order sections filtered in the call."""
    rows: int
    """Independent rows (signals) filtered in the call."""


def spy_on_filter_kernel(monkeypatch: pytest.MonkeyPatch) -> list[KernelCall]:
    """Record every call of the filter kernel from now on (it still filters)."""
    calls: list[KernelCall] = []
    kernel = filters.sosfilt_inplace

    def counting(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> None:
        calls.append(KernelCall(sections=int(sos.shape[0]), rows=int(x.shape[0])))
        kernel(sos, x, zi)

    monkeypatch.setattr(filters, "sosfilt_inplace", counting)
    return calls
