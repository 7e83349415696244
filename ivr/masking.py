"""Masking of account numbers, PINs and phone numbers in logs and records."""

from __future__ import annotations

import re

_DIGIT_RUN = re.compile(r"\d{5,}")


def mask(value: str, keep: int = 4) -> str:
    """Hide all but the last ``keep`` characters: ``PE01000123456`` -> ``*********3456``."""
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


def mask_digit_runs(text: str, keep: int = 4) -> str:
    """Mask every run of five or more digits in free text (log lines, AGI traces)."""
    return _DIGIT_RUN.sub(lambda m: mask(m.group(0), keep), text)
