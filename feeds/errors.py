"""Every error feeds raises derives from :class:`FeedsError`.

Problems in content files are not raised one by one: the collector gathers them as
:class:`Problem` values so that a build reports every bad file and carries on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class FeedsError(Exception):
    """Root of every error raised by feeds."""


class ConfigError(FeedsError):
    """The configuration file is unreadable or holds bad keys or values."""

    def __init__(self, path: str, problems: tuple[str, ...]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {p}" for p in problems))


class UsageError(FeedsError):
    """The command line asks for something impossible (exit code 2)."""


class BuildError(FeedsError):
    """The build could not complete (output folder unwritable, lock held, ...)."""


class LockedError(BuildError):
    """Another build holds the output lock."""


class TemplateError(BuildError):
    """A page template (built-in or from the ``templates`` folder) failed to render."""

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: template: {message}")


class Severity(Enum):
    """An ``ERROR`` skips the whole file; a ``WARNING`` drops one value and keeps the file."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One reportable problem in one content file, located as precisely as we can."""

    path: str
    line: int
    field: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        field = f" {self.field}:" if self.field else ""
        tag = " warning:" if self.severity is Severity.WARNING else ""
        return f"{where}:{tag}{field} {self.message}"
