"""Run the server on Hypercorn's trio worker, in this process."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config, Sockets
from hypercorn.trio.run import worker_serve
from hypercorn.utils import wrap_app

from ..errors import ConfigurationError
from ..settings import Settings
from . import hypercorn_fixes
from .config import hypercorn_config
from .signals import wait_for_shutdown_signal

ShutdownTrigger = Callable[[], Awaitable[None]]


def bind_sockets(config: Config, settings: Settings) -> Sockets:
    """Bind (and listen on) the configured sockets now, or raise ConfigurationError."""
    try:
        sockets = config.create_sockets()
    except OSError as exc:
        where = ", ".join(config.bind)
        raise ConfigurationError(
            f"cannot listen on {where} ({exc.strerror or exc}): "
            "set PREFECT_SERVER_API_HOST / PREFECT_SERVER_API_PORT to a free address"
        ) from exc
    for sock in [*sockets.secure_sockets, *sockets.insecure_sockets]:
        sock.listen(config.backlog)
    return sockets


def bound_urls(sockets: Sockets) -> list[str]:
    urls = []
    for scheme, group in (("https", sockets.secure_sockets), ("http", sockets.insecure_sockets)):
        for sock in group:
            host, port = sock.getsockname()[:2]
            if sock.family == socket.AF_INET6:
                host = f"[{host}]"
            urls.append(f"{scheme}://{host}:{port}")
    return urls


async def serve(
    settings: Settings,
    *,
    app: Any = None,
    config: Config | None = None,
    sockets: Sockets | None = None,
    shutdown_trigger: ShutdownTrigger | None = wait_for_shutdown_signal,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until ``shutdown_trigger`` returns (by default: SIGINT or SIGTERM).

    ``await nursery.start(serve, settings)`` returns the bound URLs once the app's lifespan
    has started and the sockets listen. On shutdown, new connections are refused, requests
    in flight get ``graceful_timeout`` seconds, then the lifespan shuts down.
    """
    hypercorn_fixes.install()
    if config is None:
        config = hypercorn_config(settings)
    if sockets is None:
        sockets = bind_sockets(config, settings)
    if app is None:
        from ..server import create_app

        app = create_app(settings, final=True)
    wrapped = wrap_app(app, config.wsgi_max_body_size, "asgi")
    urls = bound_urls(sockets)
    await worker_serve(
        wrapped,
        config,
        sockets=sockets,
        shutdown_trigger=shutdown_trigger,
        task_status=_ReportUrls(task_status, urls),
    )


class _ReportUrls:
    """Passes our URLs to ``task_status.started`` (Hypercorn reports its own strings)."""

    def __init__(self, task_status: trio.TaskStatus[list[str]], urls: list[str]) -> None:
        self._task_status = task_status
        self._urls = urls

    def started(self, _value: object = None) -> None:
        self._task_status.started(self._urls)


def run(
    settings: Settings,
    *,
    app: Any = None,
    fd: int | None = None,
    parent_pipe: int | None = None,
    on_serving: Callable[[], None] | None = None,
) -> None:
    """Blocking: serve in this process until a signal (or the parent's exit).

    ``app`` is built from ``settings`` unless given; ``on_serving`` is called once the
    lifespan has started and the sockets listen.
    """
    config = hypercorn_config(settings, fd=fd)
    sockets = bind_sockets(config, settings)
    trigger: ShutdownTrigger = wait_for_shutdown_signal
    if parent_pipe is not None:
        from .signals import wait_for_any, wait_for_parent_exit

        trigger = partial(
            wait_for_any, wait_for_shutdown_signal, partial(wait_for_parent_exit, parent_pipe)
        )
    serving = partial(
        serve, settings, app=app, config=config, sockets=sockets, shutdown_trigger=trigger
    )
    trio.run(_serve_then_call, serving, on_serving)


async def _serve_then_call(
    serving: Callable[..., Awaitable[None]], on_serving: Callable[[], None] | None
) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(serving)
        if on_serving is not None:
            on_serving()
