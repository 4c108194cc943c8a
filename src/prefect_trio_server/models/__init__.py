"""Use cases, one module per resource: plain functions over a SQLAlchemy connection."""
