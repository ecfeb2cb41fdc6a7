"""Open a recording file with the right reader, chosen by content and extension."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from detector.errors import CrampInputError
from detector.io.channels import ChannelMap
from detector.safe_files import check_input_file

if TYPE_CHECKING:
    from detector.capture.other_sources import OtherBandCapture
    from detector.capture.recording import CaptureRecording
    from detector.io.csv_reader import CsvRecording
    from detector.io.edf_reader import EdfRecording

CAPTURE_MAGIC = b"\x89CRAMPC\n"  # detector.capture.format.FILE_MAGIC (not imported: start-up)
EDF_MAGIC = b"0       "  # detector.io.edf_header.EDF_MAGIC and BDF_MAGIC (not imported: the
BDF_MAGIC = b"\xffBIOSEMI"  # EDF reader and pyedflib load only when an EDF/BDF file is opened)
GZIP_MAGIC = b"\x1f\x8b"  # detector.io.csv_reader.GZIP_MAGIC (not imported: a replay of an
# EDF file does not load the table reader)
CAPTURE_SUFFIXES = (".capture", ".cramp")
EDF_SUFFIXES = (".edf", ".bdf", ".rec")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")


def open_recording(
    path: str | Path,
    *,
    channel_map: ChannelMap,
    min_emg_fs_hz: float,
    time_unit: str | None = None,
    threads: int = 1,
    defer_checks: bool = False,
) -> EdfRecording | CsvRecording | CaptureRecording | OtherBandCapture:
    """Open an EDF/EDF+/BDF/BDF+ file, a CSV/TSV table (plain or gzip), a band capture or
    a multi-band night manifest (``*.night.json``; one leg's bands replayed together).

    The file's first bytes decide (capture, EDF and BDF magic, gzip magic); the extension
    decides otherwise (``.capture``, ``.cramp``; ``.edf``, ``.bdf``, ``.rec``; ``.csv``, ``.tsv``,
    ``.txt``, with ``.gz``).

    Parameters
    ----------
    path : str or Path
        The recording.
    channel_map : ChannelMap
        Labels, units, rate and start time the user gave.
    min_emg_fs_hz : float
        Slowest EMG sampling rate accepted (Hz).
    time_unit : {"s", "ms"}, optional
        Unit of a CSV ``time``/``timestamp`` column.
    threads : int
        2: a capture is scanned on two threads (the same result; see
        :func:`~detector.capture.reader.read_capture`). Other formats read on one.
    defer_checks : bool
        True: an EDF+/BDF+ file's records after the first have their timing checked by the
        first pass over its blocks instead of here (``defer_timing_check`` of
        :class:`~detector.io.edf_reader.EdfRecording`; the same error, raised by that pass),
        for a caller that writes nothing before a whole pass. Other formats check here.

    Returns
    -------
    EdfRecording, CsvRecording, CaptureRecording or OtherBandCapture
        Has ``info``, ``gaps``, ``blocks(chunk_s)``, ``close()``; usable in ``with``.

    Raises
    ------
    CrampInputError
        Missing file, unknown format, or any problem the reader finds.
    """
    p = check_input_file(path, what="file", where=Path(path).name)
    if p.name.lower().endswith(".night.json"):  # a multi-band night
        from detector.capture.multi_band import MultiBandRecording

        return MultiBandRecording(p, min_emg_fs_hz=min_emg_fs_hz)  # type: ignore[return-value]
    try:
        with p.open("rb") as fh:
            magic = fh.read(8)
    except FileNotFoundError:
        raise CrampInputError(p.name, "file not found") from None
    except IsADirectoryError:
        raise CrampInputError(p.name, "is a directory, expected a recording file") from None
    except OSError as exc:
        raise CrampInputError(p.name, f"cannot read the file ({exc.strerror})") from None
    suffixes = [s.lower() for s in p.suffixes]
    last = suffixes[-1] if suffixes else ""
    inner = suffixes[-2] if last == ".gz" and len(suffixes) > 1 else last
    if magic == CAPTURE_MAGIC or last in CAPTURE_SUFFIXES:
        from detector.capture.recording import open_capture

        return open_capture(p, min_emg_fs_hz=min_emg_fs_hz, start_utc=channel_map.start_utc,
                            threads=threads)
    if magic in (EDF_MAGIC, BDF_MAGIC) or (last in EDF_SUFFIXES and not magic[:2] == GZIP_MAGIC):
        from detector.io.edf_reader import EdfRecording

        return EdfRecording(p, channel_map=channel_map, min_emg_fs_hz=min_emg_fs_hz,
                            defer_timing_check=defer_checks)
    if magic[:2] == GZIP_MAGIC and inner in EDF_SUFFIXES:
        raise CrampInputError(p.name, "compressed EDF/BDF is not supported; decompress it first")
    if magic[:2] == GZIP_MAGIC or inner in TABLE_SUFFIXES:
        if last == ".gz" and magic[:2] != GZIP_MAGIC:
            raise CrampInputError(p.name, "named .gz but not gzip-compressed")
        from detector.io.csv_reader import CsvRecording

        return CsvRecording(
            p, channel_map=channel_map, min_emg_fs_hz=min_emg_fs_hz, time_unit=time_unit
        )
    raise CrampInputError(
        p.name,
        "unknown recording format; expected EDF/EDF+/BDF (.edf, .bdf, .rec), a table "
        "(.csv, .tsv, .txt, optionally .gz) or a band capture (.capture, .cramp)",
    )
