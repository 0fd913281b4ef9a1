"""The asynchronous client: :class:`AsyncClient` and its resources (the API of
:class:`hearth.Client`, with coroutines and async iterators)."""

from __future__ import annotations

import builtins
import datetime as _dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import httpx

from . import _shared as S
from ._bodies import (
    Dependency,
    JobRef,
    PoolRef,
    TaskRef,
    TaskSpec,
    budget_body,
    job_body,
    pool_body,
    task_body,
    uuid_of,
)
from ._config import resolve
from ._errors import WaitTimeout
from ._events import AsyncEventStream, AsyncOutputStream
from ._http import DEFAULT_TIMEOUT, AsyncHTTP, Call, RetryPolicy, new_idempotency_key
from ._objects import AsyncJob, AsyncPool, AsyncTask
from ._pagers import AsyncPager, Page
from .models import (
    Budget,
    BulkResult,
    CreatedToken,
    ElasticProperty,
    Node,
    Profile,
    ResetEvent,
    RetrySettings,
    ScalingDecision,
    ScalingPolicy,
    TaskProgress,
    Token,
    UsageFigures,
    UsageLine,
    UsageReport,
)

__all__ = ["AsyncClient", "AsyncUsagePager"]

GroupBy = Literal["pool", "profile", "day", "task", "node"]
When = _dt.datetime | _dt.date | str
Policy = Literal["AlertOnly", "BlockNew", "StopAndBlockAll"]


class _Resource:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._http = client._http

    def _pool(self, data: Any) -> AsyncPool:
        pool = AsyncPool.model_validate(data)
        pool._client = self._client
        return pool

    def _task(self, data: Any) -> AsyncTask:
        task = AsyncTask.model_validate(data)
        task._client = self._client
        return task

    def _job(self, data: Any) -> AsyncJob:
        job = AsyncJob.model_validate(data)
        job._client = self._client
        return job

    async def _json(self, call: Call) -> Any:
        return (await self._http.send(call)).json()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"


class AsyncPools(_Resource):
    """``client.pools`` of an :class:`AsyncClient` (see :class:`hearth.Client`'s)."""

    async def create(
        self,
        name: str,
        *,
        profile: str,
        instance_count: int | None = None,
        slots_per_node: int | None = None,
        scaling: Sequence[ScalingPolicy] | None = None,
        elastic: ElasticProperty | None = None,
        resize_period: int | None = None,
        constants: Mapping[str, str] | None = None,
        tags: Sequence[str] | None = None,
        labels: Mapping[str, str] | None = None,
        retry: RetrySettings | None = None,
        shortname: str | None = None,
        wait_ready: bool = False,
        ready_timeout: float = 300.0,
        idempotency_key: str | None = None,
    ) -> AsyncPool:
        """Creates a pool of ``profile`` (``instance_count`` counts slots)."""
        body = pool_body(
            name,
            profile=profile,
            instance_count=instance_count,
            slots_per_node=slots_per_node,
            scaling=scaling,
            elastic=elastic,
            resize_period=resize_period,
            constants=constants,
            tags=tags,
            labels=labels,
            retry=retry,
            shortname=shortname,
        )
        key = idempotency_key or new_idempotency_key()
        created = await self._json(Call("POST", "/pools", json=body, idempotency_key=key))
        uuid = str(created["uuid"])
        if wait_ready:
            return await self.wait_ready(uuid, timeout=ready_timeout)
        return await self.get(uuid)

    async def get(self, pool: PoolRef) -> AsyncPool:
        """Reads a pool."""
        return self._pool(await self._json(Call("GET", f"/pools/{uuid_of(pool, 'pool')}")))

    def list(
        self,
        *,
        tags: Sequence[str] | None = None,
        all_tags: bool = False,
        name: str | None = None,
        state: str | Sequence[str] | None = None,
        page_size: int = 50,
    ) -> AsyncPager[AsyncPool]:
        """The tenant's pools in creation order (``async for``), a page at a time."""

        async def fetch(token: str | None) -> Page[AsyncPool]:
            body = S.paginate_body(
                token, page_size, tags=tags, all_tags=all_tags, name=name, state=state
            )
            items, nxt = S.qarnot_page(await self._json(Call("POST", "/pools/paginate", json=body)))
            return Page([self._pool(i) for i in items], nxt)

        return AsyncPager(fetch, "pools")

    async def update(
        self,
        pool: PoolRef,
        *,
        name: str | None = None,
        tags: Sequence[str] | None = None,
        constants: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> AsyncPool:
        """Changes a live pool's name, tags, constants or labels (its scaling is kept)."""
        current = await self.get(pool)
        body = S.settings_put_body(
            current, name=name, tags=tags, constants=constants, labels=labels
        )
        return self._pool(await self._json(Call("PUT", f"/pools/{current.uuid}", json=body)))

    async def update_scaling(
        self,
        pool: PoolRef,
        policies: Sequence[ScalingPolicy] | None = None,
        *,
        instance_count: int | None = None,
        elastic: ElasticProperty | None = None,
        resize_period: int | None = None,
    ) -> AsyncPool:
        """Replaces a live pool's scaling (one of ``policies``, ``instance_count``,
        ``elastic``) and/or its ``resize_period``."""
        current = await self.get(pool)
        body = S.scaling_put_body(current, policies, instance_count, elastic, resize_period)
        return self._pool(await self._json(Call("PUT", f"/pools/{current.uuid}", json=body)))

    async def resize(self, pool: PoolRef) -> ScalingDecision:
        """Evaluates the pool's scaling now and answers the decision."""
        answer = await self._json(Call("POST", f"/pools/{uuid_of(pool, 'pool')}/resize"))
        return ScalingDecision.model_validate(answer)

    async def close(self, pool: PoolRef) -> AsyncPool:
        """Closes the pool (closing twice is a :class:`~hearth.Conflict`)."""
        call = Call("POST", f"/pools/{uuid_of(pool, 'pool')}/close", retry_after_send=False)
        return self._pool(await self._json(call))

    async def delete(self, pool: PoolRef) -> None:
        """Deletes the pool."""
        await self._http.send(Call("DELETE", f"/pools/{uuid_of(pool, 'pool')}"))

    def _hearth_pager(
        self, path: str, page_size: int, parse: Callable[[Any], Any], what: str
    ) -> AsyncPager[Any]:
        async def fetch(token: str | None) -> Page[Any]:
            body = await self._json(Call("GET", path, params=S.page_params(token, page_size)))
            items, nxt = S.hearth_page(body)
            return Page([parse(i) for i in items], nxt)

        return AsyncPager(fetch, what)

    def nodes(self, pool: PoolRef, *, page_size: int = 100) -> AsyncPager[Node]:
        """The pool's nodes in creation order."""
        path = f"/pools/{uuid_of(pool, 'pool')}/nodes"
        pager: AsyncPager[Node] = self._hearth_pager(path, page_size, Node.model_validate, "nodes")
        return pager

    def decisions(self, pool: PoolRef, *, page_size: int = 100) -> AsyncPager[ScalingDecision]:
        """The pool's scaling decisions, newest first."""
        path = f"/pools/{uuid_of(pool, 'pool')}/scaling-decisions"
        pager: AsyncPager[ScalingDecision] = self._hearth_pager(
            path, page_size, ScalingDecision.model_validate, "scaling decisions"
        )
        return pager

    async def wait_ready(self, pool: PoolRef, *, timeout: float = 300.0) -> AsyncPool:
        """Waits until the pool is ``FullyExecuting``, following its events."""
        uuid = uuid_of(pool, "pool")
        deadline = time.monotonic() + timeout
        stream = AsyncEventStream(self._http, pool=uuid, types=("pool", "node"), deadline=deadline)
        async with stream:
            await stream.connect()
            current = await self.get(uuid)
            while current.state != S.POOL_READY_STATE:
                if current.state in S.POOL_DEAD_STATES:
                    raise S.pool_dead_error(current)
                try:
                    await stream.__anext__()
                except WaitTimeout:
                    raise S.pool_timeout_error(await self.get(uuid), timeout) from None
                current = await self.get(uuid)
        return current


class AsyncTasks(_Resource):
    """``client.tasks`` of an :class:`AsyncClient` (see :class:`hearth.Client`'s)."""

    async def submit(
        self,
        pool: PoolRef | None,
        name: str,
        *,
        instance_count: int | None = None,
        ranges: str | None = None,
        command: str | None = None,
        constants: Mapping[str, str] | None = None,
        tags: Sequence[str] = (),
        labels: Mapping[str, str] | None = None,
        depends_on: Sequence[TaskRef | Dependency] = (),
        max_retries_per_instance: int | None = None,
        max_total_retries: int | None = None,
        job: JobRef | None = None,
        shortname: str | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncTask:
        """Submits a task (see :meth:`hearth.Client.tasks.submit`)."""
        spec = TaskSpec(
            name=name,
            instance_count=instance_count,
            ranges=ranges,
            command=command,
            constants=dict(constants or {}),
            tags=builtins.list(tags),
            labels=dict(labels or {}),
            depends_on=builtins.list(depends_on),
            max_retries_per_instance=max_retries_per_instance,
            max_total_retries=max_total_retries,
            shortname=shortname,
        )
        body = task_body(
            spec,
            pool=uuid_of(pool, "pool") if pool is not None else None,
            job=uuid_of(job, "job") if job is not None else None,
        )
        key = idempotency_key or new_idempotency_key()
        created = await self._json(Call("POST", "/tasks", json=body, idempotency_key=key))
        return await self.get(str(created["uuid"]))

    async def submit_many(
        self,
        pool: PoolRef | None,
        specs: Sequence[TaskSpec],
        *,
        job: JobRef | None = None,
        idempotency_key: str | None = None,
    ) -> builtins.list[BulkResult]:
        """Submits several tasks in one request; one result per spec, in order."""
        pool_uuid = uuid_of(pool, "pool") if pool is not None else None
        job_uuid = uuid_of(job, "job") if job is not None else None
        bodies = [task_body(s, pool=pool_uuid, job=job_uuid) for s in specs]
        key = idempotency_key or new_idempotency_key()
        answer = await self._json(Call("POST", "/tasks", json=bodies, idempotency_key=key))
        return [BulkResult.model_validate(item) for item in answer]

    async def get(self, task: TaskRef) -> AsyncTask:
        """Reads a task."""
        return self._task(await self._json(Call("GET", f"/tasks/{uuid_of(task, 'task')}")))

    def list(
        self,
        *,
        tags: Sequence[str] | None = None,
        all_tags: bool = False,
        name: str | None = None,
        state: str | Sequence[str] | None = None,
        page_size: int = 50,
    ) -> AsyncPager[AsyncTask]:
        """The tenant's tasks in submission order (``async for``), a page at a time."""

        async def fetch(token: str | None) -> Page[AsyncTask]:
            body = S.paginate_body(
                token, page_size, tags=tags, all_tags=all_tags, name=name, state=state
            )
            items, nxt = S.qarnot_page(await self._json(Call("POST", "/tasks/paginate", json=body)))
            return Page([self._task(i) for i in items], nxt)

        return AsyncPager(fetch, "tasks")

    async def abort(self, task: TaskRef) -> AsyncTask:
        """Aborts a task and returns it."""
        uuid = uuid_of(task, "task")
        await self._http.send(Call("POST", f"/tasks/{uuid}/abort"))
        return await self.get(uuid)

    async def delete(self, task: TaskRef) -> None:
        """Deletes a task."""
        await self._http.send(Call("DELETE", f"/tasks/{uuid_of(task, 'task')}"))

    async def _output(self, kind: str, task: TaskRef, instance: int | None, fresh: bool) -> str:
        path = f"/tasks/{uuid_of(task, 'task')}/{kind}"
        if instance is not None:
            path += f"/{int(instance)}"
        call = Call(
            "POST" if fresh else "GET",
            path,
            headers={"Accept": "text/plain"},
            retry_after_send=not fresh,
        )
        return (await self._http.send(call)).text

    async def stdout(
        self, task: TaskRef, instance: int | None = None, *, fresh: bool = False
    ) -> str:
        """A task's (or one instance's) standard output."""
        return await self._output("stdout", task, instance, fresh)

    async def stderr(
        self, task: TaskRef, instance: int | None = None, *, fresh: bool = False
    ) -> str:
        """A task's (or one instance's) standard error."""
        return await self._output("stderr", task, instance, fresh)

    async def _wait(self, task: TaskRef, timeout: float | None) -> tuple[AsyncTask, bool]:
        uuid = uuid_of(task, "task")
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            remaining = S.MAX_WAIT_POLL if deadline is None else deadline - time.monotonic()
            poll = min(S.MAX_WAIT_POLL, max(0.0, remaining))
            call = Call(
                "GET",
                f"/tasks/{uuid}/wait",
                params=S.wait_params(poll),
                timeout=S.wait_timeout(poll),
            )
            latest = self._task(await self._json(call))
            if latest.finished:
                return latest, True
            if deadline is not None and time.monotonic() >= deadline:
                return latest, False

    def _timeout(self, task: AsyncTask, timeout: float | None) -> WaitTimeout:
        return S.task_timeout_error(task, timeout)

    async def wait(self, task: TaskRef, *, timeout: float | None = None) -> AsyncTask:
        """Waits until the task is finished and returns it."""
        latest, finished = await self._wait(task, timeout)
        if not finished:
            raise self._timeout(latest, timeout)
        return latest

    async def progress(self, task: TaskRef) -> AsyncIterator[TaskProgress]:
        """The task's counts now, then each time they change, until it is finished."""
        uuid = uuid_of(task, "task")
        async with AsyncEventStream(self._http, task=uuid, types=("taskProgress",)) as stream:
            await stream.connect()
            last = S.snapshot_progress(await self.get(uuid))
            yield last
            if last.finished:
                return
            async for event in stream:
                if isinstance(event, ResetEvent):
                    event = S.snapshot_progress(await self.get(uuid))
                if not isinstance(event, TaskProgress):
                    continue
                if event.id and event.at < last.at:
                    continue
                if (event.state, event.counts()) == (last.state, last.counts()):
                    continue
                last = event
                yield event
                if event.finished:
                    return

    def follow(self, task: TaskRef, instance: int) -> AsyncOutputStream:
        """One instance's output as it is written (``async for``)."""
        return AsyncOutputStream(self._http, uuid_of(task, "task"), int(instance))


class AsyncJobs(_Resource):
    """``client.jobs`` of an :class:`AsyncClient`."""

    async def create(
        self,
        name: str,
        pool: PoolRef | None = None,
        *,
        use_dependencies: bool = False,
        max_wall_time: _dt.timedelta | str | None = None,
        tags: Sequence[str] | None = None,
        shortname: str | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncJob:
        """Creates a job (bound to ``pool`` when given)."""
        body = job_body(
            name,
            pool=uuid_of(pool, "pool") if pool is not None else None,
            use_dependencies=use_dependencies,
            max_wall_time=max_wall_time,
            tags=tags,
            shortname=shortname,
        )
        key = idempotency_key or new_idempotency_key()
        created = await self._json(Call("POST", "/jobs", json=body, idempotency_key=key))
        return await self.get(str(created["uuid"]))

    async def get(self, job: JobRef) -> AsyncJob:
        """Reads a job."""
        return self._job(await self._json(Call("GET", f"/jobs/{uuid_of(job, 'job')}")))

    def list(
        self,
        *,
        tags: Sequence[str] | None = None,
        all_tags: bool = False,
        name: str | None = None,
        state: str | Sequence[str] | None = None,
        page_size: int = 50,
    ) -> AsyncPager[AsyncJob]:
        """The tenant's jobs in creation order (``async for``)."""

        async def fetch(token: str | None) -> Page[AsyncJob]:
            body = S.paginate_body(
                token, page_size, tags=tags, all_tags=all_tags, name=name, state=state
            )
            items, nxt = S.qarnot_page(await self._json(Call("POST", "/jobs/paginate", json=body)))
            return Page([self._job(i) for i in items], nxt)

        return AsyncPager(fetch, "jobs")

    async def tasks(self, job: JobRef) -> builtins.list[AsyncTask]:
        """The job's tasks, in submission order."""
        answer = await self._json(Call("GET", f"/jobs/{uuid_of(job, 'job')}/tasks"))
        return [self._task(t) for t in answer]

    async def terminate(self, job: JobRef) -> AsyncJob:
        """Terminates a job."""
        uuid = uuid_of(job, "job")
        await self._http.send(Call("POST", f"/jobs/{uuid}/terminate"))
        return await self.get(uuid)

    async def delete(self, job: JobRef, *, force: bool = False) -> None:
        """Deletes a job (``force`` aborts its unfinished tasks)."""
        params = {"force": "True" if force else "False"}
        await self._http.send(Call("DELETE", f"/jobs/{uuid_of(job, 'job')}", params=params))


class AsyncUsagePager(AsyncPager[UsageLine]):
    """The lines of a billing report (``async for``). ``report`` is the latest page read
    (period, currency, ``totals``), ``None`` before the first."""

    report: UsageReport | None

    def __init__(self, fetch_report: Callable[[str | None], Awaitable[UsageReport]]) -> None:
        self.report = None

        async def fetch(token: str | None) -> Page[UsageLine]:
            report = await fetch_report(token)
            self.report = report
            return Page(builtins.list(report.items), report.next_page_token)

        super().__init__(fetch, "usage lines")

    async def totals(self) -> UsageFigures:
        """The whole report's totals, reading the first page when needed."""
        if self.report is None:
            await self._next_page()
        assert self.report is not None
        return self.report.totals


class AsyncBilling(_Resource):
    """``client.billing`` of an :class:`AsyncClient`."""

    def usage(
        self,
        *,
        group_by: GroupBy = "pool",
        start: When | None = None,
        end: When | None = None,
        tenant: str | None = None,
        page_size: int = 100,
    ) -> AsyncUsagePager:
        """The billing report's lines (``async for``), a page at a time."""

        async def fetch(token: str | None) -> UsageReport:
            params = S.usage_params(
                group_by=group_by, start=start, end=end, tenant=tenant, fmt="json"
            )
            params.update(S.page_params(token, page_size))
            return UsageReport.model_validate(
                await self._json(Call("GET", "/billing/usage", params=params))
            )

        return AsyncUsagePager(fetch)

    async def to_csv(
        self,
        *,
        group_by: GroupBy = "pool",
        start: When | None = None,
        end: When | None = None,
        tenant: str | None = None,
        path: str | Path | None = None,
    ) -> str:
        """The whole report as CSV text; also written to ``path`` when given."""
        params = S.usage_params(group_by=group_by, start=start, end=end, tenant=tenant, fmt="csv")
        call = Call("GET", "/billing/usage", params=params, headers={"Accept": "text/csv"})
        text = (await self._http.send(call)).text
        if path is not None:
            Path(path).write_text(text, encoding="utf-8", newline="")
        return text


class AsyncBudgets(_Resource):
    """``client.budgets`` of an :class:`AsyncClient`."""

    async def create(
        self,
        name: str,
        amount: Decimal | int | float | str,
        *,
        period: str | tuple[When, When] = "monthly",
        overrun_policy: Policy = "AlertOnly",
        alert_thresholds: Sequence[float | Decimal | str] | None = None,
        idempotency_key: str | None = None,
    ) -> Budget:
        """Creates a budget."""
        body = budget_body(
            name,
            amount,
            period=period,
            overrun_policy=overrun_policy,
            alert_thresholds=alert_thresholds,
        )
        key = idempotency_key or new_idempotency_key()
        return Budget.model_validate(
            await self._json(Call("POST", "/budgets", json=body, idempotency_key=key))
        )

    async def get(self, budget: str | Budget) -> Budget:
        """Reads a budget."""
        return Budget.model_validate(
            await self._json(Call("GET", f"/budgets/{uuid_of(budget, 'budget')}"))
        )

    def list(self, *, page_size: int = 100) -> AsyncPager[Budget]:
        """The tenant's budgets in creation order (``async for``)."""

        async def fetch(token: str | None) -> Page[Budget]:
            body = await self._json(Call("GET", "/budgets", params=S.page_params(token, page_size)))
            items, nxt = S.hearth_page(body)
            return Page([Budget.model_validate(i) for i in items], nxt)

        return AsyncPager(fetch, "budgets")

    async def update(
        self,
        budget: str | Budget,
        *,
        name: str | None = None,
        amount: Decimal | int | float | str | None = None,
        period: str | tuple[When, When] | None = None,
        overrun_policy: Policy | None = None,
        alert_thresholds: Sequence[float | Decimal | str] | None = None,
    ) -> Budget:
        """Changes a budget; the fields not given keep their current values."""
        current = await self.get(budget)
        cur_period: str | tuple[When, When] = (
            current.period
            if isinstance(current.period, str)
            else (current.period.start, current.period.end)
        )
        body = budget_body(
            name if name is not None else current.name,
            amount if amount is not None else current.amount,
            period=period if period is not None else cur_period,
            overrun_policy=overrun_policy or current.overrun_policy,
            alert_thresholds=(
                alert_thresholds if alert_thresholds is not None else current.alert_thresholds
            ),
        )
        return Budget.model_validate(
            await self._json(Call("PUT", f"/budgets/{current.uuid}", json=body))
        )

    async def delete(self, budget: str | Budget) -> None:
        """Deletes a budget."""
        await self._http.send(Call("DELETE", f"/budgets/{uuid_of(budget, 'budget')}"))


class AsyncTokens(_Resource):
    """``client.tokens`` of an :class:`AsyncClient`."""

    async def create(
        self,
        name: str,
        role: Literal["owner", "member", "viewer", "billing"],
        *,
        expires_in: _dt.timedelta | int | None = None,
        user: str | None = None,
    ) -> CreatedToken:
        """Creates a token; its secret (``.token``) is in this answer only."""
        body = S.token_body(name, role, expires_in, user)
        call = Call("POST", "/tokens", json=body, retry_after_send=False)
        return CreatedToken.model_validate(await self._json(call))

    def list(self, *, page_size: int = 100) -> AsyncPager[Token]:
        """The tenant's tokens (``async for``)."""

        async def fetch(token: str | None) -> Page[Token]:
            body = await self._json(Call("GET", "/tokens", params=S.page_params(token, page_size)))
            items, nxt = S.hearth_page(body)
            return Page([Token.model_validate(i) for i in items], nxt)

        return AsyncPager(fetch, "tokens")

    async def revoke(self, token: str | Token) -> None:
        """Revokes a token by its uuid."""
        await self._http.send(Call("DELETE", f"/tokens/{uuid_of(token, 'token')}"))


class AsyncProfiles(_Resource):
    """``client.profiles`` of an :class:`AsyncClient`."""

    async def list(self) -> builtins.list[str]:
        """The profiles' names."""
        return [str(n) for n in await self._json(Call("GET", "/profiles"))]

    async def get(self, name: str) -> Profile:
        """One profile."""
        return Profile.model_validate(await self._json(Call("GET", f"/profiles/{name}")))


class AsyncClient:
    """An asynchronous client of a hearth server: the API of :class:`hearth.Client` with
    coroutines (``await client.pools.get(…)``) and async iterators (``async for``).

    Use it as an async context manager, or ``await client.aclose()``.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        settings = resolve(url, token)
        if timeout is None:
            timeout_value = DEFAULT_TIMEOUT
        elif isinstance(timeout, httpx.Timeout):
            timeout_value = timeout
        else:
            timeout_value = httpx.Timeout(timeout)
        self.url = settings.url
        self._http = AsyncHTTP(
            settings.url,
            settings.token,
            timeout=timeout_value,
            retry=retry or RetryPolicy(),
            transport=transport,
        )
        self.pools = AsyncPools(self)
        self.tasks = AsyncTasks(self)
        self.jobs = AsyncJobs(self)
        self.billing = AsyncBilling(self)
        self.budgets = AsyncBudgets(self)
        self.tokens = AsyncTokens(self)
        self.profiles = AsyncProfiles(self)

    def events(
        self,
        *,
        pool: PoolRef | None = None,
        task: TaskRef | None = None,
        types: Sequence[str] | None = None,
        last_event_id: int | None = None,
        reconnect: bool = True,
    ) -> AsyncEventStream:
        """The tenant's events as an async iterator (see :meth:`hearth.Client.events`)."""
        return AsyncEventStream(
            self._http,
            pool=uuid_of(pool, "pool") if pool is not None else None,
            task=uuid_of(task, "task") if task is not None else None,
            types=types,
            last_event_id=last_event_id,
            reconnect=reconnect,
        )

    async def health(self) -> bool:
        """Whether the server answers ``GET /health``."""
        return (await self._http.send(Call("GET", "/health"))).status_code == 200

    async def aclose(self) -> None:
        """Closes the connections."""
        await self._http.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"hearth.AsyncClient(url={self.url!r})"
