"""Root routes: hello and readiness (health and version are defined by the API app)."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from .dependencies import DatabaseDep
from .routing import DeferredRouter

router = DeferredRouter(tags=["Root"])


@router.get("/hello")
async def hello() -> str:
    """Say hello!"""
    return "👋"


@router.get("/ready")
async def perform_readiness_check(database: DatabaseDep) -> JSONResponse:
    """200 when the database answers a query, 503 with Retry-After when it does not."""
    if await database.is_ready():
        return JSONResponse({"message": "OK"})
    return JSONResponse(
        {"message": "Database is not available"},
        status_code=503,
        headers={"Retry-After": "1"},
    )
