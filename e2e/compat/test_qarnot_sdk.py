"""The public `qarnot` SDK (2.23.0), unmodified, driving a real hearth server.

Everything goes through the SDK's own calls, except hearth's additions the SDK does not
know (tokens, tenants), which use plain HTTP. The tests run in file order and share two
module-scoped pools:

* `scaling_pool`: the elastic pool with the weekly scaling policies of the brief. It may get
  nodes (office hours), so no task is put on it while it is live.
* `parked_pool`: a pool whose only policy is `Fixed 0`, so it never has a node: every task on
  it stays `Submitted` until aborted, which keeps the task assertions deterministic without
  waiting for anything.

Every name and tag carries a per-run id, so the suite also works against a shared
PostgreSQL database that already holds older runs.
"""

import datetime as dt
import uuid

import pytest
import requests
from qarnot.connection import Connection
from qarnot.exceptions import (
    MissingBucketException,
    MissingJobException,
    MissingPoolException,
    MissingProfileException,
    MissingTaskException,
    MissingTaskInstanceException,
    QarnotGenericException,
    UnauthorizedException,
)
from qarnot.multi_slots_settings import MultiSlotsSettings
from qarnot.scaling import (
    FixedScalingPolicy,
    ManagedTasksQueueScalingPolicy,
    Scaling,
    TimePeriodAlways,
    TimePeriodWeeklyRecurring,
)
from qarnot.status import Status

PROFILE = "docker-batch"
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]
OFFICE_START, OFFICE_END = dt.time(8, 0), dt.time(18, 30)
# DESIGN §2: the pool states before any close/delete/failure.
LIVE_POOL_STATES = {
    "Submitted",
    "PartiallyDispatched",
    "FullyDispatched",
    "PartiallyExecuting",
    "FullyExecuting",
}
# A pool that can never get a node (target 0): nothing requested yet, or "ready at size 0".
NODELESS_POOL_STATES = {"Submitted", "FullyExecuting"}
RUN = "compat-" + uuid.uuid4().hex[:8]


def tag(name):
    """A tag unique to this run, so filters cannot match objects of other runs."""
    return f"{RUN}-{name}"


def utc_now():
    return dt.datetime.now(dt.timezone.utc)


def office_hours_policy(now):
    """Which of the brief's two policies is active at `now`: the first one whose period holds it."""
    if now.weekday() < 5 and OFFICE_START <= now.time() < OFFICE_END:
        return "office-hours"
    return "default"


def brief_scaling():
    return Scaling(
        [
            FixedScalingPolicy(
                2,
                "office-hours",
                [TimePeriodWeeklyRecurring(WEEKDAYS, OFFICE_START, OFFICE_END, "weekdays")],
            ),
            ManagedTasksQueueScalingPolicy(0, 4, 0, 120, 0.5, "default", [TimePeriodAlways()]),
        ]
    )


def parked_task(conn, pool, name, instances=1, tags=None, command="echo hello"):
    task = conn.create_task(f"{RUN}-{name}", pool, instances)
    task.constants["DOCKER_CMD"] = command
    if tags is not None:
        task.tags = tags
    return task


def uuids(objects):
    return {o.uuid for o in objects}


@pytest.fixture(scope="module")
def cleanup(hearth):
    """Deletes, at the end of the module, what the tests leave behind (shared databases)."""
    paths = []
    yield paths
    for path in reversed(paths):
        try:
            hearth.request("DELETE", path, hearth.owner_token)
        except requests.RequestException:
            pass  # best effort: a dead server is reported by the tests themselves


@pytest.fixture(scope="module")
def scaling_pool(conn, cleanup):
    pool = conn.create_elastic_pool(
        f"{RUN}-scaling", PROFILE,
        minimum_total_slots=0, maximum_total_slots=4, minimum_idle_slots=1,
        minimum_idle_time_seconds=60, resize_factor=0.5, resize_period=30,
    )
    pool.scaling = brief_scaling()
    pool.tags = [tag("all"), tag("scaling-pool")]
    pool.constants["DOCKER_REPO"] = "library/ubuntu"
    pool.constants["COMPAT_RUN"] = RUN
    pool.submitted_at = utc_now()
    pool.submit()
    assert pool.uuid, "POST /pools gave no uuid"
    cleanup.append(f"/pools/{pool.uuid}")
    return pool


@pytest.fixture(scope="module")
def parked_pool(conn, cleanup):
    pool = conn.create_pool(f"{RUN}-parked", PROFILE, 1)
    pool.scaling = Scaling([FixedScalingPolicy(0, "parked")])
    pool.tags = [tag("all"), tag("parked-pool")]
    pool.submit()
    assert pool.uuid, "POST /pools gave no uuid"
    cleanup.append(f"/pools/{pool.uuid}")
    return pool


# --- connection and profiles -----------------------------------------------------------------


def test_settings_turn_storage_off(hearth, conn):
    # The constructor already called GET /settings; {"storage": null} means no S3 at all.
    assert conn.s3client is None
    assert conn.s3resource is None
    raw = requests.get(hearth.url + "/settings", headers={"Authorization": hearth.owner_token}, timeout=10)
    assert raw.status_code == 200
    assert raw.json() == {"storage": None}


def test_trailing_slash_in_cluster_url_works(hearth):
    # The SDK concatenates, so this sends `//settings`, `//profiles`.
    slashed = Connection(cluster_url=hearth.url + "/", client_token=hearth.owner_token)
    assert PROFILE in slashed.profiles_names()


@pytest.mark.parametrize("kind", ["garbage", "tampered"])
def test_wrong_token_is_unauthorized(hearth, kind):
    token = "not-a-token" if kind == "garbage" else hearth.owner_token[:-2] + (
        "AA" if not hearth.owner_token.endswith("AA") else "BB")
    with pytest.raises(UnauthorizedException):
        Connection(cluster_url=hearth.url, client_token=token)


def test_profiles(conn):
    names = conn.profiles_names()
    assert isinstance(names, list)
    assert PROFILE in names
    assert all(isinstance(n, str) for n in names)

    profile = conn.retrieve_profile(PROFILE)
    assert profile.name == PROFILE
    assert "DOCKER_CMD" in dict(profile.constants)

    assert conn.profile_details("nope") is None
    with pytest.raises(MissingProfileException):
        conn.retrieve_profile("nope")

    details = conn.profile_details(PROFILE)
    assert details is not None and details.name == PROFILE

    profiles = conn.profiles()
    assert sorted(p.name for p in profiles) == sorted(names)


def test_user_info(conn, scaling_pool, parked_pool):
    info = conn.user_info  # GET /info
    assert info.email == "owner@default"
    assert isinstance(info.pool_count, int) and info.pool_count >= 2
    assert isinstance(info.task_count, int)


# --- pools: creation, scaling, commit ----------------------------------------------------------


def test_scaling_pool_reads_back(conn, scaling_pool):
    pool = conn.retrieve_pool(scaling_pool.uuid)
    assert pool.uuid == scaling_pool.uuid
    assert pool.name == f"{RUN}-scaling"
    assert pool.profile == PROFILE
    assert pool.state in LIVE_POOL_STATES
    assert sorted(pool.tags) == sorted([tag("all"), tag("scaling-pool")])
    assert pool.constants.get("DOCKER_REPO") == "library/ubuntu"
    assert pool.constants.get("COMPAT_RUN") == RUN
    assert isinstance(pool.creation_date, dt.datetime)
    assert pool.errors == []


def test_scaling_policies_round_trip(conn, scaling_pool):
    scaling = conn.retrieve_pool(scaling_pool.uuid).scaling
    assert scaling is not None, "GET /pools/{uuid} has no scaling"
    assert len(scaling.policies) == 2

    fixed, managed = scaling.policies
    assert isinstance(fixed, FixedScalingPolicy)
    assert fixed.name == "office-hours"
    assert fixed.slots_count == 2
    assert len(fixed.enabled_periods) == 1
    weekly = fixed.enabled_periods[0]
    assert isinstance(weekly, TimePeriodWeeklyRecurring)
    assert weekly.name == "weekdays"
    assert [d.value for d in weekly.days] == WEEKDAYS
    assert weekly.start_time_utc == OFFICE_START
    assert weekly.end_time_utc == OFFICE_END

    assert isinstance(managed, ManagedTasksQueueScalingPolicy)
    assert managed.name == "default"
    assert (managed.min_total_slots, managed.max_total_slots, managed.min_idle_slots) == (0, 4, 0)
    assert managed.min_idle_time_seconds == 120
    assert managed.scaling_factor == pytest.approx(0.5)
    assert len(managed.enabled_periods) == 1
    assert isinstance(managed.enabled_periods[0], TimePeriodAlways)


def test_active_policy_follows_the_weekly_window(conn, scaling_pool):
    # The server may have chosen at submission or at this GET: accept what was due at either
    # instant (they differ only if 08:00/18:30 or midnight passed in between).
    due_at_submit = office_hours_policy(scaling_pool.submitted_at)
    scaling = conn.retrieve_pool(scaling_pool.uuid).scaling
    due_now = office_hours_policy(utc_now())
    assert scaling.active_policy_name in {due_at_submit, due_now}


def test_elastic_settings_round_trip(conn, scaling_pool):
    pool = conn.retrieve_pool(scaling_pool.uuid)
    assert pool.is_elastic is True
    assert pool.elastic_minimum_slots == 0
    assert pool.elastic_maximum_slots == 4
    assert pool.elastic_minimum_idle_slots == 1
    assert pool.elastic_minimum_idle_time == 60
    assert pool.elastic_resize_factor == pytest.approx(0.5)
    assert pool.elastic_resize_period == 30


def test_commit_changes_scaling_tags_constants(conn, scaling_pool):
    pool = conn.retrieve_pool(scaling_pool.uuid)
    pool.scaling = Scaling(
        [
            FixedScalingPolicy(0, "quiet", [TimePeriodAlways("all-week")]),
            ManagedTasksQueueScalingPolicy(
                1, 6, 1, 300, 1.0, "weekend-burst",
                [TimePeriodWeeklyRecurring(["saturday", "sunday"], dt.time(0, 0), dt.time(23, 59, 59), "weekend")],
            ),
        ]
    )
    pool.tags = [tag("all"), tag("scaling-pool"), tag("committed")]
    pool.constants["COMPAT_COMMIT"] = "yes"
    pool.elastic_maximum_slots = 6
    pool.commit()

    back = conn.retrieve_pool(scaling_pool.uuid)
    assert back.state in LIVE_POOL_STATES
    policies = back.scaling.policies
    assert [type(p) for p in policies] == [FixedScalingPolicy, ManagedTasksQueueScalingPolicy]
    quiet, burst = policies
    assert (quiet.name, quiet.slots_count) == ("quiet", 0)
    assert isinstance(quiet.enabled_periods[0], TimePeriodAlways)
    assert quiet.enabled_periods[0].name == "all-week"
    assert burst.name == "weekend-burst"
    assert (burst.min_total_slots, burst.max_total_slots, burst.min_idle_slots) == (1, 6, 1)
    assert burst.min_idle_time_seconds == 300
    assert burst.scaling_factor == pytest.approx(1.0)
    weekend = burst.enabled_periods[0]
    assert [d.value for d in weekend.days] == ["saturday", "sunday"]
    assert (weekend.start_time_utc, weekend.end_time_utc) == (dt.time(0, 0), dt.time(23, 59, 59))
    assert sorted(back.tags) == sorted([tag("all"), tag("scaling-pool"), tag("committed")])
    assert back.constants.get("COMPAT_COMMIT") == "yes"
    assert back.constants.get("COMPAT_RUN") == RUN
    assert back.elastic_maximum_slots == 6


def test_commit_moves_the_active_policy(conn, scaling_pool):
    # After the commit above, "quiet" (Always) is first, so it is active whatever the time.
    assert conn.retrieve_pool(scaling_pool.uuid).scaling.active_policy_name == "quiet"


def test_parked_pool_reads_back(conn, parked_pool):
    pool = conn.retrieve_pool(parked_pool.uuid)
    assert pool.state in NODELESS_POOL_STATES
    assert [(type(p), p.name, p.slots_count) for p in pool.scaling.policies] == [
        (FixedScalingPolicy, "parked", 0)
    ]
    assert pool.scaling.active_policy_name == "parked"


def test_pool_with_unknown_profile_is_refused(conn):
    pool = conn.create_pool(f"{RUN}-bad-profile", "nope", 1)
    with pytest.raises(QarnotGenericException, match="profile"):
        pool.submit()


def test_elastic_max_below_min_is_refused(conn):
    pool = conn.create_elastic_pool(f"{RUN}-bad-elastic", PROFILE, minimum_total_slots=5, maximum_total_slots=2)
    with pytest.raises(QarnotGenericException, match="elasticProperty"):
        pool.submit()


def test_multi_slot_pool(conn, cleanup):
    pool = conn.create_pool(f"{RUN}-multi", PROFILE, 8)
    pool.multi_slots_settings = MultiSlotsSettings(4)
    pool.scaling = Scaling([FixedScalingPolicy(0, "parked")])
    pool.submit()
    cleanup.append(f"/pools/{pool.uuid}")
    assert conn.retrieve_pool(pool.uuid).multi_slots_settings.to_json() == {"slotsPerNode": 4}

    too_many = conn.create_pool(f"{RUN}-multi-too-many", PROFILE, 32)
    too_many.multi_slots_settings = MultiSlotsSettings(32)  # docker-batch allows at most 16
    too_many.scaling = Scaling([FixedScalingPolicy(0, "parked")])
    with pytest.raises(QarnotGenericException):
        too_many.submit()


# --- tasks -------------------------------------------------------------------------------------


def test_task_submit_reads_back(conn, parked_pool):
    task = parked_task(conn, parked_pool, "t", 4, tags=[tag("single")])
    task.constants["COMPAT_RUN"] = RUN
    task.submit()
    assert task.uuid
    assert task.state == "Submitted"

    back = conn.retrieve_task(task.uuid)
    assert back.uuid == task.uuid
    assert back.name == f"{RUN}-t"
    assert back.state == "Submitted"
    assert back.instancecount == 4
    assert back.constants.get("DOCKER_CMD") == "echo hello"
    assert back.constants.get("COMPAT_RUN") == RUN
    assert back.tags == [tag("single")]
    assert back.pool.uuid == parked_pool.uuid
    assert isinstance(back.creation_date, dt.datetime)
    assert isinstance(back.status, Status)
    assert back.completed_instances == []
    assert back.errors == []


def test_task_with_advanced_ranges(conn, parked_pool):
    task = conn.create_task(f"{RUN}-ranges", parked_pool, "0-2,5")
    task.constants["DOCKER_CMD"] = "echo $INSTANCE_ID"
    task.submit()
    back = conn.retrieve_task(task.uuid)
    assert back.advanced_range == "0-2,5"
    assert back.state == "Submitted"


def test_task_without_pool_or_job_is_refused(conn):
    task = conn.create_task(f"{RUN}-profile-only", PROFILE, 1)
    task.constants["DOCKER_CMD"] = "true"
    with pytest.raises(QarnotGenericException):
        task.submit()


def test_bulk_submit(conn, parked_pool):
    first = parked_task(conn, parked_pool, "bulk-1", 1, tags=[tag("bulk")])
    second = parked_task(conn, parked_pool, "bulk-2", 2, tags=[tag("bulk")])
    conn.submit_tasks([first, second])
    assert first.uuid and second.uuid and first.uuid != second.uuid
    assert conn.retrieve_task(first.uuid).name == f"{RUN}-bulk-1"
    assert conn.retrieve_task(second.uuid).instancecount == 2


@pytest.fixture(scope="module")
def tagged_tasks(conn, parked_pool):
    """Four tasks whose tags make each filter below select a different set."""
    spec = {
        "alpha": [tag("alpha")],
        "beta": [tag("beta")],
        "both": [tag("alpha"), tag("beta")],
        "gamma": [tag("gamma")],
    }
    tasks = {}
    for name, tags in spec.items():
        task = parked_task(conn, parked_pool, f"tagged-{name}", 1, tags=tags + [tag("tagged")])
        task.submit()
        tasks[name] = task.uuid
    return tasks


def test_task_listing_with_tag_filters(conn, tagged_tasks):
    t = tagged_tasks
    assert uuids(conn.all_tasks(tags=[tag("alpha")])) == {t["alpha"], t["both"]}
    assert uuids(conn.all_tasks(tags=[tag("alpha"), tag("beta")])) == {t["alpha"], t["beta"], t["both"]}
    assert uuids(conn.all_tasks(tags_intersect=[tag("alpha"), tag("beta")])) == {t["both"]}
    assert uuids(conn.all_tasks(tags=[tag("gamma")], summary=False)) == {t["gamma"]}
    assert uuids(conn.all_tasks(tags=[tag("nothing")])) == set()


def test_task_listing_summaries(conn, tagged_tasks):
    listed = {task.uuid: task for task in conn.all_tasks()}  # POST /tasks/summaries/paginate
    assert set(tagged_tasks.values()) <= set(listed)
    both = listed[tagged_tasks["both"]]
    assert both.name == f"{RUN}-tagged-both"
    assert both.state == "Submitted"
    assert sorted(both.tags) == sorted([tag("alpha"), tag("beta"), tag("tagged")])


def test_task_pagination(conn, tagged_tasks):
    first = conn.tasks_page(maximum=3, tags=[tag("tagged")])
    assert len(first.page_data) == 3
    assert first.is_truncated is True
    assert first.next_token
    second = conn.tasks_page(token=first.next_token, maximum=3, tags=[tag("tagged")])
    assert len(second.page_data) == 1
    assert second.is_truncated is False
    assert uuids(first.page_data) | uuids(second.page_data) == set(tagged_tasks.values())


def test_pool_listing(conn, scaling_pool, parked_pool):
    ours = {scaling_pool.uuid, parked_pool.uuid}
    summaries = list(conn.all_pools(summary=True))  # POST /pools/summaries/paginate
    assert ours <= uuids(summaries)
    this_run = {p.uuid for p in summaries if (p.name or "").startswith(RUN + "-")}
    assert ours <= this_run
    assert all(p.state in LIVE_POOL_STATES for p in summaries if p.uuid in ours)

    assert uuids(conn.all_pools(tags=[tag("parked-pool")])) == {parked_pool.uuid}
    assert uuids(conn.all_pools(tags=[tag("parked-pool"), tag("scaling-pool")])) == ours
    assert uuids(conn.all_pools(tags_intersect=[tag("all"), tag("scaling-pool")])) == {scaling_pool.uuid}
    assert uuids(conn.all_pools(tags=[tag("nothing")])) == set()


def test_task_output_is_text(conn, parked_pool):
    task = parked_task(conn, parked_pool, "output", 2)
    task.submit()
    # Nothing ran (the pool has no node), so every output is an empty string.
    assert task.stdout() == ""
    assert task.fresh_stdout() == ""
    assert task.stderr() == ""
    assert task.fresh_stderr() == ""
    assert task.stdout(1) == ""
    with pytest.raises(MissingTaskInstanceException):
        task.stdout(7)


def test_task_abort(conn, parked_pool):
    task = parked_task(conn, parked_pool, "abort", 3, command="sleep 600")
    task.submit()
    task.abort()
    assert task.state == "Cancelled"
    assert conn.retrieve_task(task.uuid).state == "Cancelled"
    task.abort()  # a finished task: 2xx no-op
    assert conn.retrieve_task(task.uuid).state == "Cancelled"


def test_task_delete(conn, parked_pool):
    task = parked_task(conn, parked_pool, "delete", 1)
    task.submit()
    task_uuid = task.uuid
    task.delete()
    with pytest.raises(MissingTaskException):
        conn.retrieve_task(task_uuid)
    assert task_uuid not in uuids(conn.all_tasks())


# --- jobs --------------------------------------------------------------------------------------


def test_job_lifecycle(conn, parked_pool):
    job = conn.create_job(f"{RUN}-job", parked_pool)
    job.submit()  # POST /jobs/ (trailing slash)
    assert job.uuid
    assert job.state == "Active"

    back = conn.retrieve_job(job.uuid)
    assert back.name == f"{RUN}-job"
    assert back.pool.uuid == parked_pool.uuid

    task = conn.create_task(f"{RUN}-in-job", None, 2, job=job)
    task.constants["DOCKER_CMD"] = "echo job"
    task.submit()
    assert conn.retrieve_task(task.uuid).state == "Submitted"

    assert [t.uuid for t in job.tasks] == [task.uuid]
    assert job.uuid in uuids(conn.all_jobs())

    job.terminate()
    assert conn.retrieve_job(job.uuid).state in {"Terminating", "Completed"}
    assert conn.retrieve_task(task.uuid).state in {"PendingCancel", "Cancelled"}

    job_uuid = job.uuid
    job.delete(forceAbort=True)
    with pytest.raises(MissingJobException):
        conn.retrieve_job(job_uuid)
    assert job_uuid not in uuids(conn.all_jobs())


def test_job_delete_without_force_refuses_live_tasks(conn, parked_pool):
    job = conn.create_job(f"{RUN}-job-live", parked_pool)
    job.submit()
    job_uuid = job.uuid
    task = conn.create_task(f"{RUN}-in-live-job", None, 1, job=job)
    task.constants["DOCKER_CMD"] = "sleep 600"
    task.submit()
    with pytest.raises(QarnotGenericException):
        job.delete(forceAbort=False)
    assert conn.retrieve_job(job_uuid).state == "Active"
    job.delete(forceAbort=True)
    with pytest.raises(MissingJobException):
        conn.retrieve_job(job_uuid)
    try:
        task_state = conn.retrieve_task(task.uuid).state
    except MissingTaskException:
        task_state = None  # deleted together with its job
    assert task_state in {None, "Cancelled"}


def test_task_in_a_job_without_pool_is_refused(conn, cleanup):
    job = conn.create_job(f"{RUN}-job-unbound")
    job.submit()
    cleanup.append(f"/jobs/{job.uuid}?force=True")
    assert conn.retrieve_job(job.uuid).state == "Active"
    task = conn.create_task(f"{RUN}-in-unbound-job", None, 1, job=job)
    task.constants["DOCKER_CMD"] = "true"
    with pytest.raises(QarnotGenericException):  # 400: the job names no pool to run on
        task.submit()


# --- tokens and tenants ------------------------------------------------------------------------


def create_token(hearth, role):
    response = hearth.request("POST", "/tokens", hearth.owner_token, {"name": f"{RUN}-{role}", "role": role})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["role"] == role and body["token"]
    return body


def test_viewer_token_reads_but_cannot_write(hearth, parked_pool):
    viewer = Connection(cluster_url=hearth.url, client_token=create_token(hearth, "viewer")["token"])
    assert viewer.retrieve_pool(parked_pool.uuid).name == f"{RUN}-parked"

    pool = viewer.create_pool(f"{RUN}-by-viewer", PROFILE, 1)
    pool.scaling = Scaling([FixedScalingPolicy(0, "parked")])
    with pytest.raises(UnauthorizedException):
        pool.submit()

    task = viewer.create_task(f"{RUN}-by-viewer", viewer.retrieve_pool(parked_pool.uuid), 1)
    task.constants["DOCKER_CMD"] = "true"
    with pytest.raises(UnauthorizedException):
        task.submit()


def test_revoked_token_is_unauthorized(hearth):
    member = create_token(hearth, "member")
    Connection(cluster_url=hearth.url, client_token=member["token"])
    response = hearth.request("DELETE", f"/tokens/{member['uuid']}", hearth.owner_token)
    assert response.status_code == 204, response.text
    with pytest.raises(UnauthorizedException):
        Connection(cluster_url=hearth.url, client_token=member["token"])


@pytest.fixture(scope="module")
def other_tenant(hearth):
    response = hearth.request("POST", "/tenants", hearth.operator_token, {"name": f"{RUN}-other"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["ownerToken"]
    return Connection(cluster_url=hearth.url, client_token=body["ownerToken"])


def test_other_tenant_sees_nothing_of_the_first(other_tenant, scaling_pool, parked_pool, tagged_tasks):
    with pytest.raises(MissingPoolException):
        other_tenant.retrieve_pool(parked_pool.uuid)
    with pytest.raises(MissingTaskException):
        other_tenant.retrieve_task(tagged_tasks["alpha"])
    assert list(other_tenant.all_pools()) == []
    assert list(other_tenant.all_tasks(tags=[tag("alpha")])) == []
    assert list(other_tenant.all_jobs()) == []


def test_other_tenant_cannot_use_the_first_tenants_pool(other_tenant, conn, parked_pool):
    stale = conn.retrieve_pool(parked_pool.uuid)
    task = other_tenant.create_task(f"{RUN}-intruder", stale, 1)
    task.constants["DOCKER_CMD"] = "true"
    with pytest.raises(MissingBucketException):  # the SDK's name for a 404 on POST /tasks
        task.submit()


def test_tenant_without_multi_slot_entitlement_is_forbidden(hearth):
    response = hearth.request(
        "POST", "/tenants", hearth.operator_token, {"name": f"{RUN}-single", "multiSlotEnabled": False}
    )
    assert response.status_code == 201, response.text
    single = Connection(cluster_url=hearth.url, client_token=response.json()["ownerToken"])
    pool = single.create_pool(f"{RUN}-multi-refused", PROFILE, 4)
    pool.multi_slots_settings = MultiSlotsSettings(4)
    pool.scaling = Scaling([FixedScalingPolicy(0, "parked")])
    with pytest.raises(UnauthorizedException):
        pool.submit()


def test_operator_token_cannot_touch_tenant_objects(hearth, parked_pool):
    operator = Connection(cluster_url=hearth.url, client_token=hearth.operator_token)
    with pytest.raises(UnauthorizedException):  # 403
        operator.retrieve_pool(parked_pool.uuid)


# --- closing and deleting pools ----------------------------------------------------------------


def test_close_then_delete_pool(conn, scaling_pool):
    pool_uuid = scaling_pool.uuid
    pool = conn.retrieve_pool(pool_uuid)
    pool.close()
    assert pool.state in {"Closing", "Closed"}
    assert conn.retrieve_pool(pool_uuid).state in {"Closing", "Closed"}

    with pytest.raises(QarnotGenericException, match="Clos"):  # 409 naming the state
        pool.close()

    task = conn.create_task(f"{RUN}-on-closed", pool, 1)
    task.constants["DOCKER_CMD"] = "true"
    with pytest.raises(QarnotGenericException):  # 409: the pool no longer accepts tasks
        task.submit()

    pool.tags = [tag("all"), tag("late-edit")]
    with pytest.raises(QarnotGenericException):  # 409: no edits once closing/closed
        pool.commit()

    stale = conn.retrieve_pool(pool_uuid)
    pool.delete()
    with pytest.raises(MissingPoolException):
        conn.retrieve_pool(pool_uuid)
    assert pool_uuid not in uuids(conn.all_pools())

    after_delete = conn.create_task(f"{RUN}-on-deleted", stale, 1)
    after_delete.constants["DOCKER_CMD"] = "true"
    with pytest.raises(MissingBucketException):  # 404 on POST /tasks
        after_delete.submit()


def test_deleting_a_pool_cancels_its_tasks(conn, parked_pool, tagged_tasks):
    pool_uuid = parked_pool.uuid
    conn.retrieve_pool(pool_uuid).delete()
    with pytest.raises(MissingPoolException):
        conn.retrieve_pool(pool_uuid)
    assert conn.retrieve_task(tagged_tasks["gamma"]).state == "Cancelled"
