"""The error boundary: every failure becomes Prefect's error shape, never a traceback."""

import sqlite3

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc

from prefect_trio_server.app.errors import ErrorBoundaryMiddleware, error_response
from prefect_trio_server.errors import (
    InvalidRequestError,
    ObjectAlreadyExistsError,
    ObjectNotFoundError,
    ServiceUnavailableError,
)


def _locked() -> sa_exc.OperationalError:
    return sa_exc.OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))


CASES = [
    (ObjectNotFoundError("Flow not found"), 404, {"exception_message": "Flow not found"}),
    (ObjectAlreadyExistsError("exists"), 409, {"detail": "exists"}),
    (InvalidRequestError("bad state"), 422, {"detail": "bad state"}),
    (InvalidRequestError("too big", status=413), 413, {"detail": "too big"}),
    (ServiceUnavailableError("busy", retry_after=2), 503, {"exception_message": "busy"}),
    (_locked(), 503, {"exception_message": "Service Unavailable"}),
    (RuntimeError("secret internals"), 500, {"exception_message": "Internal Server Error"}),
]


@pytest.fixture
def failing_app():
    app = FastAPI()
    app.add_middleware(ErrorBoundaryMiddleware)
    raised: dict[str, BaseException] = {}

    @app.get("/fail")
    async def fail() -> None:
        raise raised["exc"]

    return app, raised


@pytest.mark.parametrize(("exc", "status", "body"), CASES)
async def test_exceptions_map_to_responses(failing_app, exc, status, body):
    app, raised = failing_app
    raised["exc"] = exc
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/fail")
    assert response.status_code == status
    assert response.json() == body
    assert "Traceback" not in response.text
    if status == 503:
        assert int(response.headers["retry-after"]) >= 1


def test_integrity_errors_are_conflicts():
    error = sa_exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE failed"))
    response = error_response(error)
    assert response.status_code == 409
    assert b"Data integrity conflict" in response.body


def test_single_exception_groups_are_unwrapped():
    group = ExceptionGroup("g", [ExceptionGroup("h", [ObjectNotFoundError("x")])])
    assert error_response(group).status_code == 404


async def test_error_after_response_started_is_not_masked(failing_app):
    app = FastAPI()
    app.add_middleware(ErrorBoundaryMiddleware)

    @app.get("/stream")
    async def stream():
        from starlette.responses import StreamingResponse

        async def body():
            yield b"partial"
            raise RuntimeError("mid-stream")

        return StreamingResponse(body())

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        with pytest.raises(RuntimeError, match="mid-stream"):
            await c.get("/stream")
