"""Real execution through the public `qarnot` SDK (2.23.0), unmodified.

A pool of 2 `docker-batch` nodes (real `hearth agent` processes) runs a 4-instance task whose
`DOCKER_CMD` echoes its instance id; the SDK's own `task.run()` waits for it (the SDK polls
every 10 s, so the run takes about 10 s). The tests read the result back the SDK's way
(state, stdout of the task and of each instance, completed instances, status ranges), then
close the pool and wait for it to reach `Closed`, which needs the agents to stop.

The tests run in file order and share the module-scoped `executed` run; the pool is closed
by the last test, or by the fixture's teardown when a test failed before it.
"""

import contextlib
import dataclasses
import signal
import time
import uuid

import pytest
from qarnot.pool import Pool
from qarnot.task import Task

PROFILE = "docker-batch"
POOL_NODES = 2
INSTANCES = 4
COMMAND = "echo hello from ${INSTANCE_ID}"
# The SDK's wait has no bound of its own: a hung run fails the test instead of the session.
RUN_TIMEOUT_SECONDS = 120
CLOSE_TIMEOUT_SECONDS = 20.0
RUN_ID = uuid.uuid4().hex[:8]


def line(instance_id: int) -> str:
    return f"hello from {instance_id}"


@contextlib.contextmanager
def deadline(seconds: int, what: str):
    """Raises TimeoutError in the main thread when `what` takes longer than `seconds`."""

    def expired(signum, frame):
        raise TimeoutError(f"{what} took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclasses.dataclass
class Executed:
    pool: Pool
    task: Task
    run_seconds: float


@pytest.fixture(scope="module")
def executed(conn):
    pool = conn.create_pool(f"exec-pool-{RUN_ID}", PROFILE, POOL_NODES)
    pool.submit()
    try:
        task = conn.create_task(f"exec-task-{RUN_ID}", pool, INSTANCES)
        task.constants["DOCKER_CMD"] = COMMAND
        started = time.monotonic()
        with deadline(RUN_TIMEOUT_SECONDS, "task.run()"):
            task.run()
        yield Executed(pool=pool, task=task, run_seconds=time.monotonic() - started)
    finally:
        # Leaves no node running when a test failed before closing the pool itself.
        with contextlib.suppress(Exception):
            if conn.retrieve_pool(pool.uuid).state not in ("Closing", "Closed"):
                pool.close()


def test_task_runs_to_success(executed):
    task = executed.task
    assert task.uuid
    assert task.state == "Success", f"task ended {task.state}: errors {task.errors}"


def test_task_stdout_holds_every_instance_line(executed):
    stdout = executed.task.stdout()  # GET /tasks/{uuid}/stdout
    lines = stdout.splitlines()
    assert sorted(lines) == sorted(line(i) for i in range(INSTANCES)), stdout


def test_instance_stdout_holds_its_own_line(executed):
    for i in range(INSTANCES):
        stdout = executed.task.stdout(i)  # GET /tasks/{uuid}/stdout/{i}
        assert stdout.splitlines() == [line(i)], f"instance {i}: {stdout!r}"


def test_completed_instances(executed):
    completed = executed.task.completed_instances
    assert len(completed) == INSTANCES
    assert sorted(c.instance_id for c in completed) == list(range(INSTANCES))
    assert {c.state for c in completed} == {"Success"}, [(c.instance_id, c.state) for c in completed]


def test_status_ranges(executed):
    status = executed.task.status
    assert status is not None
    assert status.succeeded_range == f"0-{INSTANCES - 1}"
    assert status.executed_range == f"0-{INSTANCES - 1}"
    assert not status.failed_range


def test_pool_closes(conn, executed):
    pool = executed.pool
    pool.close()  # POST /pools/{uuid}/close
    deadline_at = time.monotonic() + CLOSE_TIMEOUT_SECONDS
    seen = []
    while True:
        state = conn.retrieve_pool(pool.uuid).state
        if not seen or seen[-1] != state:
            seen.append(state)
        if state == "Closed" or time.monotonic() > deadline_at:
            break
        time.sleep(0.25)
    assert state == "Closed", f"pool states seen after close: {seen}"
