"""Storage: SQLAlchemy Core tables, the engines, migrations."""

from .engine import Database

__all__ = ["Database"]
