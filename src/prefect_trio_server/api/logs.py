"""Logs: clients post them in batches (every 2 s by default) and read them back by filter.

Prefect's ``/logs/out`` websocket (live log streaming) is not served here.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import Body, Request, Response, status
from fastapi.exceptions import RequestValidationError

from ..database.filters.logs import LEVEL_MAX, LEVEL_MIN
from ..errors import InvalidRequestError
from ..models.logs import create_logs as insert_logs
from ..models.logs import read_logs as select_logs
from ..schemas.actions import LogCreate
from ..schemas.core import Log
from ..schemas.filters_task_runs import LogFilter
from ..schemas.sorting import LogSort
from .dependencies import DatabaseDep, SettingsDep
from .responses import objects_response
from .routing import DeferredRouter

router = DeferredRouter(prefix="/logs", tags=["Logs"])


async def _request_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


async def _check_levels(request: Request, logs: list[LogCreate]) -> None:
    """``log.level`` is a SMALLINT: refuse what PostgreSQL would (a 422, not a 500)."""
    errors = [
        {
            "type": "level_out_of_range",
            "loc": ("body", index, "level"),
            "msg": f"Input should be between {LEVEL_MIN} and {LEVEL_MAX}",
            "input": item.level,
            "ctx": {"ge": LEVEL_MIN, "le": LEVEL_MAX},
        }
        for index, item in enumerate(logs)
        if not LEVEL_MIN <= item.level <= LEVEL_MAX
    ]
    if errors:
        raise RequestValidationError(errors, body=await _request_body(request))


@router.post("/", status_code=status.HTTP_201_CREATED)
@router.post("", status_code=status.HTTP_201_CREATED, include_in_schema=False)
async def create_logs(logs: list[LogCreate], request: Request, database: DatabaseDep) -> None:
    """Create new logs from the provided schema.

    The whole batch is stored in one transaction, or nothing is (any invalid item: 422).
    """
    await _check_levels(request, logs)
    if not logs:
        return
    now = dt.datetime.now(dt.UTC)
    await database.write(lambda connection: insert_logs(connection, logs, now=now))


@router.post("/filter", response_model=list[Log])
async def read_logs(
    database: DatabaseDep,
    settings: SettingsDep,
    limit: Annotated[
        int | None,
        Body(description="Defaults to PREFECT_SERVER_API_DEFAULT_LIMIT if not provided."),
    ] = None,
    offset: Annotated[int, Body(ge=0)] = 0,
    logs: Annotated[LogFilter | None, Body()] = None,
    sort: Annotated[LogSort, Body()] = LogSort.TIMESTAMP_ASC,
) -> Response:
    """Query for logs."""
    maximum = settings.api_default_limit
    page = maximum if limit is None else limit
    if page < 0:
        raise InvalidRequestError("Invalid limit: must be greater than or equal to 0.")
    if page > maximum:
        raise InvalidRequestError(f"Invalid limit: must be less than or equal to {maximum}.")
    objects = await database.read(
        lambda connection: select_logs(
            connection, log_filter=logs, sort=sort, offset=offset, limit=page
        )
    )
    return objects_response(objects)
