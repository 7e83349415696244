"""How a failure is named in log lines and call records.

``str(TimeoutError())`` is ``''``: a log line built as ``"cannot save (%s)" % exc`` then
says nothing about what failed. Every line that reports an exception names its type.
"""

from __future__ import annotations


def describe(exc: BaseException) -> str:
    """``TypeName: message`` (first line only), or just ``TypeName`` when it has none."""
    text = str(exc).strip().splitlines()
    name = type(exc).__name__
    return f"{name}: {text[0]}" if text else name
