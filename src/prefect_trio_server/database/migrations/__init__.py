"""Alembic migrations, one script folder for SQLite and PostgreSQL."""
