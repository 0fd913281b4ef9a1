"""hearth's Python SDK: a typed client of a hearth control plane.

    import hearth

    client = hearth.Client()          # HEARTH_URL / HEARTH_TOKEN, or the CLI's profile
    pool = client.pools.create("demo", profile="docker-batch", instance_count=2, wait_ready=True)
    task = client.tasks.submit(pool, "hello", instance_count=4, command="echo hi $INSTANCE_ID")
    task.wait(timeout=60)

:class:`Client` blocks; :class:`AsyncClient` has the same API with coroutines. Every
error is a :class:`HearthError`.
"""

from . import models
from ._async_client import AsyncClient, AsyncUsagePager
from ._bodies import Dependency, TaskSpec
from ._client import Client, UsagePager
from ._config import config_path
from ._errors import (
    BadRequest,
    ConfigurationError,
    Conflict,
    ConnectionError,
    Forbidden,
    HearthError,
    NotFound,
    PaymentRequired,
    RateLimited,
    ServerError,
    Unauthorized,
    WaitTimeout,
)
from ._events import AsyncEventStream, AsyncOutputStream, EventStream, OutputStream
from ._http import RetryPolicy
from ._login import login
from ._objects import AsyncJob, AsyncPool, AsyncTask, Job, Pool, Task
from ._pagers import AsyncPager, Pager
from ._version import __version__
from .models import (
    Budget,
    BudgetAlert,
    BulkResult,
    CompletedInstance,
    CreatedToken,
    DecisionEvent,
    ElasticProperty,
    InstanceEnded,
    Node,
    NodeEvent,
    OutputChunk,
    OutputEnd,
    PoolEvent,
    Profile,
    ResetEvent,
    RetrySettings,
    ScalingDecision,
    ScalingPeriod,
    ScalingPolicy,
    TaskProgress,
    Token,
    UnknownEvent,
    UsageLine,
    UsageReport,
)

__all__ = [
    "__version__",
    "models",
    "login",
    "Client",
    "AsyncClient",
    "RetryPolicy",
    "config_path",
    # objects
    "Pool",
    "Task",
    "Job",
    "AsyncPool",
    "AsyncTask",
    "AsyncJob",
    "TaskSpec",
    "Dependency",
    "Pager",
    "AsyncPager",
    "UsagePager",
    "AsyncUsagePager",
    "EventStream",
    "AsyncEventStream",
    "OutputStream",
    "AsyncOutputStream",
    # models
    "Budget",
    "BulkResult",
    "CompletedInstance",
    "CreatedToken",
    "ElasticProperty",
    "Node",
    "Profile",
    "RetrySettings",
    "ScalingDecision",
    "ScalingPeriod",
    "ScalingPolicy",
    "Token",
    "UsageLine",
    "UsageReport",
    # events
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
    # errors
    "HearthError",
    "ConfigurationError",
    "BadRequest",
    "Unauthorized",
    "PaymentRequired",
    "Forbidden",
    "NotFound",
    "Conflict",
    "RateLimited",
    "ServerError",
    "ConnectionError",
    "WaitTimeout",
]
