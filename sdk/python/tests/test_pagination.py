"""Lists fetch their pages lazily: 250 tasks submitted in one bulk POST, listed 100 a page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import hearth
from conftest import RUN, HearthServer
from helpers import Recording

COUNT = 250


@pytest.fixture(scope="module")
def bulk(client: hearth.Client, parked_pool: hearth.Pool) -> list[hearth.BulkResult]:
    specs = [
        hearth.TaskSpec(
            name=f"{RUN}-bulk-{i:03d}", instance_count=1, command="true", tags=[f"{RUN}-bulk"]
        )
        for i in range(COUNT)
    ]
    results = client.tasks.submit_many(parked_pool, specs)
    return results


@pytest.fixture
def recorded(server: HearthServer) -> Iterator[tuple[hearth.Client, Recording]]:
    transport = Recording()
    with server.client(transport=transport) as c:
        yield c, transport


def test_bulk_submit_created_all(bulk: list[hearth.BulkResult]) -> None:
    assert len(bulk) == COUNT
    assert all(r.ok and r.status_code == 201 for r in bulk), [r for r in bulk if not r.ok][:3]
    assert len({r.uuid for r in bulk}) == COUNT


def test_tasks_list_fetches_pages_lazily(
    bulk: list[hearth.BulkResult], recorded: tuple[hearth.Client, Recording]
) -> None:
    c, transport = recorded
    pager = c.tasks.list(tags=[f"{RUN}-bulk"], page_size=100)
    assert transport.count("POST", "/tasks/paginate") == 0  # nothing before iterating
    first = next(pager)
    assert transport.count("POST", "/tasks/paginate") == 1
    assert first.name == f"{RUN}-bulk-000"
    rest = list(pager)
    names = [first.name] + [t.name for t in rest]
    assert names == [f"{RUN}-bulk-{i:03d}" for i in range(COUNT)]  # submission order, no repeat
    assert pager.pages_fetched == 3
    assert transport.count("POST", "/tasks/paginate") == 3
    assert {t.uuid for t in rest} | {first.uuid} == {r.uuid for r in bulk}


def test_pages_iterator(bulk: list[hearth.BulkResult], client: hearth.Client) -> None:
    sizes = [len(page) for page in client.tasks.list(tags=[f"{RUN}-bulk"], page_size=100).pages()]
    assert sizes == [100, 100, 50]


def test_hearth_pages_for_budgets(recorded: tuple[hearth.Client, Recording]) -> None:
    c, transport = recorded
    made = [c.budgets.create(f"{RUN}-page-{i}", 10) for i in range(5)]
    try:
        pager = c.budgets.list(page_size=2)
        seen = [b.uuid for b in pager if b.name.startswith(f"{RUN}-page-")]
        assert seen == [b.uuid for b in made]
        assert pager.pages_fetched >= 3
        assert transport.count("GET", "/budgets") == pager.pages_fetched
    finally:
        for b in made:
            c.budgets.delete(b)
