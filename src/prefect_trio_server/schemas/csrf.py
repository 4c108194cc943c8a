"""The CSRF token object."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field


class CsrfToken(BaseModel):
    id: uuid.UUID
    created: dt.datetime | None
    updated: dt.datetime | None
    token: str = Field(description="The CSRF token")
    client: str = Field(description="The client id associated with the CSRF token")
    expiration: dt.datetime = Field(description="The expiration time of the CSRF token")
