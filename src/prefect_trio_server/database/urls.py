"""Database URLs: Prefect's async driver names translated to the sync drivers we run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigurationError

_URL_SETTING = "PREFECT_API_DATABASE_CONNECTION_URL"

# Prefect users carry URLs written for its asyncio drivers; the same database works here
# through the synchronous drivers.
_DRIVER_ALIASES = {
    "sqlite": "sqlite",
    "sqlite+aiosqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
}


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL that we know how to serve."""

    url: str
    dialect: str  # "sqlite" or "postgresql"
    sqlite_path: Path | None  # None for PostgreSQL and for in-memory SQLite

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"


def parse_database_url(raw: str) -> DatabaseURL:
    """Check and normalise a database URL, or raise ConfigurationError naming the setting."""
    scheme, sep, rest = raw.partition("://")
    if not sep:
        raise ConfigurationError(f"{_URL_SETTING} is not a database URL: {_redact(raw)!r}")
    driver = _DRIVER_ALIASES.get(scheme.lower())
    if driver is None:
        raise ConfigurationError(
            f"{_URL_SETTING} uses an unsupported driver {scheme!r}: "
            "use sqlite:///path or postgresql+psycopg://user:password@host/database"
        )
    url = f"{driver}://{rest}"
    if driver != "sqlite":
        return DatabaseURL(url=url, dialect="postgresql", sqlite_path=None)
    # sqlite:///relative, sqlite:////absolute, sqlite:// or sqlite:///:memory: for memory
    location = rest[1:] if rest.startswith("/") else rest
    location = location.split("?", 1)[0]
    if location in ("", ":memory:"):
        raise ConfigurationError(
            f"{_URL_SETTING}: an in-memory SQLite database cannot be shared between the "
            "server's threads; give a file path (sqlite:///path/to/prefect.db)"
        )
    return DatabaseURL(url=url, dialect="sqlite", sqlite_path=Path(location).expanduser())


def _redact(raw: str) -> str:
    scheme, sep, rest = raw.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return raw
