"""Global transforms: the bookkeeping every written state gets, after the policy's rules.

They run on the state that will be written (the accepted proposal or a REJECT's
replacement) and are skipped when nothing is written (WAIT, ABORT, REJECT to the current
state). In order:

=========================== ======= ====================================================
transform                   runs    effect
=========================== ======= ====================================================
UniqueTimestamp             flows   timestamp <= current state's -> current + 1 us
UpdateSubflowStateDetails   flows   subflow: state_details.task_run_id = parent_task_run_id
UpdateStateDetails          both    state_details.flow_run_id (and task_run_id for tasks)
IncrementFlowRunCount       flows   -> RUNNING: run_count += 1 unless policy.resuming [1]
RemoveResumingIndicator     flows   -> RUNNING or final: policy.resuming = False [1]
IncrementTaskRunCount       tasks   -> RUNNING: run_count += 1
SetStartTime                both    -> RUNNING, no start_time: start_time = timestamp
SetEndTime                  both    -> final: end_time (and start_time) if unset;
                                    final -> non-final: end_time = None
IncrementRunTime            both    RUNNING -> any: total_run_time += new ts - current ts
SetExpectedStartTime        both    unset: scheduled_time for SCHEDULED, else timestamp
SetNextScheduledStartTime   both    SCHEDULED: scheduled_time, else None
SetRunState                 both    state_type, state_name, state_timestamp denormalized
=========================== ======= ====================================================

[1] only for clients with API version >= 0.8.4 (or no version header).

Left out (need the database, done by the use-case layer after the write):
UpdateSubflowParentTask (force the same state onto the subflow's tracking task run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from .decision import ONE_MICROSECOND, ApiVersion, is_modern_client
from .runs import FlowRunSnapshot, RunSnapshot, TaskRunSnapshot
from .states import State, StateType

R = TypeVar("R", bound=RunSnapshot)


@dataclass(frozen=True, slots=True)
class Step:
    """Input of a transform: the current state, and the API version of the client."""

    initial: State | None
    api_version: ApiVersion | None


Transform = Callable[[R, State, Step], tuple[R, State]]


# -- flows only ---------------------------------------------------------------------------


def unique_timestamp(run: R, state: State, step: Step) -> tuple[R, State]:
    assert state.timestamp is not None
    previous = step.initial.timestamp if step.initial is not None else None
    if previous is not None and state.timestamp <= previous:
        state = replace(state, timestamp=previous + ONE_MICROSECOND)
    return run, state


def update_subflow_state_details(
    run: FlowRunSnapshot, state: State, step: Step
) -> tuple[FlowRunSnapshot, State]:
    if run.parent_task_run_id is not None:
        state = state.with_details(task_run_id=run.parent_task_run_id)
    return run, state


def update_flow_state_details(
    run: FlowRunSnapshot, state: State, step: Step
) -> tuple[FlowRunSnapshot, State]:
    return run, state.with_details(flow_run_id=run.id)


def increment_flow_run_count(
    run: FlowRunSnapshot, state: State, step: Step
) -> tuple[FlowRunSnapshot, State]:
    if state.type is not StateType.RUNNING:
        return run, state
    if is_modern_client(step.api_version) and run.empirical_policy.resuming:
        return run, state
    return replace(run, run_count=run.run_count + 1), state


def remove_resuming_indicator(
    run: FlowRunSnapshot, state: State, step: Step
) -> tuple[FlowRunSnapshot, State]:
    policy = run.empirical_policy
    if not is_modern_client(step.api_version) or not policy.resuming:
        return run, state
    if state.type is StateType.RUNNING or state.is_final:
        run = replace(run, empirical_policy=replace(policy, resuming=False))
    return run, state


# -- tasks only ---------------------------------------------------------------------------


def update_task_state_details(
    run: TaskRunSnapshot, state: State, step: Step
) -> tuple[TaskRunSnapshot, State]:
    return run, state.with_details(task_run_id=run.id, flow_run_id=run.flow_run_id)


def increment_task_run_count(
    run: TaskRunSnapshot, state: State, step: Step
) -> tuple[TaskRunSnapshot, State]:
    if state.type is StateType.RUNNING:
        run = replace(run, run_count=run.run_count + 1)
    return run, state


# -- both ---------------------------------------------------------------------------------


def set_start_time(run: R, state: State, step: Step) -> tuple[R, State]:
    if state.type is StateType.RUNNING and run.start_time is None:
        run = replace(run, start_time=state.timestamp)
    return run, state


def set_end_time(run: R, state: State, step: Step) -> tuple[R, State]:
    if state.is_final:
        if run.start_time is None:
            run = replace(run, start_time=state.timestamp)
        if run.end_time is None:
            run = replace(run, end_time=state.timestamp)
    elif step.initial is not None and step.initial.is_final:
        run = replace(run, end_time=None)
    return run, state


def increment_run_time(run: R, state: State, step: Step) -> tuple[R, State]:
    initial = step.initial
    if initial is None or initial.type is not StateType.RUNNING:
        return run, state
    assert state.timestamp is not None
    if initial.timestamp is not None:
        run = replace(
            run, total_run_time=run.total_run_time + (state.timestamp - initial.timestamp)
        )
    return run, state


def set_expected_start_time(run: R, state: State, step: Step) -> tuple[R, State]:
    if run.expected_start_time is None:
        expected = state.timestamp
        if state.type is StateType.SCHEDULED and state.details.scheduled_time is not None:
            expected = state.details.scheduled_time
        run = replace(run, expected_start_time=expected)
    return run, state


def set_next_scheduled_start_time(run: R, state: State, step: Step) -> tuple[R, State]:
    scheduled = state.details.scheduled_time if state.type is StateType.SCHEDULED else None
    return replace(run, next_scheduled_start_time=scheduled), state


def set_run_state(run: R, state: State, step: Step) -> tuple[R, State]:
    run = replace(
        run, state_type=state.type, state_name=state.name, state_timestamp=state.timestamp
    )
    return run, state


FLOW_TRANSFORMS: tuple[tuple[str, Transform[FlowRunSnapshot]], ...] = (
    ("UniqueTimestamp", unique_timestamp),
    ("UpdateSubflowStateDetails", update_subflow_state_details),
    ("UpdateStateDetails", update_flow_state_details),
    ("IncrementFlowRunCount", increment_flow_run_count),
    ("RemoveResumingIndicator", remove_resuming_indicator),
    ("SetStartTime", set_start_time),
    ("SetEndTime", set_end_time),
    ("IncrementRunTime", increment_run_time),
    ("SetExpectedStartTime", set_expected_start_time),
    ("SetNextScheduledStartTime", set_next_scheduled_start_time),
    ("SetRunState", set_run_state),
)

TASK_TRANSFORMS: tuple[tuple[str, Transform[TaskRunSnapshot]], ...] = (
    ("UpdateStateDetails", update_task_state_details),
    ("IncrementTaskRunCount", increment_task_run_count),
    ("SetStartTime", set_start_time),
    ("SetEndTime", set_end_time),
    ("IncrementRunTime", increment_run_time),
    ("SetExpectedStartTime", set_expected_start_time),
    ("SetNextScheduledStartTime", set_next_scheduled_start_time),
    ("SetRunState", set_run_state),
)


def apply_transforms(
    transforms: tuple[tuple[str, Transform[R]], ...],
    run: R,
    initial: State | None,
    state: State,
    *,
    api_version: ApiVersion | None = None,
) -> tuple[R, State]:
    """Run ``transforms`` in order on the state to be written and the run."""
    if state.timestamp is None:
        raise ValueError("the state to write must carry a timestamp")
    step = Step(initial, api_version)
    for _name, transform in transforms:
        run, state = transform(run, state, step)
    return run, state


def transform_flow_run(
    run: FlowRunSnapshot,
    initial: State | None,
    state: State,
    *,
    api_version: ApiVersion | None = None,
) -> tuple[FlowRunSnapshot, State]:
    """The flow-run global transforms (see the table above)."""
    return apply_transforms(FLOW_TRANSFORMS, run, initial, state, api_version=api_version)


def transform_task_run(
    run: TaskRunSnapshot,
    initial: State | None,
    state: State,
    *,
    api_version: ApiVersion | None = None,
) -> tuple[TaskRunSnapshot, State]:
    """The task-run global transforms (see the table above)."""
    return apply_transforms(TASK_TRANSFORMS, run, initial, state, api_version=api_version)
