"""Alembic environment: Lookout always passes an open connection; nothing reads alembic.ini."""

from __future__ import annotations

from alembic import context

from lookout.store.migrate import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds tables
)
with context.begin_transaction():
    context.run_migrations()
