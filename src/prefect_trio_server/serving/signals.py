"""What ends a running server: a signal, or its parent going away."""

from __future__ import annotations

import os
import signal

import trio

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def wait_for_shutdown_signal() -> None:
    """Return on the first SIGINT or SIGTERM (main thread only)."""
    with trio.open_signal_receiver(*SHUTDOWN_SIGNALS) as signals:
        async for _ in signals:
            return


async def wait_for_parent_exit(fd: int) -> None:
    """Return when the read end ``fd`` of a pipe held by our parent reaches end of file.

    The parent keeps the write end open and never writes: when the parent exits, however it
    exits, the kernel closes it and this returns. That is how a child server never outlives
    the process that started it.
    """
    os.set_blocking(fd, False)
    stream = trio.lowlevel.FdStream(fd)
    try:
        while await stream.receive_some(64):
            pass
    finally:
        await stream.aclose()


async def wait_for_any(*waiters: object) -> None:
    """Return as soon as any of the given no-argument async functions returns."""
    async with trio.open_nursery() as nursery:
        for waiter in waiters:

            async def run(waiter: object = waiter) -> None:
                await waiter()  # type: ignore[operator]
                nursery.cancel_scope.cancel()

            nursery.start_soon(run)
