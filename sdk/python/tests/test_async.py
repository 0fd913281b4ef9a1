"""hearth.AsyncClient against the real server: the same resources with coroutines and
async iterators."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

import hearth
from conftest import RUN, HearthServer
from helpers import Proxy


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_async_pool_task_wait_output_and_lists(server: HearthServer) -> None:
    async def main() -> None:
        async with hearth.AsyncClient(server.url, server.owner_token) as c:
            pool = await c.pools.create(
                f"{RUN}-async",
                profile="docker-batch",
                instance_count=2,
                tags=[f"{RUN}-async"],
                wait_ready=True,
                ready_timeout=60,
            )
            assert isinstance(pool, hearth.AsyncPool) and pool.state == "FullyExecuting"
            nodes = [n async for n in pool.nodes()]
            assert len(nodes) == 2 and all(n.state == "Ready" for n in nodes)
            task = await pool.submit(
                f"{RUN}-async-task", instance_count=3, command="sleep 0.3; echo async $INSTANCE_ID"
            )
            assert isinstance(task, hearth.AsyncTask)
            progress = [p async for p in task.progress()]
            assert progress[-1].finished and progress[-1].succeeded == 3
            started = time.monotonic()
            await task.wait(timeout=30)
            assert time.monotonic() - started < 1  # already over: no sleeping
            assert task.state == "Success"
            outs = await asyncio.gather(*(task.stdout(i) for i in range(3)))
            assert outs == [f"async {i}\n" for i in range(3)]
            listed = [p.uuid async for p in c.pools.list(tags=[f"{RUN}-async"])]
            assert listed == [pool.uuid]
            tasks = await c.tasks.list(name=f"{RUN}-async-task").collect()
            assert [t.uuid for t in tasks] == [task.uuid]
            decisions = [d async for d in pool.decisions()]
            assert decisions and decisions[0].pool_uuid == pool.uuid
            usage = c.billing.usage(group_by="pool")
            lines = [line async for line in usage]
            assert any(line.pool_uuid == pool.uuid for line in lines)
            assert (await usage.totals()).cost == sum(
                (line.cost for line in lines), start=Decimal(0)
            )
            csv_text = await c.billing.to_csv(group_by="pool")
            assert pool.uuid in csv_text
            budget = await c.budgets.create(f"{RUN}-async-budget", 3)
            assert [b.uuid async for b in c.budgets.list() if b.uuid == budget.uuid] == [
                budget.uuid
            ]
            await c.budgets.delete(budget)
            job = await c.jobs.create(f"{RUN}-async-job", pool)
            in_job = await job.submit(f"{RUN}-async-in-job", instance_count=1, command="true")
            await in_job.wait(timeout=30)
            assert [t.uuid for t in await job.tasks()] == [in_job.uuid]
            await job.delete(force=True)
            with pytest.raises(hearth.NotFound):
                await c.tasks.get("00000000-0000-4000-8000-000000000000")
            await pool.close()
            assert pool.state in ("Closing", "Closed")
            with pytest.raises(hearth.Conflict):
                await pool.close()

    run(main())


def test_async_events_resume_after_a_cut(
    server: HearthServer, client: hearth.Client, pool: hearth.Pool
) -> None:
    proxy = Proxy("127.0.0.1", int(server.url.rsplit(":", 1)[1]))

    async def main() -> None:
        async with hearth.AsyncClient(proxy.url, server.owner_token) as c:
            async with c.events(pool=pool.uuid, types=["taskProgress", "instanceEnded"]) as stream:
                await stream.connect()
                task = client.tasks.submit(
                    pool, f"{RUN}-async-cut", instance_count=10, command="sleep 0.05"
                )
                got = []
                cut = False
                async for event in stream:
                    got.append(event)
                    if not cut and len(got) >= 3 and stream.connections == 1:
                        assert proxy.cut() >= 1
                        cut = True
                    if (
                        isinstance(event, hearth.TaskProgress)
                        and event.task == task.uuid
                        and event.finished
                    ):
                        break
                assert stream.connections == 2
        ids = [e.id for e in got if e.id is not None]
        assert len(ids) == len(set(ids)) == len(got)
        ended = {e.instance_id for e in got if isinstance(e, hearth.InstanceEnded)}
        assert ended == set(range(10))
        async with hearth.AsyncClient(server.url, server.owner_token) as c:
            reference = []
            async with c.events(
                pool=pool.uuid, types=["taskProgress", "instanceEnded"], last_event_id=ids[0] - 1
            ) as replay:
                async for event in replay:
                    reference.append(event.id)
                    if event.id == ids[-1]:
                        break
        assert reference == ids

    try:
        run(main())
    finally:
        proxy.close()


def test_async_errors_and_wait_timeout(server: HearthServer, parked_pool: hearth.Pool) -> None:
    async def main() -> None:
        async with hearth.AsyncClient(server.url, "bad-token") as bad:
            with pytest.raises(hearth.Unauthorized):
                await bad.pools.get(parked_pool.uuid)
        async with hearth.AsyncClient(server.url, server.owner_token) as c:
            task = await c.tasks.submit(parked_pool, f"{RUN}-async-parked", command="true")
            started = time.monotonic()
            with pytest.raises(hearth.WaitTimeout):
                await task.wait(timeout=0.3)
            assert time.monotonic() - started < 3
            await task.abort()
            assert task.state in ("Cancelled", "PendingCancel")

    run(main())
