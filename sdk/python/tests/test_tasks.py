"""client.tasks against real work: submit (constants, ranges, retries, dependencies), get,
list, wait, progress, output, abort, delete; and the README's example as written."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import hearth
from conftest import RUN, HearthServer
from hearth import Dependency


def test_readme_example(
    server: HearthServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("HEARTH_URL", server.url)
    monkeypatch.setenv("HEARTH_TOKEN", server.owner_token)
    # --- as in README.md ---
    client = hearth.Client()
    pool = client.pools.create("demo", profile="docker-batch", instance_count=2, wait_ready=True)
    task = client.tasks.submit(pool, "hello", instance_count=4, command="echo hi $INSTANCE_ID")
    task.wait(timeout=60)
    print(task.state, [task.stdout(i) for i in range(4)])
    lines = []
    for line in client.billing.usage(group_by="pool"):
        print(line.pool_name, line.slot_seconds, line.cost)
        lines.append(line)
    pool.close()
    # --- checks ---
    assert task.state == "Success"
    assert [task.stdout(i) for i in range(4)] == [f"hi {i}\n" for i in range(4)]
    assert pool.state in ("Closing", "Closed")
    assert any(line.pool_uuid == pool.uuid and line.pool_name == "demo" for line in lines)
    client.close()


def test_submit_with_constants_and_ranges(client: hearth.Client, pool: hearth.Pool) -> None:
    task = client.tasks.submit(
        pool.uuid,
        f"{RUN}-ranges",
        ranges="0-2,5",
        command='echo "$GREETING $INSTANCE_ID of $INSTANCE_COUNT"',
        constants={"GREETING": "hey"},
        tags=[RUN, "ranges"],
        labels={"team": "sdk"},
    )
    assert task.advanced_ranges == "0-2,5"
    assert task.command == 'echo "$GREETING $INSTANCE_ID of $INSTANCE_COUNT"'
    assert task.labels == {"team": "sdk"}
    task.wait(timeout=60)
    assert task.state == "Success"
    assert sorted(i.instance_id for i in task.completed_instances) == [0, 1, 2, 5]
    assert task.stdout(5) == "hey 5 of 4\n"
    assert set(task.stdout().splitlines()) == {f"hey {i} of 4" for i in (0, 1, 2, 5)}
    with pytest.raises(hearth.NotFound):
        task.stdout(3)


def test_stderr_and_fresh_output(client: hearth.Client, pool: hearth.Pool) -> None:
    task = client.tasks.submit(
        pool, f"{RUN}-stderr", instance_count=1, command="echo oops >&2; echo fine"
    )
    task.wait(timeout=60)
    assert task.stderr(0) == "oops\n"
    assert task.stdout(0) == "fine\n"
    assert task.stdout(fresh=True) == "fine\n"
    assert task.stdout(fresh=True) == ""  # already read


def test_retries(client: hearth.Client, pool: hearth.Pool) -> None:
    task = client.tasks.submit(
        pool, f"{RUN}-retry", instance_count=1, command="exit 3", max_retries_per_instance=2
    )
    assert task.retry_settings.max_per_instance_retries == 2
    task.wait(timeout=60)
    assert task.state == "Failure"
    (instance,) = task.completed_instances
    assert instance.exit_code == 3
    assert instance.execution_attempt_count == 3


@pytest.fixture(scope="module")
def quick_pool(client: hearth.Client) -> Iterator[hearth.Pool]:
    """A pool evaluated every second: hearth releases a task whose dependencies ended only
    at its pool's next evaluation (see test_dependent_task_starts_when_its_dependency_ends)."""
    p = client.pools.create(
        f"{RUN}-quick",
        profile="docker-batch",
        instance_count=2,
        resize_period=1,
        wait_ready=True,
        ready_timeout=60,
    )
    yield p
    p.close()


def test_dependencies(client: hearth.Client, quick_pool: hearth.Pool) -> None:
    pool = quick_pool
    first = client.tasks.submit(
        pool, f"{RUN}-dep-first", instance_count=1, command="sleep 0.5; echo first"
    )
    second = client.tasks.submit(
        pool, f"{RUN}-dep-second", instance_count=1, command="echo second", depends_on=[first]
    )
    on_failure = client.tasks.submit(
        pool,
        f"{RUN}-dep-on-failure",
        instance_count=1,
        command="echo never",
        depends_on=[Dependency(first.uuid, on=["failure"])],
    )
    assert second.dependencies.depends_on == [first.uuid]
    assert second.state == "Submitted" and second.dependencies.state == "waiting"
    assert on_failure.dependencies.advanced_depends_on is not None
    assert [d.task_uuid for d in on_failure.dependencies.advanced_depends_on] == [first.uuid]
    second.wait(timeout=30)
    first.refresh()
    assert first.state == "Success" and second.state == "Success"
    assert first.end_date is not None and second.end_date is not None
    assert second.end_date > first.end_date
    assert second.stdout() == "second\n"
    on_failure.wait(timeout=30)
    assert on_failure.state == "Cancelled"
    assert on_failure.completed_instances == []
    assert on_failure.dependencies.state == "dependencyConditionsNotFulfilled"


def test_dependent_task_starts_when_its_dependency_ends(client: hearth.Client) -> None:
    pool = client.pools.create(
        f"{RUN}-dep2", profile="docker-batch", instance_count=2, wait_ready=True, ready_timeout=60
    )
    try:
        first = client.tasks.submit(
            pool, f"{RUN}-dep2-first", instance_count=1, command="sleep 0.5"
        )
        second = client.tasks.submit(
            pool, f"{RUN}-dep2-second", instance_count=1, command="true", depends_on=[first]
        )
        first.wait(timeout=30)
        # Released when "first" ends, not at the pool's next scaling evaluation (90 s).
        second.wait(timeout=5)
        assert first.state == "Success" and second.state == "Success"
    finally:
        pool.close()


def test_get_list_abort_delete(client: hearth.Client, pool: hearth.Pool) -> None:
    long = client.tasks.submit(
        pool, f"{RUN}-long", instance_count=1, command="sleep 60", tags=[RUN, "long"]
    )
    assert client.tasks.get(long.uuid).name == f"{RUN}-long"
    listed = [t.uuid for t in client.tasks.list(tags=["long"])]
    assert listed == [long.uuid]
    assert [t.uuid for t in client.tasks.list(name=f"{RUN}-long")] == [long.uuid]
    long.abort()
    long.wait(timeout=30)
    assert long.state == "Cancelled"
    long.delete()
    with pytest.raises(hearth.NotFound):
        client.tasks.get(long)
    # Aborting a finished task is a no-op.
    done = client.tasks.submit(pool, f"{RUN}-done", instance_count=1, command="true")
    done.wait(timeout=30)
    assert client.tasks.abort(done).state == "Success"


def test_wait_times_out_without_sleeping(client: hearth.Client, pool: hearth.Pool) -> None:
    task = client.tasks.submit(pool, f"{RUN}-slow", instance_count=1, command="sleep 30")
    try:
        started = time.monotonic()
        with pytest.raises(hearth.WaitTimeout):
            task.wait(timeout=0.5)
        assert 0.45 <= time.monotonic() - started < 3
        assert task.state in (
            "FullyExecuting",
            "FullyDispatched",
            "PartiallyExecuting",
            "Submitted",
        )
    finally:
        task.abort()


def test_wait_returns_within_100ms_of_the_end(
    client: hearth.Client, pool: hearth.Pool, report: list[str]
) -> None:
    """Measures, for several tasks, the time `wait()` returns minus (a) the server's end
    timestamp of the task (`endDate`, microseconds, the same machine's clock) and (b) the
    arrival of the task's final `taskProgress` event on a separately opened stream."""
    by_end_date: list[float] = []
    by_event: list[float] = []
    for n in range(5):
        arrivals: dict[str, float] = {}
        target: list[str] = []
        ready = threading.Event()

        def follow(
            ready: threading.Event = ready,
            arrivals: dict[str, float] = arrivals,
            target: list[str] = target,
        ) -> None:
            with client.events(pool=pool, types=["taskProgress"]) as stream:
                stream.connect()
                ready.set()
                for event in stream:
                    if isinstance(event, hearth.TaskProgress) and event.finished:
                        arrivals.setdefault(event.task, time.time())
                        if event.task in target:
                            return

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        assert ready.wait(10)
        task = client.tasks.submit(
            pool, f"{RUN}-latency-{n}", instance_count=1, command="sleep 0.8"
        )
        target.append(task.uuid)
        task.wait(timeout=30)
        returned = time.time()
        assert task.state == "Success" and task.end_date is not None
        by_end_date.append(returned - task.end_date.timestamp())
        follower.join(timeout=5)
        assert task.uuid in arrivals, "the final taskProgress event never arrived"
        by_event.append(returned - arrivals[task.uuid])
    ms = lambda xs: ", ".join(f"{x * 1000:.1f}" for x in xs)  # noqa: E731
    report.append(
        f"wait() return - task endDate (ms): {ms(by_end_date)}; max {max(by_end_date) * 1000:.1f}, median {statistics.median(by_end_date) * 1000:.1f}"
    )
    report.append(
        f"wait() return - final taskProgress event arrival (ms): {ms(by_event)}; max {max(by_event) * 1000:.1f}"
    )
    assert all(0 <= d < 0.1 for d in by_end_date), by_end_date
    assert all(d < 0.1 for d in by_event), by_event


def test_progress_yields_counts_as_they_change(client: hearth.Client, pool: hearth.Pool) -> None:
    task = client.tasks.submit(pool, f"{RUN}-progress", instance_count=6, command="sleep 0.2")
    seen = list(task.progress())
    assert seen, "no progress at all"
    assert seen[-1].finished and seen[-1].state == "Success"
    assert seen[-1].succeeded == 6 and seen[-1].total == 6
    assert all(p.total == 6 for p in seen)
    # Counts as they change: each differs from the one before, and ends only grow.
    pairs = list(zip(seen, seen[1:], strict=False))
    assert all((a.state, a.counts()) != (b.state, b.counts()) for a, b in pairs)
    assert all(b.ended >= a.ended for a, b in pairs)
    assert len(seen) >= 4  # 6 instances on 2 slots end in at least 3 steps after the start


def test_follow_output(client: hearth.Client, pool: hearth.Pool) -> None:
    task = client.tasks.submit(
        pool,
        f"{RUN}-follow",
        instance_count=1,
        command="echo one; sleep 0.3; echo two >&2; echo three",
    )
    chunks: list[hearth.OutputChunk] = []
    end = None
    with task.follow(0) as stream:
        for item in stream:
            if isinstance(item, hearth.OutputEnd):
                end = item
            else:
                chunks.append(item)
    assert end is not None and end.state == "Succeeded" and end.exit_code == 0
    out = "".join(c.text for c in chunks if c.stream == "stdout")
    err = "".join(c.text for c in chunks if c.stream == "stderr")
    assert out == "one\nthree\n" and err == "two\n"
