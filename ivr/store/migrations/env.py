"""Alembic environment, run programmatically by ``Store.migrate()``.

The store hands over an open (sync-facing) connection in
``config.attributes["connection"]``; no alembic.ini and no URL are needed at run time.
"""

from __future__ import annotations

from alembic import context

from ivr.store.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ivr.store.Store.migrate() (or `ivr db migrate`)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs need batch mode
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
