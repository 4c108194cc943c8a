"""The server's settings: one pydantic-settings object, read once and passed down.

Every field is read from the environment variable named by its ``validation_alias``:
Prefect's own name wherever Prefect has one, ``PREFECT_TRIO_SERVER_*`` for what is ours.
``docs/settings.md`` is generated from this module (``python -m
prefect_trio_server.settings_doc``) and a test keeps the two in step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    computed_field,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


def _comma_list(value: Any) -> Any:
    """Accept ``a,b,c``, a JSON list, or a list for the CORS settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_list)]


class Settings(BaseSettings):
    """Everything the server reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="PREFECT_TRIO_SERVER_SETTING_",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        validate_default=True,
    )

    # -- where things live -------------------------------------------------------------
    home: Path = Field(
        default=Path("~/.prefect"),
        validation_alias=_env("PREFECT_HOME"),
        description="Folder for the server's own files: the SQLite database and the UI cache.",
    )

    # -- the API ----------------------------------------------------------------------
    host: str = Field(
        default="127.0.0.1",
        validation_alias=_env("PREFECT_SERVER_API_HOST"),
        description="Address the server binds.",
    )
    port: int = Field(
        default=4200,
        ge=0,
        le=65535,
        validation_alias=_env("PREFECT_SERVER_API_PORT"),
        description="Port the server binds (0 picks a free one).",
    )
    api_base_path: str = Field(
        default="/api",
        validation_alias=_env("PREFECT_SERVER_API_BASE_PATH"),
        description="Path the REST API is mounted at.",
    )
    api_auth_string: SecretStr | None = Field(
        default=None,
        validation_alias=_env("PREFECT_SERVER_API_AUTH_STRING"),
        description=(
            "When set, every request but GET /health and /ready needs "
            "`Authorization: Basic base64(<this string>)`."
        ),
    )
    api_default_limit: int = Field(
        default=200,
        ge=1,
        validation_alias=_env("PREFECT_SERVER_API_DEFAULT_LIMIT"),
        description="Default and largest page size of filter endpoints.",
    )
    cors_allowed_origins: CommaList = Field(
        default=["*"],
        validation_alias=_env("PREFECT_SERVER_CORS_ALLOWED_ORIGINS"),
        description="CORS allowed origins, comma separated.",
    )
    cors_allowed_methods: CommaList = Field(
        default=["*"],
        validation_alias=_env("PREFECT_SERVER_CORS_ALLOWED_METHODS"),
        description="CORS allowed methods, comma separated.",
    )
    cors_allowed_headers: CommaList = Field(
        default=["*"],
        validation_alias=_env("PREFECT_SERVER_CORS_ALLOWED_HEADERS"),
        description="CORS allowed headers, comma separated.",
    )
    csrf_protection_enabled: bool = Field(
        default=False,
        validation_alias=_env("PREFECT_SERVER_CSRF_PROTECTION_ENABLED"),
        description="Require a CSRF token (from GET /api/csrf-token) on every write.",
    )
    csrf_token_expiration_seconds: float = Field(
        default=3600.0,
        gt=0,
        validation_alias=_env("PREFECT_SERVER_CSRF_TOKEN_EXPIRATION"),
        description="Lifetime of a CSRF token, in seconds.",
    )
    enable_metrics: bool = Field(
        default=False,
        validation_alias=_env("PREFECT_API_ENABLE_METRICS"),
        description="Serve Prometheus metrics at /api/metrics.",
    )
    ephemeral_startup_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        validation_alias=_env("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"),
        description="How long SubprocessASGIServer.start() waits for a healthy child.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="WARNING",
        validation_alias=_env("PREFECT_LOGGING_SERVER_LEVEL"),
        description="Level of the server's own log.",
    )

    # -- the database -----------------------------------------------------------------
    database_connection_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL"
        ),
        description=(
            "SQLAlchemy URL of the database: `sqlite:///path` or "
            "`postgresql+psycopg://user:pass@host/db`. Default: SQLite at "
            "`$PREFECT_HOME/prefect.db`."
        ),
    )
    database_migrate_on_start: bool = Field(
        default=True,
        validation_alias=AliasChoices(
            "PREFECT_API_DATABASE_MIGRATE_ON_START", "PREFECT_SERVER_DATABASE_MIGRATE_ON_START"
        ),
        description="Apply database migrations when the server starts.",
    )
    database_timeout: float = Field(
        default=10.0,
        gt=0,
        validation_alias=AliasChoices(
            "PREFECT_API_DATABASE_TIMEOUT", "PREFECT_SERVER_DATABASE_TIMEOUT"
        ),
        description="Seconds to wait for a database lock or a connection before giving up.",
    )
    database_read_concurrency: int = Field(
        default=8,
        ge=1,
        le=256,
        validation_alias=_env("PREFECT_TRIO_SERVER_DATABASE_READ_CONCURRENCY"),
        description=(
            "Threads that may run read transactions at once (and the read pool's size). "
            "On PostgreSQL writes get the same number again."
        ),
    )

    # -- the UI -----------------------------------------------------------------------
    ui_enabled: bool = Field(
        default=True,
        validation_alias=_env("PREFECT_UI_ENABLED"),
        description="Serve the web UI.",
    )
    ui_serve_base: str = Field(
        default="/",
        validation_alias=_env("PREFECT_UI_SERVE_BASE"),
        description="Path the UI is served under.",
    )
    ui_static_directory: Path | None = Field(
        default=None,
        validation_alias=_env("PREFECT_UI_STATIC_DIRECTORY"),
        description=(
            "Writable folder the UI bundle is copied into before the base path is written "
            "into it. Default: `$PREFECT_HOME/ui_build`."
        ),
    )
    ui_api_url: str | None = Field(
        default=None,
        validation_alias=_env("PREFECT_UI_API_URL"),
        description="API URL the UI talks to. Default: the server's own `/api` path.",
    )

    # -- serving (ours) ---------------------------------------------------------------
    tls_certfile: Path | None = Field(
        default=None,
        validation_alias=_env("PREFECT_TRIO_SERVER_TLS_CERTFILE"),
        description="PEM certificate (chain): serve HTTPS, with HTTP/2 offered through ALPN.",
    )
    tls_keyfile: Path | None = Field(
        default=None,
        validation_alias=_env("PREFECT_TRIO_SERVER_TLS_KEYFILE"),
        description="PEM private key of `PREFECT_TRIO_SERVER_TLS_CERTFILE`.",
    )
    http2_max_concurrent_streams: int = Field(
        default=100,
        ge=1,
        validation_alias=_env("PREFECT_TRIO_SERVER_HTTP2_MAX_CONCURRENT_STREAMS"),
        description="HTTP/2 streams a client may have open on one connection.",
    )
    http2_max_inbound_frame_size: int = Field(
        default=2**14,
        ge=2**14,
        le=2**24 - 1,
        validation_alias=_env("PREFECT_TRIO_SERVER_HTTP2_MAX_INBOUND_FRAME_SIZE"),
        description="Largest HTTP/2 frame payload accepted, in bytes.",
    )
    keep_alive_timeout: float = Field(
        default=75.0,
        gt=0,
        validation_alias=_env("PREFECT_SERVER_API_KEEPALIVE_TIMEOUT"),
        description=(
            "Seconds an idle keep-alive connection stays open. Longer than HTTP clients keep "
            "an idle connection (5 s for httpx, hence Prefect's client), so that the client "
            "closes it first: a request sent just as the server closes fails."
        ),
    )
    keep_alive_max_requests: int = Field(
        default=0,
        ge=0,
        validation_alias=_env("PREFECT_TRIO_SERVER_KEEP_ALIVE_MAX_REQUESTS"),
        description=(
            "Requests served on one connection before the server closes it (HTTP/1.1: "
            "`Connection: close`; HTTP/2: GOAWAY, which httpx does not retry, so streams in "
            "flight fail). 0, the default: no limit."
        ),
    )
    graceful_timeout: float = Field(
        default=10.0,
        ge=0,
        validation_alias=_env("PREFECT_TRIO_SERVER_GRACEFUL_TIMEOUT"),
        description="On SIGTERM/SIGINT, seconds in-flight requests get to finish.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        validation_alias=_env("PREFECT_TRIO_SERVER_WORKERS"),
        description="Worker processes of `prefect-trio-server start`.",
    )
    access_log: bool = Field(
        default=False,
        validation_alias=_env("PREFECT_TRIO_SERVER_ACCESS_LOG"),
        description="Write an access log line per request to stderr.",
    )
    direct_routes: bool = Field(
        default=True,
        validation_alias=_env("PREFECT_TRIO_SERVER_DIRECT_ROUTES"),
        description=(
            "Answer well-formed requests to simple routes without FastAPI's per-request "
            "dependency machinery (same validators, same responses); false sends every "
            "request through FastAPI."
        ),
    )
    request_limit: int = Field(
        default=100,
        ge=1,
        validation_alias=_env("PREFECT_TRIO_SERVER_REQUEST_LIMIT"),
        description=(
            "Requests handled at once on SQLite (RequestLimitMiddleware); "
            "websockets and reads of static files are not counted."
        ),
    )
    request_limit_timeout: float = Field(
        default=30.0,
        gt=0,
        validation_alias=_env("PREFECT_TRIO_SERVER_REQUEST_LIMIT_TIMEOUT"),
        description="Seconds a request waits for a slot before it gets 503 with Retry-After.",
    )
    max_request_body_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        validation_alias=_env("PREFECT_TRIO_SERVER_MAX_REQUEST_BODY_BYTES"),
        description="Largest request body accepted; a larger one gets 413.",
    )

    @field_validator("api_base_path")
    @classmethod
    def _api_base_path_is_a_sub_path(cls, value: str) -> str:
        path = "/" + value.strip().strip("/")
        if path == "/":
            raise ValueError("the API needs a path of its own, such as /api")
        return path

    @field_validator("ui_serve_base")
    @classmethod
    def _ui_serve_base_is_a_path(cls, value: str) -> str:
        return "/" + value.strip().strip("/")

    # -- derived ----------------------------------------------------------------------
    @computed_field  # type: ignore[prop-decorator]
    @property
    def resolved_home(self) -> Path:
        """PREFECT_HOME with `~` expanded."""
        return self.home.expanduser()

    @property
    def database_url(self) -> str:
        """The database URL in force, with the SQLite default filled in."""
        if self.database_connection_url is not None:
            return self.database_connection_url.get_secret_value()
        return f"sqlite:///{self.resolved_home / 'prefect.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def ui_cache_directory(self) -> Path:
        if self.ui_static_directory is not None:
            return self.ui_static_directory.expanduser()
        return self.resolved_home / "ui_build"

    @property
    def tls_enabled(self) -> bool:
        return self.tls_certfile is not None and self.tls_keyfile is not None

    def to_environment(self) -> dict[str, str]:
        """The environment variables that reproduce these settings in a child process."""
        env: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None:
                continue
            alias = field.validation_alias
            assert isinstance(alias, AliasChoices)
            env_name = str(alias.choices[0])
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, bool):
                env[env_name] = "true" if value else "false"
            elif isinstance(value, list):
                env[env_name] = ",".join(value)
            else:
                env[env_name] = str(value)
        return env

    def public_dict(self) -> dict[str, Any]:
        """The settings by environment name, secrets obfuscated (for /admin/settings)."""
        out: dict[str, Any] = {}
        for name, field in type(self).model_fields.items():
            alias = field.validation_alias
            assert isinstance(alias, AliasChoices)
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********"
            elif isinstance(value, Path):
                value = str(value)
            out[str(alias.choices[0])] = value
        return out


def env_name(field_name: str) -> str:
    """The environment variable that sets ``field_name`` (for error messages)."""
    alias = Settings.model_fields[field_name].validation_alias
    assert isinstance(alias, AliasChoices)
    return str(alias.choices[0])


def get_settings() -> Settings:
    """Settings read from the environment now."""
    return Settings()
