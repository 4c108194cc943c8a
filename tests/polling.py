"""Waiting for something another thread or process does: poll it, up to a deadline.

Where the awaited thing is a trio task of the test itself, use an Event or
``trio.testing.wait_all_tasks_blocked`` instead; polling is for what trio cannot see
(worker threads writing to a database, other processes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

POLL_INTERVAL = 0.01


async def wait_until(condition: Callable[[], bool], *, deadline: float = 20) -> None:
    """Return once ``condition()`` is true; raise ``trio.TooSlowError`` after ``deadline``."""
    with trio.fail_after(deadline):
        while True:
            if condition():
                return
            await trio.sleep(POLL_INTERVAL)


async def wait_until_async(
    condition: Callable[[], Awaitable[bool]], *, deadline: float = 20
) -> None:
    """``wait_until`` for a condition that must be awaited (a database query, say)."""
    with trio.fail_after(deadline):
        while True:
            if await condition():
                return
            await trio.sleep(POLL_INTERVAL)
