"""The global transforms, from tables: one case per transform and outcome, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

import prefect_trio_server.orchestration as orchestration
from prefect_trio_server.orchestration import (
    FlowRunPolicy,
    FlowRunSnapshot,
    State,
    StateType,
    TaskRunSnapshot,
    new_state,
)
from prefect_trio_server.orchestration.transforms import (
    FLOW_TRANSFORMS,
    TASK_TRANSFORMS,
    transform_flow_run,
    transform_task_run,
)

S = StateType
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(seconds=30)
LATER = NOW + timedelta(seconds=60)
RUN_ID = UUID("00000000-0000-0000-0000-00000000f10a")
TASK_ID = UUID("00000000-0000-0000-0000-000000007a5c")
PARENT_TASK = UUID("00000000-0000-0000-0000-0000000000aa")


def st(t: StateType, name: str = "", *, at: datetime = EARLIER, **kw: Any) -> State:
    return new_state(t, name, timestamp=at, **kw)


def flow(**kw: Any) -> FlowRunSnapshot:
    return FlowRunSnapshot(id=RUN_ID, **kw)


def resuming() -> FlowRunPolicy:
    return FlowRunPolicy(resuming=True)


Check = Callable[[FlowRunSnapshot, State], bool]

# fmt: off
FLOW_CASES = [
    pytest.param(flow(), None, st(S.PENDING, at=NOW),
                 lambda r, s: s.timestamp == NOW and r.expected_start_time == NOW,
                 id="first-state-sets-expected-start"),
    pytest.param(flow(), None, st(S.SCHEDULED, at=NOW, scheduled_time=LATER),
                 lambda r, s: r.expected_start_time == LATER
                 and r.next_scheduled_start_time == LATER,
                 id="first-scheduled-state-uses-scheduled-time"),
    pytest.param(flow(expected_start_time=EARLIER), st(S.PENDING),
                 st(S.SCHEDULED, at=NOW, scheduled_time=LATER),
                 lambda r, s: r.expected_start_time == EARLIER,
                 id="expected-start-kept"),
    pytest.param(flow(next_scheduled_start_time=EARLIER), st(S.SCHEDULED), st(S.PENDING, at=NOW),
                 lambda r, s: r.next_scheduled_start_time is None,
                 id="next-scheduled-cleared"),
    pytest.param(flow(), st(S.PENDING, at=NOW), st(S.RUNNING, at=NOW),
                 lambda r, s: s.timestamp == NOW + timedelta(microseconds=1),
                 id="unique-timestamp-equal"),
    pytest.param(flow(), st(S.PENDING, at=LATER), st(S.RUNNING, at=NOW),
                 lambda r, s: s.timestamp == LATER + timedelta(microseconds=1),
                 id="unique-timestamp-earlier"),
    pytest.param(flow(), st(S.PENDING), st(S.RUNNING, at=NOW),
                 lambda r, s: s.timestamp == NOW, id="timestamp-kept"),
    pytest.param(flow(parent_task_run_id=PARENT_TASK), None, st(S.PENDING, at=NOW),
                 lambda r, s: s.details.task_run_id == PARENT_TASK
                 and s.details.flow_run_id == RUN_ID,
                 id="subflow-state-details"),
    pytest.param(flow(), None, st(S.PENDING, at=NOW),
                 lambda r, s: s.details.task_run_id is None and s.details.flow_run_id == RUN_ID,
                 id="state-details"),
    pytest.param(flow(run_count=1), st(S.PENDING), st(S.RUNNING, at=NOW),
                 lambda r, s: r.run_count == 2 and r.start_time == NOW,
                 id="increment-run-count-and-start"),
    pytest.param(flow(run_count=1, start_time=EARLIER), st(S.PENDING), st(S.RUNNING, at=NOW),
                 lambda r, s: r.start_time == EARLIER, id="start-time-kept"),
    pytest.param(flow(run_count=1, empirical_policy=resuming()), st(S.PENDING),
                 st(S.RUNNING, at=NOW),
                 lambda r, s: r.run_count == 1 and not r.empirical_policy.resuming,
                 id="resuming-does-not-count"),
    pytest.param(flow(empirical_policy=resuming()), st(S.PAUSED), st(S.SCHEDULED, at=NOW),
                 lambda r, s: r.empirical_policy.resuming, id="resuming-kept-until-running"),
    pytest.param(flow(empirical_policy=resuming()), st(S.RUNNING), st(S.COMPLETED, at=NOW),
                 lambda r, s: not r.empirical_policy.resuming, id="resuming-removed-on-final"),
    pytest.param(flow(start_time=EARLIER), st(S.RUNNING), st(S.COMPLETED, at=NOW),
                 lambda r, s: r.end_time == NOW and r.total_run_time == NOW - EARLIER,
                 id="end-time-and-run-time"),
    pytest.param(flow(), st(S.PENDING), st(S.CANCELLED, at=NOW),
                 lambda r, s: r.start_time == NOW and r.end_time == NOW
                 and r.total_run_time == timedelta(0),
                 id="final-without-run-sets-start"),
    pytest.param(flow(start_time=EARLIER, end_time=EARLIER), st(S.FAILED),
                 st(S.COMPLETED, at=NOW), lambda r, s: r.end_time == EARLIER,
                 id="end-time-kept-between-finals"),
    pytest.param(flow(start_time=EARLIER, end_time=EARLIER), st(S.FAILED),
                 st(S.SCHEDULED, at=NOW), lambda r, s: r.end_time is None,
                 id="end-time-cleared-leaving-final"),
    pytest.param(flow(), st(S.PENDING), st(S.RUNNING, "Retrying", at=NOW),
                 lambda r, s: (r.state_type, r.state_name, r.state_timestamp)
                 == (S.RUNNING, "Retrying", NOW),
                 id="denormalized-state"),
]
# fmt: on


@pytest.mark.parametrize(("run", "initial", "state", "check"), FLOW_CASES)
def test_flow_transform(
    run: FlowRunSnapshot, initial: State | None, state: State, check: Check
) -> None:
    new_run, new_state_ = transform_flow_run(run, initial, state)
    assert check(new_run, new_state_)


def test_old_clients_ignore_resuming() -> None:
    run = flow(run_count=1, empirical_policy=resuming())
    new_run, _ = transform_flow_run(
        run, st(S.PENDING), st(S.RUNNING, at=NOW), api_version=(0, 8, 3)
    )
    assert new_run.run_count == 2
    assert new_run.empirical_policy.resuming


def test_task_transforms() -> None:
    run = TaskRunSnapshot(id=TASK_ID, flow_run_id=RUN_ID)
    run, running = transform_task_run(run, st(S.PENDING), st(S.RUNNING, at=NOW))
    assert (run.run_count, run.start_time) == (1, NOW)
    assert running.details.task_run_id == TASK_ID
    assert running.details.flow_run_id == RUN_ID
    run, _ = transform_task_run(run, running, st(S.COMPLETED, at=LATER))
    assert run.total_run_time == LATER - NOW
    assert run.end_time == LATER
    assert run.state_type is S.COMPLETED


def test_task_timestamps_are_not_bumped() -> None:
    run = TaskRunSnapshot(id=TASK_ID)
    _, state = transform_task_run(run, st(S.PENDING, at=NOW), st(S.RUNNING, at=NOW))
    assert state.timestamp == NOW


def test_transform_needs_timestamp() -> None:
    with pytest.raises(ValueError, match="timestamp"):
        transform_flow_run(flow(), None, new_state(S.PENDING))


def test_transform_tables_are_named_and_ordered() -> None:
    flow_names = [name for name, _ in FLOW_TRANSFORMS]
    assert flow_names.index("IncrementFlowRunCount") < flow_names.index("RemoveResumingIndicator")
    assert flow_names[-1] == "SetRunState"
    assert [name for name, _ in TASK_TRANSFORMS][-1] == "SetRunState"


def test_state_helpers() -> None:
    assert new_state(S.CANCELLING).name == "Cancelling"
    assert not new_state(S.COMPLETED, data={"type": "unpersisted"}).has_persisted_result
    assert new_state(S.COMPLETED, data={"storage_key": "k"}).has_persisted_result
    with pytest.raises(ValueError, match="timezone-aware"):
        new_state(S.PENDING, timestamp=datetime(2025, 1, 1))
    assert replace(new_state(S.RUNNING), name="").name == "Running"


def test_public_api_is_pinned() -> None:
    assert sorted(orchestration.__all__) == sorted(
        [
            "CORE_FLOW_RULES", "CORE_TASK_RULES", "MARK_LATE_FLOW_RULES", "MINIMAL_FLOW_RULES",
            "MINIMAL_TASK_RULES", "TERMINAL_TYPES", "Context", "Decision", "FlowRunFacts",
            "FlowRunPolicy", "FlowRunSnapshot", "ProposedState", "Rule", "RunSnapshot", "State",
            "StateDetails", "StateType", "Status", "TaskRunPolicy", "TaskRunSnapshot", "Verdict",
            "abort", "decide_flow_transition", "decide_task_transition", "default_name",
            "new_state", "proceed", "reject", "wait",
        ]
    )  # fmt: skip
    for name in orchestration.__all__:
        assert getattr(orchestration, name) is not None
