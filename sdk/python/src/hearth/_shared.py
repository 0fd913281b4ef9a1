"""Logic shared by the blocking and the async resources (no I/O here)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from ._bodies import instant, qarnot_filter
from ._errors import HearthError, WaitTimeout
from ._pagers import Page
from .models import (
    ElasticProperty,
    PoolFields,
    ScalingPolicy,
    TaskFields,
    TaskProgress,
)

#: The longest single long poll of ``GET /tasks/{uuid}/wait`` the server allows.
MAX_WAIT_POLL = 60.0
#: How much longer than the long poll itself the client waits for its answer.
WAIT_MARGIN = 15.0
#: Pool states from which a pool never becomes ready.
POOL_DEAD_STATES = frozenset({"Closing", "Closed", "Failure", "PendingDelete"})
POOL_READY_STATE = "FullyExecuting"


def wait_timeout(seconds: float) -> httpx.Timeout:
    """The client timeout for a long poll of ``seconds``."""
    return httpx.Timeout(seconds + WAIT_MARGIN, connect=10.0)


def wait_params(seconds: float) -> dict[str, str]:
    return {"timeout": f"{max(0.0, seconds):.3f}"}


def task_timeout_error(task: TaskFields, timeout: float | None) -> WaitTimeout:
    return WaitTimeout(
        f"task {task.uuid} is still {task.state} after {timeout} s",
        method="GET",
        path=f"/tasks/{task.uuid}/wait",
    )


def pool_dead_error(pool: PoolFields) -> HearthError:
    return HearthError(
        f"pool {pool.uuid} is {pool.state}: it will not become ready",
        code="pool_not_ready",
    )


def pool_timeout_error(pool: PoolFields, timeout: float) -> WaitTimeout:
    return WaitTimeout(
        f"pool {pool.uuid} is still {pool.state} after {timeout} s (waiting for "
        f"{POOL_READY_STATE})",
        path=f"/pools/{pool.uuid}",
    )


def count_ranges(text: str) -> int:
    """How many ids a range text such as ``0-3,7`` holds."""
    total = 0
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        total += (int(high) - int(low) + 1) if dash else 1
    return total


def snapshot_progress(task: TaskFields) -> TaskProgress:
    """The task's counts as its JSON shows them, as a :class:`TaskProgress` with ``id`` 0
    (queued and cancelled instances are told apart by the task's state only)."""
    running = task.status.running_instances_info.per_running_instance_info
    executing = sum(1 for r in running if r.phase == "execution")
    assigned = len(running) - executing
    succeeded = count_ranges(task.status.succeeded_range)
    failed = count_ranges(task.status.failed_range)
    rest = max(0, task.instance_count - succeeded - failed - executing - assigned)
    cancelled = rest if task.state == "Cancelled" else 0
    return TaskProgress(
        id=0,
        at=task.last_modified,
        type="taskProgress",
        pool=task.pool_uuid,
        task=task.uuid,
        state=task.state,
        queued=rest - cancelled,
        assigned=assigned,
        executing=executing,
        succeeded=succeeded,
        failed=failed,
        cancelled=cancelled,
    )


def scaling_put_body(
    current: PoolFields,
    policies: Sequence[ScalingPolicy] | None,
    instance_count: int | None,
    elastic: ElasticProperty | None,
    resize_period: int | None,
) -> dict[str, Any]:
    """The full ``PUT /pools/{uuid}`` body that changes only the scaling: the server
    replaces every scaling setting on a PUT, so the pool's other settings are sent as
    they are."""
    given = sum(x is not None for x in (policies, instance_count, elastic))
    if given > 1:
        raise ValueError("give one of policies, instance_count or elastic")
    body: dict[str, Any] = {
        "name": current.name,
        "multiSlotsSettings": {"slotsPerNode": current.slots_per_node},
    }
    period = resize_period if resize_period is not None else current.resize_period
    if policies is not None:
        body["scaling"] = {"policies": [p.to_wire() for p in policies]}
        body["instanceCount"] = current.instance_count
        body["elasticProperty"] = {"isElastic": False, "resizePeriod": period}
    elif elastic is not None:
        e = elastic.model_copy(update={"is_elastic": True})
        if resize_period is not None or e.resize_period is None:
            e.resize_period = period
        body["elasticProperty"] = e.model_dump(by_alias=True, exclude_none=True)
        body["instanceCount"] = current.instance_count
    elif instance_count is not None:
        body["instanceCount"] = instance_count
        body["elasticProperty"] = {"isElastic": False, "resizePeriod": period}
    else:
        # Only the period changes: keep the pool's own scaling.
        body.update(current_scaling(current))
        body["elasticProperty"]["resizePeriod"] = period
    return body


def current_scaling(current: PoolFields) -> dict[str, Any]:
    """The scaling part of a PUT body that keeps the pool's scaling as it is."""
    body: dict[str, Any] = {"instanceCount": current.instance_count}
    elastic = current.elastic_property.model_dump(by_alias=True, exclude_none=True)
    elastic["resizePeriod"] = current.resize_period
    body["elasticProperty"] = elastic
    if current.scaling is not None and current.scaling.policies:
        body["scaling"] = {"policies": [p.to_wire() for p in current.scaling.policies]}
    return body


def settings_put_body(
    current: PoolFields,
    *,
    name: str | None,
    tags: Sequence[str] | None,
    constants: Mapping[str, str] | None,
    labels: Mapping[str, str] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name if name is not None else current.name,
        "multiSlotsSettings": {"slotsPerNode": current.slots_per_node},
    }
    body.update(current_scaling(current))
    if tags is not None:
        body["tags"] = list(tags)
    if constants is not None:
        body["constants"] = [{"key": k, "value": v} for k, v in constants.items()]
    if labels is not None:
        body["labels"] = dict(labels)
    return body


def paginate_body(
    token: str | None,
    page_size: int,
    *,
    tags: Sequence[str] | None,
    all_tags: bool,
    name: str | None,
    state: str | Sequence[str] | None,
) -> dict[str, Any]:
    return {
        "filter": qarnot_filter(tags=tags, all_tags=all_tags, name=name, state=state),
        "token": token,
        "maximumResults": page_size,
    }


def qarnot_page(body: Any) -> tuple[list[Any], str | None]:
    """The items and next token of a Qarnot page (``data``, ``nextToken``, ``isTruncated``)."""
    if not isinstance(body, dict):
        raise HearthError(f"unexpected listing answer: {type(body).__name__}")
    data = body.get("data") or []
    more = bool(body.get("isTruncated")) and body.get("nextToken")
    return list(data), str(body["nextToken"]) if more else None


def hearth_page(body: Any) -> tuple[list[Any], str | None]:
    """The items and next token of a hearth page (``items``, ``nextPageToken``)."""
    if not isinstance(body, dict):
        raise HearthError(f"unexpected listing answer: {type(body).__name__}")
    token = body.get("nextPageToken")
    return list(body.get("items") or []), str(token) if token else None


def page_params(token: str | None, page_size: int) -> dict[str, str | int]:
    if not 1 <= page_size <= 500:
        raise ValueError("page_size must be between 1 and 500")
    params: dict[str, str | int] = {"limit": page_size}
    if token:
        params["pageToken"] = token
    return params


def usage_params(
    *,
    group_by: str,
    start: _dt.datetime | _dt.date | str | None,
    end: _dt.datetime | _dt.date | str | None,
    tenant: str | None,
    fmt: str,
) -> dict[str, str | int]:
    params: dict[str, str | int] = {"groupBy": group_by, "format": fmt}
    if start is not None:
        params["from"] = instant(start)
    if end is not None:
        params["to"] = instant(end)
    if tenant is not None:
        params["tenant"] = tenant
    return params


def token_body(
    name: str,
    role: str,
    expires_in: _dt.timedelta | int | None,
    user: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "role": role}
    if expires_in is not None:
        seconds = (
            int(expires_in.total_seconds())
            if isinstance(expires_in, _dt.timedelta)
            else int(expires_in)
        )
        body["expiresInSeconds"] = seconds
    if user is not None:
        body["userUuid"] = user
    return body


def empty_page() -> Page[Any]:
    return Page([], None)
