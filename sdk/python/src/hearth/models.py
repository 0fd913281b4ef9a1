"""Typed models of hearth's wire format (pydantic v2).

Attributes are snake_case; each is aliased to the wire's camelCase name, so
``Pool.model_validate(json)`` reads a server answer and ``model_dump(by_alias=True)``
writes one. Unknown wire keys are ignored, so a newer server does not break an older SDK.
Instants are aware :class:`~datetime.datetime` objects (UTC); exact decimal texts
(slot-seconds, money) are :class:`~decimal.Decimal`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "HearthModel",
    "KeyValue",
    "RetrySettings",
    "ElasticProperty",
    "ScalingPeriod",
    "ScalingPolicy",
    "PoolScaling",
    "SlotsPerNode",
    "RunningInstance",
    "RunningInstancesInfo",
    "Status",
    "PoolFields",
    "AdvancedDependency",
    "TaskDependencies",
    "CompletedInstance",
    "TaskFields",
    "JobFields",
    "BulkResult",
    "Node",
    "ScalingDecision",
    "UsageFigures",
    "UsageLine",
    "UsageReport",
    "BudgetRange",
    "Budget",
    "Token",
    "CreatedToken",
    "ProfileConstant",
    "Profile",
    "Event",
    "PoolEvent",
    "NodeEvent",
    "TaskProgress",
    "InstanceEnded",
    "DecisionEvent",
    "BudgetAlert",
    "ResetEvent",
    "UnknownEvent",
    "OutputChunk",
    "OutputEnd",
    "POOL_STATES",
    "TASK_STATES",
    "TASK_FINISHED_STATES",
]

#: Pool states, as the wire spells them.
POOL_STATES = (
    "Submitted",
    "PartiallyDispatched",
    "FullyDispatched",
    "PartiallyExecuting",
    "FullyExecuting",
    "Closing",
    "Closed",
    "Failure",
    "PendingDelete",
)
#: Task states, as the wire spells them.
TASK_STATES = (
    "Submitted",
    "PartiallyDispatched",
    "FullyDispatched",
    "PartiallyExecuting",
    "FullyExecuting",
    "Success",
    "Failure",
    "PendingCancel",
    "Cancelled",
    "PendingDelete",
)
#: The states in which a task is over.
TASK_FINISHED_STATES = frozenset({"Success", "Failure", "Cancelled"})


class HearthModel(BaseModel):
    """Base of every model: snake_case attributes aliased to camelCase, unknown keys
    ignored, and a short ``repr`` (the fields named in ``_repr_fields``, when set)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        arbitrary_types_allowed=False,
    )

    _repr_fields: ClassVar[tuple[str, ...]] = ()

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        names = self._repr_fields
        if not names:
            for name, info in type(self).model_fields.items():
                if info.repr:
                    yield name, getattr(self, name)
            return
        for name in names:
            yield name, getattr(self, name)

    def _absorb(self, other: HearthModel) -> None:
        """Takes every field of ``other`` (a fresher copy of the same object)."""
        for name in type(self).model_fields:
            if name in type(other).model_fields:
                self.__dict__[name] = other.__dict__[name]
        self.__pydantic_fields_set__ = set(other.model_fields_set)


# --- Qarnot's shared pieces -------------------------------------------------------------


class KeyValue(HearthModel):
    """A pool's or task's constant; each instance sees it as an environment variable."""

    key: str
    value: str | None = None


class RetrySettings(HearthModel):
    """How often failed instances run again: per instance and over the whole task."""

    max_total_retries: int | None = None
    max_per_instance_retries: int | None = None


class ElasticProperty(HearthModel):
    """Qarnot's elastic settings: one ManagedTasksQueue policy, always enabled."""

    is_elastic: bool | None = None
    min_total_slots: int | None = None
    max_total_slots: int | None = None
    min_idle_slots: int | None = None
    resize_period: int | None = None
    ramp_resize_factor: float | None = None
    min_idle_time_seconds: int | None = None


class ScalingPeriod(HearthModel):
    """When a scaling policy is enabled: ``Always``, ``Weekly`` (UTC days and times) or
    hearth's ``DateRange``. Build one with :meth:`always`, :meth:`weekly` or
    :meth:`date_range`."""

    kind: str | None = Field(default=None, alias="type")
    name: str | None = None
    days: list[str] | None = None
    start_time_utc: str | None = None
    end_time_utc: str | None = None
    start: _dt.datetime | None = Field(default=None, alias="from")
    end: _dt.datetime | None = Field(default=None, alias="to")

    _repr_fields: ClassVar[tuple[str, ...]] = (
        "kind",
        "name",
        "days",
        "start_time_utc",
        "end_time_utc",
        "start",
        "end",
    )

    @classmethod
    def always(cls, name: str | None = None) -> ScalingPeriod:
        """Always enabled."""
        return cls(kind="Always", name=name)

    @classmethod
    def weekly(
        cls,
        days: list[str],
        start: _dt.time | str,
        end: _dt.time | str,
        name: str | None = None,
    ) -> ScalingPeriod:
        """Enabled on ``days`` (``"monday"`` …) from ``start`` (inclusive) to ``end``
        (exclusive), UTC; an end before the start runs across midnight."""
        return cls(
            kind="Weekly",
            name=name,
            days=[d.lower() for d in days],
            start_time_utc=start.isoformat() if isinstance(start, _dt.time) else start,
            end_time_utc=end.isoformat() if isinstance(end, _dt.time) else end,
        )

    @classmethod
    def date_range(
        cls, start: _dt.datetime, end: _dt.datetime, name: str | None = None
    ) -> ScalingPeriod:
        """Enabled from ``start`` to ``end`` (hearth's extension)."""
        return cls(kind="DateRange", name=name, start=start, end=end)


class ScalingPolicy(HearthModel):
    """One scaling policy. Build one with :meth:`fixed` or :meth:`managed_tasks_queue`."""

    kind: str | None = Field(default=None, alias="type")
    name: str | None = None
    slots_count: int | None = None
    min_total_slots: int | None = None
    max_total_slots: int | None = None
    min_idle_slots: int | None = None
    min_idle_time_seconds: int | None = None
    scaling_factor: float | None = None
    enabled_periods: list[ScalingPeriod] = Field(default_factory=list)

    @classmethod
    def fixed(
        cls, slots: int, *, name: str | None = None, periods: list[ScalingPeriod] | None = None
    ) -> ScalingPolicy:
        """A fixed size of ``slots`` slots."""
        return cls(kind="Fixed", name=name, slots_count=slots, enabled_periods=periods or [])

    @classmethod
    def managed_tasks_queue(
        cls,
        *,
        min_total_slots: int = 0,
        max_total_slots: int,
        min_idle_slots: int = 0,
        min_idle_time_seconds: int = 0,
        scaling_factor: float = 1.0,
        name: str | None = None,
        periods: list[ScalingPeriod] | None = None,
    ) -> ScalingPolicy:
        """Follows the task queue: ``busy + queued + min_idle_slots`` clamped to
        ``[min_total_slots, max_total_slots]``."""
        return cls(
            kind="ManagedTasksQueue",
            name=name,
            min_total_slots=min_total_slots,
            max_total_slots=max_total_slots,
            min_idle_slots=min_idle_slots,
            min_idle_time_seconds=min_idle_time_seconds,
            scaling_factor=scaling_factor,
            enabled_periods=periods or [],
        )

    def to_wire(self) -> dict[str, Any]:
        """The policy as ``POST /pools`` reads it (unset keys left out)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class PoolScaling(HearthModel):
    """A pool's policies read back, and the one that applies now."""

    policies: list[ScalingPolicy]
    active_policy_name: str | None = None


class SlotsPerNode(HearthModel):
    slots_per_node: int


class RunningInstance(HearthModel):
    """An assigned or executing instance, and where it runs."""

    instance_id: int
    phase: str
    progress: float = 0.0
    execution_time_sec: float = 0.0
    execution_attempt_count: int = 0
    active_forwards: list[dict[str, Any]] = Field(default_factory=list)
    vpn_connections: list[dict[str, Any]] = Field(default_factory=list)
    node_uuid: str | None = None
    slot_index: int | None = None


class RunningInstancesInfo(HearthModel):
    per_running_instance_info: list[RunningInstance] = Field(default_factory=list)
    snapshot_results: list[dict[str, Any]] = Field(default_factory=list)
    running_core_count_by_cpu_model: list[dict[str, Any]] = Field(default_factory=list)


class Status(HearthModel):
    """A pool's or task's ``status``: progress and instance ranges (``0-3,7``)."""

    instance_count: int = 0
    download_progress: float = 0.0
    execution_progress: float = 0.0
    upload_progress: float = 0.0
    execution_time_sec: float = 0.0
    wall_time_sec: float = 0.0
    succeeded_range: str = ""
    executed_range: str = ""
    failed_range: str = ""
    execution_time_by_cpu_model: list[dict[str, Any]] = Field(default_factory=list)
    execution_time_ghz_by_cpu_model: list[dict[str, Any]] = Field(default_factory=list)
    running_instances_info: RunningInstancesInfo = Field(default_factory=RunningInstancesInfo)

    _repr_fields: ClassVar[tuple[str, ...]] = (
        "execution_progress",
        "succeeded_range",
        "failed_range",
    )


class _Echoed(HearthModel):
    """Qarnot keys hearth stores and echoes but does not act on."""

    hardware_constraints: list[dict[str, Any]] = Field(default_factory=list)
    forced_network_rules: list[dict[str, Any]] = Field(default_factory=list)
    privileges: dict[str, Any] = Field(default_factory=dict)
    secrets_access_rights: dict[str, Any] = Field(default_factory=dict)
    resource_buckets: list[dict[str, Any]] = Field(default_factory=list)
    advanced_resource_buckets: list[dict[str, Any]] = Field(default_factory=list)


# --- pools --------------------------------------------------------------------------------


class PoolFields(_Echoed):
    """A pool as ``GET /pools/{uuid}`` answers it. ``instance_count`` counts slots."""

    uuid: str
    name: str
    shortname: str
    profile: str
    instance_count: int
    state: str
    previous_state: str | None = None
    state_transition_time: _dt.datetime
    previous_state_transition_time: _dt.datetime | None = None
    creation_date: _dt.datetime
    last_modified: _dt.datetime
    end_date: _dt.datetime | None = None
    constants: list[KeyValue] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    errors: list[dict[str, Any]] = Field(default_factory=list)
    elastic_property: ElasticProperty = Field(default_factory=ElasticProperty)
    scaling: PoolScaling | None = None
    resize_period: int
    multi_slots_settings: SlotsPerNode
    default_retry_settings: RetrySettings = Field(default_factory=RetrySettings)
    status: Status = Field(default_factory=Status)
    running_core_count: int = 0
    running_instance_count: int = 0
    total_slot_capacity: int = 0
    queued_or_running_task_instances_count: int = 0
    pool_usage: float = 0.0

    _repr_fields: ClassVar[tuple[str, ...]] = ("uuid", "name", "profile", "state", "instance_count")

    @property
    def slots_per_node(self) -> int:
        """Slots on each of the pool's nodes."""
        return self.multi_slots_settings.slots_per_node


# --- tasks --------------------------------------------------------------------------------


class AdvancedDependency(HearthModel):
    """A dependency on a task ending in one of ``task_final_state_condition``
    (``success``, ``failure``, ``cancelled``; none: any end)."""

    task_uuid: str
    task_final_state_condition: list[str] | None = None


class TaskDependencies(HearthModel):
    depends_on: list[str] = Field(default_factory=list)
    advanced_depends_on: list[AdvancedDependency] | None = None
    #: ``waiting`` or ``dependencyConditionsFulfilled`` (or not fulfilled).
    state: str | None = None


class CompletedInstance(HearthModel):
    """An ended instance of a task."""

    instance_id: int
    state: str
    wall_time_sec: float = 0.0
    exec_time_sec: float = 0.0
    exec_time_sec_ghz: float = Field(default=0.0, alias="execTimeSecGHz")
    peak_memory_mb: int = Field(default=0, alias="peakMemoryMB")
    average_ghz: float = Field(default=0.0, alias="averageGHz")
    results: list[dict[str, Any]] = Field(default_factory=list)
    execution_attempt_count: int = 0
    exit_code: int | None = None

    _repr_fields: ClassVar[tuple[str, ...]] = ("instance_id", "state", "exit_code", "wall_time_sec")


class TaskFields(_Echoed):
    """A task as ``GET /tasks/{uuid}`` answers it."""

    uuid: str
    name: str
    shortname: str
    profile: str | None = None
    pool_uuid: str
    job_uuid: str | None = None
    instance_count: int
    advanced_ranges: str | None = None
    state: str
    previous_state: str | None = None
    state_transition_time: _dt.datetime
    previous_state_transition_time: _dt.datetime | None = None
    creation_date: _dt.datetime
    last_modified: _dt.datetime
    end_date: _dt.datetime | None = None
    constants: list[KeyValue] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    errors: list[dict[str, Any]] = Field(default_factory=list)
    dependencies: TaskDependencies = Field(default_factory=TaskDependencies)
    retry_settings: RetrySettings = Field(default_factory=RetrySettings)
    results_count: int = 0
    completed_instances: list[CompletedInstance] = Field(default_factory=list)
    completed_instances_truncated: bool = False
    running_instance_count: int = 0
    running_core_count: int = 0
    status: Status = Field(default_factory=Status)

    _repr_fields: ClassVar[tuple[str, ...]] = ("uuid", "name", "state", "instance_count")

    @property
    def finished(self) -> bool:
        """Whether the task is over (``Success``, ``Failure`` or ``Cancelled``)."""
        return self.state in TASK_FINISHED_STATES

    @property
    def command(self) -> str | None:
        """The command each instance runs (the ``DOCKER_CMD`` constant), if the task set it."""
        for constant in self.constants:
            if constant.key == "DOCKER_CMD":
                return constant.value
        return None


class BulkResult(HearthModel):
    """One item's result of a bulk submit: ``uuid`` when created, else ``message``."""

    status_code: int
    uuid: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        """Whether this item was created."""
        return 200 <= self.status_code < 300 and bool(self.uuid)


# --- jobs ---------------------------------------------------------------------------------


class JobFields(HearthModel):
    """A job as ``GET /jobs/{uuid}`` answers it."""

    uuid: str
    name: str
    shortname: str
    pool_uuid: str | None = None
    use_dependencies: bool = False
    state: str
    previous_state: str | None = None
    state_transition_time: _dt.datetime
    previous_state_transition_time: _dt.datetime | None = None
    creation_date: _dt.datetime
    last_modified: _dt.datetime
    max_wall_time: str | None = None
    tags: list[str] = Field(default_factory=list)
    auto_delete_on_completion: bool = False
    completion_time_to_live: str = "00:00:00"

    _repr_fields: ClassVar[tuple[str, ...]] = ("uuid", "name", "state", "pool_uuid")


# --- hearth's additions -------------------------------------------------------------------


class Node(HearthModel):
    """A worker node of a pool (``Requested``, ``Booting``, ``Ready``, ``Draining``,
    ``Terminated`` or ``Failed``) and how many of its slots are busy."""

    uuid: str
    pool_uuid: str
    state: str
    slots: int
    busy_slots: int
    creation_date: _dt.datetime
    ready_at: _dt.datetime | None = None
    last_heartbeat: _dt.datetime | None = None
    ended_at: _dt.datetime | None = None

    _repr_fields: ClassVar[tuple[str, ...]] = ("uuid", "state", "slots", "busy_slots")


class ScalingDecision(HearthModel):
    """One evaluation of a pool's scaling (or a run of identical ones)."""

    uuid: str
    pool_uuid: str
    creation_date: _dt.datetime
    evaluations: int
    last_evaluation_date: _dt.datetime
    active_policy_name: str | None = None
    active_period_name: str | None = None
    wanted_slots: int
    target_slots: int
    action: str
    reason: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    clamps: list[dict[str, Any]] = Field(default_factory=list)
    decision: dict[str, Any] = Field(default_factory=dict)

    _repr_fields: ClassVar[tuple[str, ...]] = ("action", "target_slots", "wanted_slots", "reason")


class UsageFigures(HearthModel):
    """Slot-seconds (exact to the millisecond) and money (6 places), as decimals."""

    slot_seconds: Decimal
    busy_slot_seconds: Decimal
    idle_slot_seconds: Decimal
    cost: Decimal
    busy_cost: Decimal
    idle_cost: Decimal
    currency: str

    _repr_fields: ClassVar[tuple[str, ...]] = ("slot_seconds", "cost", "currency")


class UsageLine(UsageFigures):
    """One line of a billing report; the key fields ``group_by`` does not use are None."""

    tenant_uuid: str | None = None
    tenant_name: str | None = None
    pool_uuid: str | None = None
    pool_name: str | None = None
    profile: str | None = None
    day: str | None = None
    node_uuid: str | None = None
    task_uuid: str | None = None
    task_name: str | None = None

    _key_fields: ClassVar[tuple[str, ...]] = (
        "tenant_uuid",
        "tenant_name",
        "pool_uuid",
        "pool_name",
        "profile",
        "day",
        "node_uuid",
        "task_uuid",
        "task_name",
    )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name in self._key_fields:
            value = getattr(self, name)
            if value is not None:
                yield name, value
        yield from super().__repr_args__()


class UsageReport(HearthModel):
    """One page of a billing report, with the whole report's totals."""

    tenant: str
    start: _dt.datetime = Field(alias="from")
    end: _dt.datetime = Field(alias="to")
    group_by: str
    currency: str
    items: list[UsageLine]
    next_page_token: str | None = None
    totals: UsageFigures

    _repr_fields: ClassVar[tuple[str, ...]] = ("tenant", "group_by", "start", "end", "totals")


class BudgetRange(HearthModel):
    """A one-off budget period (``to`` excluded)."""

    start: str = Field(alias="from")
    end: str = Field(alias="to")


class Budget(HearthModel):
    """A budget and where it stands in its current period (money as decimals)."""

    uuid: str
    name: str
    amount: Decimal
    currency: str
    #: ``"monthly"`` or a range.
    period: str | BudgetRange
    overrun_policy: Literal["AlertOnly", "BlockNew", "StopAndBlockAll"] | str
    alert_thresholds: list[float]
    period_from: _dt.datetime
    period_to: _dt.datetime
    consumed: Decimal
    remaining: Decimal
    forecast: Decimal
    spent: bool
    fired_thresholds: list[float]
    creation_date: _dt.datetime
    last_modified: _dt.datetime

    _repr_fields: ClassVar[tuple[str, ...]] = (
        "uuid",
        "name",
        "amount",
        "consumed",
        "overrun_policy",
        "spent",
    )


class Token(HearthModel):
    """An API token (its secret is never listed)."""

    uuid: str
    name: str
    role: str
    user_uuid: str
    creation_date: _dt.datetime
    expires_at: _dt.datetime | None = None
    revoked: bool = False

    _repr_fields: ClassVar[tuple[str, ...]] = ("uuid", "name", "role", "expires_at", "revoked")


class CreatedToken(Token):
    """A new token with its secret (``token``), shown only in the create answer and never
    in this object's ``repr``."""

    token: str = Field(repr=False)


class ProfileConstant(HearthModel):
    name: str
    value: str = ""


class Profile(HearthModel):
    """A node type of the platform's catalogue."""

    name: str
    constants: list[ProfileConstant] = Field(default_factory=list)
    cores: int
    memory_mb: int = Field(alias="memoryMB")
    price_per_slot_hour: Decimal
    max_slots_per_node: int
    boot_delay_seconds: float
    launcher: str | None = None

    _repr_fields: ClassVar[tuple[str, ...]] = (
        "name",
        "cores",
        "memory_mb",
        "price_per_slot_hour",
        "max_slots_per_node",
    )


# --- events -------------------------------------------------------------------------------


class Event(HearthModel):
    """One event of ``GET /events``. ``id`` increases within the tenant's stream."""

    id: int
    at: _dt.datetime
    type: str

    _repr_fields: ClassVar[tuple[str, ...]] = ("id", "type")


class PoolEvent(Event):
    """A pool's state or size changed."""

    pool: str
    state: str
    target_slots: int

    _repr_fields: ClassVar[tuple[str, ...]] = ("id", "pool", "state", "target_slots")


class NodeEvent(Event):
    """A node was launched, became ready, started draining, or ended."""

    pool: str
    node: str
    state: str

    _repr_fields: ClassVar[tuple[str, ...]] = ("id", "node", "state")


class TaskProgress(Event):
    """A task's state or its counts of instances by state changed."""

    pool: str
    task: str
    state: str
    queued: int
    assigned: int
    executing: int
    succeeded: int
    failed: int
    cancelled: int

    _repr_fields: ClassVar[tuple[str, ...]] = (
        "id",
        "state",
        "queued",
        "assigned",
        "executing",
        "succeeded",
        "failed",
        "cancelled",
    )

    @property
    def total(self) -> int:
        """All the task's instances."""
        return (
            self.queued
            + self.assigned
            + self.executing
            + self.succeeded
            + self.failed
            + self.cancelled
        )

    @property
    def ended(self) -> int:
        """Instances that succeeded, failed or were cancelled."""
        return self.succeeded + self.failed + self.cancelled

    @property
    def finished(self) -> bool:
        """Whether the task is over."""
        return self.state in TASK_FINISHED_STATES

    def counts(self) -> tuple[int, int, int, int, int, int]:
        """(queued, assigned, executing, succeeded, failed, cancelled)."""
        return (
            self.queued,
            self.assigned,
            self.executing,
            self.succeeded,
            self.failed,
            self.cancelled,
        )


class InstanceEnded(Event):
    """An instance's attempt ended: ``outcome`` Succeeded, Failed, Cancelled, or Queued
    (requeued for a retry)."""

    pool: str
    task: str
    instance_id: int
    outcome: str
    exit_code: int | None = None

    _repr_fields: ClassVar[tuple[str, ...]] = ("id", "task", "instance_id", "outcome", "exit_code")


class DecisionEvent(Event):
    """A new scaling decision was recorded."""

    pool: str
    decision: str
    action: str
    target_slots: int
    reason: str

    _repr_fields: ClassVar[tuple[str, ...]] = ("id", "pool", "action", "target_slots", "reason")


class BudgetAlert(Event):
    """A budget's consumption crossed one of its alert thresholds."""

    budget: str
    name: str
    threshold: float
    amount: Decimal
    consumed: Decimal
    currency: str
    overrun_policy: str
    period_from: _dt.datetime
    period_to: _dt.datetime

    _repr_fields: ClassVar[tuple[str, ...]] = ("id", "name", "threshold", "consumed", "amount")


class ResetEvent(HearthModel):
    """The stream could not replay every event after the id it resumed from (too old, or
    from before a server restart): read the state again, then follow."""

    id: int | None = None
    type: str = "reset"
    reason: str | None = None


class UnknownEvent(HearthModel):
    """An event of a kind this SDK does not know (from a newer server); ``data`` holds
    its JSON."""

    id: int | None = None
    type: str
    data: dict[str, Any] = Field(default_factory=dict)


class OutputChunk(HearthModel):
    """Text an instance wrote on ``stream`` (``stdout`` or ``stderr``), starting at byte
    ``offset`` of everything that stream ever wrote."""

    stream: str
    offset: int
    text: str

    _repr_fields: ClassVar[tuple[str, ...]] = ("stream", "offset", "text")


class OutputEnd(HearthModel):
    """The instance is finished and all its output was sent."""

    state: str
    exit_code: int | None = None
