"""Checks shared by the parsers of typed-in and stored text fields."""

from __future__ import annotations


def is_ascii_digits(text: str) -> bool:
    """True if ``text`` is one or more ASCII digits ``0``-``9`` and nothing else.

    :meth:`str.isdigit` is also true of superscripts ('¹') and other scripts' digits, which
    :func:`int` refuses or reads differently; a field parsed with ``int`` checks this first.
    """
    return text.isascii() and text.isdigit()
