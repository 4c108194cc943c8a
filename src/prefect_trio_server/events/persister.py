"""Storing the events staged in the outbox (``models.event_outbox``), in the background.

Every server process runs :func:`run_persister` in its lifespan. It wakes when a write of
this process staged events (``Database.events_staged``), waits ``GATHER_SECONDS`` so that
one transaction stores the events of many requests, and moves everything staged. It also
looks every ``SWEEP_SECONDS`` whether anything waits that no one woke it for (staged by a
process that crashed or stopped before moving it), and moves what is left when it is
cancelled, as the server shuts down.

A move that fails (a busy database, say) leaves the events staged, where the next round
finds them: nothing is dropped. Readers of events move what is staged first, and answer
with what is stored if that fails.
"""

from __future__ import annotations

import logging

import anyio

from ..database import Database
from ..models.event_outbox import MOVE_BATCH, has_staged_events, move_staged_events

__all__ = [
    "GATHER_SECONDS",
    "SHUTDOWN_SECONDS",
    "SWEEP_SECONDS",
    "move_staged",
    "move_staged_logging_failures",
    "run_persister",
]

logger = logging.getLogger("prefect_trio_server.events")

GATHER_SECONDS = 0.2
"""After a write staged events, how long the persister lets more gather before moving."""

SWEEP_SECONDS = 60.0
"""How often the persister looks at the outbox with no write of its own to wake it."""

SHUTDOWN_SECONDS = 10.0
"""How long the persister may take to move what is staged when the server stops."""


async def move_staged(database: Database) -> int:
    """Move every staged event to the events tables now; returns how many were moved.

    Costs one read when nothing is staged.
    """
    if not await database.read(has_staged_events):
        return 0
    moved = 0
    while True:
        count = await database.write(move_staged_events)
        moved += count
        if count < MOVE_BATCH:
            return moved


async def run_persister(
    database: Database,
    *,
    gather_seconds: float = GATHER_SECONDS,
    sweep_seconds: float = SWEEP_SECONDS,
) -> None:
    """Move staged events shortly after they are staged, until cancelled; then once more."""
    try:
        while True:
            await move_staged_logging_failures(database)
            with anyio.move_on_after(sweep_seconds):
                await database.events_staged.wait()
            # Writes that stage events from here on wake the next round; those before are
            # in the outbox already, and this round moves them.
            database.events_staged = anyio.Event()
            await anyio.sleep(gather_seconds)
    finally:
        with anyio.CancelScope(shield=True) as scope:
            scope.deadline = anyio.current_time() + SHUTDOWN_SECONDS
            await move_staged_logging_failures(database)
        if scope.cancelled_caught:
            logger.warning("stopped moving staged events after %s s", SHUTDOWN_SECONDS)


async def move_staged_logging_failures(database: Database) -> None:
    """:func:`move_staged`; a failure is logged (the events stay staged), not raised."""
    try:
        await move_staged(database)
    except Exception:
        logger.warning("could not move staged events; they stay staged", exc_info=True)
