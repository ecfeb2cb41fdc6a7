"""A capture replay loads the capture package's reading side only (issue 11, start-up).

``detector.capture`` names its writer and recovery among its exports; they are imported on
first use, so replaying a capture does not load them. Checked in a fresh interpreter
(``sys.modules``); the control asks the package for the writer and finds it loaded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WRITING_SIDE = ("detector.capture.writer", "detector.capture.recover")


def _loaded_after(code: str) -> set[str]:
    probe = (f"import sys\n{code}\n"
             f"print(','.join(m for m in {WRITING_SIDE!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120, cwd=REPO)
    return set(filter(None, out.stdout.strip().split(",")))


def test_replaying_a_capture_does_not_load_the_writer_or_the_recovery() -> None:
    replay = ("import contextlib, io\n"
              "from detector.cli.main import main\n"
              "with contextlib.redirect_stdout(io.StringIO()):\n"
              "    code = main(['replay', 'recordings/sample_capture.cramp', '--json', '-',\n"
              "                 '--no-store'])\n"
              "assert code in (0, None), code")
    assert _loaded_after(replay) == set()
    # control: the package's exported names still work, each loading its module
    control = "from detector.capture import CaptureWriter, recover_capture"
    assert _loaded_after(control) == set(WRITING_SIDE)


def test_replaying_a_capture_does_not_load_numpy_ma() -> None:
    """``numpy.ma`` (some 10 ms to import) is not needed by a capture replay: ``np.unique``
    without indices and ``np.median`` would load it; the control shows that they do."""
    probe = ("import contextlib, io, sys\n"
             "from detector.cli.main import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    main(['replay', 'recordings/sample_capture.cramp', '--json', '-',\n"
             "          '--no-store', '--threads', '2'])\n"
             "print('numpy.ma' in sys.modules)\n"
             "import numpy as np\n"
             "np.median(np.arange(3.0))\n"
             "print('numpy.ma' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120, cwd=REPO)
    assert out.stdout.split() == ["False", "True"]


EDF_AND_POLAR = ("pyedflib", "detector.io.edf_reader", "detector.profiles.polar_pmd")


def _loaded_of(code: str, watched: tuple[str, ...]) -> list[str]:
    probe = (f"import contextlib, io, sys\n"
             f"from detector.cli.main import main\n"
             f"with contextlib.redirect_stdout(io.StringIO()):\n"
             f"    code = main({code!r}.split())\n"
             f"assert code in (0, None), code\n"
             f"print(','.join(m for m in {watched!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120, cwd=REPO)
    return list(filter(None, out.stdout.strip().split(",")))


def test_replaying_a_capture_loads_neither_the_edf_reader_nor_the_polar_codec() -> None:
    """The EDF reader (with pyedflib, some 10 ms) loads only for an EDF/BDF file, and the band
    table names the Polar service by its UUID without importing the Polar codec."""
    flags = " --json - --no-store"
    assert _loaded_of("replay recordings/sample_capture.cramp" + flags, EDF_AND_POLAR) == []
    # control: an EDF replay loads the EDF reader (the probe sees an import when there is one)
    assert _loaded_of("replay recordings/sample_night.edf" + flags, EDF_AND_POLAR) == [
        "pyedflib", "detector.io.edf_reader"]


def test_the_copied_constants_agree_with_their_sources() -> None:
    from detector.bands.registry import POLAR_PMD_SERVICE_UUID, band_named
    from detector.capture.format import FILE_MAGIC
    from detector.io import open as opener
    from detector.io.edf_header import BDF_MAGIC, EDF_MAGIC
    from detector.profiles.polar_pmd import POLAR_PMD

    assert POLAR_PMD_SERVICE_UUID == POLAR_PMD.service_uuid
    assert band_named("polar_pmd").service_uuids == (POLAR_PMD.service_uuid,)
    assert (opener.EDF_MAGIC, opener.BDF_MAGIC) == (EDF_MAGIC, BDF_MAGIC)
    assert opener.CAPTURE_MAGIC == FILE_MAGIC
