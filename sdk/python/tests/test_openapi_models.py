"""The hand-written models against the live server's /openapi.json, field by field: every
model field is a property of its schema with a compatible type (the model accepts every
JSON type the schema allows), and every required schema property is a model field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel

import hearth
from hearth import models as m
from conftest import HearthServer

#: Schema name in components.schemas -> the SDK model that reads it.
MODELS: dict[str, type[BaseModel]] = {
    "Pool": m.PoolFields,
    "Task": m.TaskFields,
    "Job": m.JobFields,
    "Echoed": m._Echoed,
    "KeyValue": m.KeyValue,
    "RetrySettings": m.RetrySettings,
    "Elastic": m.ElasticProperty,
    "ScalingPolicy": m.ScalingPolicy,
    "ScalingPeriod": m.ScalingPeriod,
    "PoolScaling": m.PoolScaling,
    "SlotsPerNode": m.SlotsPerNode,
    "Status": m.Status,
    "RunningInstancesInfo": m.RunningInstancesInfo,
    "RunningInstance": m.RunningInstance,
    "CompletedInstance": m.CompletedInstance,
    "TaskDependencies": m.TaskDependencies,
    "AdvancedDependency": m.AdvancedDependency,
    "BulkResult": m.BulkResult,
    "Node": m.Node,
    "ScalingDecision": m.ScalingDecision,
    "UsageFigures": m.UsageFigures,
    "UsageLine": m.UsageLine,
    "UsageReport": m.UsageReport,
    "Budget": m.Budget,
    "Token": m.Token,
    "TokenCreated": m.CreatedToken,
    "Profile": m.Profile,
    "ProfileConstant": m.ProfileConstant,
    "OutputChunk": m.OutputChunk,
}
#: The event kinds (Change's variants, by their `type`) -> the SDK model.
EVENTS: dict[str, type[BaseModel]] = {
    "pool": m.PoolEvent,
    "node": m.NodeEvent,
    "taskProgress": m.TaskProgress,
    "instanceEnded": m.InstanceEnded,
    "decision": m.DecisionEvent,
    "budgetAlert": m.BudgetAlert,
}
#: Models with no schema of their own, and why.
NOT_IN_SCHEMA = {
    m.HearthModel: "the base class",
    m.Event: "checked as Event's own part (id, at) with each kind",
    m.BudgetRange: "checked as BudgetPeriod's object variant",
    m.ResetEvent: "the stream's `reset` frame is not in /openapi.json (reported)",
    m.UnknownEvent: "client-side: an event kind this SDK does not know",
    m.OutputEnd: "the output stream's `end` event is not in /openapi.json (reported)",
}
#: Routes whose answer each model reads: (method, path, status) -> schema name.
ROUTES = {
    ("get", "/pools/{uuid}", "200"): "Pool",
    ("post", "/pools/{uuid}/close", "200"): "Pool",
    ("get", "/tasks/{uuid}", "200"): "Task",
    ("get", "/tasks/{uuid}/wait", "200"): "Task",
    ("get", "/jobs/{uuid}", "200"): "Job",
    ("post", "/pools/{uuid}/resize", "200"): "ScalingDecision",
    ("get", "/billing/usage", "200"): "UsageReport",
    ("get", "/budgets/{uuid}", "200"): "Budget",
    ("post", "/budgets", "201"): "Budget",
    ("post", "/tokens", "201"): "TokenCreated",
    ("get", "/profiles/{name}", "200"): "Profile",
    ("get", "/events", "200"): "Event",
    ("get", "/tasks/{uuid}/instances/{instance_id}/output", "200"): "OutputChunk",
}


@pytest.fixture(scope="module")
def spec(server: HearthServer) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(server.url + "/openapi.json", timeout=30).json()
    return document


def _resolve(schema: dict[str, Any], root: dict[str, Any], prefix: str) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix(prefix)
        schema = root[name]
    return schema


def json_types(schema: dict[str, Any], root: dict[str, Any], prefix: str) -> set[str]:
    """The JSON types a schema allows (``any`` for no constraint)."""
    schema = _resolve(schema, root, prefix)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            out: set[str] = set()
            for part in schema[key]:
                out |= json_types(part, root, prefix)
            return out
    if "allOf" in schema:
        parts = [json_types(p, root, prefix) for p in schema["allOf"]]
        return set.intersection(*parts) if parts else {"any"}
    if "type" in schema:
        kinds = schema["type"]
        return set(kinds if isinstance(kinds, list) else [kinds])
    if "enum" in schema:
        return {type_name(v) for v in schema["enum"]}
    if "const" in schema:
        return {type_name(schema["const"])}
    return {"any"}


def type_name(value: Any) -> str:
    return {
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }.get(type(value), "object")


def compatible(server: set[str], model: set[str]) -> bool:
    if "any" in model:
        return True
    if "number" in model:
        model = model | {"integer"}
    return server <= model


def flatten(schema: dict[str, Any], root: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Properties and required names of a schema, through allOf and $ref."""
    schema = _resolve(schema, root, "#/components/schemas/")
    props: dict[str, Any] = dict(schema.get("properties", {}))
    required: set[str] = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        p, r = flatten(part, root)
        props.update(p)
        required |= r
    return props, required


def model_props(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model's JSON schema (validation mode, by alias): its properties and $defs."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return schema.get("properties", {}), schema.get("$defs", {})


def ref_name(schema: dict[str, Any], prefix: str) -> str | None:
    """The name a property refers to (through arrays and nullable unions), if any."""
    if "$ref" in schema:
        return str(schema["$ref"]).removeprefix(prefix)
    if schema.get("type") == "array" or "array" in (schema.get("type") or []):
        return ref_name(schema.get("items", {}), prefix)
    for key in ("anyOf", "oneOf"):
        for part in schema.get(key, []):
            found = ref_name(part, prefix)
            if found is not None:
                return found
    return None


def compare(
    name: str,
    model: type[BaseModel],
    props: dict[str, Any],
    required: set[str],
    root: dict[str, Any],
    problems: list[str],
) -> None:
    mine, defs = model_props(model)
    for wire, field_schema in mine.items():
        if wire not in props:
            problems.append(f"{name}.{wire}: the model has it, the schema does not")
            continue
        server_types = json_types(props[wire], root, "#/components/schemas/")
        model_types = json_types(field_schema, defs, "#/$defs/")
        if not compatible(server_types, model_types):
            problems.append(
                f"{name}.{wire}: schema allows {sorted(server_types)}, model accepts {sorted(model_types)}"
            )
        if "array" in server_types and "array" in model_types:
            s_items = _resolve(props[wire], root, "#/components/schemas/")
            m_items = field_schema
            for key in ("anyOf",):
                for part in m_items.get(key, []):
                    if part.get("type") == "array":
                        m_items = part
            s_item_types = json_types(s_items.get("items", {}), root, "#/components/schemas/")
            m_item_types = json_types(m_items.get("items", {}), defs, "#/$defs/")
            if not compatible(s_item_types, m_item_types):
                problems.append(
                    f"{name}.{wire}[]: schema items {sorted(s_item_types)}, model items {sorted(m_item_types)}"
                )
        # A property referring to a modelled schema must be read by that model.
        target = ref_name(props[wire], "#/components/schemas/")
        if target in MODELS:
            got = ref_name(field_schema, "#/$defs/")
            if got != MODELS[target].__name__:
                problems.append(f"{name}.{wire}: schema refers to {target}, model field to {got}")
    for wire in sorted(required - set(mine)):
        problems.append(f"{name}.{wire}: required by the schema, missing from the model")


def test_every_model_matches_its_schema(spec: dict[str, Any]) -> None:
    root = spec["components"]["schemas"]
    problems: list[str] = []
    for name, model in MODELS.items():
        assert name in root, f"no schema {name} in /openapi.json"
        props, required = flatten(root[name], root)
        compare(name, model, props, required, root, problems)
    assert not problems, "\n".join(problems)


def test_every_event_kind_matches_its_schema(spec: dict[str, Any]) -> None:
    root = spec["components"]["schemas"]
    event = root["Event"]
    own_props: dict[str, Any] = {}
    own_required: set[str] = set()
    variants: list[dict[str, Any]] = []
    for part in event["allOf"]:
        part = _resolve(part, root, "#/components/schemas/")
        if "oneOf" in part:
            variants = part["oneOf"]
        else:
            own_props.update(part.get("properties", {}))
            own_required |= set(part.get("required", []))
    kinds = {v["properties"]["type"]["enum"][0]: v for v in variants}
    assert set(kinds) == set(EVENTS), f"event kinds: schema {sorted(kinds)}, SDK {sorted(EVENTS)}"
    assert set(kinds) == set(hearth._events.EVENT_TYPES)
    problems: list[str] = []
    for kind, variant in kinds.items():
        props = {**own_props, **variant.get("properties", {})}
        required = own_required | set(variant.get("required", []))
        compare(f"Event[{kind}]", EVENTS[kind], props, required, root, problems)
    assert not problems, "\n".join(problems)


def test_budget_period_range(spec: dict[str, Any]) -> None:
    root = spec["components"]["schemas"]
    objects = [v for v in root["BudgetPeriod"]["oneOf"] if v.get("type") == "object"]
    assert len(objects) == 1
    problems: list[str] = []
    compare(
        "BudgetPeriod{}",
        m.BudgetRange,
        objects[0]["properties"],
        set(objects[0]["required"]),
        root,
        problems,
    )
    assert not problems, "\n".join(problems)


def test_routes_answer_the_modelled_schemas(spec: dict[str, Any]) -> None:
    for (method, path, status), name in ROUTES.items():
        content = spec["paths"][path][method]["responses"][status]["content"]
        schema = next(iter(content.values()))["schema"]
        assert schema.get("$ref") == f"#/components/schemas/{name}", (method, path, status, schema)
    # Errors: the SDK reads `message` and `code`.
    _, required = flatten(spec["components"]["schemas"]["ErrorBody"], spec["components"]["schemas"])
    assert required == {"message", "code"}


def test_no_wire_model_escapes_the_check() -> None:
    checked = set(MODELS.values()) | set(EVENTS.values()) | set(NOT_IN_SCHEMA)
    for value in vars(m).values():
        if (
            isinstance(value, type)
            and issubclass(value, m.HearthModel)
            and value.__module__ == m.__name__
        ):
            assert value in checked, f"{value.__name__} is not compared with /openapi.json"


def test_the_check_can_fail() -> None:
    """The comparison catches a wrong type, an unknown field and a missing required one."""

    class Wrong(m.HearthModel):
        uuid: int
        nonsense: str

    problems: list[str] = []
    root = {
        "X": {
            "type": "object",
            "required": ["uuid", "name"],
            "properties": {"uuid": {"type": "string"}, "name": {"type": "string"}},
        }
    }
    props, required = flatten(root["X"], root)
    compare("X", Wrong, props, required, root, problems)
    assert any("uuid" in p and "accepts" in p for p in problems)
    assert any("nonsense" in p for p in problems)
    assert any("name" in p and "missing" in p for p in problems)
