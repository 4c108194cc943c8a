"""The wire models against Prefect 3.9.1's OpenAPI components, plus their behaviour."""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from prefect_trio_server.schemas import actions, core, filters, sorting, states
from prefect_trio_server.schemas.actions import (
    FlowCreate,
    FlowRunCreate,
    FlowRunUpdate,
    LogCreate,
    TaskRunCreate,
)
from prefect_trio_server.schemas.base import (
    ActionModel,
    DateTime,
    FilterModel,
    ObjectModel,
    OperatorFilter,
)
from prefect_trio_server.schemas.core import Flow, FlowRun, Log, TaskRun
from prefect_trio_server.schemas.filters import (
    FlowFilter,
    FlowRunFilter,
    LogFilter,
    Operator,
    TaskRunFilter,
)
from prefect_trio_server.schemas.sorting import FlowRunSort
from prefect_trio_server.schemas.states import (
    OrchestrationResult,
    SetStateStatus,
    State,
    StateAcceptDetails,
    StateCreate,
    StateType,
    StateWaitDetails,
)

REFERENCE = Path(__file__).parents[3] / "shared/reference/prefect-3.9.1-openapi.json"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MODULES = (states, core, actions, filters, sorting)
# Our own bases, which have no counterpart in the reference.
NOT_IN_REFERENCE = {"FilterModel", "OperatorFilter"}

NOW = dt.datetime(2026, 11, 24, 22, 37, 32, 333119, tzinfo=dt.UTC)


def _exported() -> dict[str, type[BaseModel] | type[enum.Enum]]:
    found: dict[str, type[BaseModel] | type[enum.Enum]] = {}
    for module in MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, BaseModel | enum.Enum):
                found[name] = obj
    return found


EXPORTED = _exported()
MODEL_NAMES = sorted(
    name
    for name, obj in EXPORTED.items()
    if issubclass(obj, BaseModel) and name not in NOT_IN_REFERENCE
)
ENUM_NAMES = sorted(name for name, obj in EXPORTED.items() if issubclass(obj, enum.Enum))


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    if not REFERENCE.is_file():
        if IN_CI:
            pytest.fail(f"reference OpenAPI file missing: {REFERENCE}")
        pytest.skip(f"reference OpenAPI file not available: {REFERENCE}")
    components: dict[str, Any] = json.loads(REFERENCE.read_text())["components"]["schemas"]
    return components


def _model(name: str) -> type[BaseModel]:
    obj = EXPORTED[name]
    assert issubclass(obj, BaseModel)
    return obj


def _signature(prop: dict[str, Any]) -> frozenset[str]:
    """A comparable summary of a property's JSON schema type (refs by component name)."""
    if "$ref" in prop:
        return frozenset({"ref:" + prop["$ref"].rsplit("/", 1)[-1]})
    if "anyOf" in prop:
        return frozenset().union(*(_signature(member) for member in prop["anyOf"]))
    if "allOf" in prop and len(prop["allOf"]) == 1:
        return _signature(prop["allOf"][0])
    if "const" in prop:
        return frozenset({f"const:{prop['const']}"})
    if "enum" in prop:
        return frozenset({"enum:" + ",".join(map(str, prop["enum"]))})
    kind = prop.get("type")
    if kind is None:
        return frozenset({"any"})
    if kind == "array":
        return frozenset({"array[" + ",".join(sorted(_signature(prop.get("items", {})))) + "]"})
    if kind == "object":
        extra = prop.get("additionalProperties")
        inner = ",".join(sorted(_signature(extra))) if isinstance(extra, dict) else str(extra)
        return frozenset({f"object[{inner}]"})
    return frozenset({kind + (":" + prop["format"] if "format" in prop else "")})


# ---------------------------------------------------------------------- against the reference


def test_every_reference_component_we_model_exists(reference: dict[str, Any]) -> None:
    missing = [name for name in MODEL_NAMES + ENUM_NAMES if name not in reference]
    assert missing == []
    # The core set the brief asks for is really there.
    for name in ("Flow", "FlowRun", "TaskRun", "Log", "State", "OrchestrationResult"):
        assert name in MODEL_NAMES


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_properties_and_required_match(reference: dict[str, Any], name: str) -> None:
    ours = _model(name).model_json_schema()
    theirs = reference[name]
    assert set(ours["properties"]) == set(theirs["properties"])
    assert set(ours.get("required", [])) == set(theirs.get("required", []))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_property_types_and_constraints_match(reference: dict[str, Any], name: str) -> None:
    ours = _model(name).model_json_schema()["properties"]
    for field, theirs in reference[name]["properties"].items():
        mine = ours[field]
        assert _signature(mine) == _signature(theirs), field
        if "default" in theirs:
            assert mine.get("default") == theirs["default"], field
        else:  # the reference leaves out null defaults
            assert mine.get("default") is None, field
        for keyword in ("pattern", "maxLength", "deprecated"):
            assert mine.get(keyword) == theirs.get(keyword), (field, keyword)


@pytest.mark.parametrize("name", ENUM_NAMES)
def test_enum_values_match(reference: dict[str, Any], name: str) -> None:
    enum_type = EXPORTED[name]
    assert issubclass(enum_type, enum.Enum)
    assert [member.value for member in enum_type] == reference[name]["enum"]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_extra_field_policy(reference: dict[str, Any], name: str) -> None:
    """Deliberate difference: actions ignore extras (reference forbids); filters forbid too."""
    model = _model(name)
    ours = model.model_json_schema().get("additionalProperties")
    if issubclass(model, ActionModel):
        assert reference[name].get("additionalProperties") is False
        assert ours is None
    elif issubclass(model, FilterModel):
        assert reference[name].get("additionalProperties") is False
        assert ours is False
    else:
        assert reference[name].get("additionalProperties") is None
        assert ours is None


# --------------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (FlowCreate, {"name": "my-flow"}),
        (FlowRunCreate, {"flow_id": str(uuid.uuid4())}),
        (FlowRunUpdate, {}),
        (TaskRunCreate, {"task_key": "k", "dynamic_key": "0"}),
        (LogCreate, {"name": "l", "level": 20, "message": "m", "timestamp": "2026-01-01T00:00Z"}),
        (StateCreate, {"type": "RUNNING"}),
    ],
)
def test_actions_ignore_unknown_fields(model: type[ActionModel], body: dict[str, Any]) -> None:
    parsed = model.model_validate({**body, "field_from_the_future": {"x": 1}})
    assert "field_from_the_future" not in parsed.model_dump()
    assert not hasattr(parsed, "field_from_the_future")


def test_nested_state_ignores_unknown_fields() -> None:
    body = {
        "flow_id": str(uuid.uuid4()),
        "state": {"type": "PENDING", "new": 1, "state_details": {"newer": True}},
    }
    run = FlowRunCreate.model_validate(body)
    assert run.state is not None
    assert run.state.type is StateType.PENDING


def test_update_changes_only_has_sent_fields() -> None:
    assert FlowRunUpdate.model_validate({"name": "x", "junk": 1}).changes() == {"name": "x"}


def test_datetimes_are_serialised_in_utc_with_z() -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    flow = Flow(
        id=uuid.uuid4(),
        created=dt.datetime(2026, 1, 1, 14, 0, tzinfo=plus_two),
        updated=dt.datetime(2026, 1, 1, 12, 0, 0, 5),  # naive: taken as UTC
        name="f",
    )
    dumped = json.loads(flow.model_dump_json())
    assert dumped["created"] == "2026-01-01T12:00:00Z"
    assert dumped["updated"] == "2026-01-01T12:00:00.000005Z"
    assert flow.model_dump(mode="json")["created"] == "2026-01-01T12:00:00Z"
    # In Python mode they stay aware datetimes.
    assert flow.model_dump()["created"] == dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    # Nested datetimes too.
    state = State(id=uuid.uuid4(), type=StateType.SCHEDULED, timestamp=NOW)
    state.state_details.scheduled_time = NOW
    dumped_state = json.loads(state.model_dump_json())
    assert dumped_state["timestamp"] == "2026-11-24T22:37:32.333119Z"
    assert dumped_state["state_details"]["scheduled_time"] == "2026-11-24T22:37:32.333119Z"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-24 22:37:32.333119+00:00",
        "2026-11-24T22:37:32.333119Z",
        "2026-11-24T23:37:32.333119+01:00",
        "2026-11-24 22:37:32.333119",
        "2026-11-24T22:37:32.333119",
    ],
)
def test_datetime_inputs_accepted_and_normalised(text: str) -> None:
    value = TypeAdapter(DateTime).validate_python(text)
    assert value == NOW
    assert value.tzinfo is dt.UTC
    assert TypeAdapter(DateTime).validate_json(json.dumps(text)) == NOW
    log_filter = LogFilter.model_validate({"timestamp": {"before_": text}})
    assert log_filter.timestamp is not None
    assert log_filter.timestamp.before_ == NOW


def test_datetime_json_schema_is_date_time() -> None:
    for mode in ("validation", "serialization"):
        schema = TypeAdapter(DateTime).json_schema(mode=mode)
        assert schema == {"type": "string", "format": "date-time"}


def test_response_models_require_and_always_emit_id_created_updated() -> None:
    with pytest.raises(ValidationError) as info:
        Log.model_validate({"name": "l", "level": 10, "message": "m", "timestamp": NOW})
    missing = {error["loc"][0] for error in info.value.errors() if error["type"] == "missing"}
    assert missing == {"id", "created", "updated"}
    run = FlowRun(id=uuid.uuid4(), created=None, updated=None, flow_id=uuid.uuid4())
    dumped = json.loads(run.model_dump_json())
    assert {"id", "created", "updated"} <= dumped.keys()
    assert dumped["created"] is None
    assert dumped["name"]  # a generated slug
    assert dumped["empirical_policy"]["pause_keys"] == []
    assert issubclass(FlowRun, ObjectModel)
    assert issubclass(TaskRun, ObjectModel)


def test_filters_nest_and_validate() -> None:
    run_id = uuid.uuid4()
    parsed = FlowRunFilter.model_validate(
        {
            "operator": "or_",
            "id": {"any_": [str(run_id)]},
            "state": {
                "operator": "and_",
                "type": {"any_": ["SCHEDULED", "PENDING"], "not_any_": ["CRASHED"]},
                "name": {"not_any_": ["Late"]},
            },
            "tags": {"all_": ["a"], "is_null_": False},
            "created_by": {"type_": ["DEPLOYMENT"]},
            "next_scheduled_start_time": {"before_": "2026-11-24 22:37:32.333119+00:00"},
        }
    )
    assert parsed.operator is Operator.or_
    assert parsed.id is not None
    assert parsed.id.any_ == [run_id]
    assert parsed.state is not None
    assert parsed.state.type is not None
    assert parsed.state.type.any_ == [StateType.SCHEDULED, StateType.PENDING]
    assert parsed.next_scheduled_start_time is not None
    assert parsed.next_scheduled_start_time.before_ == NOW
    assert parsed.name is None
    assert isinstance(parsed.state, OperatorFilter)
    # Defaults: empty filters are valid and combine with and_.
    assert FlowFilter().operator is Operator.and_
    empty_task_filter = TaskRunFilter.model_validate({"flow_run_id": {}})
    assert empty_task_filter.flow_run_id is not None
    assert empty_task_filter.flow_run_id.is_null_ is False


def test_filters_reject_unknown_criteria() -> None:
    with pytest.raises(ValidationError) as info:
        FlowRunFilter.model_validate({"state": {"type": {"some_": ["RUNNING"]}}})
    assert info.value.errors()[0]["loc"] == ("state", "type", "some_")


def test_log_text_search_is_limited() -> None:
    assert LogFilter.model_validate({"text": {"query": "error -debug"}}).text is not None
    with pytest.raises(ValidationError):
        LogFilter.model_validate({"text": {"query": "x" * 201}})
    with pytest.raises(ValidationError):
        LogFilter.model_validate({"text": {}})


@pytest.mark.parametrize(
    ("model", "body", "loc"),
    [
        (StateCreate, {"type": "NOPE"}, ("type",)),
        (FlowRunFilter, {"state": {"type": {"any_": ["RUNNING", "NOPE"]}}}, None),
        (FlowFilter, {"operator": "xor_"}, ("operator",)),
        (
            FlowRunCreate,
            {"flow_id": str(uuid.uuid4()), "empirical_policy": {"retry_type": "later"}},
            ("empirical_policy", "retry_type"),
        ),
    ],
)
def test_bad_enum_value_names_the_field(
    model: type[BaseModel], body: dict[str, Any], loc: tuple[str, ...] | None
) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(body)
    errors = info.value.errors()
    expected = loc or ("state", "type", "any_", 1)
    assert any(error["loc"][: len(expected)] == expected for error in errors), errors


def test_bad_sort_value_is_rejected() -> None:
    assert TypeAdapter(FlowRunSort).validate_python("END_TIME_DESC") is FlowRunSort.END_TIME_DESC
    with pytest.raises(ValidationError):
        TypeAdapter(FlowRunSort).validate_python("SIDEWAYS")


def test_orchestration_result_details_variants() -> None:
    state = State(id=uuid.uuid4(), type=StateType.RUNNING)
    accepted = OrchestrationResult.model_validate(
        {"state": state.model_dump(mode="json"), "status": "ACCEPT", "details": {}}
    )
    assert isinstance(accepted.details, StateAcceptDetails)
    assert accepted.status is SetStateStatus.ACCEPT
    assert accepted.state == state
    waiting = OrchestrationResult.model_validate(
        {"state": None, "status": "WAIT", "details": {"type": "wait_details", "delay_seconds": 5}}
    )
    assert isinstance(waiting.details, StateWaitDetails)
    assert waiting.details.delay_seconds == 5
    rejected = OrchestrationResult.model_validate(
        {"state": None, "status": "REJECT", "details": {"type": "reject_details", "reason": "no"}}
    )
    assert rejected.details.type == "reject_details"
    dumped = json.loads(waiting.model_dump_json())
    assert dumped == {
        "state": None,
        "status": "WAIT",
        "details": {"type": "wait_details", "delay_seconds": 5, "reason": None},
    }


def test_task_inputs_shapes() -> None:
    upstream = uuid.uuid4()
    run = TaskRunCreate.model_validate(
        {
            "task_key": "add-1",
            "dynamic_key": "0",
            "task_inputs": {
                "x": [{"input_type": "task_run", "id": str(upstream)}],
                "y": [{"input_type": "flow_run", "id": str(upstream)}],
                "z": [{"input_type": "parameter", "name": "z"}],
                "w": [{"input_type": "constant", "type": "int"}],
            },
            "empirical_policy": {"retries": 2, "retry_delay": [1, 2.5]},
        }
    )
    kinds = {key: value[0].input_type for key, value in run.task_inputs.items()}
    assert kinds == {"x": "task_run", "y": "flow_run", "z": "parameter", "w": "constant"}
    assert run.empirical_policy.retry_delay == [1, 2.5]
    assert run.id is None
    assert run.name
