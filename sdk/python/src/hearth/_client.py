"""The blocking client: :class:`Client` and its resources."""

from __future__ import annotations

import builtins
import datetime as _dt
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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
from ._events import EventStream, OutputStream
from ._http import DEFAULT_TIMEOUT, Call, RetryPolicy, SyncHTTP, new_idempotency_key
from ._objects import Job, Pool, Task
from ._pagers import Page, Pager
from .models import (
    BulkResult,
    Budget,
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

__all__ = ["Client", "UsagePager"]

GroupBy = Literal["pool", "profile", "day", "task", "node"]
When = _dt.datetime | _dt.date | str


class _Resource:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._http = client._http

    def _pool(self, data: Any) -> Pool:
        pool = Pool.model_validate(data)
        pool._client = self._client
        return pool

    def _task(self, data: Any) -> Task:
        task = Task.model_validate(data)
        task._client = self._client
        return task

    def _job(self, data: Any) -> Job:
        job = Job.model_validate(data)
        job._client = self._client
        return job

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"


class Pools(_Resource):
    """``client.pools``: create, read, list, scale, close and delete pools."""

    def create(
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
    ) -> Pool:
        """Creates a pool of ``profile`` and returns it.

        ``instance_count`` counts slots (a Fixed pool's size; with ``slots_per_node`` 4,
        8 slots are 2 nodes). ``scaling`` (ordered policies) wins over ``elastic``, which
        wins over ``instance_count``. With ``wait_ready`` the call returns once the pool is
        ``FullyExecuting`` (at most ``ready_timeout`` seconds, else
        :class:`~hearth.WaitTimeout`). The create carries an ``Idempotency-Key`` (a new
        one per call unless given), so a retried request never creates two pools.
        """
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
        created = self._http.send(
            Call(
                "POST",
                "/pools",
                json=body,
                idempotency_key=idempotency_key or new_idempotency_key(),
            )
        ).json()
        uuid = str(created["uuid"])
        if wait_ready:
            return self.wait_ready(uuid, timeout=ready_timeout)
        return self.get(uuid)

    def get(self, pool: PoolRef) -> Pool:
        """Reads a pool."""
        return self._pool(self._http.send(Call("GET", f"/pools/{uuid_of(pool, 'pool')}")).json())

    def list(
        self,
        *,
        tags: Sequence[str] | None = None,
        all_tags: bool = False,
        name: str | None = None,
        state: str | Sequence[str] | None = None,
        page_size: int = 50,
    ) -> Pager[Pool]:
        """The tenant's pools in creation order, fetched a page at a time (filters: any
        of ``tags``, or all of them with ``all_tags``; exact ``name``; ``state``)."""

        def fetch(token: str | None) -> Page[Pool]:
            body = S.paginate_body(
                token, page_size, tags=tags, all_tags=all_tags, name=name, state=state
            )
            items, nxt = S.qarnot_page(
                self._http.send(Call("POST", "/pools/paginate", json=body)).json()
            )
            return Page([self._pool(i) for i in items], nxt)

        return Pager(fetch, "pools")

    def update(
        self,
        pool: PoolRef,
        *,
        name: str | None = None,
        tags: Sequence[str] | None = None,
        constants: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Pool:
        """Changes a live pool's name, tags, constants or labels (its scaling is kept)."""
        current = self.get(pool)
        body = S.settings_put_body(
            current, name=name, tags=tags, constants=constants, labels=labels
        )
        return self._pool(self._http.send(Call("PUT", f"/pools/{current.uuid}", json=body)).json())

    def update_scaling(
        self,
        pool: PoolRef,
        policies: Sequence[ScalingPolicy] | None = None,
        *,
        instance_count: int | None = None,
        elastic: ElasticProperty | None = None,
        resize_period: int | None = None,
    ) -> Pool:
        """Replaces a live pool's scaling with ordered ``policies``, a fixed
        ``instance_count`` of slots, or an ``elastic`` setting (one of them), and/or its
        ``resize_period``. Running work is never touched; the pool is evaluated at once."""
        current = self.get(pool)
        body = S.scaling_put_body(current, policies, instance_count, elastic, resize_period)
        return self._pool(self._http.send(Call("PUT", f"/pools/{current.uuid}", json=body)).json())

    def resize(self, pool: PoolRef) -> ScalingDecision:
        """Evaluates the pool's scaling now, carries it out, and answers the decision."""
        answer = self._http.send(Call("POST", f"/pools/{uuid_of(pool, 'pool')}/resize"))
        return ScalingDecision.model_validate(answer.json())

    def close(self, pool: PoolRef) -> Pool:
        """Closes the pool (``Closing``, or ``Closed`` at once without live nodes).
        Closing twice is a :class:`~hearth.Conflict`."""
        call = Call("POST", f"/pools/{uuid_of(pool, 'pool')}/close", retry_after_send=False)
        return self._pool(self._http.send(call).json())

    def delete(self, pool: PoolRef) -> None:
        """Deletes the pool; its tasks are cancelled and stay readable."""
        self._http.send(Call("DELETE", f"/pools/{uuid_of(pool, 'pool')}"))

    def nodes(self, pool: PoolRef, *, page_size: int = 100) -> Pager[Node]:
        """The pool's nodes in creation order, a page at a time."""
        path = f"/pools/{uuid_of(pool, 'pool')}/nodes"

        def fetch(token: str | None) -> Page[Node]:
            body = self._http.send(Call("GET", path, params=S.page_params(token, page_size))).json()
            items, nxt = S.hearth_page(body)
            return Page([Node.model_validate(i) for i in items], nxt)

        return Pager(fetch, "nodes")

    def decisions(self, pool: PoolRef, *, page_size: int = 100) -> Pager[ScalingDecision]:
        """The pool's scaling decisions, newest first, a page at a time."""
        path = f"/pools/{uuid_of(pool, 'pool')}/scaling-decisions"

        def fetch(token: str | None) -> Page[ScalingDecision]:
            body = self._http.send(Call("GET", path, params=S.page_params(token, page_size))).json()
            items, nxt = S.hearth_page(body)
            return Page([ScalingDecision.model_validate(i) for i in items], nxt)

        return Pager(fetch, "scaling decisions")

    def wait_ready(self, pool: PoolRef, *, timeout: float = 300.0) -> Pool:
        """Waits until the pool is ``FullyExecuting`` (every target node Ready), following
        its events (no fixed sleep); raises :class:`~hearth.WaitTimeout` after ``timeout``
        seconds, and :class:`~hearth.HearthError` if the pool closes or fails."""
        uuid = uuid_of(pool, "pool")
        deadline = time.monotonic() + timeout
        stream = EventStream(self._http, pool=uuid, types=("pool", "node"), deadline=deadline)
        with stream:
            stream.connect()  # before the read: a change in between is not missed
            current = self.get(uuid)
            while current.state != S.POOL_READY_STATE:
                if current.state in S.POOL_DEAD_STATES:
                    raise S.pool_dead_error(current)
                try:
                    next(stream)
                except WaitTimeout:
                    raise S.pool_timeout_error(self.get(uuid), timeout) from None
                current = self.get(uuid)
        return current


class Tasks(_Resource):
    """``client.tasks``: submit, read, list, wait for, abort and delete tasks."""

    def submit(
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
    ) -> Task:
        """Submits a task of ``instance_count`` instances (or ``ranges`` such as
        ``"0-9,20"``) to ``pool`` (a Pool or its uuid; ``None`` with a ``job`` bound to a
        pool) and returns it.

        ``command`` is run by each instance as a shell command (the ``DOCKER_CMD``
        constant); ``constants`` are environment variables, as are ``INSTANCE_ID``,
        ``TASK_UUID`` … ``depends_on``: tasks that must succeed first (or
        :class:`~hearth.Dependency` items). Retries: ``max_retries_per_instance``,
        ``max_total_retries``. Sent with an ``Idempotency-Key``.
        """
        spec = TaskSpec(
            name=name,
            instance_count=instance_count,
            ranges=ranges,
            command=command,
            constants=dict(constants or {}),
            tags=list(tags),
            labels=dict(labels or {}),
            depends_on=list(depends_on),
            max_retries_per_instance=max_retries_per_instance,
            max_total_retries=max_total_retries,
            shortname=shortname,
        )
        body = task_body(
            spec,
            pool=uuid_of(pool, "pool") if pool is not None else None,
            job=uuid_of(job, "job") if job is not None else None,
        )
        created = self._http.send(
            Call(
                "POST",
                "/tasks",
                json=body,
                idempotency_key=idempotency_key or new_idempotency_key(),
            )
        ).json()
        return self.get(str(created["uuid"]))

    def submit_many(
        self,
        pool: PoolRef | None,
        specs: Sequence[TaskSpec],
        *,
        job: JobRef | None = None,
        idempotency_key: str | None = None,
    ) -> builtins.list[BulkResult]:
        """Submits several tasks in one request; answers one result per spec, in order
        (``result.ok``, ``result.uuid``, or ``result.status_code`` and ``message``)."""
        pool_uuid = uuid_of(pool, "pool") if pool is not None else None
        job_uuid = uuid_of(job, "job") if job is not None else None
        bodies = [task_body(s, pool=pool_uuid, job=job_uuid) for s in specs]
        answer = self._http.send(
            Call(
                "POST",
                "/tasks",
                json=bodies,
                idempotency_key=idempotency_key or new_idempotency_key(),
            )
        ).json()
        return [BulkResult.model_validate(item) for item in answer]

    def get(self, task: TaskRef) -> Task:
        """Reads a task."""
        return self._task(self._http.send(Call("GET", f"/tasks/{uuid_of(task, 'task')}")).json())

    def list(
        self,
        *,
        tags: Sequence[str] | None = None,
        all_tags: bool = False,
        name: str | None = None,
        state: str | Sequence[str] | None = None,
        page_size: int = 50,
    ) -> Pager[Task]:
        """The tenant's tasks in submission order, fetched a page at a time."""

        def fetch(token: str | None) -> Page[Task]:
            body = S.paginate_body(
                token, page_size, tags=tags, all_tags=all_tags, name=name, state=state
            )
            items, nxt = S.qarnot_page(
                self._http.send(Call("POST", "/tasks/paginate", json=body)).json()
            )
            return Page([self._task(i) for i in items], nxt)

        return Pager(fetch, "tasks")

    def abort(self, task: TaskRef) -> Task:
        """Aborts a task (a finished one is left as it is) and returns it."""
        uuid = uuid_of(task, "task")
        self._http.send(Call("POST", f"/tasks/{uuid}/abort"))
        return self.get(uuid)

    def delete(self, task: TaskRef) -> None:
        """Deletes a task (an unfinished one is aborted first)."""
        self._http.send(Call("DELETE", f"/tasks/{uuid_of(task, 'task')}"))

    def _output(self, kind: str, task: TaskRef, instance: int | None, fresh: bool) -> str:
        path = f"/tasks/{uuid_of(task, 'task')}/{kind}"
        if instance is not None:
            path += f"/{int(instance)}"
        call = Call(
            "POST" if fresh else "GET",
            path,
            headers={"Accept": "text/plain"},
            retry_after_send=not fresh,
        )
        return self._http.send(call).text

    def stdout(self, task: TaskRef, instance: int | None = None, *, fresh: bool = False) -> str:
        """A task's (or one instance's) kept standard output; with ``fresh``, only what
        was written since the previous fresh read."""
        return self._output("stdout", task, instance, fresh)

    def stderr(self, task: TaskRef, instance: int | None = None, *, fresh: bool = False) -> str:
        """As :meth:`stdout`, for standard error."""
        return self._output("stderr", task, instance, fresh)

    def _wait(self, task: TaskRef, timeout: float | None) -> tuple[Task, bool]:
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
            latest = self._task(self._http.send(call).json())
            if latest.finished:
                return latest, True
            if deadline is not None and time.monotonic() >= deadline:
                return latest, False

    def _timeout(self, task: Task, timeout: float | None) -> WaitTimeout:
        return S.task_timeout_error(task, timeout)

    def wait(self, task: TaskRef, *, timeout: float | None = None) -> Task:
        """Waits until the task is finished and returns it (see :meth:`hearth.Task.wait`)."""
        latest, finished = self._wait(task, timeout)
        if not finished:
            raise self._timeout(latest, timeout)
        return latest

    def progress(self, task: TaskRef) -> Iterator[TaskProgress]:
        """Yields the task's counts of instances by state: first as they are now, then
        each time they change (from the event stream), until the task is finished."""
        uuid = uuid_of(task, "task")
        with EventStream(self._http, task=uuid, types=("taskProgress",)) as stream:
            stream.connect()
            current = self.get(uuid)
            last = S.snapshot_progress(current)
            yield last
            if last.finished:
                return
            for event in stream:
                if isinstance(event, ResetEvent):
                    event = S.snapshot_progress(self.get(uuid))
                if not isinstance(event, TaskProgress):
                    continue
                if event.id and event.at < last.at:
                    continue  # older than the snapshot read after the stream opened
                if (event.state, event.counts()) == (last.state, last.counts()):
                    continue
                last = event
                yield event
                if event.finished:
                    return

    def follow(self, task: TaskRef, instance: int) -> OutputStream:
        """One instance's stdout and stderr as they are written (an iterator of
        :class:`~hearth.models.OutputChunk`, then one :class:`~hearth.models.OutputEnd`)."""
        return OutputStream(self._http, uuid_of(task, "task"), int(instance))


class Jobs(_Resource):
    """``client.jobs``: groups of tasks on one pool."""

    def create(
        self,
        name: str,
        pool: PoolRef | None = None,
        *,
        use_dependencies: bool = False,
        max_wall_time: _dt.timedelta | str | None = None,
        tags: Sequence[str] | None = None,
        shortname: str | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Creates a job (bound to ``pool`` when given) and returns it."""
        body = job_body(
            name,
            pool=uuid_of(pool, "pool") if pool is not None else None,
            use_dependencies=use_dependencies,
            max_wall_time=max_wall_time,
            tags=tags,
            shortname=shortname,
        )
        created = self._http.send(
            Call(
                "POST", "/jobs", json=body, idempotency_key=idempotency_key or new_idempotency_key()
            )
        ).json()
        return self.get(str(created["uuid"]))

    def get(self, job: JobRef) -> Job:
        """Reads a job."""
        return self._job(self._http.send(Call("GET", f"/jobs/{uuid_of(job, 'job')}")).json())

    def list(
        self,
        *,
        tags: Sequence[str] | None = None,
        all_tags: bool = False,
        name: str | None = None,
        state: str | Sequence[str] | None = None,
        page_size: int = 50,
    ) -> Pager[Job]:
        """The tenant's jobs in creation order, fetched a page at a time."""

        def fetch(token: str | None) -> Page[Job]:
            body = S.paginate_body(
                token, page_size, tags=tags, all_tags=all_tags, name=name, state=state
            )
            items, nxt = S.qarnot_page(
                self._http.send(Call("POST", "/jobs/paginate", json=body)).json()
            )
            return Page([self._job(i) for i in items], nxt)

        return Pager(fetch, "jobs")

    def tasks(self, job: JobRef) -> builtins.list[Task]:
        """The job's tasks, in submission order."""
        answer = self._http.send(Call("GET", f"/jobs/{uuid_of(job, 'job')}/tasks")).json()
        return [self._task(t) for t in answer]

    def terminate(self, job: JobRef) -> Job:
        """Terminates a job: its unfinished tasks are cancelled."""
        uuid = uuid_of(job, "job")
        self._http.send(Call("POST", f"/jobs/{uuid}/terminate"))
        return self.get(uuid)

    def delete(self, job: JobRef, *, force: bool = False) -> None:
        """Deletes a job; unfinished tasks are a :class:`~hearth.Conflict` unless ``force``."""
        params = {"force": "True" if force else "False"}
        self._http.send(Call("DELETE", f"/jobs/{uuid_of(job, 'job')}", params=params))


class UsagePager(Pager[UsageLine]):
    """The lines of a billing report, a page at a time. ``report`` is the latest page read
    (period, currency, ``totals``), ``None`` before the first; :attr:`totals` reads the
    first page when needed."""

    report: UsageReport | None

    def __init__(self, fetch_report: Callable[[str | None], UsageReport]) -> None:
        self.report = None

        def fetch(token: str | None) -> Page[UsageLine]:
            report = fetch_report(token)
            self.report = report
            return Page(builtins.list(report.items), report.next_page_token)

        super().__init__(fetch, "usage lines")

    @property
    def totals(self) -> UsageFigures:
        """The whole report's totals (every page carries them)."""
        if self.report is None:
            self._next_page()
        assert self.report is not None
        return self.report.totals


class Billing(_Resource):
    """``client.billing``: what the tenant's nodes cost."""

    def usage(
        self,
        *,
        group_by: GroupBy = "pool",
        start: When | None = None,
        end: When | None = None,
        tenant: str | None = None,
        page_size: int = 100,
    ) -> UsagePager:
        """The billing report's lines from ``start`` (default: the first of the month)
        to ``end`` (default: now), grouped by pool, profile, day, task or node, fetched
        a page at a time. ``tenant`` is for operators (``"all"`` or a tenant uuid)."""

        def fetch(token: str | None) -> UsageReport:
            params = S.usage_params(
                group_by=group_by, start=start, end=end, tenant=tenant, fmt="json"
            )
            params.update(S.page_params(token, page_size))
            return UsageReport.model_validate(
                self._http.send(Call("GET", "/billing/usage", params=params)).json()
            )

        return UsagePager(fetch)

    def to_csv(
        self,
        *,
        group_by: GroupBy = "pool",
        start: When | None = None,
        end: When | None = None,
        tenant: str | None = None,
        path: str | Path | None = None,
    ) -> str:
        """The whole report as CSV text (every line, one header row, CRLF); also written
        to ``path`` when given."""
        params = S.usage_params(group_by=group_by, start=start, end=end, tenant=tenant, fmt="csv")
        text = self._http.send(
            Call("GET", "/billing/usage", params=params, headers={"Accept": "text/csv"})
        ).text
        if path is not None:
            Path(path).write_text(text, encoding="utf-8", newline="")
        return text


class Budgets(_Resource):
    """``client.budgets``: limits on what the tenant's nodes cost (owner and billing roles)."""

    def create(
        self,
        name: str,
        amount: Decimal | int | float | str,
        *,
        period: str | tuple[When, When] = "monthly",
        overrun_policy: Literal["AlertOnly", "BlockNew", "StopAndBlockAll"] = "AlertOnly",
        alert_thresholds: Sequence[float | Decimal | str] | None = None,
        idempotency_key: str | None = None,
    ) -> Budget:
        """Creates a budget of ``amount`` (in the server's currency) over ``period``
        (``"monthly"`` or a ``(from, to)`` pair)."""
        body = budget_body(
            name,
            amount,
            period=period,
            overrun_policy=overrun_policy,
            alert_thresholds=alert_thresholds,
        )
        call = Call(
            "POST", "/budgets", json=body, idempotency_key=idempotency_key or new_idempotency_key()
        )
        return Budget.model_validate(self._http.send(call).json())

    def get(self, budget: str | Budget) -> Budget:
        """Reads a budget (consumed, remaining and forecast computed now)."""
        return Budget.model_validate(
            self._http.send(Call("GET", f"/budgets/{uuid_of(budget, 'budget')}")).json()
        )

    def list(self, *, page_size: int = 100) -> Pager[Budget]:
        """The tenant's budgets in creation order, a page at a time."""

        def fetch(token: str | None) -> Page[Budget]:
            body = self._http.send(
                Call("GET", "/budgets", params=S.page_params(token, page_size))
            ).json()
            items, nxt = S.hearth_page(body)
            return Page([Budget.model_validate(i) for i in items], nxt)

        return Pager(fetch, "budgets")

    def update(
        self,
        budget: str | Budget,
        *,
        name: str | None = None,
        amount: Decimal | int | float | str | None = None,
        period: str | tuple[When, When] | None = None,
        overrun_policy: Literal["AlertOnly", "BlockNew", "StopAndBlockAll"] | None = None,
        alert_thresholds: Sequence[float | Decimal | str] | None = None,
    ) -> Budget:
        """Changes a budget; the fields not given keep their current values (the server
        replaces every field, so the current ones are read first)."""
        current = self.get(budget)
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
            alert_thresholds=alert_thresholds
            if alert_thresholds is not None
            else current.alert_thresholds,
        )
        return Budget.model_validate(
            self._http.send(Call("PUT", f"/budgets/{current.uuid}", json=body)).json()
        )

    def delete(self, budget: str | Budget) -> None:
        """Deletes a budget (a block it held is lifted at once)."""
        self._http.send(Call("DELETE", f"/budgets/{uuid_of(budget, 'budget')}"))


class Tokens(_Resource):
    """``client.tokens``: the tenant's API tokens (owner role)."""

    def create(
        self,
        name: str,
        role: Literal["owner", "member", "viewer", "billing"],
        *,
        expires_in: _dt.timedelta | int | None = None,
        user: str | None = None,
    ) -> CreatedToken:
        """Creates a token; its secret (``.token``) is in this answer only."""
        body = S.token_body(name, role, expires_in, user)
        return CreatedToken.model_validate(
            self._http.send(Call("POST", "/tokens", json=body, retry_after_send=False)).json()
        )

    def list(self, *, page_size: int = 100) -> Pager[Token]:
        """The tenant's tokens (without secrets), a page at a time."""

        def fetch(token: str | None) -> Page[Token]:
            body = self._http.send(
                Call("GET", "/tokens", params=S.page_params(token, page_size))
            ).json()
            items, nxt = S.hearth_page(body)
            return Page([Token.model_validate(i) for i in items], nxt)

        return Pager(fetch, "tokens")

    def revoke(self, token: str | Token) -> None:
        """Revokes a token (by its uuid): it answers 401 from then on."""
        self._http.send(Call("DELETE", f"/tokens/{uuid_of(token, 'token')}"))


class Profiles(_Resource):
    """``client.profiles``: the platform's node types."""

    def list(self) -> builtins.list[str]:
        """The profiles' names."""
        return [str(n) for n in self._http.send(Call("GET", "/profiles")).json()]

    def get(self, name: str) -> Profile:
        """One profile."""
        return Profile.model_validate(self._http.send(Call("GET", f"/profiles/{name}")).json())


class Client:
    """A blocking client of a hearth server.

    ``url`` and ``token`` default to ``HEARTH_URL``/``HEARTH_TOKEN`` (or
    ``QARNOT_CLUSTER_URL``/``QARNOT_CLIENT_TOKEN``), then the CLI's profile file (see
    :mod:`hearth._config`). Every request has a timeout (``timeout``, seconds or an
    ``httpx.Timeout``); failed calls are retried as ``retry`` says (connection errors,
    429, 5xx). ``transport`` replaces httpx's (for tests or proxies).

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        settings = resolve(url, token)
        if timeout is None:
            timeout_value = DEFAULT_TIMEOUT
        elif isinstance(timeout, httpx.Timeout):
            timeout_value = timeout
        else:
            timeout_value = httpx.Timeout(timeout)
        self.url = settings.url
        self._http = SyncHTTP(
            settings.url,
            settings.token,
            timeout=timeout_value,
            retry=retry or RetryPolicy(),
            transport=transport,
        )
        self.pools = Pools(self)
        self.tasks = Tasks(self)
        self.jobs = Jobs(self)
        self.billing = Billing(self)
        self.budgets = Budgets(self)
        self.tokens = Tokens(self)
        self.profiles = Profiles(self)

    def events(
        self,
        *,
        pool: PoolRef | None = None,
        task: TaskRef | None = None,
        types: Sequence[str] | None = None,
        last_event_id: int | None = None,
        reconnect: bool = True,
    ) -> EventStream:
        """The tenant's events as an iterator (optionally only ``pool``'s, ``task``'s, or
        of some ``types``), following live; ``last_event_id`` resumes after an event.
        Dropped connections are resumed with ``Last-Event-ID`` (unless ``reconnect`` is
        false)."""
        return EventStream(
            self._http,
            pool=uuid_of(pool, "pool") if pool is not None else None,
            task=uuid_of(task, "task") if task is not None else None,
            types=types,
            last_event_id=last_event_id,
            reconnect=reconnect,
        )

    def health(self) -> bool:
        """Whether the server answers ``GET /health``."""
        return self._http.send(Call("GET", "/health")).status_code == 200

    def close(self) -> None:
        """Closes the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"hearth.Client(url={self.url!r})"
