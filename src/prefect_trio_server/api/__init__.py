"""The REST API: one router module per Prefect resource.

``ROUTER_MODULES`` is the registry: each named module of this package has a ``router``
(``fastapi.APIRouter``, best a ``routing.DeferredRouter``: its routes are built once, by the
app) with its own prefix and tags. Adding a resource is adding a module and a line here.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter

ROUTER_MODULES: tuple[str, ...] = (
    "root",
    "admin",
    "csrf_token",
    "flows",
    "flow_runs",
    "flow_run_inputs",
    "flow_run_reports",
    "flow_run_graph",
    "flow_run_states",
    "task_runs",
    "task_run_states",
    "ui_flows",
    "ui_flow_runs",
    "ui_task_runs",
    "logs",
    "events",
    "events_read",
)


def api_routers() -> list[APIRouter]:
    """The routers of every registered module, in registry order."""
    routers = []
    for name in ROUTER_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        router = module.router
        assert isinstance(router, APIRouter), f"{name}.router is not an APIRouter"
        routers.append(router)
    return routers
