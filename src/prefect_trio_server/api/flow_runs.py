"""Flow runs: ``/flow_runs``. Create, read, update, delete, query, and ``set_state``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import Body, Path, Response, status
from pydantic import BaseModel, Field

from ..models import flow_runs as run_models
from ..schemas.actions import FlowRunCreate, FlowRunUpdate
from ..schemas.base import KeyValueLabels
from ..schemas.core import FlowRunResponse as FlowRun
from ..schemas.filters import FlowFilter, FlowRunFilter
from ..schemas.sorting import FlowRunSort
from ..schemas.states import OrchestrationResult, StateCreate
from .dependencies import ApiVersionDep, DatabaseDep, SettingsDep
from .pagination import ListBody, checked_limit
from .responses import model_response, objects_page_response, objects_response
from .routing import DeferredRouter

router = DeferredRouter(prefix="/flow_runs", tags=["Flow Runs"])

FlowRunId = Annotated[uuid.UUID, Path(description="The flow run id", alias="id")]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _RunSelection(ListBody):
    flows: FlowFilter | None = None
    flow_runs: FlowRunFilter | None = None


class FlowRunsFilterBody(_RunSelection):
    offset: int = Field(default=0, ge=0)
    limit: int | None = Field(
        default=None, description="Defaults to PREFECT_SERVER_API_DEFAULT_LIMIT if not provided."
    )
    sort: FlowRunSort = FlowRunSort.ID_DESC


class FlowRunsPaginateBody(_RunSelection):
    page: int = Field(default=1, ge=1)
    limit: int | None = Field(
        default=None, description="Defaults to PREFECT_SERVER_API_DEFAULT_LIMIT if not provided."
    )
    sort: FlowRunSort = FlowRunSort.ID_DESC


class FlowRunPaginationResponse(BaseModel):
    results: list[FlowRun]
    count: int
    limit: int
    pages: int
    page: int


@router.post("/", status_code=status.HTTP_201_CREATED, response_model=FlowRun)
@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=FlowRun, include_in_schema=False
)
async def create_flow_run(
    flow_run: FlowRunCreate, database: DatabaseDep, version: ApiVersionDep
) -> Response:
    """Create a flow run (200 with the existing run for a repeated idempotency key)."""
    now = _now()
    row, created = await database.write(
        lambda connection: run_models.create_flow_run(
            connection, flow_run, now=now, api_version=version
        )
    )
    return model_response(FlowRun.model_validate(row), 201 if created else 200)


@router.patch("/{id}", status_code=status.HTTP_204_NO_CONTENT)
async def update_flow_run(
    flow_run: FlowRunUpdate, run_id: FlowRunId, database: DatabaseDep
) -> None:
    """Updates a flow run."""
    now = _now()
    await database.write(
        lambda connection: run_models.update_flow_run(connection, run_id, flow_run, now=now)
    )


@router.patch("/{id}/labels", status_code=status.HTTP_204_NO_CONTENT)
async def update_flow_run_labels(
    run_id: FlowRunId, database: DatabaseDep, labels: Annotated[KeyValueLabels, Body()]
) -> None:
    """Merge labels into a flow run's labels."""
    now = _now()
    await database.write(
        lambda connection: run_models.update_labels(connection, run_id, labels, now=now)
    )


@router.post("/count")
async def count_flow_runs(
    database: DatabaseDep, body: Annotated[_RunSelection | None, Body()] = None
) -> int:
    """Query for flow runs."""
    selection = body or _RunSelection()
    return await database.read(
        lambda connection: run_models.count_flow_runs(
            connection, flows=selection.flows, runs=selection.flow_runs
        )
    )


@router.get("/{id}", response_model=FlowRun)
async def read_flow_run(run_id: FlowRunId, database: DatabaseDep) -> Response:
    """Get a flow run by id."""
    now = _now()
    row = await database.read(
        lambda connection: run_models.read_flow_run(connection, run_id, now=now)
    )
    return model_response(FlowRun.model_validate(row))


@router.post("/filter", response_model=list[FlowRun])
async def read_flow_runs(
    database: DatabaseDep,
    settings: SettingsDep,
    body: Annotated[FlowRunsFilterBody | None, Body()] = None,
) -> Response:
    """Query for flow runs."""
    body = body or FlowRunsFilterBody()
    limit = checked_limit(body.limit, settings)
    now = _now()
    objects = await database.read(
        lambda connection: run_models.read_flow_run_objects(
            connection,
            flows=body.flows,
            runs=body.flow_runs,
            sort=body.sort,
            offset=body.offset,
            limit=limit,
            now=now,
        )
    )
    return objects_response(objects)


@router.post("/paginate", response_model=FlowRunPaginationResponse)
async def paginate_flow_runs(
    database: DatabaseDep,
    settings: SettingsDep,
    body: Annotated[FlowRunsPaginateBody | None, Body()] = None,
) -> Response:
    """Pagination query for flow runs."""
    body = body or FlowRunsPaginateBody()
    limit = checked_limit(body.limit, settings)
    now = _now()

    def page(connection: Any) -> tuple[list[str], int]:
        count = run_models.count_flow_runs(connection, flows=body.flows, runs=body.flow_runs)
        objects = run_models.read_flow_run_objects(
            connection,
            flows=body.flows,
            runs=body.flow_runs,
            sort=body.sort,
            offset=(body.page - 1) * limit,
            limit=limit,
            now=now,
        )
        return objects, count

    objects, count = await database.read(page)
    return objects_page_response(objects, count=count, limit=limit, page=body.page)


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_flow_run(run_id: FlowRunId, database: DatabaseDep) -> None:
    """Delete a flow run by id."""
    await database.write(lambda connection: run_models.delete_flow_run(connection, run_id))


@router.post(
    "/{id}/set_state", status_code=status.HTTP_201_CREATED, response_model=OrchestrationResult
)
async def set_flow_run_state(
    run_id: FlowRunId,
    database: DatabaseDep,
    version: ApiVersionDep,
    state: Annotated[StateCreate, Body(description="The intended state.")],
    force: Annotated[bool, Body(description="Skip the orchestration rules.")] = False,
) -> Response:
    """Set a flow run state, invoking any orchestration rules (201 when a state is written)."""
    now = _now()
    outcome = await database.write(
        lambda connection: run_models.set_flow_run_state(
            connection, run_id, state, now=now, force=force, api_version=version
        )
    )
    result = OrchestrationResult.model_validate(
        {"state": outcome.state, "status": outcome.status.value, "details": outcome.details}
    )
    return model_response(result, 201 if outcome.written else 200)


@router.post("/{id}/resume")
async def resume_flow_run(
    run_id: FlowRunId,
    database: DatabaseDep,
    version: ApiVersionDep,
    run_input: Annotated[dict[str, Any] | None, Body(embed=True)] = None,
) -> OrchestrationResult:
    """Resume a paused flow run, optionally with the input it asked for."""
    now = _now()
    outcome = await database.write(
        lambda connection: run_models.resume_flow_run(
            connection, run_id, run_input, now=now, api_version=version
        )
    )
    return OrchestrationResult.model_validate(
        {"state": outcome.state, "status": outcome.status.value, "details": outcome.details}
    )
