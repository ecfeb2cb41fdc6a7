"""Number fields accept ASCII digits only: Unicode digits such as '¹' pass ``str.isdigit``
but not ``int``, and must be refused with the field's one-line error, not a traceback."""

from __future__ import annotations

import pytest

from detector.causes.profile import profile_from_fields
from detector.errors import CrampInputError
from detector.store.night_queries import parse_night_date


@pytest.mark.parametrize("age", ["¹", "7²", "٣٠"])
def test_an_age_in_other_digits_is_refused_with_the_field_named(age: str) -> None:
    with pytest.raises(CrampInputError, match="age_years"):
        profile_from_fields({"age_years": age})


def test_an_age_in_ascii_digits_is_read() -> None:  # control
    assert profile_from_fields({"age_years": " 70 "}).age_years == 70


@pytest.mark.parametrize("text", ["2026-1²-01", "２０２６-12-01"])
def test_a_night_date_in_other_digits_is_refused(text: str) -> None:
    with pytest.raises(CrampInputError, match="YYYY-MM-DD"):
        parse_night_date(text)


def test_a_night_date_in_ascii_digits_is_read() -> None:  # control
    assert parse_night_date("2026-12-01").isoformat() == "2026-12-01"
