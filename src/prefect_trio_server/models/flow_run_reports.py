"""Flow runs in bulk and in aggregate: bulk delete and set_state, history, lateness, logs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, delete, select

from ..database.filters.flow_runs import flow_run_filter_clause
from ..database.tables import flow_run, log
from ..errors import ObjectNotFoundError
from ..schemas.filters import FlowFilter, FlowRunFilter
from ..schemas.sorting import FlowRunSort
from ..schemas.states import StateCreate
from . import flow_runs as run_models

Row = dict[str, Any]

#: The most intervals one history request may ask for.
MAX_HISTORY_INTERVALS = 500


def bulk_delete(
    connection: Connection, runs: FlowRunFilter | None, *, limit: int
) -> list[uuid.UUID]:
    ids = list(
        connection.execute(
            select(flow_run.c.id)
            .where(flow_run_filter_clause(runs, connection.dialect.name))
            .order_by(flow_run.c.created, flow_run.c.id)
            .limit(limit)
        ).scalars()
    )
    if ids:
        connection.execute(delete(flow_run).where(flow_run.c.id.in_(ids)))
    return ids


def bulk_set_state(
    connection: Connection,
    runs: FlowRunFilter | None,
    state: StateCreate,
    *,
    force: bool,
    limit: int,
    now: dt.datetime,
    api_version: tuple[int, int, int] | None,
) -> list[Row]:
    """Propose ``state`` to up to ``limit`` matching runs, each orchestrated on its own."""
    ids = list(
        connection.execute(
            select(flow_run.c.id)
            .where(flow_run_filter_clause(runs, connection.dialect.name))
            .order_by(flow_run.c.created, flow_run.c.id)
            .limit(limit)
        ).scalars()
    )
    results = []
    for run_id in ids:
        outcome = run_models.set_flow_run_state(
            connection, run_id, state, now=now, force=force, api_version=api_version
        )
        results.append(
            {
                "flow_run_id": run_id,
                "status": outcome.status.value,
                "state": outcome.state,
                "details": outcome.details,
            }
        )
    return results


def _estimates(
    connection: Connection, flows: FlowFilter | None, runs: FlowRunFilter | None, now: dt.datetime
) -> list[Row]:
    """Every matching run with its estimates (run time, lateness)."""
    count = run_models.count_flow_runs(connection, flows=flows, runs=runs)
    return run_models.read_flow_runs(
        connection,
        flows=flows,
        runs=runs,
        sort=FlowRunSort.EXPECTED_START_TIME_ASC,
        offset=0,
        limit=max(count, 1),
        now=now,
    )


def average_lateness(
    connection: Connection,
    flows: FlowFilter | None,
    runs: FlowRunFilter | None,
    *,
    now: dt.datetime,
) -> float | None:
    shown = _estimates(connection, flows, runs, now)
    if not shown:
        return None
    return float(sum(run["estimated_start_time_delta"] for run in shown)) / len(shown)


def history(
    connection: Connection,
    flows: FlowFilter | None,
    runs: FlowRunFilter | None,
    *,
    start: dt.datetime,
    end: dt.datetime,
    interval: dt.timedelta,
    now: dt.datetime,
) -> list[Row]:
    """Runs by state in each interval of ``[start, end)``, placed by expected start time."""
    buckets: list[tuple[dt.datetime, dt.datetime]] = []
    cursor = start
    while cursor < end:
        buckets.append((cursor, min(cursor + interval, end)))
        cursor += interval
    tallies: dict[int, dict[tuple[str, str], list[float]]] = defaultdict(dict)
    for run in _estimates(connection, flows, runs, now):
        expected = run["expected_start_time"]
        if expected is None or not start <= expected < end or run["state_type"] is None:
            continue
        index = int((expected - start) / interval)
        key = (run["state_type"], run["state_name"])
        tally = tallies[index].setdefault(key, [0, 0.0, 0.0])
        tally[0] += 1
        tally[1] += run["estimated_run_time"]
        tally[2] += run["estimated_start_time_delta"]
    return [
        {
            "interval_start": low,
            "interval_end": high,
            "states": [
                {
                    "state_type": state_type,
                    "state_name": state_name,
                    "count_runs": int(count),
                    "sum_estimated_run_time": run_time,
                    "sum_estimated_lateness": lateness,
                }
                for (state_type, state_name), (count, run_time, lateness) in sorted(
                    tallies[index].items()
                )
            ],
        }
        for index, (low, high) in enumerate(buckets)
    ]


def logs_csv(connection: Connection, run_id: uuid.UUID) -> tuple[str, str]:
    """The run's name and all its logs as CSV text, oldest first."""
    name = connection.execute(select(flow_run.c.name).where(flow_run.c.id == run_id)).scalar()
    if name is None:
        raise ObjectNotFoundError("Flow run not found")
    rows = connection.execute(
        select(log.c.timestamp, log.c.level, log.c.flow_run_id, log.c.task_run_id, log.c.message)
        .where(log.c.flow_run_id == run_id)
        .order_by(log.c.timestamp, log.c.id)
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["timestamp", "level", "flow_run_id", "task_run_id", "message"])
    for row in rows:
        writer.writerow(
            [
                row.timestamp.isoformat().replace("+00:00", "Z"),
                row.level,
                row.flow_run_id,
                row.task_run_id or "",
                row.message,
            ]
        )
    return str(name), out.getvalue()
