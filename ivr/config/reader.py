"""Typed reading of positioned YAML values, reporting every problem with its position."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ivr.config.diagnostics import Diagnostics, did_you_mean
from ivr.config.loader import YMap, YScalar, YSeq, YValue
from ivr.flows.durations import DurationError, parse_duration


def describe(value: YValue) -> str:
    if isinstance(value, YMap):
        return "a mapping"
    if isinstance(value, YSeq):
        return "a list"
    if value.value is None:
        return "nothing"
    return repr(value.value)


class Reader:
    """Reads YAML values as the types the compiler expects, collecting diagnostics."""

    def __init__(self, diags: Diagnostics) -> None:
        self.diags = diags

    def mapping(self, value: YValue | None, what: str, *, dup_word: str = "key",
                dup_message: Callable[[str, int], str] | None = None) -> YMap | None:
        if value is None:
            return None
        if not isinstance(value, YMap):
            self.diags.error(value.mark, f"{what} must be a mapping, not {describe(value)}")
            return None
        for first, again in value.duplicates:
            key, line = str(again.value), first.mark.line
            message = dup_message(key, line) if dup_message else (
                f"duplicate {dup_word} {key!r} in {what} (first defined at line {line})")
            self.diags.error(again.mark, message)
        return value

    def keys(self, value: YMap, allowed: Iterable[str], what: str) -> None:
        allowed = set(allowed)
        for key, _ in value.items:
            name = str(key.value)
            if name not in allowed:
                self.diags.error(
                    key.mark, f"unknown key {name!r} in {what}{did_you_mean(name, allowed)}"
                )

    def seq(self, value: YValue, what: str) -> tuple[YValue, ...] | None:
        if isinstance(value, YSeq):
            return value.items
        self.diags.error(value.mark, f"{what} must be a list, not {describe(value)}")
        return None

    def scalar(self, value: YValue, what: str) -> YScalar | None:
        if isinstance(value, YScalar):
            return value
        self.diags.error(value.mark, f"{what} must be a single value, not {describe(value)}")
        return None

    def text(self, value: YValue | None, what: str) -> str | None:
        if value is None:
            return None
        if isinstance(value, YScalar) and isinstance(value.value, str | int) and not isinstance(
            value.value, bool
        ):
            return str(value.value)
        self.diags.error(value.mark, f"{what} must be a text, not {describe(value)}")
        return None

    def word(self, value: YValue | None, what: str) -> str | None:
        """A name such as a node id or prompt id: text without spaces."""
        text = self.text(value, what)
        if text is None or value is None:
            return None
        if not text or any(c.isspace() for c in text):
            self.diags.error(value.mark, f"{what} must be one word, not {text!r}")
            return None
        return text

    def integer(
        self, value: YValue | None, what: str, *, low: int = 0, high: int = 1000
    ) -> int | None:
        if value is None:
            return None
        raw: Any = value.value if isinstance(value, YScalar) else None
        if isinstance(raw, bool) or not isinstance(raw, int):
            self.diags.error(value.mark, f"{what} must be a whole number, not {describe(value)}")
            return None
        if not low <= raw <= high:
            self.diags.error(value.mark, f"{what} must be between {low} and {high}, not {raw}")
            return None
        return raw

    def boolean(self, value: YValue | None, what: str) -> bool | None:
        if value is None:
            return None
        if isinstance(value, YScalar) and isinstance(value.value, bool):
            return value.value
        self.diags.error(value.mark, f"{what} must be true or false, not {describe(value)}")
        return None

    def duration(self, value: YValue | None, what: str) -> float | None:
        if value is None:
            return None
        if not isinstance(value, YScalar):
            self.diags.error(value.mark, f"{what}: bad duration {describe(value)}")
            return None
        try:
            return parse_duration(value.value)
        except DurationError as exc:
            self.diags.error(value.mark, f"{what}: {exc}")
            return None
