"""Hypercorn with our fixes installed, one of its protocol classes swapped for a test, and a
server that records what the protocol writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import hypercorn.protocol
from hypercorn.events import Event, RawData

from prefect_trio_server.serving import hypercorn_fixes


@contextmanager
def fixes_installed(**protocols: type) -> Iterator[None]:
    """``hypercorn_fixes.install()``, then ``hypercorn.protocol.<name> = cls`` for each given;
    on the way out, the fixes as they were before (installed or not)."""
    was_installed = hypercorn_fixes.installed()
    hypercorn_fixes.install()
    for name, cls in protocols.items():
        setattr(hypercorn.protocol, name, cls)
    try:
        yield
    finally:
        if was_installed:
            hypercorn_fixes.install()
        else:
            hypercorn_fixes.uninstall()


class RecordingTCPServer(hypercorn_fixes.FixedTCPServer):
    """The server Hypercorn runs, keeping each write the protocol asks for (before TLS)."""

    writes: list[bytes]

    async def protocol_send(self, event: Event) -> None:
        if isinstance(event, RawData):
            self.writes.append(event.data)
        await super().protocol_send(event)
