"""Admin routes: the server's version and settings, and the default result storage."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import status
from pydantic import BaseModel, ConfigDict, Field

from .._version import PREFECT_VERSION
from ..models import configuration
from ..settings import Settings
from .dependencies import DatabaseDep, SettingsDep
from .routing import DeferredRouter

router = DeferredRouter(prefix="/admin", tags=["Admin"])

SECRET = "********"

#: Sections of Prefect's settings that concern clients, not this server: shown empty.
_CLIENT_SECTIONS = (
    "cli",
    "client",
    "cloud",
    "deployments",
    "events",
    "experiments",
    "flows",
    "internal",
    "plugins",
    "results",
    "runner",
    "tasks",
    "telemetry",
    "testing",
    "worker",
)


def prefect_shaped(settings: Settings) -> dict[str, Any]:
    """The settings in the nesting of Prefect's own ``Settings``, secrets obfuscated.

    What only this server has is under ``trio_server``, by environment variable name.
    """
    auth = SECRET if settings.api_auth_string is not None else None
    home = str(settings.home)
    return {
        "home": home,
        "profiles_path": f"{home}/profiles.toml",
        "debug_mode": False,
        "ui_url": None,
        "silence_api_url_misconfiguration": False,
        "api": {"url": None, "auth_string": None, "key": None},
        "logging": {"server_level": settings.log_level},
        "server": {
            "api": {
                "host": settings.host,
                "port": settings.port,
                "base_path": settings.api_base_path,
                "auth_string": auth,
                "default_limit": settings.api_default_limit,
                "keepalive_timeout": settings.keep_alive_timeout,
                "cors_allowed_origins": ",".join(settings.cors_allowed_origins),
                "cors_allowed_methods": ",".join(settings.cors_allowed_methods),
                "cors_allowed_headers": ",".join(settings.cors_allowed_headers),
                "csrf_protection_enabled": settings.csrf_protection_enabled,
                "csrf_token_expiration": settings.csrf_token_expiration_seconds,
            },
            "database": {
                "connection_url": SECRET if settings.database_connection_url else None,
                "migrate_on_start": settings.database_migrate_on_start,
                "timeout": settings.database_timeout,
            },
            "ephemeral": {
                "startup_timeout_seconds": settings.ephemeral_startup_timeout_seconds,
            },
            "ui": {
                "enabled": settings.ui_enabled,
                "serve_base": settings.ui_serve_base,
                "static_directory": (
                    str(settings.ui_static_directory) if settings.ui_static_directory else None
                ),
                "api_url": settings.ui_api_url,
            },
            "metrics_enabled": settings.enable_metrics,
        },
        **{section: {} for section in _CLIENT_SECTIONS},
        "trio_server": {
            name: value
            for name, value in settings.public_dict().items()
            if name.startswith("PREFECT_TRIO_SERVER_")
        },
    }


class SettingsView(BaseModel):
    """The shape of Prefect's ``Settings`` (sections as objects), plus ``trio_server``."""

    model_config = ConfigDict(extra="allow")

    home: str
    profiles_path: str
    debug_mode: bool
    ui_url: str | None
    silence_api_url_misconfiguration: bool
    api: dict[str, Any]
    cli: dict[str, Any]
    client: dict[str, Any]
    cloud: dict[str, Any]
    deployments: dict[str, Any]
    events: dict[str, Any]
    experiments: dict[str, Any]
    flows: dict[str, Any]
    internal: dict[str, Any]
    logging: dict[str, Any]
    plugins: dict[str, Any]
    results: dict[str, Any]
    runner: dict[str, Any]
    server: dict[str, Any]
    tasks: dict[str, Any]
    telemetry: dict[str, Any]
    testing: dict[str, Any]
    worker: dict[str, Any]
    trio_server: dict[str, Any]


@router.get("/settings")
async def read_settings(settings: SettingsDep) -> SettingsView:
    """Get the current Prefect REST API settings.

    Secret setting values will be obfuscated.
    """
    return SettingsView.model_validate(prefect_shaped(settings))


@router.get("/version")
async def read_version() -> str:
    """Returns the Prefect version number"""
    return PREFECT_VERSION


class ServerDefaultResultStorage(BaseModel):
    """Server-side default result storage configuration."""

    default_result_storage_block_id: uuid.UUID | None = Field(
        default=None,
        description="The block document ID of the server default result storage block.",
    )


@router.get("/storage")
async def read_server_default_result_storage(
    database: DatabaseDep,
) -> ServerDefaultResultStorage:
    """Get the configured server default result storage block."""
    stored = await database.read(lambda c: configuration.read(c, configuration.RESULT_STORAGE))
    return ServerDefaultResultStorage.model_validate(stored or {})


@router.put("/storage")
async def update_server_default_result_storage(
    storage: ServerDefaultResultStorage, database: DatabaseDep
) -> ServerDefaultResultStorage:
    """Set the server default result storage block.

    The block must exist; this server stores no block documents yet, so any block id is
    404, and only ``null`` (no default) is accepted.
    """
    now = dt.datetime.now(dt.UTC)
    value = storage.model_dump(mode="json")
    await database.write(
        lambda c: configuration.set_result_storage(
            c, storage.default_result_storage_block_id, value, now=now
        )
    )
    return storage


@router.delete("/storage", status_code=status.HTTP_204_NO_CONTENT)
async def clear_server_default_result_storage(database: DatabaseDep) -> None:
    """Clear the configured server default result storage block."""
    await database.write(lambda c: configuration.delete(c, configuration.RESULT_STORAGE))
