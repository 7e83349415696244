"""Diagnostics: one problem in a flows file, printed as ``PATH:LINE:COL: severity: message``."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ivr.errors import IvrError


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Mark:
    """Where something is in a source file; line and column count from 1."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def shifted(self, cols: int) -> Mark:
        return Mark(self.path, self.line, self.col + cols)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    mark: Mark
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.mark}: {self.severity.value}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


class FlowError(IvrError):
    """A flows file did not compile; ``diagnostics`` holds every problem found."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else ``""``."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Diagnostics:
    """Collects problems; the compiler never stops at the first one."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, mark: Mark, message: str) -> None:
        self.items.append(Diagnostic(mark, Severity.ERROR, message))

    def warning(self, mark: Mark, message: str) -> None:
        self.items.append(Diagnostic(mark, Severity.WARNING, message))

    @staticmethod
    def single(mark: Mark, message: str) -> Diagnostic:
        return Diagnostic(mark, Severity.ERROR, message)

    def sorted(self) -> list[Diagnostic]:
        # Stable sort by position so output reads top to bottom like the file.
        return sorted(self.items, key=lambda d: (d.mark.line, d.mark.col))

    @property
    def failed(self) -> bool:
        return has_errors(self.items)
