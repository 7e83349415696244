"""the read-mostly cache's version row, its triggers, and PostgreSQL NOTIFY

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 15:00:00

Every insert, update or delete on ``outages``, ``areas`` or ``corporations`` moves
``store_versions.version`` of the row ``read_mostly`` on, in the same transaction, by
trigger: whoever writes (another ``ivr serve``, a SQL shell, the utility's own outage
system), a store that polls the row sees it. On PostgreSQL the trigger also sends
``NOTIFY ivr_store_changed`` with the table's schema as payload (delivered at commit), so
a listening store drops its cache at once (ivr/store/cache.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The tables the store caches, and what their triggers are called.
CACHED = ("outages", "areas", "corporations")
BUMP = "UPDATE store_versions SET version = version + 1 WHERE name = 'read_mostly'"


def upgrade() -> None:
    op.create_table(
        "store_versions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_store_versions")),
    )
    op.execute("INSERT INTO store_versions (name, version) VALUES ('read_mostly', 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION ivr_store_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                -- Qualified by the changed table's schema: the writer's search_path
                -- may not name ours (a SQL shell, another application).
                EXECUTE format('UPDATE %I.store_versions SET version = version + 1 '
                               'WHERE name = %L', TG_TABLE_SCHEMA, 'read_mostly');
                PERFORM pg_notify('ivr_store_changed', TG_TABLE_SCHEMA);
                RETURN NULL;
            END $$
            """
        )
        for table in CACHED:
            op.execute(
                f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION ivr_store_changed()"
            )
        return
    for table in CACHED:
        for action in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_{action.lower()}_changed AFTER {action} ON {table} "
                f"BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in CACHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ivr_store_changed()")
    else:
        for table in CACHED:
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{action}_changed")
    op.drop_table("store_versions")
