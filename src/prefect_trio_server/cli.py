"""The command line: ``prefect-trio-server start`` (also ``python -m prefect_trio_server``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from pydantic import ValidationError

from ._version import PREFECT_VERSION, SERVER_API_VERSION, __version__
from .errors import ConfigurationError
from .settings import Settings, env_name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prefect-trio-server",
        description="A trio-native server for the Prefect 3 REST API, on Hypercorn.",
    )
    commands = parser.add_subparsers(dest="command")
    start = commands.add_parser("start", help="start the server (the default command)")
    start.add_argument("--host", help="address to bind (PREFECT_SERVER_API_HOST)")
    start.add_argument("--port", type=int, help="port to bind (PREFECT_SERVER_API_PORT)")
    start.add_argument("--workers", type=int, help="worker processes")
    start.add_argument("--certfile", help="TLS certificate (PREFECT_TRIO_SERVER_TLS_CERTFILE)")
    start.add_argument("--keyfile", help="TLS key (PREFECT_TRIO_SERVER_TLS_KEYFILE)")
    start.add_argument("--no-ui", action="store_true", help="do not serve the UI")
    start.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    start.add_argument("--parent-pipe", type=int, help=argparse.SUPPRESS)
    commands.add_parser("version", help="print versions")
    return parser


def _settings(arguments: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for option, field in (
        ("host", "host"),
        ("port", "port"),
        ("workers", "workers"),
        ("certfile", "tls_certfile"),
        ("keyfile", "tls_keyfile"),
    ):
        value = getattr(arguments, option)
        if value is not None:
            overrides[field] = value
    if arguments.no_ui:
        overrides["ui_enabled"] = False
    return Settings(**overrides)


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        name = env_name(field) if field in Settings.model_fields else field
        problems.append(f"{name}: {item['msg']}")
    return "; ".join(problems)


def preflight(settings: Settings) -> None:
    """Fail fast, with a one-line message, on what would stop the server from working."""
    from .database import Database
    from .database.migrate import migrate
    from .serving.config import hypercorn_config

    hypercorn_config(settings)  # checks the TLS files
    database = Database(settings)
    try:
        database.check_connection()
        if settings.database_migrate_on_start:
            migrate(database)
    finally:
        database.dispose()


def start(arguments: argparse.Namespace) -> int:
    settings = _settings(arguments)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    preflight(settings)
    if settings.workers > 1 and arguments.fd is None:
        from hypercorn.run import run as run_workers

        from .serving.config import hypercorn_config

        # Each worker builds the app from its environment: hand it the settings in force,
        # command-line overrides included.
        os.environ.update(settings.to_environment())
        return run_workers(hypercorn_config(settings))
    from .serving.serve import run

    run(settings, fd=arguments.fd, parent_pipe=arguments.parent_pipe)
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.command == "version":
        print(
            f"prefect-trio-server {__version__} "
            f"(Prefect {PREFECT_VERSION} API, version {SERVER_API_VERSION})"
        )
        return 0
    if arguments.command is None:
        arguments = _parser().parse_args(["start", *(argv or sys.argv[1:])])
    try:
        return start(arguments)
    except ValidationError as exc:
        print(f"prefect-trio-server: invalid setting: {_describe(exc)}", file=sys.stderr)
        return 2
    except ConfigurationError as exc:
        print(f"prefect-trio-server: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
