"""One boundary where exceptions become responses, in Prefect's error shapes.

=============================  ======  ==================================================
exception                      status  body
=============================  ======  ==================================================
RequestValidationError         422     exception_message, exception_detail, request_body
ObjectNotFoundError            404     {"exception_message": ...}
ObjectAlreadyExistsError       409     {"detail": ...}
SQLAlchemy IntegrityError      409     {"detail": "Data integrity conflict..."}
InvalidRequestError            422     {"detail": ...} (or its own status)
ServiceUnavailableError        503     {"exception_message": ...} + Retry-After
retryable database error       503     {"exception_message": "Service Unavailable"} +
                                       Retry-After
anything else                  500     {"exception_message": "Internal Server Error"},
                                       logged with its traceback, never sent
=============================  ======  ==================================================
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import (
    InvalidRequestError,
    ObjectAlreadyExistsError,
    ObjectNotFoundError,
    ServiceUnavailableError,
)
from ..retryable import is_client_retryable_exception

logger = logging.getLogger("prefect_trio_server.errors")

RETRY_AFTER_SECONDS = 1


def _leaf(exc: BaseException) -> BaseException:
    """The one exception inside nested single-member exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _is_integrity_error(exc: BaseException) -> bool:
    try:
        from sqlalchemy.exc import IntegrityError
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        return False
    return isinstance(exc, IntegrityError)


def error_response(exc: BaseException) -> JSONResponse:
    """The response for an exception that escaped a route."""
    exc = _leaf(exc)
    if isinstance(exc, ObjectNotFoundError):
        return JSONResponse({"exception_message": str(exc) or "Not found"}, status_code=404)
    if isinstance(exc, ObjectAlreadyExistsError):
        return JSONResponse({"detail": str(exc) or "Object already exists"}, status_code=409)
    if isinstance(exc, InvalidRequestError):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)
    if isinstance(exc, ServiceUnavailableError):
        return JSONResponse(
            {"exception_message": str(exc)},
            status_code=503,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if _is_integrity_error(exc):
        return JSONResponse(
            {
                "detail": "Data integrity conflict. This usually means a unique or foreign key "
                "constraint was violated. See server logs for details."
            },
            status_code=409,
        )
    if isinstance(exc, Exception) and is_client_retryable_exception(exc):
        logger.warning("retryable database error: %s", exc)
        return JSONResponse(
            {"exception_message": "Service Unavailable"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    logger.error("unhandled error", exc_info=exc)
    return JSONResponse({"exception_message": "Internal Server Error"}, status_code=500)


async def validation_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """422 with the offending fields, in Prefect's shape."""
    assert isinstance(exc, RequestValidationError)
    body: Any = exc.body
    if isinstance(body, bytes):
        try:
            body = json.loads(body)
        except ValueError:
            body = body.decode("utf-8", "replace")
    return JSONResponse(
        status_code=422,
        content=jsonable_encoder(
            {
                "exception_message": "Invalid request received.",
                "exception_detail": exc.errors(),
                "request_body": body,
            }
        ),
    )


class ErrorBoundaryMiddleware:
    """Turns any exception from the app below into a response (if none was started).

    Starlette's own catch-all re-raises into the server after answering; this boundary
    answers and stops there, so the server's log holds one entry per failure, ours.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                logger.error("error after the response started", exc_info=exc)
                raise
            response = error_response(exc)
            await response(scope, receive, send)
