"""The schema, as SQLAlchemy Core tables.

Core tables (not ORM classes) because every path here is either a hot single-row lookup
or a bulk load of millions of rows; neither wants identity maps or object state. The
Alembic migrations in ``ivr/store/migrations`` create exactly these tables; a schema
change is a new model change *and* a new migration.

Every lookup path has an index: customer code, phone number, area, account + period.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect

# Names for constraints so migrations can alter them later on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zone type and would hand back naive values; storing UTC and
    re-attaching UTC on the way out keeps comparisons and ISO output correct.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


corporations = Table(
    "corporations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(16), nullable=False, unique=True),  # EVNHCMC
    Column("prefix", String(2), nullable=False, unique=True),  # PE
    Column("name", String(200), nullable=False),
    Column("hotlines", String(200), nullable=False, server_default=""),  # comma separated
)

areas = Table(
    "areas",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("corporation_id", Integer, ForeignKey("corporations.id"), nullable=False),
    Column("code", String(32), nullable=False, unique=True),
    Column("province", String(100), nullable=False),
    Column("district", String(100), nullable=False),
    Column("ward", String(100), nullable=False),
    Column("feeder", String(32), nullable=False, server_default=""),
    Column("name", String(300), nullable=False),  # "Phường 1, Quận 3, TP. Hồ Chí Minh"
    Index("ix_areas_corporation_id", "corporation_id"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(13), nullable=False, unique=True),  # PE01000123456
    Column("name", String(200), nullable=False),
    Column("address", String(400), nullable=False),
    Column("area_id", Integer, ForeignKey("areas.id"), nullable=False),
    Column("corporation_id", Integer, ForeignKey("corporations.id"), nullable=False),
    Index("ix_accounts_area_id", "area_id"),
)

account_phones = Table(
    "account_phones",
    metadata,
    Column("phone", String(20), primary_key=True),  # national form: 0901234567
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
)

bills = Table(
    "bills",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("period", String(7), primary_key=True),  # "2026-10"
    Column("period_end", Date, nullable=False),
    Column("kwh", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),  # VND including VAT
    Column("due_date", Date, nullable=False),
    Column("paid", Boolean, nullable=False),
)

meter_readings = Table(
    "meter_readings",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("read_on", Date, primary_key=True),
    Column("meter_index", Integer, nullable=False),
    Column("kwh", Integer, nullable=False),  # consumption since the previous reading
)

outages = Table(
    "outages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("area_id", Integer, ForeignKey("areas.id"), nullable=False),
    Column("planned", Boolean, nullable=False),
    Column("cause", String(200), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("estimated_restore", UtcDateTime, nullable=True),
    Column("status", String(16), nullable=False),  # open / restored / cancelled
    Index("ix_outages_area_id_status", "area_id", "status"),
)

# Tickets and reference numbers are not stored: they are the row id plus a base (see
# ``ivr.store.requests``), so the number exists the moment the row does.
outage_reports = Table(
    "outage_reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(100), nullable=True, unique=True),  # one report per call
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=True),
    Column("area_id", Integer, ForeignKey("areas.id"), nullable=True),
    Column("caller", String(40), nullable=False, server_default=""),
    Column("outage_id", Integer, ForeignKey("outages.id"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(20), nullable=True, unique=True),  # C-2026-000123
    Column("call_id", String(100), nullable=False, server_default=""),
    Column("caller", String(40), nullable=False, server_default=""),
    Column("dialled", String(40), nullable=False, server_default=""),
    Column("language", String(8), nullable=False, server_default="vi"),
    Column("account", String(13), nullable=True),
    Column("corporation", String(16), nullable=True),
    Column("intent", String(100), nullable=False, server_default=""),
    Column("queue", String(100), nullable=False, server_default=""),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("status", String(32), nullable=False),
    Column("agent", String(200), nullable=True),
    Column("notes", Text, nullable=False, server_default=""),
    Column("disposition", String(100), nullable=True),
    Column("facts", JSON, nullable=False),
    Column("path", JSON, nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("lookups", JSON, nullable=False),
    Column("seconds_in_ivr", Float, nullable=False, server_default="0"),
    Column("transfer_status", String(32), nullable=True),
    Column("flow", String(100), nullable=False, server_default=""),
    Column("flow_version", String(100), nullable=False, server_default=""),
    Column("note", Text, nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("synthetic", Boolean, nullable=False, server_default=false()),  # migration 0008
    Index("ix_cases_caller", "caller"),
    Index("ix_cases_account", "account"),
    Index("ix_cases_queue", "queue"),
    Index("ix_cases_created_at", "created_at"),
)

case_events = Table(
    "case_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("event", String(50), nullable=False),
    Column("agent", String(200), nullable=True),
    Column("detail", Text, nullable=False, server_default=""),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_case_events_case_id", "case_id"),
)

recordings = Table(
    "recordings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("call_id", String(100), nullable=False, server_default=""),
    # The file's name within the recordings directory (never a path of its own).
    Column("path", String(255), nullable=False),
    Column("duration", Float, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_recordings_case_id", "case_id"),
)

callback_requests = Table(
    "callback_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(100), nullable=False, server_default=""),
    Column("phone", String(40), nullable=False),
    Column("reason", String(100), nullable=False),
    Column("account", String(13), nullable=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=True),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("created_at", UtcDateTime, nullable=False),
)

service_requests = Table(
    "service_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(100), nullable=False, server_default=""),
    Column("kind", String(40), nullable=False),
    Column("account", String(13), nullable=True),
    Column("caller", String(40), nullable=False, server_default=""),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("created_at", UtcDateTime, nullable=False),
)

survey_answers = Table(
    "survey_answers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(100), nullable=False),
    Column("caller", String(40), nullable=False, server_default=""),
    Column("score", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("call_id", name="uq_survey_answers_call_id"),
)

call_records = Table(
    "call_records",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(100), nullable=False, unique=True),
    Column("flow", String(100), nullable=False),
    Column("flow_version", String(100), nullable=False),
    Column("caller", String(40), nullable=False),
    Column("dialled", String(40), nullable=False),
    Column("language", String(8), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("path", JSON, nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("lookups", JSON, nullable=False),
    Column("case_id", String(20), nullable=True),
    Column("transfer_queue", String(100), nullable=True),
    Column("transfer_status", String(32), nullable=True),
    Column("ivr_seconds", Float, nullable=False),
    Column("queue_seconds", Float, nullable=False),
    Column("total_seconds", Float, nullable=False),
    Column("error", Text, nullable=False, server_default=""),
    Column("channel", String(20), nullable=False, server_default=""),
    # A load-test call (ivr loadtest): reports leave it out unless asked (migration 0008).
    Column("synthetic", Boolean, nullable=False, server_default=false()),
    Index("ix_call_records_started_at", "started_at"),
)

# One row per cache the store keeps in memory ("read_mostly": open outages, areas,
# corporations), its version moved on by triggers on every change to those tables,
# whoever makes it (another node, a SQL shell, the utility's own system); on PostgreSQL
# the same triggers NOTIFY (migration 0002, ivr/store/cache.py).
store_versions = Table(
    "store_versions",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("version", BigInteger, nullable=False, server_default="0"),
)


# -- the agent's desk (migration 0004): availability that outlives a page, after-call
# work, and the attempts at the callbacks the IVR promised.

agent_states = Table(
    "agent_states",
    metadata,
    Column("agent", String(100), primary_key=True),
    Column("state", String(16), nullable=False),
    # ``available``, ``away`` or ``wrap_up`` (after-call work on ``case_code``).
    Column("case_code", String(20), nullable=True),
    Column("since", UtcDateTime, nullable=False),
)

agent_work = Table(
    "agent_work",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("agent", String(100), nullable=False),
    Column("case_code", String(20), nullable=False),
    Column("kind", String(16), nullable=False),
    # ``wrap_up`` (after-call work) or ``callback`` (a worklist call).
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("seconds", Float, nullable=True),
    Column("disposition", String(100), nullable=True),
    Column("ended_by", String(16), nullable=True),
    # ``disposition`` or ``ready``: what closed the after-call work.
    Index("ix_agent_work_agent_started_at", "agent", "started_at"),
)

callback_attempts = Table(
    "callback_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("callback_id", Integer, ForeignKey("callback_requests.id"), nullable=False),
    Column("agent", String(100), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("action_id", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("outcome", String(16), nullable=True),
    # ``answered``, ``no_answer``, ``busy``, ``failed``; None while it rings.
    Column("reason", Integer, nullable=True),
    # Asterisk's ``OriginateResponse`` ``Reason`` (4 answered, 3 no answer, 5 busy...).
    Index("ix_callback_attempts_callback_id", "callback_id"),
)

#: Every version of the flows and prompts that went live, oldest first (issue 13): the
#: live version is the newest row. A rollback is a new row naming the version it brings
#: back (its texts, so its content hash, are that version's).
flow_versions = Table(
    "flow_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", String(40), nullable=False),
    Column("flows", Text, nullable=False),
    Column("prompts", Text, nullable=True),
    Column("published_at", UtcDateTime, nullable=False),
    Column("published_by", String(100), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("rollback_of", String(40), nullable=True),
    Index("ix_flow_versions_version", "version"),
)
