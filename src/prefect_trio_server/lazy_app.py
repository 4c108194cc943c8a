"""An ASGI app that builds the real server on its first call."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send


class LazyApp:
    """Builds ``create_app()`` from the environment's settings when first called.

    ASGI servers load ``module:app`` with a plain attribute lookup, so the app must be a
    real object; building it lazily keeps ``import prefect_trio_server`` cheap and reads
    the settings when the server starts, not when the package is imported.
    """

    def __init__(self) -> None:
        self._app: Any = None

    def get(self) -> Any:
        if self._app is None:
            if "hypercorn" in sys.modules:
                # Served by Hypercorn (its CLI): mend its trio worker before the first
                # connection. Its lifespan runs this before it accepts any.
                from .serving import hypercorn_fixes
                from .serving.config import access_logger

                hypercorn_fixes.install()
                # A worker process receives the access logger by name only: set it up here.
                access_logger()
            from .server import create_app

            self._app = create_app()
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.get()(scope, receive, send)
