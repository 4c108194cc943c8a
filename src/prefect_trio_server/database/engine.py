"""The database handle: synchronous SQLAlchemy engines driven from trio.

Every transaction runs whole inside one worker thread (``anyio.to_thread.run_sync``), behind
limiters of our own so database work never competes with anything else for anyio's default
thread limiter.

SQLite
    One writer at a time, by construction: writes go through a single-connection engine
    guarded by a one-token limiter and open with ``BEGIN IMMEDIATE``, so a write never
    discovers half-way that another holds the lock. Readers run concurrently on a second
    pool (WAL lets them read while the writer writes), opening with a deferred ``BEGIN``.
    The driver's own transaction handling is switched off (``isolation_level=None``): it
    would silently lose read-modify-write updates.

PostgreSQL
    psycopg 3 through SQLAlchemy; one pool sized to the read and write limiters together.

A caller that cannot get a thread within ``database_timeout`` seconds gets
``ServiceUnavailableError`` (503 with Retry-After), never an endless wait.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import pydantic_core
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from ..errors import ConfigurationError, ServiceUnavailableError
from ..settings import Settings
from .json_text import json_text
from .urls import DatabaseURL, parse_database_url

T = TypeVar("T")
logger = logging.getLogger("prefect_trio_server.database")

_URL_SETTING = "PREFECT_API_DATABASE_CONNECTION_URL"


# The writer copies its WAL back into the database file only as a last resort (a checkpoint
# in the middle of a request costs it milliseconds); ``run_checkpoints`` does it in the
# background, every ``_CHECKPOINT_EVERY`` write transactions or ``_CHECKPOINT_INTERVAL``.
_WRITER_AUTOCHECKPOINT_PAGES = 10_000
_CHECKPOINT_EVERY = 100
_CHECKPOINT_INTERVAL = 2.0

STAGED_EVENTS = "prefect_trio_server.staged_events"
"""Set in ``connection.info`` by work that staged events (``models.event_outbox``):
:meth:`Database.write` then sets :attr:`Database.events_staged`."""


def _sqlite_engine(
    url: str, *, pool_size: int, begin: str, busy_timeout_ms: int, autocheckpoint: int = 1000
) -> Engine:
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=busy_timeout_ms / 1000,
        connect_args={"check_same_thread": False, "isolation_level": None},
        # JSON columns are read on every row of every list: pydantic-core's parser is
        # several times faster than the standard library's on these small documents.
        json_deserializer=pydantic_core.from_json,
        json_serializer=json_text,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Straight to the driver (a third of what ``exec_driver_sql`` costs), with its
        # errors wrapped as SQLAlchemy wraps them: a busy database is still a 503.
        try:
            connection.connection.driver_connection.execute(begin)  # type: ignore[union-attr]
        except sqlite3.Error as exc:
            raise DBAPIError.instance(begin, (), exc, sqlite3.Error) from exc

    return engine


class Database:
    """Engines, limiters and the two ways in: :meth:`read` and :meth:`write`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url: DatabaseURL = parse_database_url(settings.database_url)
        timeout = settings.database_timeout
        self._acquire_timeout = timeout
        readers = settings.database_read_concurrency
        if self.url.is_sqlite:
            self._prepare_sqlite_file()
            busy_ms = int(max(timeout, 5.0) * 1000)
            self.write_engine = _sqlite_engine(
                self.url.url,
                pool_size=1,
                begin="BEGIN IMMEDIATE",
                busy_timeout_ms=busy_ms,
                autocheckpoint=_WRITER_AUTOCHECKPOINT_PAGES,
            )
            self.read_engine = _sqlite_engine(
                self.url.url, pool_size=readers, begin="BEGIN", busy_timeout_ms=busy_ms
            )
            writers = 1
        else:
            writers = readers
            self.write_engine = create_engine(
                self.url.url,
                pool_size=readers + writers,
                max_overflow=0,
                pool_timeout=timeout,
                pool_pre_ping=True,
                connect_args={"connect_timeout": max(1, int(timeout))},
                json_serializer=json_text,
            )
            self.read_engine = self.write_engine
        self.read_limiter = anyio.CapacityLimiter(readers)
        self.write_limiter = anyio.CapacityLimiter(writers)
        # Our limiters decide how many transactions run; this one only keeps our thread
        # calls off anyio's default limiter, shared with everything else in the process.
        self._thread_limiter = anyio.CapacityLimiter(readers + writers)
        self._writes_since_checkpoint = 0
        self._checkpoint_due = anyio.Event()
        self.events_staged = anyio.Event()
        """Set when a write transaction staged events; whoever moves them replaces it."""

    @property
    def dialect(self) -> str:
        return self.url.dialect

    def _prepare_sqlite_file(self) -> None:
        path = self.url.sqlite_path
        assert path is not None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            probe = path.parent / f".{path.name}.write-probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot write the SQLite database folder {path.parent} ({exc.strerror}): "
                f"set PREFECT_HOME or {_URL_SETTING} to a writable place"
            ) from exc

    # -- running transactions -----------------------------------------------------------

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(connection)`` in one read transaction in a worker thread."""
        return await self._run(self.read_engine, self.read_limiter, work)

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(connection)`` in one write transaction in a worker thread.

        The transaction commits when ``work`` returns and rolls back if it raises: a
        request's writes land whole or not at all.
        """
        staged = False

        def noting_staged_events(connection: Connection) -> T:
            nonlocal staged
            try:
                return work(connection)
            finally:
                staged = connection.info.pop(STAGED_EVENTS, False)

        result = await self._run(self.write_engine, self.write_limiter, noting_staged_events)
        if staged:
            self.events_staged.set()
        self._writes_since_checkpoint += 1
        if self._writes_since_checkpoint >= _CHECKPOINT_EVERY:
            self._checkpoint_due.set()
        return result

    async def _run(
        self, engine: Engine, limiter: anyio.CapacityLimiter, work: Callable[[Connection], T]
    ) -> T:
        def in_thread() -> T:
            with engine.begin() as connection:
                return work(connection)

        with anyio.move_on_after(self._acquire_timeout) as scope:
            await limiter.acquire()
        if scope.cancelled_caught:
            raise ServiceUnavailableError("the database is busy; retry shortly")
        try:
            return await anyio.to_thread.run_sync(in_thread, limiter=self._thread_limiter)
        finally:
            limiter.release()

    # -- WAL checkpoints (SQLite) ---------------------------------------------------------

    async def run_checkpoints(self) -> None:
        """Copy the SQLite WAL into the database file in the background, until cancelled.

        A passive checkpoint on a connection of its own: it never blocks the writer or the
        readers, and the writer's own (inline) checkpoint only runs if this one falls far
        behind. Nothing to do on PostgreSQL.
        """
        if not self.url.is_sqlite:
            return
        while True:
            with anyio.move_on_after(_CHECKPOINT_INTERVAL):
                await self._checkpoint_due.wait()
            if self._writes_since_checkpoint == 0:
                continue
            self._writes_since_checkpoint = 0
            self._checkpoint_due = anyio.Event()
            try:
                await anyio.to_thread.run_sync(self.checkpoint, limiter=self._thread_limiter)
            except Exception:
                logger.warning("WAL checkpoint failed; the writer will catch up", exc_info=True)

    def checkpoint(self) -> tuple[int, int, int]:
        """``PRAGMA wal_checkpoint(PASSIVE)`` (blocking): (busy, WAL frames, checkpointed)."""
        raw = self.read_engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                busy, frames, done = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            finally:
                cursor.close()
        finally:
            raw.close()
        return int(busy), int(frames), int(done)

    # -- lifecycle ------------------------------------------------------------------------

    def check_connection(self) -> None:
        """Open a connection and run a trivial query (blocking); raise ConfigurationError."""
        try:
            with self.read_engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise ConfigurationError(
                f"cannot reach the database ({reason}): check {_URL_SETTING}"
            ) from exc

    async def is_ready(self) -> bool:
        """True when a trivial query answers (for /ready)."""

        def ping(connection: Connection) -> bool:
            return connection.execute(text("SELECT 1")).scalar() == 1

        try:
            return await self.read(ping)
        except Exception:
            logger.warning("database readiness check failed", exc_info=True)
            return False

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()
