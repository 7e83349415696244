"""Read paths behind the lookups: one indexed query each, values ready for flows.

Each function takes an open connection and returns plain values (``date``/aware
``datetime`` objects, since flows speak them) or ``None`` when nothing matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, literal, select

from ivr.store.models import (
    account_phones,
    accounts,
    areas,
    bills,
    corporations,
    meter_readings,
    outages,
)

#: Outage rows with this stored status are still affecting customers (or will).
OPEN = "open"


def account_summary(code: str, name: str, area: str) -> dict[str, Any]:
    return {"code": code, "last4": code[-4:], "name": name, "area": area}


# The hottest statements are built once, with bound parameters: building a select()
# per call cost as much CPU as running it (SQLAlchemy still caches their compiled form).
_CALLER_ACCOUNTS = (
    select(accounts.c.code, accounts.c.name, accounts.c.area_id, areas.c.name.label("area"))
    .select_from(account_phones)
    .join(accounts, accounts.c.id == account_phones.c.account_id)
    .join(areas, areas.c.id == accounts.c.area_id)
    .where(account_phones.c.phone == bindparam("phone"))
    .order_by(accounts.c.code)
)
_BALANCE = (
    select(bills)
    .join(accounts, accounts.c.id == bills.c.account_id)
    .where(accounts.c.code == bindparam("code"))
    .order_by(bills.c.period.desc())
    .limit(24)  # two years of bills is as far back as debt is spoken
)

_ACCOUNT_BY_CODE = (
    select(
        accounts.c.id,
        accounts.c.code,
        accounts.c.name,
        accounts.c.address,
        accounts.c.area_id,
        areas.c.name.label("area"),
        corporations.c.code.label("corporation"),
    )
    .join(areas, areas.c.id == accounts.c.area_id)
    .join(corporations, corporations.c.id == accounts.c.corporation_id)
    .where(accounts.c.code == bindparam("code"))
)
_METER_READING = (
    select(meter_readings)
    .join(accounts, accounts.c.id == meter_readings.c.account_id)
    .where(accounts.c.code == bindparam("code"))
    .order_by(meter_readings.c.read_on.desc())
    .limit(1)
)
_AREA_OF_ACCOUNT = select(accounts.c.area_id).where(accounts.c.code == bindparam("code"))


def caller_accounts(conn: Connection, phone: str) -> list[dict[str, Any]]:
    """Accounts registered to a (normalised) phone number, by customer code, each with
    its area's id and name: what a call needs of its caller, in one query."""
    rows = conn.execute(_CALLER_ACCOUNTS, {"phone": phone})
    return [dict(r._mapping) for r in rows]


def account_by_code(conn: Connection, code: str) -> dict[str, Any] | None:
    row = conn.execute(_ACCOUNT_BY_CODE, {"code": code}).first()
    if row is None:
        return None
    return dict(row._mapping)


def phones_for_account(conn: Connection, code: str) -> list[str]:
    """The (normalised) phone numbers registered to an account."""
    rows = conn.execute(
        select(account_phones.c.phone)
        .join(accounts, accounts.c.id == account_phones.c.account_id)
        .where(accounts.c.code == code)
        .order_by(account_phones.c.phone)
    )
    return [str(r.phone) for r in rows]


def accounts_by_digits(
    conn: Connection, digits: str, prefixes: Sequence[str] | None = None
) -> list[str]:
    """Codes ``<prefix><digits>`` for every corporation's prefix (at most two: enough to
    tell one match from an ambiguous one). One indexed IN lookup; ``prefixes`` from the
    store's cache spares the corporations subquery."""
    wanted: Any = (
        select(corporations.c.prefix + literal(digits))
        if prefixes is None
        else [p + digits for p in prefixes]
    )
    rows = conn.execute(
        select(accounts.c.code).where(accounts.c.code.in_(wanted)).limit(2)
    )
    return [str(code) for (code,) in rows]


def _account_id(conn: Connection, code: str) -> int | None:
    found = conn.scalar(select(accounts.c.id).where(accounts.c.code == code))
    return None if found is None else int(found)


def balance(conn: Connection, code: str) -> dict[str, Any] | None:
    """The latest bill, with ``amount_due`` = everything still unpaid on the account."""
    rows = conn.execute(_BALANCE, {"code": code}).all()
    if not rows:
        return None
    latest = rows[0]
    return {
        "amount_due": int(sum(r.amount for r in rows if not r.paid)),
        "amount": int(latest.amount),
        "period": latest.period,
        "period_end": latest.period_end,
        "due_date": latest.due_date,
        "kwh": int(latest.kwh),
        "paid": bool(latest.paid),
    }


def meter_reading(conn: Connection, code: str) -> dict[str, Any] | None:
    row = conn.execute(_METER_READING, {"code": code}).first()
    if row is None:
        return None
    return {"index": int(row.meter_index), "read_on": row.read_on, "kwh": int(row.kwh)}


def account_outage(
    conn: Connection, code: str, now: datetime
) -> tuple[int, int, int | None, datetime | None] | None:
    """(account id, area id, active outage id, its estimated restore) in one query."""
    row = (
        conn.execute(
            select(accounts.c.id, accounts.c.area_id, outages.c.id, outages.c.estimated_restore)
            .outerjoin(
                outages,
                and_(
                    outages.c.area_id == accounts.c.area_id,
                    outages.c.status == OPEN,
                    outages.c.started_at <= now,
                ),
            )
            .where(accounts.c.code == code)
            .order_by(outages.c.started_at.desc().nulls_last())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return int(row[0]), int(row[1]), None if row[2] is None else int(row[2]), row[3]


def area_ids_for_phone(conn: Connection, phone: str) -> list[int]:
    rows = conn.execute(
        select(accounts.c.area_id)
        .join(account_phones, account_phones.c.account_id == accounts.c.id)
        .where(account_phones.c.phone == phone)
    )
    return sorted({int(r.area_id) for r in rows})


def outage_for_areas(
    conn: Connection,
    area_ids: Sequence[int],
    now: datetime,
    tz: tzinfo,
    *,
    include_scheduled: bool,
) -> dict[str, Any] | None:
    """The outage affecting these areas now (latest started), else, when asked, the next
    planned one. ``status`` is ``active`` or ``scheduled``, judged against ``now``."""
    if not area_ids:
        return None
    rows = (
        conn.execute(
            select(outages, areas.c.name.label("area"))
            .join(areas, areas.c.id == outages.c.area_id)
            .where(outages.c.area_id.in_(list(area_ids)), outages.c.status == OPEN)
        )
    ).all()
    active = [r for r in rows if r.started_at <= now]
    if active:
        chosen = max(active, key=lambda r: r.started_at)
    elif include_scheduled and rows:
        chosen = min(rows, key=lambda r: r.started_at)
    else:
        return None
    restore = chosen.estimated_restore
    return {
        "id": int(chosen.id),
        "area": chosen.area,
        "planned": bool(chosen.planned),
        "cause": chosen.cause,
        "started_at": chosen.started_at.astimezone(tz),
        "estimated_restore": None if restore is None else restore.astimezone(tz),
        "status": "active" if chosen.started_at <= now else "scheduled",
    }


def counts(conn: Connection) -> dict[str, int]:
    """Row counts per table (``ivr db stats``)."""
    from ivr.store.models import metadata

    result: dict[str, int] = {}
    for table in metadata.sorted_tables:
        result[table.name] = int(conn.scalar(select(func.count()).select_from(table)) or 0)
    return result


def area_of_account(conn: Connection, code: str) -> int | None:
    found = conn.scalar(_AREA_OF_ACCOUNT, {"code": code})
    return None if found is None else int(found)
