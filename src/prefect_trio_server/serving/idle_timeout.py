"""A connection's keep-alive timeout as one task with a moving deadline.

Hypercorn's trio ``TCPServer`` closes a connection that stays idle for
``keep_alive_timeout`` seconds, or that is idle when the worker terminates (graceful
shutdown: requests in flight finish first). It does so with a ``TrioSingleTask``: every time
the connection goes idle (after each response) it takes a lock, starts a new task with
``nursery.start`` and waits for it to report, and every time a request arrives it takes the
lock again and cancels that task, which then wakes up to unwind. That is a task spawned, a
start handshake and a cancellation for every request on a keep-alive connection.

``IdleTimeout`` keeps Hypercorn's interface (``restart(task_group, action)`` and ``stop()``)
and its behaviour, with one task for the connection's whole life: going idle moves the
deadline of that task's cancel scope to ``now + keep_alive_timeout``, a request moves it to
infinity. Neither wakes the task. When the deadline passes, or when the worker terminates
while the connection is idle (or later, as soon as it goes idle), the task runs the
server's close (``_initiate_server_close``), shielded, as Hypercorn's own timeout does.
The server calls :meth:`finish` once the connection has closed: the task ends without
closing anything (the connection's task group waits for it, and so does a graceful
shutdown).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from math import inf
from typing import Any

import trio

__all__ = ["IdleTimeout"]


class IdleTimeout:
    """Drop-in for Hypercorn's ``TrioSingleTask`` as ``TCPServer.idle_task``."""

    def __init__(
        self,
        timeout: float,
        wait_terminated: Callable[[], Awaitable[Any]],
        close: Callable[[], Awaitable[None]],
    ) -> None:
        self._timeout = timeout
        self._wait_terminated = wait_terminated
        self._close = close
        self._scope = trio.CancelScope()
        self._idle = False
        self._started = False
        self._terminating = False
        self._finished = False
        self._now_idle = trio.Event()

    # Async only because Hypercorn awaits them; neither waits for anything.

    async def restart(self, task_group: Any, action: object = None) -> None:
        """The connection is idle: close it after the timeout (``action`` is not used: this
        object does what Hypercorn's ``_idle_timeout`` does)."""
        if not self._started:
            self._started = True
            task_group._nursery.start_soon(self._watch)
        self._idle = True
        if self._terminating:
            self._now_idle.set()
        else:
            self._scope.deadline = trio.current_time() + self._timeout

    async def stop(self) -> None:
        """The connection is busy: no timeout until it is idle again."""
        self._idle = False
        self._scope.deadline = inf

    def finish(self) -> None:
        """The connection has closed: end the task, closing nothing."""
        self._finished = True
        self._scope.cancel()

    async def _watch(self) -> None:
        with self._scope:
            await self._wait_terminated()
            self._terminating = True
            if not self._idle:
                await self._now_idle.wait()
        if self._finished:
            return
        with trio.CancelScope(shield=True):
            await self._close()
