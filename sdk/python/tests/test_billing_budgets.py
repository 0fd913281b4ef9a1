"""client.billing (usage by group, totals, CSV) and client.budgets (CRUD, list)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest

import hearth
from conftest import RUN


def test_usage_by_pool_adds_up_to_the_totals(client: hearth.Client, pool: hearth.Pool) -> None:
    usage = client.billing.usage(group_by="pool", page_size=1)
    assert usage.report is None and usage.pages_fetched == 0  # lazy
    totals = usage.totals  # reads the first page
    assert usage.pages_fetched == 1
    lines = list(usage)
    assert usage.report is not None and usage.report.totals == totals
    assert usage.report.group_by == "pool" and usage.report.currency == "EUR"
    assert len(lines) >= 1 and usage.pages_fetched == len(lines) + (
        0 if usage.report.next_page_token is None else 1
    )
    mine = [line for line in lines if line.pool_uuid == pool.uuid]
    assert len(mine) == 1 and mine[0].pool_name == pool.name
    assert mine[0].slot_seconds > 0 and isinstance(mine[0].cost, Decimal)
    assert sum((line.cost for line in lines), Decimal(0)) == totals.cost
    assert sum((line.slot_seconds for line in lines), Decimal(0)) == totals.slot_seconds
    for line in lines:
        assert line.busy_slot_seconds + line.idle_slot_seconds == line.slot_seconds
    assert "pool_uuid=" in repr(mine[0]) and "cost=" in repr(mine[0])


def test_usage_by_day_and_task(client: hearth.Client, pool: hearth.Pool) -> None:
    today = dt.datetime.now(dt.timezone.utc).date()
    by_day = list(
        client.billing.usage(group_by="day", start=today, end=today + dt.timedelta(days=1))
    )
    assert [line.day for line in by_day] == [today.isoformat()]
    by_task = list(client.billing.usage(group_by="task"))
    idle = [
        line for line in by_task if line.task_name == "__idle__" and line.pool_uuid == pool.uuid
    ]
    assert len(idle) == 1 and idle[0].task_uuid is None


def test_usage_csv(client: hearth.Client, pool: hearth.Pool, tmp_path: Path) -> None:
    target = tmp_path / "usage.csv"
    text = client.billing.to_csv(group_by="pool", path=target)
    assert target.read_bytes().decode() == text
    assert "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {"poolUuid", "poolName", "slotSeconds", "cost", "currency"} <= set(rows[0])
    assert pool.uuid in {row["poolUuid"] for row in rows}


def test_budgets_crud_and_list(client: hearth.Client) -> None:
    budget = client.budgets.create(
        f"{RUN}-monthly", "100.50", overrun_policy="AlertOnly", alert_thresholds=[0.8, 0.5]
    )
    assert budget.amount == Decimal("100.500000")
    assert budget.period == "monthly" and budget.alert_thresholds == [0.5, 0.8]
    assert budget.period_from.day == 1 and budget.period_to > budget.period_from
    assert budget.remaining <= budget.amount and budget.spent is False
    ranged = client.budgets.create(
        f"{RUN}-range",
        5,
        period=(dt.date(2026, 1, 1), dt.date(2026, 2, 1)),
        overrun_policy="BlockNew",
    )
    assert isinstance(ranged.period, hearth.models.BudgetRange)
    assert ranged.period_from == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    updated = client.budgets.update(budget, amount="200", overrun_policy="BlockNew")
    assert updated.amount == Decimal(200) and updated.overrun_policy == "BlockNew"
    assert updated.name == f"{RUN}-monthly" and updated.alert_thresholds == [0.5, 0.8]
    assert client.budgets.get(budget.uuid).amount == Decimal(200)
    listed = [b.uuid for b in client.budgets.list(page_size=1)]
    assert budget.uuid in listed and ranged.uuid in listed
    client.budgets.delete(budget)
    client.budgets.delete(ranged.uuid)
    with pytest.raises(hearth.NotFound):
        client.budgets.get(budget)


def test_tokens_and_profiles(client: hearth.Client) -> None:
    created = client.tokens.create(f"{RUN}-tok", "member", expires_in=dt.timedelta(hours=1))
    assert (
        created.token and created.token not in repr(created) and created.token not in str(created)
    )
    assert created.expires_at is not None
    assert created.uuid in {t.uuid for t in client.tokens.list()}
    client.tokens.revoke(created)
    with pytest.raises(hearth.Unauthorized):
        hearth.Client(client.url, created.token).pools.list().__next__()
    assert "docker-batch" in client.profiles.list()
    profile = client.profiles.get("docker-batch")
    assert profile.max_slots_per_node >= 1 and profile.price_per_slot_hour > 0
