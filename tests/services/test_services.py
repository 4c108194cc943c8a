"""Background services run in the app's lifespan, chosen by the kind of server."""

from __future__ import annotations

import pytest
import trio

from polling import wait_until
from prefect_trio_server import services
from prefect_trio_server.server import create_app
from prefect_trio_server.services import Service, ServiceContext, selected_services
from prefect_trio_server.settings import Settings


def make_services(events: list[str]) -> tuple[Service, ...]:
    async def always(context: ServiceContext) -> None:
        events.append("always:start")
        assert await context.database.is_ready()
        try:
            await trio.sleep_forever()
        finally:
            events.append("always:stop")

    async def full_only(_context: ServiceContext) -> None:
        events.append("full:start")
        await trio.sleep_forever()

    return (
        Service("always", always, ephemeral=True),
        Service("full-only", full_only),
    )


def test_selection_by_kind_of_server() -> None:
    registry = make_services([])
    names = lambda chosen: [s.name for s in chosen]  # noqa: E731
    original = services.SERVICES
    services.SERVICES = registry
    try:
        assert names(selected_services(ephemeral=False, webserver_only=False)) == [
            "always",
            "full-only",
        ]
        assert names(selected_services(ephemeral=True, webserver_only=False)) == ["always"]
        assert selected_services(ephemeral=False, webserver_only=True) == []
    finally:
        services.SERVICES = original


async def test_services_start_with_the_lifespan_and_stop_with_it(
    prefect_trio_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    monkeypatch.setattr(services, "SERVICES", make_services(events))
    app = create_app(prefect_trio_settings, ephemeral=True, ignore_cache=True)
    async with app.router.lifespan_context(app):
        await wait_until(lambda: "always:start" in events)
    assert events == ["always:start", "always:stop"]


async def test_a_crashing_service_is_restarted(
    prefect_trio_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []

    async def flaky(_context: ServiceContext) -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise RuntimeError("boom")
        await trio.sleep_forever()

    monkeypatch.setattr(services, "SERVICES", (Service("flaky", flaky, restart_delay=0.01),))
    app = create_app(prefect_trio_settings, ignore_cache=True)
    async with app.router.lifespan_context(app):
        await wait_until(lambda: len(runs) == 3)
    assert runs == [0, 1, 2]
