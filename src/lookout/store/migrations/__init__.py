"""Alembic migrations for the store. Run by :func:`lookout.store.migrate.upgrade`."""
