"""A retried create never creates twice: the answer to the first POST is lost after the
server handled it, the SDK retries with the same Idempotency-Key, and one object exists."""

from __future__ import annotations

import hearth
from conftest import RUN, HearthServer
from helpers import DropFirstResponse, InFlightFirst


def test_retried_task_submit_creates_one_task(
    server: HearthServer, client: hearth.Client, parked_pool: hearth.Pool
) -> None:
    transport = DropFirstResponse("POST", "/tasks")
    name = f"{RUN}-once"
    with server.client(transport=transport, retry=hearth.RetryPolicy(backoff=0.01)) as c:
        task = c.tasks.submit(parked_pool, name, instance_count=1, command="true")
    assert transport.dropped == 1
    assert len(transport.seen) == 2  # the dropped attempt and its retry
    keys = [r.headers.get("idempotency-key") for r in transport.seen]
    assert keys[0] and keys[0] == keys[1]
    assert transport.responses[0].status_code == 201
    assert transport.responses[1].status_code == 201
    assert transport.responses[1].headers.get("idempotent-replayed") == "true"
    assert (
        transport.responses[0].json()["uuid"] == transport.responses[1].json()["uuid"] == task.uuid
    )
    assert [t.uuid for t in client.tasks.list(name=name)] == [task.uuid]


def test_retried_pool_create_creates_one_pool(server: HearthServer, client: hearth.Client) -> None:
    transport = DropFirstResponse("POST", "/pools")
    name = f"{RUN}-one-pool"
    with server.client(transport=transport, retry=hearth.RetryPolicy(backoff=0.01)) as c:
        pool = c.pools.create(name, profile="docker-batch", instance_count=0)
    try:
        assert len(transport.seen) == 2
        assert (
            transport.seen[0].headers["idempotency-key"]
            == transport.seen[1].headers["idempotency-key"]
        )
        assert [p.uuid for p in client.pools.list(name=name)] == [pool.uuid]
    finally:
        client.pools.close(pool)


def test_each_call_gets_its_own_key(server: HearthServer, parked_pool: hearth.Pool) -> None:
    transport = DropFirstResponse("POST", "/jobs")
    with server.client(transport=transport, retry=hearth.RetryPolicy(backoff=0.01)) as c:
        a = c.jobs.create(f"{RUN}-job-a", parked_pool)
        b = c.jobs.create(f"{RUN}-job-a", parked_pool)  # same body, another logical call
    keys = [r.headers["idempotency-key"] for r in transport.seen]
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2]
    assert a.uuid != b.uuid


def test_a_twin_still_answered_is_waited_for_with_the_same_key(
    server: HearthServer, client: hearth.Client, parked_pool: hearth.Pool
) -> None:
    transport = InFlightFirst("POST", "/jobs")
    name = f"{RUN}-twin"
    with server.client(transport=transport, retry=hearth.RetryPolicy(backoff=0.01)) as c:
        job = c.jobs.create(name, parked_pool)
    keys = [r.headers["idempotency-key"] for r in transport.seen]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert [j.uuid for j in client.jobs.list() if j.name == name] == [job.uuid]


def test_a_state_conflict_is_not_retried(server: HearthServer, parked_pool: hearth.Pool) -> None:
    transport = InFlightFirst("POST", "/jobs", code="conflict")
    with server.client(transport=transport, retry=hearth.RetryPolicy(backoff=0.01)) as c:
        try:
            c.jobs.create(f"{RUN}-conflicted", parked_pool)
        except hearth.Conflict as e:
            assert e.code == "conflict"
        else:
            raise AssertionError("a 409 conflict must not be retried into a success")
    assert len(transport.seen) == 1
