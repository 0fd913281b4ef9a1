"""client.pools against the real server: create, get, list, scaling, resize, nodes,
decisions, close, delete."""

from __future__ import annotations

import time

import pytest

import hearth
from conftest import RUN, HearthServer
from hearth import ScalingPeriod, ScalingPolicy


def test_create_waits_until_ready(client: hearth.Client) -> None:
    started = time.monotonic()
    pool = client.pools.create(
        f"{RUN}-ready",
        profile="docker-batch",
        instance_count=2,
        tags=[RUN, "ready"],
        constants={"GREETING": "hi"},
        wait_ready=True,
        ready_timeout=60,
    )
    try:
        assert pool.state == "FullyExecuting"
        assert pool.instance_count == 2
        assert pool.total_slot_capacity == 2
        assert pool.tags == [RUN, "ready"]
        assert {c.key: c.value for c in pool.constants} == {"GREETING": "hi"}
        nodes = list(pool.nodes())
        assert len(nodes) == 2
        assert all(n.state == "Ready" and n.slots == 1 for n in nodes)
        assert all(n.pool_uuid == pool.uuid for n in nodes)
        assert time.monotonic() - started < 30
        # No fixed 10 s sleep: ready as soon as its nodes are.
        ready_at = max(n.ready_at for n in nodes if n.ready_at is not None)
        assert ready_at >= pool.creation_date
    finally:
        pool.close()


def test_get_accepts_object_or_uuid_and_repr_is_short(
    client: hearth.Client, parked_pool: hearth.Pool
) -> None:
    by_uuid = client.pools.get(parked_pool.uuid)
    by_object = client.pools.get(parked_pool)
    assert by_uuid.uuid == by_object.uuid == parked_pool.uuid
    assert by_uuid.name == f"{RUN}-parked"
    assert by_uuid.instance_count == 0
    text = repr(by_uuid)
    assert text.startswith("Pool(") and parked_pool.uuid in text and "state=" in text
    assert "secretsAccessRights" not in text and len(text) < 300


def test_list_filters_by_tag_and_name(
    client: hearth.Client, parked_pool: hearth.Pool, pool: hearth.Pool
) -> None:
    mine = {p.uuid for p in client.pools.list(tags=[RUN])}
    assert {parked_pool.uuid, pool.uuid} <= mine
    named = list(client.pools.list(name=f"{RUN}-parked"))
    assert [p.uuid for p in named] == [parked_pool.uuid]
    assert all(isinstance(p, hearth.Pool) for p in named)


def test_update_scaling_with_policies_and_resize(client: hearth.Client) -> None:
    pool = client.pools.create(
        f"{RUN}-scaling",
        profile="docker-batch",
        instance_count=1,
        wait_ready=True,
        ready_timeout=60,
    )
    try:
        policies = [
            ScalingPolicy.fixed(
                0,
                name="never",
                periods=[ScalingPeriod.weekly(["sunday"], "00:00:00", "00:00:01", name="blip")],
            ),
            ScalingPolicy.fixed(2, name="two", periods=[ScalingPeriod.always()]),
        ]
        pool.update_scaling(policies, resize_period=5)
        assert pool.scaling is not None
        assert [p.name for p in pool.scaling.policies] == ["never", "two"]
        assert pool.scaling.policies[1].slots_count == 2
        assert pool.resize_period == 5
        decision = pool.resize()
        assert isinstance(decision, hearth.ScalingDecision)
        assert decision.target_slots == 2
        assert decision.pool_uuid == pool.uuid
        pool.wait_ready(timeout=60)
        assert pool.total_slot_capacity == 2
        decisions = list(pool.decisions())
        assert decisions and decisions[0].target_slots == 2  # newest first
        assert any(d.active_policy_name == "two" for d in decisions)

        # Back to a fixed size; the tags set meanwhile survive, the size too.
        pool.update_scaling(instance_count=1)
        assert pool.scaling is None and pool.instance_count == 1
        updated = client.pools.update(pool, tags=["retagged", RUN])
        assert updated.tags == ["retagged", RUN]
        assert updated.instance_count == 1
    finally:
        pool.close()


def test_update_keeps_the_size_of_a_pool(client: hearth.Client) -> None:
    pool = client.pools.create(f"{RUN}-keep", profile="docker-batch", instance_count=2)
    try:
        updated = client.pools.update(pool.uuid, name=f"{RUN}-kept", constants={"A": "1"})
        assert updated.name == f"{RUN}-kept"
        assert updated.instance_count == 2
        assert {c.key: c.value for c in updated.constants} == {"A": "1"}
    finally:
        client.pools.close(pool)


def test_elastic_pool(client: hearth.Client) -> None:
    elastic = hearth.ElasticProperty(
        min_total_slots=0, max_total_slots=3, min_idle_slots=0, min_idle_time_seconds=5
    )
    pool = client.pools.create(
        f"{RUN}-elastic", profile="docker-batch", elastic=elastic, resize_period=30
    )
    try:
        assert pool.elastic_property.is_elastic is True
        assert pool.elastic_property.max_total_slots == 3
        assert pool.resize_period == 30
    finally:
        pool.close()


def test_close_then_delete(client: hearth.Client) -> None:
    pool = client.pools.create(
        f"{RUN}-doomed", profile="docker-batch", instance_count=1, wait_ready=True, ready_timeout=60
    )
    closed = client.pools.close(pool)
    assert closed.state in ("Closing", "Closed")
    with pytest.raises(hearth.Conflict):
        client.pools.close(pool)
    client.pools.delete(pool)
    with pytest.raises(hearth.NotFound):
        client.pools.get(pool)


def test_wait_ready_times_out_and_refuses_a_closed_pool(
    client: hearth.Client, server: HearthServer
) -> None:
    # A profile whose nodes boot for 30 s: its pool cannot be ready within a 1 s wait.
    profile = f"{RUN}-slowboot"
    made = server.raw(
        "POST",
        "/profiles",
        server.operator_token,
        {"name": profile, "pricePerSlotHour": "0.05", "bootDelaySeconds": 30},
    )
    assert made.status_code == 201, made.text
    slow = client.pools.create(f"{RUN}-slow", profile=profile, instance_count=1)
    try:
        started = time.monotonic()
        with pytest.raises(hearth.WaitTimeout) as raised:
            slow.wait_ready(timeout=1)
        waited = time.monotonic() - started
        assert 0.9 <= waited < 5, waited
        assert isinstance(raised.value, TimeoutError)
        assert slow.uuid in str(raised.value)
    finally:
        slow.close()
    closed = client.pools.create(f"{RUN}-closed", profile="docker-batch", instance_count=0)
    closed.close()
    with pytest.raises(hearth.HearthError, match="will not become ready"):
        closed.wait_ready(timeout=5)
