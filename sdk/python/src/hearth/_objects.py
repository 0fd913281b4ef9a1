"""Pools, tasks and jobs bound to the client that fetched them, with their methods.

``Pool``/``Task``/``Job`` belong to :class:`hearth.Client`; ``AsyncPool``/``AsyncTask``/
``AsyncJob`` to :class:`hearth.AsyncClient`. A method that changes or re-reads the object
(``refresh``, ``close``, ``wait`` …) updates it in place and returns it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import PrivateAttr

from ._errors import HearthError
from .models import (
    ElasticProperty,
    JobFields,
    Node,
    PoolFields,
    ScalingDecision,
    ScalingPolicy,
    TaskFields,
    TaskProgress,
)

if TYPE_CHECKING:
    from ._async_client import AsyncClient
    from ._client import Client
    from ._events import AsyncOutputStream, OutputStream
    from ._pagers import AsyncPager, Pager

__all__ = ["Pool", "Task", "Job", "AsyncPool", "AsyncTask", "AsyncJob"]


def _unbound(what: str) -> HearthError:
    return HearthError(f"this {what} is not bound to a client: fetch it through one")


class Pool(PoolFields):
    """A pool (see :class:`~hearth.models.PoolFields` for its fields)."""

    _client: Client | None = PrivateAttr(default=None)

    def _c(self) -> Client:
        if self._client is None:
            raise _unbound("pool")
        return self._client

    def refresh(self) -> Pool:
        """Reads the pool again."""
        self._absorb(self._c().pools.get(self.uuid))
        return self

    def close(self) -> Pool:
        """Closes the pool: no new tasks, queued instances cancelled, nodes terminated."""
        self._absorb(self._c().pools.close(self.uuid))
        return self

    def delete(self) -> None:
        """Deletes the pool (its tasks are cancelled and stay readable)."""
        self._c().pools.delete(self.uuid)

    def resize(self) -> ScalingDecision:
        """Evaluates the pool's scaling now; answers the decision made."""
        return self._c().pools.resize(self.uuid)

    def update_scaling(
        self,
        policies: Sequence[ScalingPolicy] | None = None,
        *,
        instance_count: int | None = None,
        elastic: ElasticProperty | None = None,
        resize_period: int | None = None,
    ) -> Pool:
        """Replaces the pool's scaling (see :meth:`hearth.Client.pools.update_scaling`)."""
        self._absorb(
            self._c().pools.update_scaling(
                self.uuid,
                policies,
                instance_count=instance_count,
                elastic=elastic,
                resize_period=resize_period,
            )
        )
        return self

    def nodes(self, *, page_size: int = 100) -> Pager[Node]:
        """The pool's nodes, in creation order."""
        return self._c().pools.nodes(self.uuid, page_size=page_size)

    def decisions(self, *, page_size: int = 100) -> Pager[ScalingDecision]:
        """The pool's scaling decisions, newest first."""
        return self._c().pools.decisions(self.uuid, page_size=page_size)

    def wait_ready(self, timeout: float = 300.0) -> Pool:
        """Waits until the pool is ``FullyExecuting`` (every target node Ready)."""
        self._absorb(self._c().pools.wait_ready(self.uuid, timeout=timeout))
        return self

    def submit(self, name: str, **kwargs: Any) -> Task:
        """Submits a task to this pool (the keywords of :meth:`hearth.Client.tasks.submit`)."""
        return self._c().tasks.submit(self, name, **kwargs)


class Task(TaskFields):
    """A task (see :class:`~hearth.models.TaskFields` for its fields)."""

    _client: Client | None = PrivateAttr(default=None)

    def _c(self) -> Client:
        if self._client is None:
            raise _unbound("task")
        return self._client

    def refresh(self) -> Task:
        """Reads the task again."""
        self._absorb(self._c().tasks.get(self.uuid))
        return self

    def wait(self, timeout: float | None = None) -> Task:
        """Blocks until the task is finished (``Success``, ``Failure`` or ``Cancelled``)
        and returns it, updated. Returns the moment the server sees the end (a long poll,
        no fixed sleep). Raises :class:`~hearth.WaitTimeout` after ``timeout`` seconds
        (``None``: no limit); the task is updated either way."""
        latest, finished = self._c().tasks._wait(self.uuid, timeout)
        self._absorb(latest)
        if not finished:
            raise self._c().tasks._timeout(latest, timeout)
        return self

    def abort(self) -> Task:
        """Aborts the task (a finished task is left as it is)."""
        self._absorb(self._c().tasks.abort(self.uuid))
        return self

    def delete(self) -> None:
        """Deletes the task (aborting it first if it runs)."""
        self._c().tasks.delete(self.uuid)

    def stdout(self, instance: int | None = None, *, fresh: bool = False) -> str:
        """The task's (or one instance's) standard output; with ``fresh``, only what was
        written since the previous fresh read."""
        return self._c().tasks.stdout(self.uuid, instance, fresh=fresh)

    def stderr(self, instance: int | None = None, *, fresh: bool = False) -> str:
        """As :meth:`stdout`, for standard error."""
        return self._c().tasks.stderr(self.uuid, instance, fresh=fresh)

    def progress(self) -> Iterator[TaskProgress]:
        """The task's instance counts each time they change, until it is finished."""
        return self._c().tasks.progress(self.uuid)

    def follow(self, instance: int) -> OutputStream:
        """One instance's output as it is written (``tail -f``)."""
        return self._c().tasks.follow(self.uuid, instance)


class Job(JobFields):
    """A job (see :class:`~hearth.models.JobFields` for its fields)."""

    _client: Client | None = PrivateAttr(default=None)

    def _c(self) -> Client:
        if self._client is None:
            raise _unbound("job")
        return self._client

    def refresh(self) -> Job:
        """Reads the job again."""
        self._absorb(self._c().jobs.get(self.uuid))
        return self

    def tasks(self) -> list[Task]:
        """The job's tasks, in submission order."""
        return self._c().jobs.tasks(self.uuid)

    def submit(self, name: str, **kwargs: Any) -> Task:
        """Submits a task to this job (the keywords of :meth:`hearth.Client.tasks.submit`)."""
        return self._c().tasks.submit(None, name, job=self, **kwargs)

    def terminate(self) -> Job:
        """Terminates the job: its unfinished tasks are cancelled."""
        self._absorb(self._c().jobs.terminate(self.uuid))
        return self

    def delete(self, *, force: bool = False) -> None:
        """Deletes the job (``force`` aborts its unfinished tasks; without it they are a
        :class:`~hearth.Conflict`)."""
        self._c().jobs.delete(self.uuid, force=force)


class AsyncPool(PoolFields):
    """A pool of an :class:`~hearth.AsyncClient`; its methods are coroutines."""

    _client: AsyncClient | None = PrivateAttr(default=None)

    def _c(self) -> AsyncClient:
        if self._client is None:
            raise _unbound("pool")
        return self._client

    async def refresh(self) -> AsyncPool:
        """Reads the pool again."""
        self._absorb(await self._c().pools.get(self.uuid))
        return self

    async def close(self) -> AsyncPool:
        """Closes the pool."""
        self._absorb(await self._c().pools.close(self.uuid))
        return self

    async def delete(self) -> None:
        """Deletes the pool."""
        await self._c().pools.delete(self.uuid)

    async def resize(self) -> ScalingDecision:
        """Evaluates the pool's scaling now."""
        return await self._c().pools.resize(self.uuid)

    async def update_scaling(
        self,
        policies: Sequence[ScalingPolicy] | None = None,
        *,
        instance_count: int | None = None,
        elastic: ElasticProperty | None = None,
        resize_period: int | None = None,
    ) -> AsyncPool:
        """Replaces the pool's scaling."""
        self._absorb(
            await self._c().pools.update_scaling(
                self.uuid,
                policies,
                instance_count=instance_count,
                elastic=elastic,
                resize_period=resize_period,
            )
        )
        return self

    def nodes(self, *, page_size: int = 100) -> AsyncPager[Node]:
        """The pool's nodes (``async for``)."""
        return self._c().pools.nodes(self.uuid, page_size=page_size)

    def decisions(self, *, page_size: int = 100) -> AsyncPager[ScalingDecision]:
        """The pool's scaling decisions, newest first (``async for``)."""
        return self._c().pools.decisions(self.uuid, page_size=page_size)

    async def wait_ready(self, timeout: float = 300.0) -> AsyncPool:
        """Waits until the pool is ``FullyExecuting``."""
        self._absorb(await self._c().pools.wait_ready(self.uuid, timeout=timeout))
        return self

    async def submit(self, name: str, **kwargs: Any) -> AsyncTask:
        """Submits a task to this pool."""
        return await self._c().tasks.submit(self, name, **kwargs)


class AsyncTask(TaskFields):
    """A task of an :class:`~hearth.AsyncClient`; its methods are coroutines."""

    _client: AsyncClient | None = PrivateAttr(default=None)

    def _c(self) -> AsyncClient:
        if self._client is None:
            raise _unbound("task")
        return self._client

    async def refresh(self) -> AsyncTask:
        """Reads the task again."""
        self._absorb(await self._c().tasks.get(self.uuid))
        return self

    async def wait(self, timeout: float | None = None) -> AsyncTask:
        """As :meth:`hearth.Task.wait`."""
        latest, finished = await self._c().tasks._wait(self.uuid, timeout)
        self._absorb(latest)
        if not finished:
            raise self._c().tasks._timeout(latest, timeout)
        return self

    async def abort(self) -> AsyncTask:
        """Aborts the task."""
        self._absorb(await self._c().tasks.abort(self.uuid))
        return self

    async def delete(self) -> None:
        """Deletes the task."""
        await self._c().tasks.delete(self.uuid)

    async def stdout(self, instance: int | None = None, *, fresh: bool = False) -> str:
        """The task's (or one instance's) standard output."""
        return await self._c().tasks.stdout(self.uuid, instance, fresh=fresh)

    async def stderr(self, instance: int | None = None, *, fresh: bool = False) -> str:
        """The task's (or one instance's) standard error."""
        return await self._c().tasks.stderr(self.uuid, instance, fresh=fresh)

    def progress(self) -> AsyncIterator[TaskProgress]:
        """The task's instance counts each time they change (``async for``)."""
        return self._c().tasks.progress(self.uuid)

    def follow(self, instance: int) -> AsyncOutputStream:
        """One instance's output as it is written (``async for``)."""
        return self._c().tasks.follow(self.uuid, instance)


class AsyncJob(JobFields):
    """A job of an :class:`~hearth.AsyncClient`; its methods are coroutines."""

    _client: AsyncClient | None = PrivateAttr(default=None)

    def _c(self) -> AsyncClient:
        if self._client is None:
            raise _unbound("job")
        return self._client

    async def refresh(self) -> AsyncJob:
        """Reads the job again."""
        self._absorb(await self._c().jobs.get(self.uuid))
        return self

    async def tasks(self) -> list[AsyncTask]:
        """The job's tasks, in submission order."""
        return await self._c().jobs.tasks(self.uuid)

    async def submit(self, name: str, **kwargs: Any) -> AsyncTask:
        """Submits a task to this job."""
        return await self._c().tasks.submit(None, name, job=self, **kwargs)

    async def terminate(self) -> AsyncJob:
        """Terminates the job."""
        self._absorb(await self._c().jobs.terminate(self.uuid))
        return self

    async def delete(self, *, force: bool = False) -> None:
        """Deletes the job."""
        await self._c().jobs.delete(self.uuid, force=force)
