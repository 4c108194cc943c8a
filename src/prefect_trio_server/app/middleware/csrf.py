"""CSRF protection for writes, with tokens from ``GET /csrf-token``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ...database import Database
from ...models.csrf_tokens import is_valid_token

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CsrfMiddleware:
    """Writes need ``Prefect-Csrf-Token`` and ``Prefect-Csrf-Client`` headers that match.

    Answers 403 with Prefect's messages, which clients key on to fetch a new token.
    ``database`` is called per request: the database exists only once the lifespan ran.
    """

    def __init__(self, app: ASGIApp, database: Callable[[], Database]) -> None:
        self.app = app
        self.database = database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        token = headers.get("prefect-csrf-token")
        client = headers.get("prefect-csrf-client")
        if not token:
            problem = "Missing CSRF token."
        elif not client:
            problem = "Missing client identifier."
        else:
            now = dt.datetime.now(dt.UTC)
            valid = await self.database().read(
                lambda connection: is_valid_token(connection, client, token, now=now)
            )
            if valid:
                await self.app(scope, receive, send)
                return
            problem = "Invalid CSRF token or client identifier."
        await JSONResponse({"detail": problem}, status_code=403)(scope, receive, send)
