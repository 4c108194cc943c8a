"""Cap the HTTP requests handled at once, with a bounded wait for a slot."""

from __future__ import annotations

import math
from collections.abc import Collection

import anyio
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ._paths import route_path


class RequestLimitMiddleware:
    """Caps concurrent HTTP requests with an ``anyio.CapacityLimiter(limit)``.

    On trio the limiter is a ``trio.CapacityLimiter``. Only ``http`` scopes take a slot:
    websockets are long-lived streams that would starve everyone else, and lifespan
    messages must always get through. Paths in ``exempt_paths`` (matched exactly, relative
    to the app's mount point) never wait either, so health probes answer under load.

    A request that cannot get a slot within ``timeout`` seconds is answered
    ``503 Service Unavailable`` with ``Retry-After``, which Prefect clients retry; with
    ``timeout=None`` it waits as long as it takes, like Prefect's own middleware.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        *,
        timeout: float | None = None,
        exempt_paths: Collection[str] = (),
        retry_after: int = 1,
    ) -> None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"limit must be a positive integer, not {limit!r}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be positive or None, not {timeout!r}")
        if retry_after < 0:
            raise ValueError(f"retry_after must not be negative, not {retry_after!r}")
        self.app = app
        self.limit = limit
        self.timeout = timeout
        self.exempt_paths = frozenset(exempt_paths)
        self.retry_after = retry_after
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """The limiter, made on first use inside the running event loop."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.limit)
        return self._limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        limiter = self.limiter
        wait = math.inf if self.timeout is None else self.timeout
        with anyio.move_on_after(wait) as waiting:
            await limiter.acquire()
        if not waiting.cancelled_caught:
            try:
                await self.app(scope, receive, send)
            finally:
                limiter.release()
            return
        response = JSONResponse(
            {"exception_message": "Service Unavailable: too many requests in progress"},
            status_code=503,
            headers={"Retry-After": str(self.retry_after)},
        )
        await response(scope, receive, send)
