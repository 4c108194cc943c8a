"""One leader among the processes that share a database, for the background services.

With ``--workers N``, or several replicas on one PostgreSQL database, every process runs the
lifespan; the services must still run once. Each process campaigns; the one that wins runs
the services until it stops (or, on PostgreSQL, until its lock connection drops), and another
takes over within ``retry_interval`` seconds.

SQLite
    An exclusive ``flock`` on ``<database file>.services.lock``. The kernel releases it when
    the process dies, however it dies.
PostgreSQL
    A session-level advisory lock held on a connection of its own; checked every
    ``retry_interval`` seconds, so a dropped connection ends the leadership.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import anyio
import anyio.to_thread
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from ..database import Database

logger = logging.getLogger("prefect_trio_server.services")

# "services" as a number, the advisory lock key shared by every replica.
SERVICES_LOCK_KEY = 0x7365_7276_6963_6573
DEFAULT_RETRY_INTERVAL = 5.0


class Leadership(Protocol):
    async def try_acquire(self) -> bool:
        """Become the leader now if no one else is; True when this process leads."""

    async def still_held(self) -> bool:
        """True while the leadership is still ours."""

    async def release(self) -> None:
        """Give up the leadership (safe when not held)."""


class FileLeadership:
    """Leadership through an exclusive ``flock`` on a file beside the SQLite database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    async def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def still_held(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the lock


class AdvisoryLockLeadership:
    """Leadership through ``pg_try_advisory_lock`` on a connection outside the pool."""

    def __init__(self, url: str, *, key: int = SERVICES_LOCK_KEY) -> None:
        self._engine = create_engine(url, poolclass=NullPool)
        self._key = key
        self._connection: Connection | None = None

    async def try_acquire(self) -> bool:
        if self._connection is not None:
            return True
        return await anyio.to_thread.run_sync(self._try_acquire)

    def _try_acquire(self) -> bool:
        connection = self._engine.connect()
        try:
            won = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
            ).scalar()
            connection.commit()
        except Exception:
            connection.close()
            raise
        if not won:
            connection.close()
            return False
        self._connection = connection
        return True

    async def still_held(self) -> bool:
        connection = self._connection
        if connection is None:
            return False

        def ping() -> bool:
            try:
                connection.execute(text("SELECT 1"))
                connection.commit()
            except Exception:
                return False
            return True

        if await anyio.to_thread.run_sync(ping):
            return True
        await self.release()
        return False

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # Closing the session releases its advisory locks.
            with contextlib.suppress(Exception):
                await anyio.to_thread.run_sync(connection.close)


def leadership_for(database: Database) -> Leadership:
    if database.url.is_sqlite:
        assert database.url.sqlite_path is not None
        path = database.url.sqlite_path
        return FileLeadership(path.with_name(path.name + ".services.lock"))
    return AdvisoryLockLeadership(database.url.url)


async def while_leader(
    leadership: Leadership,
    run: Callable[[], Awaitable[None]],
    *,
    retry_interval: float = DEFAULT_RETRY_INTERVAL,
    name: str = "services",
) -> None:
    """Campaign forever; while this process leads, run ``run()``; stop it on a lost lead.

    Returns only by cancellation (or if ``run`` returns while leading).
    """
    try:
        while True:
            if await leadership.try_acquire():
                logger.info("this process leads: starting %s", name)
                async with anyio.create_task_group() as group:

                    async def watch() -> None:
                        # The lock can only be lost, not announced: poll it.
                        while True:
                            await anyio.sleep(retry_interval)
                            if not await leadership.still_held():
                                break
                        logger.warning("leadership lost: stopping %s", name)
                        group.cancel_scope.cancel()

                    async def lead() -> None:
                        await run()
                        group.cancel_scope.cancel()

                    group.start_soon(watch)
                    group.start_soon(lead)
                if await leadership.still_held():
                    return  # run() finished on its own
            await anyio.sleep(retry_interval)
    finally:
        with anyio.CancelScope(shield=True):
            await leadership.release()
