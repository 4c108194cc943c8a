"""The command line: ``prefect-trio-server start`` (also ``python -m prefect_trio_server``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._version import PREFECT_VERSION, SERVER_API_VERSION, __version__
from .errors import ConfigurationError

if TYPE_CHECKING:
    from pydantic import ValidationError

    from .serving.forked import ChildCall
    from .settings import Settings

# Importing is most of a start: the heavy modules (pydantic, the settings, the database, the
# app) load inside ``main``, after ``startup_gc.pause_old_collections``.


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
    from .settings import Settings

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
    from .settings import Settings, env_name

    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        name = env_name(field) if field in Settings.model_fields else field
        problems.append(f"{name}: {item['msg']}")
    return "; ".join(problems)


def preflight(settings: Settings) -> None:
    """Fail fast, with a one-line message, on what would stop the server from working.

    A database behind ``HEAD_REVISION`` is migrated in a forked child (``serving.forked``):
    Alembic then never loads into the server, which finds the schema current.
    """
    migration = start_preflight(settings)
    if migration is not None:
        migration.wait()


def start_preflight(settings: Settings) -> ChildCall | None:
    """:func:`preflight`, returning while the migration (if any) runs in its child.

    The caller may import the server meanwhile, on the other core, but must ``wait()`` for
    the returned call before anything opens the database.
    """
    from .database import Database
    from .database.migrate import is_current
    from .serving.config import hypercorn_config

    hypercorn_config(settings)  # checks the TLS files
    database = Database(settings)
    try:
        database.check_connection()
        pending = settings.database_migrate_on_start and not is_current(database)
    finally:
        database.dispose()
    if not pending:
        return None
    from .serving.forked import start_in_child

    return start_in_child(_migrate, settings)


def _migrate(settings: Settings) -> None:
    from .database import Database
    from .database.migrate import migrate

    database = Database(settings)
    try:
        migrate(database)
    finally:
        database.dispose()


def start(arguments: argparse.Namespace, on_serving: Callable[[], None] | None = None) -> int:
    settings = _settings(arguments)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    migration = start_preflight(settings)
    one_process = settings.workers <= 1 or arguments.fd is not None
    app = None
    if migration is not None:
        try:
            if one_process:
                # The app is built (imports, routes, schemas) while the child migrates, on
                # the other core: building it opens no database, the lifespan does.
                from .server import create_app

                app = create_app(settings, final=True)
        finally:
            migration.wait()
    if not one_process:
        from hypercorn.run import run as run_workers

        from .serving.config import hypercorn_config

        # Each worker builds the app from its environment: hand it the settings in force,
        # command-line overrides included.
        os.environ.update(settings.to_environment())
        if on_serving is not None:
            on_serving()  # this process only supervises the workers
        return run_workers(hypercorn_config(settings))
    from .serving.serve import run

    run(
        settings,
        app=app,
        fd=arguments.fd,
        parent_pipe=arguments.parent_pipe,
        on_serving=on_serving,
    )
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
    from .serving.startup_gc import pause_old_collections

    resume_collections = pause_old_collections()
    from pydantic import ValidationError

    try:
        return start(arguments, on_serving=resume_collections)
    except ValidationError as exc:
        print(f"prefect-trio-server: invalid setting: {_describe(exc)}", file=sys.stderr)
        return 2
    except ConfigurationError as exc:
        print(f"prefect-trio-server: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        resume_collections()
