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


class DuplicateOutputError(BuildError):
    """Two outputs of one build have the same path: neither is written over the other."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: two outputs have this path; nothing was replaced")


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
        """The problem as one line of text, whatever its file name and message hold."""
        where = f"{self.path}:{self.line}" if self.line else self.path
        field = f" {self.field}:" if self.field else ""
        tag = " warning:" if self.severity is Severity.WARNING else ""
        return escape(f"{where}:{tag}{field} {self.message}")


def _escapes() -> dict[int, str]:
    short = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    table: dict[int, str] = {}
    controls = [*range(0x20), 0x7F, *range(0x80, 0xA0)]
    # Line and paragraph separators end a line in some viewers; the bidirectional
    # overrides and isolates make a line read in another order than it is written.
    invisible = [0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    for code in controls + invisible:
        table[code] = short.get(chr(code)) or (
            f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
        )
    return table


_ESCAPES = _escapes()
JSON_ESCAPES = {code: f"\\u{code:04x}" for code in _ESCAPES if code >= 0x7F}
"""What :func:`json.dumps` leaves raw with ``ensure_ascii=False`` (it escapes the rest)."""


def escape(text: str) -> str:
    """``text`` with every control character (C0, DEL, C1), line separator and bidirectional
    override written as a Python escape (``\\n``, ``\\x1b``, ``\\u202e``): a file name
    can neither start a forged line in a cron mail nor send a terminal escape sequence.
    Other characters, any script's letters included, stay as they are."""
    return text.translate(_ESCAPES)
