"""Background services: loops run as tasks in the app's lifespan task group.

A service is a ``Service``: a name, when it runs (``ephemeral``: also in an ephemeral
server), and an async ``run(context)`` that loops until cancelled. ``SERVICES`` is the
registry. ``run_services`` starts the selected ones and reports each start.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from anyio.abc import TaskGroup

from ..database import Database
from ..settings import Settings

logger = logging.getLogger("prefect_trio_server.services")


@dataclass(frozen=True)
class ServiceContext:
    settings: Settings
    database: Database


@dataclass(frozen=True)
class Service:
    name: str
    run: Callable[[ServiceContext], Awaitable[None]]
    ephemeral: bool = False


SERVICES: tuple[Service, ...] = ()


def selected_services(*, ephemeral: bool, webserver_only: bool) -> list[Service]:
    """The services a server of this kind runs."""
    if webserver_only:
        return []
    return [service for service in SERVICES if service.ephemeral or not ephemeral]


async def _supervised(service: Service, context: ServiceContext) -> None:
    """Run one service; a crash is logged and the service restarted after a pause."""
    while True:
        try:
            await service.run(context)
            return
        except Exception:
            logger.exception("service %s failed; restarting in 5 s", service.name)
            await anyio.sleep(5)


def start_services(task_group: TaskGroup, services: list[Service], context: ServiceContext) -> None:
    for service in services:
        logger.info("starting service %s", service.name)
        task_group.start_soon(_supervised, service, context, name=f"service:{service.name}")
