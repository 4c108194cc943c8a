"""Task-run orchestration policy (``POST /task_runs/{id}/set_state`` only).

Prefect 3 clients orchestrate tasks locally and report them through events; this policy
serves direct API use. Core policy, in priority order (FINAL = COMPLETED/FAILED/CANCELLED/
CRASHED; REJECT(current) keeps the current state):

==================================== ===================== ================================
rule                                 FROM -> TO            effect
==================================== ===================== ================================
HandleTaskTerminalStateTransitions   FINAL -> any          -> CANCELLING/PAUSED/CRASHED:
                                                           ABORT; COMPLETED with persisted
                                                           result: REJECT (current);
                                                           -> non-final: run_count = 0 [1];
                                                           -> RUNNING while the flow run is
                                                           retrying: rename "Retrying"
PreventRunningTasksFromStoppedFlows  any -> RUNNING        flow run PAUSED: REJECT ->
                                                           Paused "NotReady"; flow run not
                                                           RUNNING: ABORT
CopyScheduledTime                    SCHEDULED -> PENDING  scheduled_time into proposal
WaitForScheduledTime                 SCHEDULED/PENDING ->  scheduled_time in the future:
                                     RUNNING               WAIT until then
RetryFailedTasks                     RUNNING -> FAILED     run_count <= retries and not
                                                           retriable=False: REJECT ->
                                                           AwaitingRetry at now+retry_delay
                                                           (list: the run_count-th entry,
                                                           the last one beyond)
RenameReruns                         any -> RUNNING        run_count > 0: rename "Retrying"
                                                           (from AwaitingRetry) or
                                                           "Rerunning"
UpdateFlowRunTrackerOnTasks          any -> RUNNING        flow_run_run_count = the flow
                                                           run's run_count [1]
==================================== ===================== ================================

[1] undone when the transition does not go through (fizzles).

``force=True`` runs no rule (Prefect's minimal task policy only releases concurrency
slots); the global transforms always run.

Left out, because they need the database or randomness: CacheRetrieval and CacheInsertion
(the ``task_run_state_cache`` table; 3.x caching is client-side anyway),
SecureTaskConcurrencySlots and ReleaseTaskConcurrencySlots (tag concurrency leases),
``retry_jitter_factor`` (random jitter on the retry delay). A later pure rule can read a
precomputed fact from ``TaskRunSnapshot.facts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from .decision import (
    ApiVersion,
    Context,
    Decision,
    Rule,
    Verdict,
    abort,
    apply_rules,
    check_now,
    make_decision,
    proceed,
    reject,
    seconds_until,
    stamp,
    wait,
)
from .runs import TaskRunPolicy, TaskRunSnapshot
from .states import ALL_OR_NONE, ALL_TYPES, TERMINAL_TYPES, State, StateType, new_state
from .transforms import transform_task_run

S = StateType
Ctx = Context[TaskRunSnapshot]
TaskVerdict = Verdict[TaskRunSnapshot] | None
TaskRule = Rule[TaskRunSnapshot]


def handle_terminal_transitions(ctx: Ctx) -> TaskVerdict:
    initial, proposed, run = ctx.initial, ctx.proposed, ctx.run
    assert initial is not None
    if proposed.type in {S.CANCELLING, S.PAUSED, S.CRASHED}:
        return abort(f"Run is already in terminal state {initial.type.value}.")
    if initial.type is S.COMPLETED and initial.has_persisted_result:
        return reject(None, "This run is already completed.")
    new_run = run if proposed.is_final else replace(run, run_count=0)
    flow = run.flow_run
    if proposed.type is S.RUNNING and flow is not None and run.flow_run_run_count < flow.run_count:
        proposed = replace(proposed, name="Retrying")
    return proceed(proposed, run=new_run, revert_if_invalid=True)


def prevent_running_from_stopped_flows(ctx: Ctx) -> TaskVerdict:
    flow = ctx.run.flow_run
    if flow is None or flow.state_type is S.RUNNING:
        return None
    if flow.state_type is S.PAUSED:
        not_ready = new_state(
            S.PAUSED,
            "NotReady",
            timestamp=ctx.now,
            pause_timeout=flow.pause_timeout,
            pause_reschedule=flow.pause_reschedule,
        )
        return reject(
            not_ready,
            f"The flow is paused, new tasks can execute after resuming flow run: "
            f"{ctx.run.flow_run_id}.",
        )
    return abort("The enclosing flow must be running to begin task execution.")


def copy_scheduled_time(ctx: Ctx) -> TaskVerdict:
    assert ctx.initial is not None
    scheduled = ctx.initial.details.scheduled_time
    if ctx.proposed.details.scheduled_time is not None or scheduled is None:
        return None
    return proceed(ctx.proposed.with_details(scheduled_time=scheduled))


def wait_for_scheduled_time(ctx: Ctx) -> TaskVerdict:
    assert ctx.initial is not None
    scheduled = ctx.initial.details.scheduled_time
    delay = 0 if scheduled is None else seconds_until(scheduled, ctx.now)
    return wait(delay, "Scheduled time is in the future") if delay > 0 else None


def retry_delay_seconds(policy: TaskRunPolicy, run_count: int) -> float:
    """The delay before retry number ``run_count`` (1-based) from a number or a list."""
    delay = policy.retry_delay
    if delay is None:
        return 0.0
    if isinstance(delay, tuple):
        if not delay:
            return 0.0
        return delay[min(max(run_count, 1), len(delay)) - 1]
    return delay


def retry_failed_tasks(ctx: Ctx) -> TaskVerdict:
    run, proposed = ctx.run, ctx.proposed
    retries = run.empirical_policy.retries
    if retries is None or run.run_count > retries or proposed.details.retriable is False:
        return None
    delay = retry_delay_seconds(run.empirical_policy, run.run_count)
    awaiting = new_state(
        S.SCHEDULED,
        "AwaitingRetry",
        timestamp=ctx.now,
        message=proposed.message,
        data=proposed.data,
        scheduled_time=ctx.now + timedelta(seconds=delay),
    )
    return reject(awaiting, "Retrying")


def rename_reruns(ctx: Ctx) -> TaskVerdict:
    if ctx.initial is None or ctx.run.run_count <= 0:
        return None
    name = "Retrying" if ctx.initial.name == "AwaitingRetry" else "Rerunning"
    return proceed(replace(ctx.proposed, name=name))


def update_flow_run_tracker(ctx: Ctx) -> TaskVerdict:
    flow = ctx.run.flow_run
    if flow is None or ctx.run.flow_run_run_count == flow.run_count:
        return None
    run = replace(ctx.run, flow_run_run_count=flow.run_count)
    return proceed(run=run, revert_if_invalid=True)


_RUNNING = frozenset({S.RUNNING})

#: CoreTaskPolicy, in priority order.
CORE_TASK_RULES: tuple[TaskRule, ...] = (
    TaskRule(
        "HandleTaskTerminalStateTransitions",
        frozenset[StateType | None](TERMINAL_TYPES),
        ALL_TYPES,
        handle_terminal_transitions,
    ),
    TaskRule(
        "PreventRunningTasksFromStoppedFlows",
        ALL_OR_NONE,
        _RUNNING,
        prevent_running_from_stopped_flows,
    ),
    TaskRule(
        "CopyScheduledTime", frozenset({S.SCHEDULED}), frozenset({S.PENDING}), copy_scheduled_time
    ),
    TaskRule(
        "WaitForScheduledTime",
        frozenset({S.SCHEDULED, S.PENDING}),
        _RUNNING,
        wait_for_scheduled_time,
    ),
    TaskRule("RetryFailedTasks", frozenset({S.RUNNING}), frozenset({S.FAILED}), retry_failed_tasks),
    TaskRule("RenameReruns", ALL_OR_NONE, _RUNNING, rename_reruns),
    TaskRule("UpdateFlowRunTrackerOnTasks", ALL_OR_NONE, _RUNNING, update_flow_run_tracker),
)

#: The minimal task policy (``force=True``): no pure rule remains.
MINIMAL_TASK_RULES: tuple[TaskRule, ...] = ()


def decide_task_transition(
    run: TaskRunSnapshot,
    current: State | None,
    proposed: State,
    *,
    now: datetime,
    force: bool = False,
    api_version: ApiVersion | None = None,
    rules: Sequence[TaskRule] | None = None,
) -> Decision[TaskRunSnapshot]:
    """Decide a task-run state proposal: policy rules, then the global transforms.

    ``rules`` overrides the policy chosen by ``force``. A proposal without a timestamp is
    stamped with ``now``. Pure: no I/O, no clock reads.
    """
    check_now(now)
    if rules is None:
        rules = MINIMAL_TASK_RULES if force else CORE_TASK_RULES
    ctx = Context(run, current, stamp(proposed, now), now, api_version)
    outcome = apply_rules(rules, ctx)
    if outcome.state is None:
        return make_decision(run, outcome, None, outcome.run)
    new_run, state = transform_task_run(
        outcome.run, current, stamp(outcome.state, now), api_version=api_version
    )
    return make_decision(run, outcome, state, new_run)
