"""client.jobs: create, get, list, submit into, tasks, terminate, delete."""

from __future__ import annotations

import datetime as dt

import pytest

import hearth
from conftest import RUN


def test_job_lifecycle(client: hearth.Client, pool: hearth.Pool) -> None:
    job = client.jobs.create(f"{RUN}-job", pool, max_wall_time=dt.timedelta(hours=1), tags=[RUN])
    assert job.state == "Active"
    assert job.pool_uuid == pool.uuid
    assert job.max_wall_time is not None and job.max_wall_time.startswith("01:00:00")
    assert client.jobs.get(job.uuid).name == f"{RUN}-job"
    assert job.uuid in {j.uuid for j in client.jobs.list(tags=[RUN])}

    quick = job.submit(f"{RUN}-in-job", instance_count=2, command="echo in job")
    assert quick.job_uuid == job.uuid and quick.pool_uuid == pool.uuid
    quick.wait(timeout=60)
    assert quick.state == "Success"
    slow = client.tasks.submit(
        None, f"{RUN}-in-job-slow", job=job, instance_count=1, command="sleep 60"
    )
    assert [t.uuid for t in job.tasks()] == [quick.uuid, slow.uuid]
    assert all(isinstance(t, hearth.Task) for t in job.tasks())

    # Unfinished tasks: deleting without force is a conflict.
    with pytest.raises(hearth.Conflict):
        job.delete()
    job.terminate()
    assert job.state in ("Terminating", "Completed")
    slow.wait(timeout=30)
    assert slow.state == "Cancelled"
    job.delete(force=True)
    with pytest.raises(hearth.NotFound):
        client.jobs.get(job)


def test_job_without_pool_needs_one_for_tasks(client: hearth.Client) -> None:
    job = client.jobs.create(f"{RUN}-poolless")
    assert job.pool_uuid is None
    with pytest.raises(hearth.BadRequest):
        job.submit(f"{RUN}-nowhere", instance_count=1, command="true")
    job.delete(force=True)
