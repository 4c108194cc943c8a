"""Admin routes: the server's version and settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .._version import PREFECT_VERSION
from .dependencies import SettingsDep

router = APIRouter(prefix="/admin", tags=["Admin"])


@router.get("/settings")
async def read_settings(settings: SettingsDep) -> dict[str, Any]:
    """The server's settings by environment variable name; secrets are obfuscated."""
    return settings.public_dict()


@router.get("/version")
async def read_version() -> str:
    """The Prefect version whose API this server serves (clients check its major)."""
    return PREFECT_VERSION
