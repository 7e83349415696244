"""synthetic: load-test calls and their cases are marked, so reports leave them out

Revision ID: 0008
Revises: 0001
Create Date: 2026-12-04 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables whose rows a load-test call (``ivr loadtest``) leaves behind.
TABLES = ("call_records", "cases")


def upgrade() -> None:
    for table in TABLES:
        # batch mode: SQLite rebuilds the table; a server default fills the rows there.
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("synthetic", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("synthetic")
