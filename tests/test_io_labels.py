"""Label readers: BIDS/MNE events tables and EDF+ annotations."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from io_helpers import EDF, EDF_PLUS, standard_signals, write_edf

from detector.errors import CrampInputError
from detector.io import LabelEvent, read_labels


def test_tsv_events_with_filter(tmp_path: Path) -> None:
    path = tmp_path / "events.tsv"
    path.write_text(
        "onset\tduration\ttrial_type\n"
        "600.5\t42.0\tcramp_left\n"
        "30\t2.5\tleg movement\n"
        "120\tn/a\tCRAMP\n"
    )
    assert read_labels(path) == [
        LabelEvent(onset_s=120.0, duration_s=0.0, description="CRAMP"),
        LabelEvent(onset_s=600.5, duration_s=42.0, description="cramp_left"),
    ]
    everything = read_labels(path, description_filter=None)
    assert [e.onset_s for e in everything] == [30.0, 120.0, 600.5]
    assert [e.description for e in read_labels(path, description_filter="leg")] == [
        "leg movement"]


def test_csv_without_description_keeps_all(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("onset,duration\n10,12\n5,20\n")
    assert read_labels(path) == [
        LabelEvent(onset_s=5.0, duration_s=20.0, description=""),
        LabelEvent(onset_s=10.0, duration_s=12.0, description=""),
    ]


def test_gzip_and_description_column(tmp_path: Path) -> None:
    path = tmp_path / "events.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("Onset,Duration,Description\n1.5,11,Cramp\n")
    assert read_labels(path) == [LabelEvent(onset_s=1.5, duration_s=11.0, description="Cramp")]


def test_table_errors(tmp_path: Path) -> None:
    path = tmp_path / "ev.csv"
    path.write_text("start,length\n1,2\n")
    with pytest.raises(CrampInputError, match=r"^ev.csv: no onset and duration column"):
        read_labels(path)
    path.write_text("onset,duration\n1,2\nsoon,3\n")
    with pytest.raises(CrampInputError, match=r"^ev.csv: column 'onset', row 2: 'soon'"):
        read_labels(path)
    path.write_text("onset,duration\n1,-2\n")
    with pytest.raises(CrampInputError, match=r"^ev.csv: column 'duration', row 1"):
        read_labels(path)
    path.write_text("onset,duration\n1,2,3\n")
    with pytest.raises(CrampInputError, match=r"^ev.csv: row 1 has 3 fields"):
        read_labels(path)
    with pytest.raises(CrampInputError, match=r"^nope.tsv: file not found"):
        read_labels(tmp_path / "nope.tsv")
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(CrampInputError, match=r"^ev.csv: not UTF-8"):
        read_labels(path)


def test_edf_plus_annotations(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    annotations = ((12.25, 15.0, "Cramp L"), (40.0, 0.0, "arousal"), (3.0, 30.5, "cramp"))
    path = write_edf(tmp_path / "scored.edf", standard_signals(rng, seconds=60, foot=False),
                     annotations=annotations)
    assert read_labels(path) == [
        LabelEvent(onset_s=3.0, duration_s=30.5, description="cramp"),
        LabelEvent(onset_s=12.25, duration_s=15.0, description="Cramp L"),
    ]
    assert len(read_labels(path, description_filter=None)) == 3


def test_plain_edf_has_no_annotations(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    path = write_edf(tmp_path / "plain.edf", standard_signals(rng, foot=False), file_type=EDF)
    with pytest.raises(CrampInputError, match=r"^plain.edf: plain EDF/BDF holds no annotations"):
        read_labels(path)


def test_edf_plus_without_annotations_is_empty(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    path = write_edf(tmp_path / "none.edf", standard_signals(rng, foot=False),
                     file_type=EDF_PLUS)
    assert read_labels(path, description_filter=None) == []
