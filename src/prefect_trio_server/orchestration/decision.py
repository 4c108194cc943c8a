"""The rule engine: rules as data, verdicts, and the decision a policy returns.

Mechanics (Prefect's, reproduced behaviourally):

* A ``Rule`` names the FROM types (``None`` = the run has no state yet) and TO types it
  applies to. Rules are selected by the *original* (current type, proposed type) pair and
  run in the order of their policy's table.
* A rule returns ``None`` (no opinion) or a ``Verdict``: proceed (optionally with a renamed
  or amended proposal), REJECT (a replacement state, or ``None`` = keep the current state),
  WAIT (``delay_seconds``), or ABORT. A verdict may also carry an updated run snapshot.
* Fizzle: once the proposal is gone (WAIT, ABORT, REJECT to nothing) or its type differs from
  the original proposed type, every later rule is skipped, and run changes made with
  ``revert_if_invalid=True`` are undone (Prefect's ``cleanup``).
* An exception inside a rule gives ABORT "Aborting orchestration due to error in <rule>"
  and discards every run change.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from .runs import RunSnapshot
from .states import State, StateType

R = TypeVar("R", bound=RunSnapshot)

ApiVersion = tuple[int, int, int]


def is_modern_client(api_version: ApiVersion | None) -> bool:
    """Client API version absent or >= 0.8.4 (the gate Prefect uses for pause/retry fields)."""
    return api_version is None or api_version >= (0, 8, 4)


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds (rounded up) from ``now`` to ``moment``; 0 when it has passed."""
    delta = (moment - now).total_seconds()
    return math.ceil(delta) if delta > 0 else 0


class Status(enum.StrEnum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    WAIT = "WAIT"
    ABORT = "ABORT"


@dataclass(frozen=True)
class Context(Generic[R]):
    """What a rule sees: the run (as updated by earlier rules), both states, ``now``."""

    run: R
    initial: State | None
    proposed: State
    now: datetime
    api_version: ApiVersion | None = None

    @property
    def initial_type(self) -> StateType | None:
        return None if self.initial is None else self.initial.type


@dataclass(frozen=True, kw_only=True)
class Verdict(Generic[R]):
    """A rule's answer; build it with ``proceed``/``reject``/``wait``/``abort``."""

    status: Status = Status.ACCEPT
    state: State | None = None
    reason: str | None = None
    delay_seconds: int | None = None
    run: R | None = None
    revert_if_invalid: bool = False


def proceed(
    state: State | None = None, *, run: R | None = None, revert_if_invalid: bool = False
) -> Verdict[R]:
    """Let the transition go on, with an amended proposal and/or updated run."""
    return Verdict(state=state, run=run, revert_if_invalid=revert_if_invalid)


def reject(state: State | None, reason: str, *, run: R | None = None) -> Verdict[R]:
    """Replace the proposal with ``state`` (None: the current state stays)."""
    return Verdict(status=Status.REJECT, state=state, reason=reason, run=run)


def wait(delay_seconds: int, reason: str) -> Verdict[R]:
    """Write nothing; the client should retry in ``delay_seconds``."""
    return Verdict(status=Status.WAIT, reason=reason, delay_seconds=delay_seconds)


def abort(reason: str) -> Verdict[R]:
    """Write nothing; the client should give up on this run."""
    return Verdict(status=Status.ABORT, reason=reason)


@dataclass(frozen=True)
class Rule(Generic[R]):
    """One row of a policy table."""

    name: str
    from_types: frozenset[StateType | None]
    to_types: frozenset[StateType]
    apply: Callable[[Context[R]], Verdict[R] | None]

    def matches(self, from_type: StateType | None, to_type: StateType) -> bool:
        return from_type in self.from_types and to_type in self.to_types


@dataclass(frozen=True)
class RulesOutcome(Generic[R]):
    """The result of running a rule table, before the global transforms."""

    status: Status
    state: State | None
    run: R
    reason: str | None = None
    delay_seconds: int | None = None


def apply_rules(rules: Sequence[Rule[R]], ctx: Context[R]) -> RulesOutcome[R]:
    """Run the rules of ``rules`` that match the transition, with fizzle semantics."""
    original_to = ctx.proposed.type
    selected = [r for r in rules if r.matches(ctx.initial_type, original_to)]
    run = ctx.run
    proposed: State | None = ctx.proposed
    status, reason, delay = Status.ACCEPT, None, None
    undo: list[dict[str, Any]] = []
    current = ctx  # what the next rule sees: a new context only when something changed
    for rule in selected:
        if proposed is None or proposed.type != original_to:
            break
        if run is not current.run or proposed is not current.proposed:
            current = replace(ctx, run=run, proposed=proposed)
        try:
            verdict = rule.apply(current)
        except Exception as exc:
            return RulesOutcome(
                Status.ABORT,
                None,
                ctx.run,
                reason=f"Aborting orchestration due to error in {rule.name}: {exc!r}",
            )
        if verdict is None:
            continue
        if verdict.run is not None:
            if verdict.revert_if_invalid:
                undo.append({k: getattr(run, k) for k in changed_fields(run, verdict.run)})
            run = verdict.run
        if verdict.status is Status.ACCEPT:
            proposed = verdict.state or proposed
            continue
        status, reason, delay = verdict.status, verdict.reason, verdict.delay_seconds
        proposed = verdict.state if verdict.status is Status.REJECT else None
    if proposed is None or proposed.type != original_to:
        for saved in reversed(undo):
            run = replace(run, **saved)
    return RulesOutcome(status, proposed, run, reason, delay)


def changed_fields(before: RunSnapshot, after: RunSnapshot) -> list[str]:
    """Names of the dataclass fields whose values differ between two snapshots."""
    return [f.name for f in fields(before) if getattr(before, f.name) != getattr(after, f.name)]


@dataclass(frozen=True)
class Decision(Generic[R]):
    """What a policy decided, ready for the writer and for the response.

    * ``status``: ACCEPT, REJECT, WAIT or ABORT.
    * ``state``: the state to write (ACCEPT: the validated proposal; REJECT: the replacement),
      or None when nothing is written (WAIT, ABORT, REJECT keeping the current state): the
      response then carries the current state, see ``response_state``.
    * ``run``: the run after the decision; ``updates``: only the fields that changed.
    """

    status: Status
    state: State | None
    run: R
    updates: Mapping[str, object]
    reason: str | None = None
    delay_seconds: int | None = None

    @property
    def written(self) -> bool:
        """A new state row is written (HTTP 201 rather than 200)."""
        return self.state is not None

    @property
    def details(self) -> dict[str, object]:
        """The ``details`` object of Prefect's OrchestrationResult."""
        if self.status is Status.ACCEPT:
            return {"type": "accept_details"}
        if self.status is Status.WAIT:
            return {
                "type": "wait_details",
                "delay_seconds": self.delay_seconds or 0,
                "reason": self.reason,
            }
        kind = "reject_details" if self.status is Status.REJECT else "abort_details"
        return {"type": kind, "reason": self.reason}

    def response_state(self, current: State | None) -> State | None:
        """The state the response carries: the written one, else the current one."""
        return self.state if self.state is not None else current


def make_decision(
    original: R, outcome: RulesOutcome[R], state: State | None, run: R
) -> Decision[R]:
    """Assemble a ``Decision`` from a rules outcome and the transformed state and run."""
    updates = {k: getattr(run, k) for k in changed_fields(original, run)}
    return Decision(outcome.status, state, run, updates, outcome.reason, outcome.delay_seconds)


def stamp(state: State, now: datetime) -> State:
    """Give a proposal the server's ``now`` when it carries no timestamp."""
    return state if state.timestamp is not None else replace(state, timestamp=now)


def check_now(now: datetime) -> None:
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


ONE_MICROSECOND = timedelta(microseconds=1)
