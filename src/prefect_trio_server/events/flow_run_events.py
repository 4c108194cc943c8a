"""The ``prefect.flow-run.<StateName>`` event for an accepted flow-run state.

Prefect clients do not emit flow-run state events: the server does, whenever it accepts a
flow-run state (protocol notes 2.a.2 and 7.6), and runners and workers watch them (for
cancellation, among others). :func:`flow_run_state_event` builds one from database rows, as a
pure function: it returns the event as JSON-ready data (``Event.model_validate`` takes it).

Shape, as Prefect 3.9.1 builds it:

* ``id`` = the new state's id, ``occurred`` = its timestamp, ``follows`` = the previous state's
  id when the two are less than five minutes apart (else null);
* resource ``prefect.flow-run.<id>`` with ``prefect.resource.name``, ``prefect.run-count``,
  ``prefect.state-message`` (truncated), ``prefect.state-name``, ``prefect.state-timestamp``,
  ``prefect.state-type``;
* related: ``flow``, and when given ``deployment``, ``work-queue``, ``work-pool`` (with
  ``prefect.work-pool.type``), the parent ``task-run``; then one ``tag`` per tag of all of
  these and the run (sorted); then the ``creator`` (a deployment or automation) if known;
* payload ``intended`` ``{from, to}`` (state types; ``from`` null for a first state),
  ``initial_state`` and ``validated_state`` as ``{type, name?, message?, pause_reschedule?}``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["TIGHT_TIMING", "TRUNCATE_STATE_MESSAGES_AT", "flow_run_state_event", "state_payload"]

TRUNCATE_STATE_MESSAGES_AT = 100_000
TIGHT_TIMING = dt.timedelta(minutes=5)


def _truncated(value: str | None, length: int = TRUNCATE_STATE_MESSAGES_AT) -> str:
    if not value:
        return ""
    if len(value) <= length:
        return value
    half = length // 2
    beginning, end = value[:half], value[-half:]
    omitted = len(value) - (len(beginning) + len(end))
    return f"{beginning}...{omitted} additional characters...{end}"


def _timestamp(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return str(value.astimezone(dt.UTC).isoformat())
    return str(value) if value is not None else None


def _details(state_row: Mapping[str, Any]) -> Mapping[str, Any]:
    details = state_row.get("state_details")
    return details if isinstance(details, Mapping) else {}


def state_payload(state_row: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The essential string parts of a state, for an event payload."""
    if state_row is None:
        return None
    payload = {"type": str(state_row["type"])}
    if state_row.get("name"):
        payload["name"] = str(state_row["name"])
    if state_row.get("message"):
        payload["message"] = _truncated(str(state_row["message"]))
    if state_row["type"] == "PAUSED":
        payload["pause_reschedule"] = str(bool(_details(state_row).get("pause_reschedule"))).lower()
    return payload


def _tags(row: Mapping[str, Any] | None) -> list[str]:
    if row is None:
        return []
    tags = row.get("tags")
    return [str(tag) for tag in tags] if isinstance(tags, list | tuple) else []


def _related(kind: str, row: Mapping[str, Any], **extra: str) -> dict[str, str]:
    return {
        "prefect.resource.id": f"prefect.{kind}.{row['id']}",
        "prefect.resource.role": kind,
        "prefect.resource.name": str(row.get("name") or ""),
        **extra,
    }


def _creator(created_by: Any) -> list[dict[str, str]]:
    if not isinstance(created_by, Mapping) or not created_by.get("id"):
        return []
    kinds = {"DEPLOYMENT": "deployment", "AUTOMATION": "automation"}
    kind = kinds.get(str(created_by.get("type") or "").upper())
    if kind is None:
        return []
    related = {
        "prefect.resource.id": f"prefect.{kind}.{created_by['id']}",
        "prefect.resource.role": "creator",
    }
    if created_by.get("display_value"):
        related["prefect.resource.name"] = str(created_by["display_value"])
    return [related]


def flow_run_state_event(
    run_row: Mapping[str, Any],
    state_row: Mapping[str, Any],
    previous_state_row: Mapping[str, Any] | None,
    flow_row: Mapping[str, Any] | None,
    *,
    now: dt.datetime,
    deployment_row: Mapping[str, Any] | None = None,
    work_queue_row: Mapping[str, Any] | None = None,
    work_pool_row: Mapping[str, Any] | None = None,
    parent_task_run_row: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The event for ``run_row`` entering ``state_row`` (from ``previous_state_row``).

    ``run_row`` is the flow run as updated by the transition (its ``run_count``);
    ``now`` stands in for a state without a timestamp.
    """
    occurred: dt.datetime = state_row.get("timestamp") or now
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=dt.UTC)
    state_name = str(state_row.get("name") or "")
    resource = {
        "prefect.resource.id": f"prefect.flow-run.{run_row['id']}",
        "prefect.resource.name": str(run_row.get("name") or ""),
        "prefect.run-count": str(run_row.get("run_count") or 0),
        "prefect.state-message": _truncated(state_row.get("message")),
        "prefect.state-name": state_name,
        "prefect.state-timestamp": _timestamp(occurred) or "",
        "prefect.state-type": str(state_row["type"]),
    }

    related: list[dict[str, str]] = []
    if flow_row is not None:
        related.append(_related("flow", flow_row))
    if deployment_row is not None:
        related.append(_related("deployment", deployment_row))
    if work_queue_row is not None:
        related.append(_related("work-queue", work_queue_row))
    if work_pool_row is not None:
        pool_type = str(work_pool_row.get("type") or "")
        related.append(
            _related("work-pool", work_pool_row, **{"prefect.work-pool.type": pool_type})
        )
    if parent_task_run_row is not None:
        related.append(_related("task-run", parent_task_run_row))
    tags: set[str] = set()
    for row in (run_row, flow_row, deployment_row, parent_task_run_row):
        tags.update(_tags(row))
    related += [
        {"prefect.resource.id": f"prefect.tag.{tag}", "prefect.resource.role": "tag"}
        for tag in sorted(tags)
    ]
    related += _creator(run_row.get("created_by"))

    follows: uuid.UUID | None = None
    if previous_state_row is not None:
        previous_time = previous_state_row.get("timestamp")
        if isinstance(previous_time, dt.datetime):
            if previous_time.tzinfo is None:
                previous_time = previous_time.replace(tzinfo=dt.UTC)
            if -TIGHT_TIMING < occurred - previous_time < TIGHT_TIMING:
                follows = previous_state_row["id"]

    return {
        "id": str(state_row["id"]),
        "occurred": _timestamp(occurred),
        "event": f"prefect.flow-run.{state_name}",
        "resource": resource,
        "related": related,
        "payload": {
            "intended": {
                "from": str(previous_state_row["type"]) if previous_state_row else None,
                "to": str(state_row["type"]),
            },
            "initial_state": state_payload(previous_state_row),
            "validated_state": state_payload(state_row),
        },
        "follows": str(follows) if follows is not None else None,
    }
