"""Flows: ``/flows``. Upsert by name (201 created, 200 existing), read, filter, delete."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import Body, Path, Response, status
from pydantic import BaseModel, Field

from ..models import flows as flow_models
from ..schemas.actions import FlowCreate, FlowUpdate
from ..schemas.core import Flow
from ..schemas.filters import FlowFilter, FlowRunFilter, TaskRunFilter
from ..schemas.sorting import FlowSort
from .dependencies import DatabaseDep, SettingsDep
from .pagination import ListBody, checked_limit, page_of
from .responses import ListResponder, model_response
from .routing import DeferredRouter

router = DeferredRouter(prefix="/flows", tags=["Flows"])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _FlowSelection(ListBody):
    """The filters every flow list endpoint takes (deployments and work pools: see models)."""

    flows: FlowFilter | None = None
    flow_runs: FlowRunFilter | None = None
    task_runs: TaskRunFilter | None = None
    deployments: dict[str, Any] | None = None
    work_pools: dict[str, Any] | None = None

    def query(self) -> flow_models.FlowQuery:
        return flow_models.FlowQuery(
            flows=self.flows,
            flow_runs=self.flow_runs,
            task_runs=self.task_runs,
            deployments=self.deployments,
            work_pools=self.work_pools,
        )


class FlowsFilterBody(_FlowSelection):
    offset: int = Field(default=0, ge=0)
    limit: int | None = Field(
        default=None, description="Defaults to PREFECT_SERVER_API_DEFAULT_LIMIT if not provided."
    )
    sort: FlowSort = FlowSort.NAME_ASC


class FlowsPaginateBody(_FlowSelection):
    page: int = Field(default=1, ge=1)
    limit: int | None = Field(
        default=None, description="Defaults to PREFECT_SERVER_API_DEFAULT_LIMIT if not provided."
    )
    sort: FlowSort = FlowSort.NAME_ASC


class FlowsBulkDeleteBody(ListBody):
    flows: FlowFilter | None = Field(
        default=None, description="Filter criteria for flows to delete"
    )
    limit: int = Field(default=50, ge=1, le=50, description="Maximum number of flows to delete.")


class FlowPaginationResponse(BaseModel):
    results: list[Flow]
    count: int
    limit: int
    pages: int
    page: int


class FlowBulkDeleteResponse(BaseModel):
    """Response from bulk flow deletion."""

    deleted: list[uuid.UUID]


FlowId = Annotated[uuid.UUID, Path(description="The flow id", alias="id")]


@router.post("/", status_code=status.HTTP_201_CREATED)
@router.post("", status_code=status.HTTP_201_CREATED, include_in_schema=False)
async def create_flow(flow: FlowCreate, response: Response, database: DatabaseDep) -> Flow:
    """Create a flow, or return the existing flow of that name (then 200)."""
    now = _now()
    row, created = await database.write(
        lambda connection: flow_models.upsert_flow(connection, flow, now=now)
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return Flow.model_validate(row)


@router.patch("/{id}", status_code=status.HTTP_204_NO_CONTENT)
async def update_flow(flow: FlowUpdate, flow_id: FlowId, database: DatabaseDep) -> None:
    """Update a flow."""
    now = _now()
    await database.write(
        lambda connection: flow_models.update_flow(connection, flow_id, flow, now=now)
    )


@router.post("/count")
async def count_flows(
    database: DatabaseDep, body: Annotated[_FlowSelection | None, Body()] = None
) -> int:
    """Count flows."""
    query = (body or _FlowSelection()).query()
    return await database.read(lambda connection: flow_models.count_flows(connection, query))


@router.get("/name/{name}")
async def read_flow_by_name(
    name: Annotated[str, Path(description="The name of the flow")], database: DatabaseDep
) -> Flow:
    """Get a flow by name."""
    row = await database.read(lambda connection: flow_models.read_flow_by_name(connection, name))
    return Flow.model_validate(row)


@router.get("/{id}")
async def read_flow(flow_id: FlowId, database: DatabaseDep) -> Flow:
    """Get a flow by id."""
    row = await database.read(lambda connection: flow_models.read_flow(connection, flow_id))
    return Flow.model_validate(row)


_FLOW_LIST = ListResponder(Flow)


@router.post("/filter", response_model=list[Flow])
async def read_flows(
    database: DatabaseDep,
    settings: SettingsDep,
    body: Annotated[FlowsFilterBody | None, Body()] = None,
) -> Response:
    """Query for flows."""
    body = body or FlowsFilterBody()
    limit = checked_limit(body.limit, settings)
    query = body.query()
    rows = await database.read(
        lambda connection: flow_models.read_flows(
            connection, query, sort=body.sort, offset=body.offset, limit=limit
        )
    )
    return _FLOW_LIST.response(rows)


@router.post("/paginate", response_model=FlowPaginationResponse)
async def paginate_flows(
    database: DatabaseDep,
    settings: SettingsDep,
    body: Annotated[FlowsPaginateBody | None, Body()] = None,
) -> Response:
    """Pagination query for flows."""
    body = body or FlowsPaginateBody()
    limit = checked_limit(body.limit, settings)
    query = body.query()

    def page(connection: Any) -> tuple[list[dict[str, Any]], int]:
        count = flow_models.count_flows(connection, query)
        rows = flow_models.read_flows(
            connection, query, sort=body.sort, offset=(body.page - 1) * limit, limit=limit
        )
        return rows, count

    rows, count = await database.read(page)
    paged = page_of(rows, count=count, limit=limit, page=body.page)
    return model_response(FlowPaginationResponse.model_validate(paged))


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_flow(flow_id: FlowId, database: DatabaseDep) -> None:
    """Delete a flow by id."""
    await database.write(lambda connection: flow_models.delete_flow(connection, flow_id))


@router.post("/bulk_delete")
async def bulk_delete_flows(
    database: DatabaseDep, body: Annotated[FlowsBulkDeleteBody | None, Body()] = None
) -> FlowBulkDeleteResponse:
    """Bulk delete flows matching the specified filter criteria."""
    body = body or FlowsBulkDeleteBody()
    deleted = await database.write(
        lambda connection: flow_models.bulk_delete_flows(connection, body.flows, limit=body.limit)
    )
    return FlowBulkDeleteResponse(deleted=list(deleted))
