"""Quotas and growth on demand through the public `qarnot` SDK (2.23.0), unmodified.

* A tenant whose operator-set quotas are reached gets Qarnot's 403 messages, which the SDK
  turns into `MaxPoolException` and `MaxTaskException`.
* The elastic-pool example of Qarnot's pool guide (min 0, max 5, resize period 90 s), then
  a 1-instance task: the first instance runs as soon as a node boots, long before the
  period ends (hearth grows a pool on demand when work finds no free slot).
"""

import time
import uuid

import pytest
from qarnot.connection import Connection
from qarnot.exceptions import MaxPoolException, MaxTaskException

RUN_ID = uuid.uuid4().hex[:8]
RESIZE_PERIOD = 90
# Well under the period: without growth on demand the instance could not start before it.
FIRST_RUN_DEADLINE_SECONDS = 45


@pytest.fixture(scope="module")
def capped(hearth):
    """A fresh tenant with at most 1 open pool and 3 queued instances."""
    created = hearth.request("POST", "/tenants", hearth.operator_token, {"name": f"capped-{RUN_ID}"})
    assert created.status_code == 201, created.text
    tenant = created.json()
    quotas = hearth.request(
        "PUT",
        f"/tenants/{tenant['uuid']}/quotas",
        hearth.operator_token,
        {"maxPools": 1, "maxQueuedInstances": 3},
    )
    assert quotas.status_code == 200, quotas.text
    return Connection(cluster_url=hearth.url, client_token=tenant["ownerToken"])


def test_a_pool_past_the_quota_raises_max_pool_exception(capped):
    first = capped.create_pool(f"first-{RUN_ID}", "docker-batch", 1)
    first.submit()
    try:
        second = capped.create_pool(f"second-{RUN_ID}", "docker-batch", 1)
        with pytest.raises(MaxPoolException):
            second.submit()
        task = capped.create_task(f"too-big-{RUN_ID}", first, 4)
        task.constants["DOCKER_CMD"] = "true"
        with pytest.raises(MaxTaskException):
            task.submit()
    finally:
        first.close()


def test_qarnots_elastic_pool_example_starts_work_before_its_period(conn, hearth):
    pool = conn.create_pool(f"elastic-{RUN_ID}", "docker-batch")
    pool.setup_elastic(
        minimum_total_slots=0,
        maximum_total_slots=5,
        minimum_idle_slots=0,
        minimum_idle_time_seconds=60,
        resize_factor=1,
        resize_period=RESIZE_PERIOD,
    )
    pool.submit()
    try:
        # Let the pool settle empty first, as in the guide.
        time.sleep(1)
        task = conn.create_task(f"one-{RUN_ID}", pool, 1)
        task.constants["DOCKER_CMD"] = "echo started"
        submitted = time.monotonic()
        task.submit()
        state = None
        while time.monotonic() - submitted < FIRST_RUN_DEADLINE_SECONDS:
            answer = hearth.request("GET", f"/tasks/{task.uuid}", hearth.owner_token)
            state = answer.json().get("state")
            if state in ("Success", "Failure", "Cancelled"):
                break
            time.sleep(0.2)
        took = time.monotonic() - submitted
        assert state == "Success", f"task {state} after {took:.1f} s (resize period {RESIZE_PERIOD} s)"
        page = hearth.request("GET", f"/pools/{pool.uuid}/scaling-decisions?limit=500", hearth.owner_token).json()
        decisions = page["items"]
        assert any(
            d["action"].startswith("grow") and d["reason"].startswith("on demand") for d in decisions
        ), decisions
    finally:
        pool.close()
