"""Small conversions at the store's edge: phone numbers, JSON-ready values."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

#: Vietnam's country code; callers arrive as +84..., 84... or 0... depending on the trunk.
COUNTRY_CODE = "84"


def normalise_phone(raw: str) -> str:
    """The national form we store: ``+84901234567``, ``84901234567``, ``0901234567`` and
    ``901234567`` all become ``0901234567``. Non-digits are dropped; an input with no
    digits gives ``""``."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if raw.strip().startswith("00"):  # international prefix dialled from a desk phone
        digits = digits[2:]
    if digits.startswith(COUNTRY_CODE) and len(digits) >= 11:
        return "0" + digits[len(COUNTRY_CODE) :]
    if digits and digits[0] not in "01" and len(digits) in (9, 10):
        # Some trunks drop the trunk prefix 0; 1800/1900 service numbers have none.
        return "0" + digits
    return digits


def jsonable(value: Any) -> Any:
    """Turn lookup values, dataclasses and enums into plain JSON types.

    Datetimes and dates become ISO strings, so a case read back from the database is
    the same dict whatever the backend.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()
