"""The project's own error types.

Every error a user can cause (a bad file, a bad option, a bad config value) is raised as a
:class:`CrampInputError` whose message is one line naming the file or field and what was
expected. The CLI prints that line and exits with code 2, without a traceback.
"""

from __future__ import annotations


class CrampError(Exception):
    """Base class of every error this package raises on purpose."""


class CrampInputError(CrampError, ValueError):
    """Bad input: a file, field, option or value that is not what was expected.

    Parameters
    ----------
    where : str
        The file, field or option at fault (e.g. ``"night.edf"`` or ``"emg.lowpass_hz"``).
    problem : str
        What is wrong and what was expected, in one line.
    """

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


class ConfigError(CrampInputError):
    """A configuration value or TOML file that is not valid."""


def brief(value: object, *, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, so an error message stays one short line."""
    text = repr(value).replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."
