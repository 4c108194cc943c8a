"""CSRF tokens for clients (422 when protection is off, which clients expect)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import HTTPException, Query

from ..models.csrf_tokens import issue_token
from ..schemas.csrf import CsrfToken
from .dependencies import DatabaseDep, SettingsDep
from .routing import DeferredRouter

router = DeferredRouter(prefix="/csrf-token")


@router.get("")
async def create_csrf_token(
    database: DatabaseDep,
    settings: SettingsDep,
    client: Annotated[str, Query(description="The client to create a CSRF token for")],
) -> CsrfToken:
    """Create or update a CSRF token for a client"""
    if not settings.csrf_protection_enabled:
        raise HTTPException(status_code=422, detail="CSRF protection is disabled.")
    lifetime = dt.timedelta(seconds=settings.csrf_token_expiration_seconds)
    now = dt.datetime.now(dt.UTC)
    row = await database.write(
        lambda connection: issue_token(connection, client, lifetime=lifetime, now=now)
    )
    return CsrfToken.model_validate(row)
