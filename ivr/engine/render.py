"""Turning play items (prompt ids, spoken values) into the caller's language's prompts."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any, Protocol

from ivr.channels.channel import Prompt
from ivr.engine.state import CallState
from ivr.flows.model import PlayItem, PromptItem

log = logging.getLogger(__name__)


class PromptSource(Protocol):
    def prompt(self, prompt_id: str, language: str) -> Prompt: ...

    def say(self, kind: str, value: object, language: str) -> list[Prompt]: ...


def coerce(kind: str, value: Any) -> Any:
    """Lookup values may arrive as text (JSON, a test store): give say() the right type."""
    if isinstance(value, str):
        if kind == "date":
            return date.fromisoformat(value[:10])
        if kind in ("time", "datetime"):
            return datetime.fromisoformat(value)
        if kind in ("money", "number") and value.lstrip("-").isdigit():
            return int(value)
    if kind == "digits" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def render(catalog: PromptSource, st: CallState, items: tuple[PlayItem, ...]) -> list[Prompt]:
    """Prompts for ``items`` in the call's language; a value that cannot be spoken is
    skipped (and logged) rather than leaving the caller in silence."""
    language = st.language
    fallback = st.flowset.defaults.language
    out: list[Prompt] = []
    for item in items:
        if isinstance(item, PromptItem):
            try:
                out.append(catalog.prompt(item.prompt_id, language))
            except KeyError:
                # A missing translation: the default language beats silence.
                out.append(catalog.prompt(item.prompt_id, fallback))
            continue
        raw = st.resolve(item.ref.path)
        if raw is None:
            log.info("call %s: %s is not set; nothing to say", st.info.call_id, item.ref.path)
            continue
        try:
            out.extend(catalog.say(item.kind, coerce(item.kind, raw), language))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("call %s: cannot say %s %s: %s", st.info.call_id, item.kind,
                        item.ref.path, exc)
    return out
