"""Background services: loops run as tasks in the app's lifespan task group.

A service is a ``Service``: a name, when it runs (``ephemeral``: also in an ephemeral
server), and an async ``run(context)`` that loops until cancelled. ``SERVICES`` is the
registry. ``start_services`` runs the selected ones in the lifespan's task group, in one
process only among those sharing the database (``leadership``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

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
    restart_delay: float = 5.0


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
            logger.exception(
                "service %s failed; restarting in %s s", service.name, service.restart_delay
            )
            await anyio.sleep(service.restart_delay)


async def _run_all(services: list[Service], context: ServiceContext) -> None:
    async with anyio.create_task_group() as group:
        for service in services:
            logger.info("starting service %s", service.name)
            group.start_soon(_supervised, service, context, name=f"service:{service.name}")


def start_services(task_group: TaskGroup, services: list[Service], context: ServiceContext) -> None:
    """Run ``services`` in ``task_group`` while this process leads (see ``leadership``)."""
    if not services:
        return
    from .leadership import leadership_for, while_leader

    leadership = leadership_for(context.database)
    task_group.start_soon(
        partial(while_leader, leadership, partial(_run_all, services, context)),
        name="services-leadership",
    )
