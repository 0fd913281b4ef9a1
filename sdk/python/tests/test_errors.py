"""Each error class, provoked for real on the live server (5xx through a mock transport,
as no real route answers one)."""

from __future__ import annotations

import asyncio
import builtins
import time
import uuid

import httpx
import pytest

import hearth
from conftest import RUN, HearthServer, free_port
from helpers import Recording

MISSING = "00000000-0000-4000-8000-000000000000"


def test_every_class_is_a_hearth_error() -> None:
    for cls in (
        hearth.BadRequest,
        hearth.Unauthorized,
        hearth.Forbidden,
        hearth.NotFound,
        hearth.Conflict,
        hearth.PaymentRequired,
        hearth.RateLimited,
        hearth.ServerError,
        hearth.ConnectionError,
        hearth.ConfigurationError,
        hearth.WaitTimeout,
    ):
        assert issubclass(cls, hearth.HearthError)
    assert issubclass(hearth.ConnectionError, builtins.ConnectionError)


def test_400_bad_field(client: hearth.Client) -> None:
    with pytest.raises(hearth.BadRequest) as raised:
        client.pools.create(f"{RUN}-bad", profile="no-such-profile")
    error = raised.value
    assert (error.status, error.code) == (400, "validation")
    assert error.message.startswith("profile")
    assert "400" in str(error) and "POST /pools" in str(error)


def test_422_wrong_shape(client: hearth.Client) -> None:
    with pytest.raises(hearth.BadRequest) as raised:
        client.budgets.create(f"{RUN}-bad", 10, overrun_policy="Sometimes")  # type: ignore[arg-type]
    assert (raised.value.status, raised.value.code) == (422, "unprocessable")
    assert "overrunPolicy" in raised.value.message


def test_422_idempotency_key_reused_with_another_body(
    client: hearth.Client, parked_pool: hearth.Pool
) -> None:
    key = f"{RUN}-{uuid.uuid4().hex}"
    first = client.tasks.submit(
        parked_pool, f"{RUN}-key-a", instance_count=1, command="true", idempotency_key=key
    )
    again = client.tasks.submit(
        parked_pool, f"{RUN}-key-a", instance_count=1, command="true", idempotency_key=key
    )
    assert again.uuid == first.uuid  # same key, same body: the first answer again
    with pytest.raises(hearth.BadRequest) as raised:
        client.tasks.submit(
            parked_pool, f"{RUN}-key-b", instance_count=1, command="true", idempotency_key=key
        )
    assert raised.value.status == 422


def test_401_bad_token_keeps_the_token_secret(server: HearthServer) -> None:
    secret = "definitely-not-a-valid-token-" + uuid.uuid4().hex
    with server.client(token=secret) as bad, pytest.raises(hearth.Unauthorized) as raised:
        bad.pools.get(MISSING)
    error = raised.value
    assert (error.status, error.code) == (401, "unauthorized")
    assert secret not in str(error) and secret not in repr(error) and secret not in repr(bad)


def test_403_viewer_writing(client: hearth.Client, server: HearthServer, pool: hearth.Pool) -> None:
    viewer = client.tokens.create(f"{RUN}-viewer", "viewer")
    assert viewer.role == "viewer"
    with server.client(token=viewer.token) as as_viewer:
        assert as_viewer.pools.get(pool).uuid == pool.uuid  # reading is allowed
        with pytest.raises(hearth.Forbidden) as raised:
            as_viewer.pools.create(f"{RUN}-by-viewer", profile="docker-batch", instance_count=0)
        assert (raised.value.status, raised.value.code) == (403, "forbidden")
        with pytest.raises(hearth.Forbidden):
            as_viewer.tasks.submit(pool, f"{RUN}-by-viewer", command="true")
        with pytest.raises(hearth.Forbidden):
            list(as_viewer.budgets.list())  # budgets: owner and billing only
    client.tokens.revoke(viewer)


def test_404(client: hearth.Client) -> None:
    for call in (
        lambda: client.tasks.get(MISSING),
        lambda: client.pools.get(MISSING),
        lambda: client.jobs.get(MISSING),
    ):
        with pytest.raises(hearth.NotFound) as raised:
            call()
        assert (raised.value.status, raised.value.code) == (404, "not_found")


def test_409_state_conflict(client: hearth.Client) -> None:
    pool = client.pools.create(f"{RUN}-conflict", profile="docker-batch", instance_count=0)
    pool.close()
    with pytest.raises(hearth.Conflict) as raised:
        pool.close()
    assert (raised.value.status, raised.value.code) == (409, "conflict")
    assert "Clos" in raised.value.message  # names the state
    with pytest.raises(hearth.Conflict):
        client.tasks.submit(pool, f"{RUN}-too-late", command="true")


@pytest.fixture(scope="module")
def spender(server: HearthServer) -> str:
    """A fresh tenant (its owner token) and a profile whose slots cost 1 a second."""
    made = server.raw(
        "POST",
        "/profiles",
        server.operator_token,
        {"name": f"{RUN}-priced", "pricePerSlotHour": "3600"},
    )
    assert made.status_code == 201, made.text
    tenant = server.raw("POST", "/tenants", server.operator_token, {"name": f"{RUN}-spender"})
    assert tenant.status_code == 201, tenant.text
    return str(tenant.json()["ownerToken"])


def test_402_spent_budget(server: HearthServer, spender: str) -> None:
    with server.client(token=spender) as c:
        pool = c.pools.create(
            f"{RUN}-spending",
            profile=f"{RUN}-priced",
            instance_count=1,
            wait_ready=True,
            ready_timeout=60,
        )
        budget = None
        try:
            budget = c.budgets.create(
                f"{RUN}-tiny", "0.000001", overrun_policy="BlockNew", alert_thresholds=[1]
            )
            assert budget.spent is True
            with pytest.raises(hearth.PaymentRequired) as raised:
                c.pools.create(f"{RUN}-refused", profile=f"{RUN}-priced", instance_count=1)
            assert (raised.value.status, raised.value.code) == (402, "payment_required")
            assert f"{RUN}-tiny" in raised.value.message
            with pytest.raises(hearth.PaymentRequired):
                c.tasks.submit(pool, f"{RUN}-refused", command="true")
            c.budgets.delete(budget)
            budget = None
            assert c.tasks.submit(pool, f"{RUN}-allowed", command="true").uuid
        finally:
            if budget is not None:
                c.budgets.delete(budget)
            pool.close()


def test_429_output_follow_cap(
    server: HearthServer, client: hearth.Client, parked_pool: hearth.Pool
) -> None:
    """4,096 instances followed at once per server; the next follower gets 429."""
    cap = 4096
    big = client.tasks.submit(
        parked_pool, f"{RUN}-followed", instance_count=cap + 1, command="true"
    )
    host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])

    async def hold_all() -> list[asyncio.StreamWriter]:
        limit = asyncio.Semaphore(64)

        async def one(i: int) -> asyncio.StreamWriter:
            async with limit:
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(
                    f"GET /tasks/{big.uuid}/instances/{i}/output HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: Bearer {server.owner_token}\r\n\r\n".encode()
                )
                await writer.drain()
                status = await reader.readline()
                assert status.startswith(b"HTTP/1.1 200"), status
                return writer

        return await asyncio.gather(*(one(i) for i in range(cap)))

    loop = asyncio.new_event_loop()
    writers: list[asyncio.StreamWriter] = []
    try:
        writers = loop.run_until_complete(hold_all())
        transport = Recording()
        retry = hearth.RetryPolicy(max_retries=2, backoff=0.05)
        with server.client(transport=transport, retry=retry) as c:
            started = time.monotonic()
            with pytest.raises(hearth.RateLimited) as raised:
                next(c.tasks.follow(big, cap))
            assert (raised.value.status, raised.value.code) == (429, "rate_limited")
            assert "followed" in raised.value.message
            path = f"/tasks/{big.uuid}/instances/{cap}/output"
            assert transport.count("GET", path) == 3  # retried with backoff, then raised
            assert time.monotonic() - started < 5
    finally:
        for w in writers:
            w.close()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        client.tasks.abort(big)


def test_5xx_mapping_and_retries_with_a_mock_transport() -> None:
    calls: list[tuple[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.path))
        return httpx.Response(
            503 if request.method == "GET" else 500, json={"message": "boom", "code": "internal"}
        )

    retry = hearth.RetryPolicy(max_retries=2, backoff=0.01)
    with hearth.Client("http://mock", "t", transport=httpx.MockTransport(answer), retry=retry) as c:
        with pytest.raises(hearth.ServerError) as raised:
            c.pools.get(MISSING)
        assert (raised.value.status, raised.value.code, raised.value.message) == (
            503,
            "internal",
            "boom",
        )
        assert len(calls) == 3  # one try and two retries
        calls.clear()
        with pytest.raises(hearth.ServerError) as raised:
            c.pools.close(MISSING)
        assert raised.value.status == 500
        assert len(calls) == 1  # closing is not retried once the request may have been handled


def test_connection_error_on_a_closed_port() -> None:
    port = free_port()  # bound then released: nothing listens there
    transport = Recording()
    retry = hearth.RetryPolicy(max_retries=2, backoff=0.01)
    with hearth.Client(
        f"http://127.0.0.1:{port}", "secret-token", transport=transport, retry=retry
    ) as c:
        with pytest.raises(hearth.ConnectionError) as raised:
            c.pools.get(MISSING)
    assert isinstance(raised.value, builtins.ConnectionError)
    assert raised.value.status is None and "secret-token" not in str(raised.value)
    assert len(transport.requests) == 3  # retried with backoff
