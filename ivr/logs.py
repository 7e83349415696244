"""Log lines as text (the default) or as JSON objects, one per line, for a log shipper.

``ivr serve --log-format json`` (``IVR_LOG_FORMAT=json``, ``log_format: json`` in the
service config file) writes each record as ``{"time", "level", "logger", "message"}``
plus ``call_id`` while a call is running (the engine sets it for the call's task) and
``exc_info`` for a traceback. The message is the very string text mode prints: masking
of account numbers, PINs and phone numbers happens where a line is logged
(:mod:`ivr.masking`), so both formats hide the same digits. Fields passed with
``extra=`` are not written (text mode does not show them either), so nothing reaches
the JSON that the text line would not have shown.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")
#: What ``ivr`` has always printed (``ivr.cli.main`` sets it up before the command runs).
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: The call the current task is running; each call runs in its own task, whose context
#: is its own copy, so concurrent calls never see each other's id.
CALL_ID: ContextVar[str | None] = ContextVar("ivr_call_id", default=None)


@contextlib.contextmanager
def call_logging(call_id: str) -> Iterator[None]:
    """Log lines written inside the block (in this task) carry ``call_id``."""
    token = CALL_ID.set(call_id)
    try:
        yield
    finally:
        CALL_ID.reset(token)


def json_formatter() -> logging.Formatter:
    """A formatter writing one JSON object per record (python-json-logger)."""
    from pythonjsonlogger.json import JsonFormatter

    class _Formatter(JsonFormatter):
        def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                       message_dict: dict[str, Any]) -> None:
            # Only these fields: see the module docstring for why extras are left out.
            log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds")
            log_data["level"] = record.levelname
            log_data["logger"] = record.name
            log_data["message"] = record.getMessage()
            call_id = CALL_ID.get()
            if call_id is not None:
                log_data["call_id"] = call_id
            for key in ("exc_info", "stack_info"):
                if message_dict.get(key):
                    log_data[key] = message_dict[key]

    return _Formatter(json_ensure_ascii=False)


def use_log_format(log_format: str, root: logging.Logger | None = None) -> None:
    """Switch the root logger's handlers to ``log_format`` (``text`` or ``json``)."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}")
    formatter = json_formatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in (root or logging.getLogger()).handlers:
        handler.setFormatter(formatter)


__all__ = ["CALL_ID", "LOG_FORMATS", "call_logging", "json_formatter", "use_log_format"]
