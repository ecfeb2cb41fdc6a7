"""The compiled loop that runs second-order sections over samples, without importing scipy.signal.

Importing :mod:`scipy.signal` loads scipy.stats, scipy.special, scipy.interpolate and more: on
a two-core machine that alone takes about three times as long as band-pass filtering a whole
8-hour EMG night. The pipeline needs one thing from it, the Cython loop ``_sosfilt`` behind
:func:`scipy.signal.sosfilt`, which depends on numpy only. It is loaded here straight from its
extension file, under its own module name (so a later ``import scipy.signal`` reuses it). If
that file cannot be found or loaded (another scipy layout), :func:`scipy.signal.sosfilt` is used
instead: slower to start, same samples.

The extension imports scipy's shared Cython helpers (``scipy._cyutility``), and importing a
submodule runs its package first: ``scipy/__init__`` (its configuration, version checks and
test helpers, about 11 ms, more than the extension itself). So while the extension loads,
``scipy`` in :data:`sys.modules` is a bare package that only lends its path (see
:func:`_bare_package`); a later ``import scipy`` runs the real one, which finds both modules
already loaded.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np

_MODULE = "scipy.signal._sosfilt"

Kernel = Callable[[np.ndarray, np.ndarray, np.ndarray], None]


def _load_extension() -> ModuleType | None:
    """The ``scipy.signal._sosfilt`` extension module, loaded without its package, or None."""
    if _MODULE in sys.modules:
        return sys.modules[_MODULE]
    spec = importlib.util.find_spec("scipy")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(root) / "signal" / f"_sosfilt{suffix}"
            if not path.is_file():
                continue
            try:
                loader = importlib.machinery.ExtensionFileLoader(_MODULE, str(path))
                ext_spec = importlib.util.spec_from_file_location(_MODULE, path, loader=loader)
                if ext_spec is None:
                    return None
                module = importlib.util.module_from_spec(ext_spec)
                with _bare_package("scipy", spec.submodule_search_locations):
                    loader.exec_module(module)
            except (ImportError, OSError):
                return None
            if not callable(getattr(module, "_sosfilt", None)):
                return None
            sys.modules[_MODULE] = module
            return module
    return None


@contextmanager
def _bare_package(name: str, path: list[str]) -> Iterator[None]:
    """``name`` as an empty package with ``path`` in :data:`sys.modules` meanwhile, unless it
    is imported already: its submodules import without running its ``__init__``. The
    submodules loaded meanwhile stay in :data:`sys.modules`; the bare package does not."""
    if name in sys.modules:
        yield
        return
    bare = ModuleType(name, "bare stand-in while scipy.signal._sosfilt loads")
    bare.__path__ = list(path)
    sys.modules[name] = bare
    try:
        yield
    finally:
        if sys.modules.get(name) is bare:
            del sys.modules[name]


def _scipy_fallback(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> None:
    from scipy import signal

    y, zf = signal.sosfilt(sos, x, axis=-1, zi=np.moveaxis(zi, 0, 1))
    x[...] = y
    zi[...] = np.moveaxis(zf, 1, 0)


def _pick_kernel() -> tuple[Kernel, str]:
    module = _load_extension()
    if module is not None:
        return module._sosfilt, "scipy.signal._sosfilt (loaded directly)"
    return _scipy_fallback, "scipy.signal.sosfilt"


_KERNEL, KERNEL_NAME = _pick_kernel()
"""The loop in use and its name (for diagnostics)."""


def sosfilt_inplace(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> None:
    """Filter the rows of ``x`` in place through the sections ``sos``, carrying ``zi``.

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6)
        Second-order sections ``b0 b1 b2 a0 a1 a2`` with ``a0 == 1``, C-contiguous.
    x : ndarray, shape (n_signals, n_samples)
        Signals, time last, C-contiguous and writeable; overwritten with the output.
    zi : ndarray, shape (n_signals, n_sections, 2)
        Filter state (transposed direct form II) at the first sample; updated to the state
        after the last one.

    The three arrays must share one floating dtype (float32 or float64) or complex one
    (complex64, complex128: with real sections, two real signals per row). The arithmetic is
    that of :func:`scipy.signal.sosfilt`, sample for sample.
    """
    if not (sos.dtype == x.dtype == zi.dtype) or x.dtype.kind not in "fc":
        raise TypeError(f"sos, x and zi must share one float or complex dtype, got "
                        f"{sos.dtype}, {x.dtype}, {zi.dtype}")
    if x.ndim != 2 or zi.shape != (x.shape[0], sos.shape[0], 2):
        raise ValueError(f"shapes do not fit: sos {sos.shape}, x {x.shape}, zi {zi.shape}")
    if not (x.flags.c_contiguous and x.flags.writeable and zi.flags.c_contiguous
            and sos.flags.c_contiguous):
        raise ValueError("sos, x and zi must be C-contiguous (x and zi writeable)")
    _KERNEL(sos, x, zi)
