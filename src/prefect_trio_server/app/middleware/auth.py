"""HTTP Basic authentication against ``PREFECT_SERVER_API_AUTH_STRING``."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ._paths import route_path


class BasicAuthMiddleware:
    """Every HTTP request needs ``Authorization: Basic base64(auth_string)``.

    ``GET`` of a path in ``public_get_paths`` (matched exactly inside the app) is let
    through: health and readiness probes carry no credentials. Credentials are compared in
    constant time. Websocket scopes pass: their handlers authenticate with the first
    message, as Prefect clients expect.
    """

    def __init__(
        self, app: ASGIApp, auth_string: str, *, public_get_paths: Collection[str] = ()
    ) -> None:
        if not auth_string:
            raise ValueError("auth_string must not be empty")
        self.app = app
        token = base64.b64encode(auth_string.encode()).decode()
        self._expected = f"Basic {token}".encode()
        self.public_get_paths = frozenset(public_get_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            scope["method"] in ("GET", "HEAD") and route_path(scope) in self.public_get_paths
        ):
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("authorization", "").encode()
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"exception_message": "Unauthorized"}, status_code=401)
        await response(scope, receive, send)
