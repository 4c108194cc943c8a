"""Flow run and task run filters and sorts, on real SQLite and PostgreSQL databases.

A handful of runs is inserted once per test; each case sends a filter (as on the wire) or a
sort and checks exactly which runs come back, by name.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import exists, insert, null, select

from prefect_trio_server.database import Database
from prefect_trio_server.database.filters.flow_runs import (
    flow_run_filter_clause,
    flow_run_order_by,
    reject_unsupported_criteria,
)
from prefect_trio_server.database.filters.task_runs import (
    task_run_filter_clause,
    task_run_order_by,
)
from prefect_trio_server.database.migrate import migrate
from prefect_trio_server.database.tables import flow, flow_run, task_run
from prefect_trio_server.errors import InvalidRequestError
from prefect_trio_server.schemas.filters import FlowRunFilter, TaskRunFilter
from prefect_trio_server.schemas.sorting import FlowRunSort, TaskRunSort
from prefect_trio_server.settings import Settings


def _id(n: int) -> uuid.UUID:
    # Ids in creation order, so that id order is predictable in the sort cases.
    return uuid.UUID(f"00000000-0000-4000-8000-{n:012d}")


T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def iso(hours: float) -> str:
    return at(hours).isoformat()


FLOW = _id(100)
ALPHA, BETA, GAMMA, DELTA, EPSILON = _id(1), _id(2), _id(3), _id(4), _id(5)
TA1, TB1, TB2, ORPHAN = _id(11), _id(12), _id(13), _id(14)
DEPLOYMENT_1, DEPLOYMENT_2 = _id(21), _id(22)
CREATOR_1, CREATOR_2 = _id(31), _id(32)

FLOW_RUN_NAMES = {
    ALPHA: "alpha",
    BETA: "beta-run",
    GAMMA: "gamma",
    DELTA: "delta",
    EPSILON: "epsilon",
}
TASK_RUN_NAMES = {TA1: "ta1", TB1: "tb1", TB2: "tb2", ORPHAN: "orphan"}
ALL_FLOW_RUNS = set(FLOW_RUN_NAMES.values())
ALL_TASK_RUNS = set(TASK_RUN_NAMES.values())

FLOW_RUNS: list[dict[str, Any]] = [
    {
        "id": ALPHA,
        "tags": ["a", "b"],
        "deployment_id": DEPLOYMENT_1,
        "work_queue_name": "q1",
        "state_type": "COMPLETED",
        "state_name": "Completed",
        "flow_version": "1.0",
        "start_time": at(1),
        "end_time": at(2),
        "expected_start_time": at(1),
        "idempotency_key": "k1",
        "created_by": {"id": str(CREATOR_1), "type": "DEPLOYMENT", "display_value": "dep"},
    },
    {
        # A subflow of alpha (through its task run ta1).
        "id": BETA,
        "tags": ["b"],
        "state_type": "RUNNING",
        "state_name": "Running",
        "flow_version": "2.0",
        "start_time": at(3),
        "expected_start_time": at(2),
        "parent_task_run_id": TA1,
        "created_by": null(),  # SQL NULL
    },
    {
        "id": GAMMA,
        "tags": [],
        "deployment_id": DEPLOYMENT_2,
        "work_queue_name": "q2",
        "state_type": "SCHEDULED",
        "state_name": "Late",
        "expected_start_time": at(5),
        "next_scheduled_start_time": at(5),
        "idempotency_key": "k2",
        "created_by": {"id": str(CREATOR_2), "type": "AUTOMATION"},
    },
    {
        # A subflow of beta-run (through tb1); started before it was expected to.
        "id": DELTA,
        "tags": ["c"],
        "deployment_id": DEPLOYMENT_1,
        "work_queue_name": "q1",
        "state_type": "FAILED",
        "state_name": "Failed",
        "start_time": at(0),
        "end_time": at(0.5),
        "expected_start_time": at(4),
        "parent_task_run_id": TB1,
        "created_by": {"type": "USER", "display_value": "marvin"},
    },
    {
        # No state, no times; created_by is the JSON null.
        "id": EPSILON,
        "tags": ["a"],
        "created_by": None,
    },
]

TASK_RUNS: list[dict[str, Any]] = [
    {
        "id": TA1,
        "flow_run_id": ALPHA,
        "tags": ["x", "y"],
        "state_type": "COMPLETED",
        "state_name": "Completed",
        "start_time": at(1),
        "end_time": at(1 + 1 / 6),
        "expected_start_time": at(1),
        "total_run_time": 600.0,
    },
    {
        "id": TB1,
        "flow_run_id": BETA,
        "tags": ["y"],
        "state_type": "RUNNING",
        "state_name": "Running",
        "start_time": at(3),
        "expected_start_time": at(3),
        "total_run_time": 100.0,
    },
    {
        "id": TB2,
        "flow_run_id": BETA,
        "tags": [],
        "state_type": "PENDING",
        "state_name": "Pending",
        "next_scheduled_start_time": at(6),
        "total_run_time": 0.0,
    },
    {
        "id": ORPHAN,
        "flow_run_id": None,
        "tags": ["x"],
        "state_type": "COMPLETED",
        "state_name": "Cached",
        "start_time": at(2),
        "end_time": at(2),
        "expected_start_time": at(2),
        "total_run_time": 5.0,
    },
]


@pytest.fixture
def database(prefect_trio_settings: Settings) -> Iterator[Database]:
    db = Database(prefect_trio_settings)
    try:
        migrate(db)
        with db.write_engine.begin() as connection:
            connection.execute(insert(flow).values(id=FLOW, name="the-flow"))
            for row in FLOW_RUNS:
                values = {"flow_id": FLOW, "name": FLOW_RUN_NAMES[row["id"]], **row}
                connection.execute(insert(flow_run).values(**values))
            for row in TASK_RUNS:
                name = TASK_RUN_NAMES[row["id"]]
                values = {"task_key": name, "dynamic_key": "0", "name": name, **row}
                connection.execute(insert(task_run).values(**values))
        yield db
    finally:
        db.dispose()


def _flow_run_names(db: Database, criteria: FlowRunFilter | None) -> set[str]:
    statement = select(flow_run.c.name).where(flow_run_filter_clause(criteria, db.dialect))
    with db.read_engine.connect() as connection:
        return set(connection.execute(statement).scalars())


def _task_run_names(db: Database, criteria: TaskRunFilter | None) -> set[str]:
    statement = select(task_run.c.name).where(task_run_filter_clause(criteria, db.dialect))
    with db.read_engine.connect() as connection:
        return set(connection.execute(statement).scalars())


# ----------------------------------------------------------------------------------- flow runs

FLOW_RUN_CASES: list[tuple[str, dict[str, Any] | None, set[str]]] = [
    ("none", None, ALL_FLOW_RUNS),
    ("empty", {}, ALL_FLOW_RUNS),
    ("empty-sub-filter", {"id": {}}, ALL_FLOW_RUNS),
    ("id-any", {"id": {"any_": [str(ALPHA), str(GAMMA)]}}, {"alpha", "gamma"}),
    ("id-any-empty", {"id": {"any_": []}}, set()),
    ("id-not-any", {"id": {"not_any_": [str(ALPHA)]}}, ALL_FLOW_RUNS - {"alpha"}),
    ("name-any", {"name": {"any_": ["alpha", "delta", "nope"]}}, {"alpha", "delta"}),
    ("name-like-case-insensitive", {"name": {"like_": "BETA"}}, {"beta-run"}),
    ("name-like-substring", {"name": {"like_": "lt"}}, {"delta"}),
    ("name-like-escapes-wildcards", {"name": {"like_": "%"}}, set()),
    ("name-any-and-like", {"name": {"any_": ["alpha", "gamma"], "like_": "mm"}}, {"gamma"}),
    ("tags-all", {"tags": {"all_": ["a", "b"]}}, {"alpha"}),
    ("tags-all-one", {"tags": {"all_": ["b"]}}, {"alpha", "beta-run"}),
    ("tags-any", {"tags": {"any_": ["a", "c"]}}, {"alpha", "delta", "epsilon"}),
    ("tags-any-missing", {"tags": {"any_": ["zzz"]}}, set()),
    ("tags-is-null", {"tags": {"is_null_": True}}, {"gamma"}),
    ("tags-is-not-null", {"tags": {"is_null_": False}}, ALL_FLOW_RUNS - {"gamma"}),
    (
        "tags-or",
        {"tags": {"operator": "or_", "all_": ["c"], "is_null_": True}},
        {"delta", "gamma"},
    ),
    (
        "deployment-id-any",
        {"deployment_id": {"any_": [str(DEPLOYMENT_1)]}},
        {"alpha", "delta"},
    ),
    ("deployment-id-is-null", {"deployment_id": {"is_null_": True}}, {"beta-run", "epsilon"}),
    (
        "deployment-id-is-not-null",
        {"deployment_id": {"is_null_": False}},
        {"alpha", "gamma", "delta"},
    ),
    (
        "deployment-id-or",
        {"deployment_id": {"operator": "or_", "any_": [str(DEPLOYMENT_2)], "is_null_": True}},
        {"gamma", "beta-run", "epsilon"},
    ),
    ("work-queue-name-any", {"work_queue_name": {"any_": ["q1"]}}, {"alpha", "delta"}),
    (
        "work-queue-name-is-null",
        {"work_queue_name": {"is_null_": True}},
        {"beta-run", "epsilon"},
    ),
    (
        "state-type-any",
        {"state": {"type": {"any_": ["COMPLETED", "FAILED"]}}},
        {"alpha", "delta"},
    ),
    (
        # NOT IN: runs without a state are excluded too, as in Prefect.
        "state-type-not-any",
        {"state": {"type": {"not_any_": ["COMPLETED"]}}},
        {"beta-run", "gamma", "delta"},
    ),
    ("state-name-any", {"state": {"name": {"any_": ["Late"]}}}, {"gamma"}),
    (
        "state-name-not-any",
        {"state": {"name": {"not_any_": ["Late", "Failed"]}}},
        {"alpha", "beta-run"},
    ),
    (
        "state-and",
        {"state": {"type": {"any_": ["COMPLETED"]}, "name": {"any_": ["Late"]}}},
        set(),
    ),
    (
        "state-or",
        {"state": {"operator": "or_", "type": {"any_": ["COMPLETED"]}, "name": {"any_": ["Late"]}}},
        {"alpha", "gamma"},
    ),
    (
        "state-or-ignores-empty-type",
        {"state": {"operator": "or_", "type": {}, "name": {"any_": ["Late"]}}},
        {"gamma"},
    ),
    ("flow-version-any", {"flow_version": {"any_": ["1.0", "2.0"]}}, {"alpha", "beta-run"}),
    (
        # start_time bounds compare coalesce(start_time, expected_start_time), inclusively.
        "start-time-before",
        {"start_time": {"before_": iso(1)}},
        {"alpha", "delta"},
    ),
    ("start-time-after", {"start_time": {"after_": iso(3)}}, {"beta-run", "gamma"}),
    (
        "start-time-between",
        {"start_time": {"after_": iso(0.5), "before_": iso(3)}},
        {"alpha", "beta-run"},
    ),
    ("start-time-is-null", {"start_time": {"is_null_": True}}, {"gamma", "epsilon"}),
    (
        "start-time-is-not-null",
        {"start_time": {"is_null_": False}},
        {"alpha", "beta-run", "delta"},
    ),
    ("end-time-before", {"end_time": {"before_": iso(1)}}, {"delta"}),
    ("end-time-after", {"end_time": {"after_": iso(2)}}, {"alpha"}),
    ("end-time-is-not-null", {"end_time": {"is_null_": False}}, {"alpha", "delta"}),
    (
        "end-time-is-null",
        {"end_time": {"is_null_": True}},
        {"beta-run", "gamma", "epsilon"},
    ),
    (
        "expected-start-time-before",
        {"expected_start_time": {"before_": iso(2)}},
        {"alpha", "beta-run"},
    ),
    (
        "expected-start-time-after",
        {"expected_start_time": {"after_": iso(4)}},
        {"gamma", "delta"},
    ),
    (
        "expected-start-time-timezone",
        {"expected_start_time": {"before_": "2024-01-01T03:00:00+02:00"}},
        {"alpha"},
    ),
    (
        "next-scheduled-start-time-before",
        {"next_scheduled_start_time": {"before_": iso(5)}},
        {"gamma"},
    ),
    ("next-scheduled-start-time-after", {"next_scheduled_start_time": {"after_": iso(6)}}, set()),
    ("parent-flow-run-id", {"parent_flow_run_id": {"any_": [str(ALPHA)]}}, {"beta-run"}),
    ("parent-flow-run-id-nested", {"parent_flow_run_id": {"any_": [str(BETA)]}}, {"delta"}),
    (
        "parent-flow-run-id-several",
        {"parent_flow_run_id": {"any_": [str(ALPHA), str(BETA)]}},
        {"beta-run", "delta"},
    ),
    ("parent-flow-run-id-no-subflows", {"parent_flow_run_id": {"any_": [str(GAMMA)]}}, set()),
    ("parent-task-run-id-any", {"parent_task_run_id": {"any_": [str(TA1)]}}, {"beta-run"}),
    (
        "parent-task-run-id-is-not-null",
        {"parent_task_run_id": {"is_null_": False}},
        {"beta-run", "delta"},
    ),
    (
        "parent-task-run-id-is-null",
        {"parent_task_run_id": {"is_null_": True}},
        {"alpha", "gamma", "epsilon"},
    ),
    ("idempotency-key-any", {"idempotency_key": {"any_": ["k1"]}}, {"alpha"}),
    ("idempotency-key-not-any", {"idempotency_key": {"not_any_": ["k1"]}}, {"gamma"}),
    ("created-by-id", {"created_by": {"id_": [str(CREATOR_1)]}}, {"alpha"}),
    (
        "created-by-ids",
        {"created_by": {"id_": [str(CREATOR_1), str(CREATOR_2)]}},
        {"alpha", "gamma"},
    ),
    (
        "created-by-type",
        {"created_by": {"type_": ["AUTOMATION", "USER"]}},
        {"gamma", "delta"},
    ),
    (
        "created-by-is-null",
        {"created_by": {"is_null_": True}},
        {"beta-run", "epsilon"},
    ),
    (
        "created-by-is-not-null",
        {"created_by": {"is_null_": False}},
        {"alpha", "gamma", "delta"},
    ),
    (
        "created-by-or",
        {"created_by": {"operator": "or_", "type_": ["DEPLOYMENT"], "is_null_": True}},
        {"alpha", "beta-run", "epsilon"},
    ),
    (
        "and-across-fields",
        {"deployment_id": {"any_": [str(DEPLOYMENT_1)]}, "state": {"type": {"any_": ["FAILED"]}}},
        {"delta"},
    ),
    (
        "or-across-fields",
        {"operator": "or_", "name": {"any_": ["alpha"]}, "tags": {"all_": ["c"]}},
        {"alpha", "delta"},
    ),
]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [pytest.param(criteria, expected, id=case) for case, criteria, expected in FLOW_RUN_CASES],
)
def test_flow_run_filter(
    database: Database, criteria: dict[str, Any] | None, expected: set[str]
) -> None:
    parsed = None if criteria is None else FlowRunFilter.model_validate(criteria)
    assert _flow_run_names(database, parsed) == expected


FLOW_RUN_SORTS: list[tuple[FlowRunSort, list[str]]] = [
    (FlowRunSort.ID_DESC, ["epsilon", "delta", "gamma", "beta-run", "alpha"]),
    # coalesce(start_time, expected_start_time); runs with neither come last.
    (FlowRunSort.START_TIME_ASC, ["delta", "alpha", "beta-run", "gamma", "epsilon"]),
    (FlowRunSort.START_TIME_DESC, ["gamma", "beta-run", "alpha", "delta", "epsilon"]),
    (FlowRunSort.EXPECTED_START_TIME_ASC, ["alpha", "beta-run", "delta", "gamma", "epsilon"]),
    (FlowRunSort.EXPECTED_START_TIME_DESC, ["gamma", "delta", "beta-run", "alpha", "epsilon"]),
    (FlowRunSort.NAME_ASC, ["alpha", "beta-run", "delta", "epsilon", "gamma"]),
    (FlowRunSort.NAME_DESC, ["gamma", "epsilon", "delta", "beta-run", "alpha"]),
    # Ties (the NULLs) are broken by id, in the sort's direction.
    (
        FlowRunSort.NEXT_SCHEDULED_START_TIME_ASC,
        ["gamma", "alpha", "beta-run", "delta", "epsilon"],
    ),
    (FlowRunSort.END_TIME_DESC, ["alpha", "delta", "epsilon", "gamma", "beta-run"]),
]


def test_every_flow_run_sort_is_tested() -> None:
    assert {sort for sort, _ in FLOW_RUN_SORTS} == set(FlowRunSort)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [pytest.param(sort, names, id=sort.value) for sort, names in FLOW_RUN_SORTS],
)
def test_flow_run_sort(database: Database, sort: FlowRunSort, expected: list[str]) -> None:
    statement = select(flow_run.c.name).order_by(*flow_run_order_by(sort))
    with database.read_engine.connect() as connection:
        assert list(connection.execute(statement).scalars()) == expected


# ----------------------------------------------------------------------------------- task runs

TASK_RUN_CASES: list[tuple[str, dict[str, Any] | None, set[str]]] = [
    ("none", None, ALL_TASK_RUNS),
    ("empty", {}, ALL_TASK_RUNS),
    ("id-any", {"id": {"any_": [str(TA1), str(ORPHAN)]}}, {"ta1", "orphan"}),
    ("id-empty", {"id": {}}, ALL_TASK_RUNS),
    ("name-any", {"name": {"any_": ["tb1"]}}, {"tb1"}),
    ("name-like", {"name": {"like_": "B"}}, {"tb1", "tb2"}),
    ("name-like-escapes-wildcards", {"name": {"like_": "_"}}, set()),
    ("tags-all", {"tags": {"all_": ["x"]}}, {"ta1", "orphan"}),
    ("tags-all-two", {"tags": {"all_": ["x", "y"]}}, {"ta1"}),
    ("tags-is-null", {"tags": {"is_null_": True}}, {"tb2"}),
    ("tags-is-not-null", {"tags": {"is_null_": False}}, {"ta1", "tb1", "orphan"}),
    (
        "tags-or",
        {"tags": {"operator": "or_", "all_": ["y"], "is_null_": True}},
        {"ta1", "tb1", "tb2"},
    ),
    ("state-type-any", {"state": {"type": {"any_": ["COMPLETED"]}}}, {"ta1", "orphan"}),
    ("state-name-any", {"state": {"name": {"any_": ["Cached"]}}}, {"orphan"}),
    (
        "state-and",
        {"state": {"type": {"any_": ["COMPLETED"]}, "name": {"any_": ["Completed"]}}},
        {"ta1"},
    ),
    (
        "state-or",
        {"state": {"operator": "or_", "type": {"any_": ["RUNNING"]}, "name": {"any_": ["Cached"]}}},
        {"tb1", "orphan"},
    ),
    (
        "state-or-ignores-empty-name",
        {"state": {"operator": "or_", "type": {"any_": ["RUNNING"]}, "name": {}}},
        {"tb1"},
    ),
    ("start-time-before", {"start_time": {"before_": iso(2)}}, {"ta1", "orphan"}),
    ("start-time-after", {"start_time": {"after_": iso(2)}}, {"tb1", "orphan"}),
    ("start-time-is-null", {"start_time": {"is_null_": True}}, {"tb2"}),
    ("start-time-is-not-null", {"start_time": {"is_null_": False}}, {"ta1", "tb1", "orphan"}),
    ("end-time-before", {"end_time": {"before_": at(1 + 1 / 6).isoformat()}}, {"ta1"}),
    ("end-time-after", {"end_time": {"after_": iso(1.5)}}, {"orphan"}),
    ("end-time-is-null", {"end_time": {"is_null_": True}}, {"tb1", "tb2"}),
    (
        "expected-start-time-before",
        {"expected_start_time": {"before_": iso(2)}},
        {"ta1", "orphan"},
    ),
    ("expected-start-time-after", {"expected_start_time": {"after_": iso(3)}}, {"tb1"}),
    ("subflow-runs-exist", {"subflow_runs": {"exists_": True}}, {"ta1", "tb1"}),
    ("subflow-runs-do-not-exist", {"subflow_runs": {"exists_": False}}, {"tb2", "orphan"}),
    ("subflow-runs-empty", {"subflow_runs": {}}, ALL_TASK_RUNS),
    ("flow-run-id-any", {"flow_run_id": {"any_": [str(BETA)]}}, {"tb1", "tb2"}),
    # is_null_ defaults to false: without any_, that means "has a flow run" (as in Prefect).
    ("flow-run-id-default", {"flow_run_id": {}}, {"ta1", "tb1", "tb2"}),
    ("flow-run-id-is-null", {"flow_run_id": {"is_null_": True}}, {"orphan"}),
    (
        "flow-run-id-is-null-wins-over-any",
        {"flow_run_id": {"is_null_": True, "any_": [str(ALPHA)]}},
        {"orphan"},
    ),
    ("flow-run-id-is-null-none", {"flow_run_id": {"is_null_": None}}, ALL_TASK_RUNS),
    (
        "and-across-fields",
        {"tags": {"all_": ["x"]}, "flow_run_id": {"any_": [str(ALPHA)]}},
        {"ta1"},
    ),
    (
        "or-across-fields",
        {"operator": "or_", "name": {"any_": ["tb2"]}, "flow_run_id": {"is_null_": True}},
        {"tb2", "orphan"},
    ),
]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [pytest.param(criteria, expected, id=case) for case, criteria, expected in TASK_RUN_CASES],
)
def test_task_run_filter(
    database: Database, criteria: dict[str, Any] | None, expected: set[str]
) -> None:
    parsed = None if criteria is None else TaskRunFilter.model_validate(criteria)
    assert _task_run_names(database, parsed) == expected


TASK_RUN_SORTS: list[tuple[TaskRunSort, list[str]]] = [
    (TaskRunSort.ID_DESC, ["orphan", "tb2", "tb1", "ta1"]),
    (TaskRunSort.EXPECTED_START_TIME_ASC, ["ta1", "orphan", "tb1", "tb2"]),
    (TaskRunSort.EXPECTED_START_TIME_DESC, ["tb1", "orphan", "ta1", "tb2"]),
    (TaskRunSort.NAME_ASC, ["orphan", "ta1", "tb1", "tb2"]),
    (TaskRunSort.NAME_DESC, ["tb2", "tb1", "ta1", "orphan"]),
    (TaskRunSort.NEXT_SCHEDULED_START_TIME_ASC, ["tb2", "ta1", "tb1", "orphan"]),
    (TaskRunSort.END_TIME_DESC, ["orphan", "ta1", "tb2", "tb1"]),
    (TaskRunSort.DURATION_DESC, ["ta1", "tb1", "orphan", "tb2"]),
    (TaskRunSort.DURATION_ASC, ["tb2", "orphan", "tb1", "ta1"]),
]


def test_every_task_run_sort_is_tested() -> None:
    assert {sort for sort, _ in TASK_RUN_SORTS} == set(TaskRunSort)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [pytest.param(sort, names, id=sort.value) for sort, names in TASK_RUN_SORTS],
)
def test_task_run_sort(database: Database, sort: TaskRunSort, expected: list[str]) -> None:
    statement = select(task_run.c.name).order_by(*task_run_order_by(sort))
    with database.read_engine.connect() as connection:
        assert list(connection.execute(statement).scalars()) == expected


# ------------------------------------------------------------------------------------ embedding


def test_task_run_clause_inside_a_flow_run_query(database: Database) -> None:
    """The subflow subquery correlates to the task run, not to an enclosing flow run."""
    criteria = TaskRunFilter.model_validate({"subflow_runs": {"exists_": True}})
    statement = select(flow_run.c.name).where(
        exists(
            select(task_run.c.id).where(
                task_run.c.flow_run_id == flow_run.c.id,
                task_run_filter_clause(criteria, database.dialect),
            )
        )
    )
    with database.read_engine.connect() as connection:
        assert set(connection.execute(statement).scalars()) == {"alpha", "beta-run"}


def test_flow_run_clause_inside_a_task_run_query(database: Database) -> None:
    """The parent subquery correlates to nothing, even inside a query over task runs."""
    criteria = FlowRunFilter.model_validate({"parent_flow_run_id": {"any_": [str(ALPHA)]}})
    statement = select(task_run.c.name).where(
        exists(
            select(flow_run.c.id).where(
                flow_run.c.id == task_run.c.flow_run_id,
                flow_run_filter_clause(criteria, database.dialect),
            )
        )
    )
    with database.read_engine.connect() as connection:
        assert set(connection.execute(statement).scalars()) == {"tb1", "tb2"}


def test_criteria_the_server_cannot_evaluate_are_refused() -> None:
    criteria = FlowRunFilter.model_validate({"name": {"any_": ["x"]}})
    with pytest.raises(InvalidRequestError, match=r"`flow_runs\.name`"):
        reject_unsupported_criteria(criteria, supported=(), path="flow_runs")
    reject_unsupported_criteria(criteria, supported=("name",), path="flow_runs")
