"""Budgets through the public `qarnot` SDK (2.23.0), unmodified.

A tenant whose `BlockNew` budget is spent gets 402 on new pools and tasks, which the SDK
raises as `NotEnoughCreditsException`. The budget is spent for real: a pool of a profile
priced at 3600 per slot-hour (1 per second) runs one node, and the budget's amount is a
millionth, consumed within the node's first millisecond of Ready.
"""

import time
import uuid

import pytest
from qarnot.connection import Connection
from qarnot.exceptions import NotEnoughCreditsException

RUN_ID = uuid.uuid4().hex[:8]
PROFILE = f"priced-{RUN_ID}"
READY_TIMEOUT_SECONDS = 60


@pytest.fixture(scope="module")
def spender(hearth):
    """A fresh tenant (its owner token) and a profile whose slots cost 1 a second."""
    created = hearth.request("POST", "/profiles", hearth.operator_token,
                             {"name": PROFILE, "pricePerSlotHour": "3600"})
    assert created.status_code in (200, 201), created.text
    tenant = hearth.request("POST", "/tenants", hearth.operator_token, {"name": f"spender-{RUN_ID}"})
    assert tenant.status_code == 201, tenant.text
    return tenant.json()["ownerToken"]


def _wait_ready_node(hearth, token, pool_uuid):
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    nodes = []
    while time.monotonic() < deadline:
        answer = hearth.request("GET", f"/pools/{pool_uuid}/nodes", token)
        assert answer.status_code == 200, answer.text
        nodes = answer.json()["items"]
        if any(n.get("state") == "Ready" for n in nodes):
            return
        time.sleep(0.2)
    pytest.fail(f"no Ready node in pool {pool_uuid}: {nodes}")


def test_a_spent_block_new_budget_raises_not_enough_credits(hearth, spender):
    conn = Connection(cluster_url=hearth.url, client_token=spender)
    pool = conn.create_pool(f"spending-{RUN_ID}", PROFILE, 1)
    pool.submit()
    budget = None
    try:
        _wait_ready_node(hearth, spender, pool.uuid)
        answer = hearth.request("POST", "/budgets", spender, {
            "name": f"tiny-{RUN_ID}", "amount": "0.000001", "period": "monthly",
            "overrunPolicy": "BlockNew", "alertThresholds": [1],
        })
        assert answer.status_code == 201, answer.text
        budget = answer.json()
        assert budget["spent"] is True, budget

        refused = conn.create_pool(f"refused-{RUN_ID}", PROFILE, 1)
        with pytest.raises(NotEnoughCreditsException) as raised:
            refused.submit()
        assert f"tiny-{RUN_ID}" in str(raised.value)
        task = conn.create_task(f"refused-{RUN_ID}", pool, 1)
        task.constants["DOCKER_CMD"] = "true"
        with pytest.raises(NotEnoughCreditsException):
            task.submit()

        # Deleting the budget lifts the block at once.
        deleted = hearth.request("DELETE", f"/budgets/{budget['uuid']}", spender)
        assert deleted.status_code == 204, deleted.text
        budget = None
        allowed = conn.create_task(f"allowed-{RUN_ID}", pool, 1)
        allowed.constants["DOCKER_CMD"] = "true"
        allowed.submit()
        assert allowed.uuid
    finally:
        if budget is not None:
            hearth.request("DELETE", f"/budgets/{budget['uuid']}", spender)
        pool.close()
