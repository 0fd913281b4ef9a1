"""Request bodies and parameters, shared by the blocking and the async client."""

from __future__ import annotations

import datetime as _dt
import uuid as _uuid
from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, Union, runtime_checkable

from .models import ElasticProperty, RetrySettings, ScalingPolicy

__all__ = [
    "HasUuid",
    "PoolRef",
    "TaskRef",
    "JobRef",
    "uuid_of",
    "TaskSpec",
    "Dependency",
    "pool_body",
    "task_body",
    "job_body",
    "budget_body",
    "qarnot_filter",
    "instant",
    "timespan",
]


@runtime_checkable
class HasUuid(Protocol):
    """Anything with a ``uuid`` (a Pool, Task, Job, Budget, Token …)."""

    @property
    def uuid(self) -> str: ...


#: A pool, task or job given as its object or its uuid.
PoolRef = Union[HasUuid, str, _uuid.UUID]
TaskRef = Union[HasUuid, str, _uuid.UUID]
JobRef = Union[HasUuid, str, _uuid.UUID]


def uuid_of(ref: HasUuid | str | _uuid.UUID, what: str = "object") -> str:
    """The uuid of an object, or the uuid given as text."""
    if isinstance(ref, _uuid.UUID):
        return str(ref)
    if isinstance(ref, str):
        text = ref.strip()
        if not text:
            raise ValueError(f"{what}: an empty uuid")
        return text
    value = getattr(ref, "uuid", None)
    if not isinstance(value, str) or not value:
        raise TypeError(f"{what}: expected an object with a uuid or a uuid string, got {ref!r}")
    return value


def _constants(values: Mapping[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": str(v)} for k, v in (values or {}).items()]


def timespan(value: _dt.timedelta | str) -> str:
    """A TimeSpan text (``d.hh:mm:ss`` or ``hh:mm:ss``) from a timedelta."""
    if isinstance(value, str):
        return value
    total = int(value.total_seconds())
    if total < 0:
        raise ValueError("a negative duration")
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    body = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{days}.{body}" if days else body


def instant(value: _dt.datetime | _dt.date | str) -> str:
    """RFC 3339 text (a naive datetime is taken as UTC) or ``YYYY-MM-DD`` for a date."""
    if isinstance(value, str):
        return value
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def pool_body(
    name: str,
    *,
    profile: str,
    instance_count: int | None,
    slots_per_node: int | None,
    scaling: Sequence[ScalingPolicy] | None,
    elastic: ElasticProperty | None,
    resize_period: int | None,
    constants: Mapping[str, str] | None,
    tags: Sequence[str] | None,
    labels: Mapping[str, str] | None,
    retry: RetrySettings | None,
    shortname: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "profile": profile}
    if shortname is not None:
        body["shortname"] = shortname
    if elastic is not None and elastic.is_elastic is None:
        elastic = elastic.model_copy(update={"is_elastic": True})
    if instance_count is not None:
        body["instanceCount"] = instance_count
    elif not scaling and not (elastic and elastic.is_elastic):
        body["instanceCount"] = 1
    if slots_per_node is not None:
        body["multiSlotsSettings"] = {"slotsPerNode": slots_per_node}
    if scaling:
        body["scaling"] = {"policies": [p.to_wire() for p in scaling]}
    if elastic is not None or resize_period is not None:
        e = elastic.model_copy() if elastic is not None else ElasticProperty(is_elastic=False)
        if resize_period is not None:
            e.resize_period = resize_period
        body["elasticProperty"] = e.model_dump(by_alias=True, exclude_none=True)
    if constants:
        body["constants"] = _constants(constants)
    if tags is not None:
        body["tags"] = list(tags)
    if labels is not None:
        body["labels"] = dict(labels)
    if retry is not None:
        body["defaultRetrySettings"] = retry.model_dump(by_alias=True)
    return body


@dataclass(frozen=True)
class Dependency:
    """A task's dependency on another task ending in one of ``on`` (``success``,
    ``failure``, ``cancelled``; ``None``: any end). A plain task (object or uuid) in
    ``depends_on`` means: it must succeed."""

    task: TaskRef
    on: Sequence[str] | None = None


@dataclass
class TaskSpec:
    """What to submit: one task (``submit`` takes the same keywords; a list of these goes
    to ``submit_many``).

    ``command`` is what each instance runs as a shell command (sent as the ``DOCKER_CMD``
    constant); ``constants`` become environment variables. Give ``instance_count`` or
    ``ranges`` (``"0-9,20"``). ``depends_on`` lists tasks (objects or uuids) that must
    succeed first, or :class:`Dependency` items for other end states.
    """

    name: str
    instance_count: int | None = None
    ranges: str | None = None
    command: str | None = None
    constants: Mapping[str, str] = field(default_factory=dict)
    tags: Sequence[str] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    depends_on: Sequence[TaskRef | Dependency] = ()
    max_retries_per_instance: int | None = None
    max_total_retries: int | None = None
    shortname: str | None = None


def task_body(spec: TaskSpec, *, pool: str | None, job: str | None) -> dict[str, Any]:
    if pool is None and job is None:
        raise ValueError("a task needs a pool (or a job bound to a pool)")
    if spec.instance_count is not None and spec.ranges is not None:
        raise ValueError("give instance_count or ranges, not both")
    constants = dict(spec.constants)
    if spec.command is not None:
        if "DOCKER_CMD" in constants:
            raise ValueError("give command= or a DOCKER_CMD constant, not both")
        constants["DOCKER_CMD"] = spec.command
    body: dict[str, Any] = {
        "name": spec.name,
        "poolUuid": pool,
        "jobUuid": job,
        "constants": _constants(constants),
        "tags": list(spec.tags),
    }
    if spec.shortname is not None:
        body["shortname"] = spec.shortname
    if spec.labels:
        body["labels"] = dict(spec.labels)
    if spec.ranges is not None:
        body["advancedRanges"] = spec.ranges
    else:
        body["instanceCount"] = spec.instance_count if spec.instance_count is not None else 1
    simple: list[str] = []
    advanced: list[dict[str, Any]] = []
    for dep in spec.depends_on:
        if isinstance(dep, Dependency):
            advanced.append(
                {
                    "taskUuid": uuid_of(dep.task, "dependency"),
                    "taskFinalStateCondition": list(dep.on) if dep.on is not None else None,
                }
            )
        else:
            simple.append(uuid_of(dep, "dependency"))
    if advanced:
        advanced.extend({"taskUuid": u, "taskFinalStateCondition": ["success"]} for u in simple)
        body["dependencies"] = {"advancedDependsOn": advanced}
    else:
        body["dependencies"] = {"dependsOn": simple}
    if spec.max_retries_per_instance is not None or spec.max_total_retries is not None:
        body["retrySettings"] = {
            "maxPerInstanceRetries": spec.max_retries_per_instance,
            "maxTotalRetries": spec.max_total_retries,
        }
    return body


def job_body(
    name: str,
    *,
    pool: str | None,
    use_dependencies: bool,
    max_wall_time: _dt.timedelta | str | None,
    tags: Sequence[str] | None,
    shortname: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "poolUuid": pool,
        "useDependencies": use_dependencies,
        "tags": list(tags or []),
    }
    if shortname is not None:
        body["shortname"] = shortname
    if max_wall_time is not None:
        body["maxWallTime"] = timespan(max_wall_time)
    return body


def _decimal_text(value: Decimal | int | float | str) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def budget_body(
    name: str,
    amount: Decimal | int | float | str,
    *,
    period: str | tuple[_dt.datetime | _dt.date | str, _dt.datetime | _dt.date | str],
    overrun_policy: str,
    alert_thresholds: Sequence[float | Decimal | str] | None,
) -> dict[str, Any]:
    wire_period: Any
    if isinstance(period, str):
        wire_period = period
    else:
        start, end = period
        wire_period = {"from": instant(start), "to": instant(end)}
    body: dict[str, Any] = {
        "name": name,
        "amount": _decimal_text(amount),
        "period": wire_period,
        "overrunPolicy": overrun_policy,
    }
    if alert_thresholds is not None:
        body["alertThresholds"] = [_decimal_text(t) for t in alert_thresholds]
    return body


def qarnot_filter(
    *,
    tags: Sequence[str] | None = None,
    all_tags: bool = False,
    name: str | None = None,
    state: str | Sequence[str] | None = None,
) -> dict[str, Any] | None:
    """A Qarnot listing filter: any of ``tags`` (all of them with ``all_tags``), the exact
    ``name``, and the ``state`` (one or several)."""
    leaves: list[dict[str, Any]] = []
    if tags:
        tag_leaves = [{"operator": "Equal", "field": "Tags", "value": t} for t in tags]
        if len(tag_leaves) == 1:
            leaves.append(tag_leaves[0])
        else:
            leaves.append({"operator": "And" if all_tags else "Or", "filters": tag_leaves})
    if name is not None:
        leaves.append({"operator": "Equal", "field": "Name", "value": name})
    if state is not None:
        if isinstance(state, str):
            leaves.append({"operator": "Equal", "field": "State", "value": state})
        else:
            leaves.append({"operator": "In", "field": "State", "value": list(state)})
    if not leaves:
        return None
    if len(leaves) == 1:
        return leaves[0]
    return {"operator": "And", "filters": leaves}
