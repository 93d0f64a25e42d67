"""Alembic environment: makegood always hands in a connection (see database.migrate)."""

from alembic import context

from makegood.adapters.sql.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through makegood (makegood migrate), not bare alembic")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
