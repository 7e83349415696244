"""Durations as supervisors write them: ``5s``, ``1.5s``, ``500ms``, ``2m``, ``1m30s``, ``1h``."""

from __future__ import annotations

import re

from ivr.errors import IvrError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

#: The longest wait a flow may ask for. A caller on hold for hours is a bug in the file.
MAX_DURATION_SECONDS = 24 * 3600.0


class DurationError(IvrError, ValueError):
    pass


def parse_duration(raw: object) -> float:
    """Seconds for ``raw``; a bare number means seconds. Raises :class:`DurationError`."""
    if isinstance(raw, bool):
        raise DurationError(f"bad duration {raw!r}: use a number with ms, s, m or h (e.g. 5s)")
    if isinstance(raw, int | float):
        seconds = float(raw)
    elif isinstance(raw, str):
        text = raw.strip().replace(" ", "")
        pos, seconds = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text:
            raise DurationError(
                f"bad duration {raw!r}: use a number with ms, s, m or h (e.g. 5s)"
            )
    else:
        raise DurationError(f"bad duration {raw!r}: use a number with ms, s, m or h (e.g. 5s)")
    if seconds <= 0 or seconds > MAX_DURATION_SECONDS:
        raise DurationError(f"bad duration {raw!r}: must be above 0 and at most 24h")
    return seconds
