"""client.events(): typed events, filters, replay from an id, and resumption after the
connection is cut mid-stream (no event lost, none repeated)."""

from __future__ import annotations

import pytest

import hearth
from conftest import RUN, HearthServer
from hearth._events import parse_event
from hearth._sse import MAX_LINE_BYTES, SSEDecoder, SSEProtocolError
from helpers import Bounded, Proxy

TYPES = ["taskProgress", "instanceEnded"]


def test_pool_lifecycle_events_are_typed(client: hearth.Client) -> None:
    with client.events(types=["pool", "node", "decision"]) as stream:
        stream.connect()
        pool = client.pools.create(f"{RUN}-evented", profile="docker-batch", instance_count=1)
        seen: list[hearth.models.Event] = []
        for event in Bounded(stream, 30, "the pool's Ready node"):
            assert not isinstance(event, (hearth.UnknownEvent, hearth.ResetEvent)), event
            assert isinstance(event, hearth.models.Event)
            if getattr(event, "pool", None) == pool.uuid:
                seen.append(event)
            if (
                isinstance(event, hearth.NodeEvent)
                and event.pool == pool.uuid
                and event.state == "Ready"
            ):
                break
        assert stream.last_event_id == seen[-1].id
    kinds = {type(e) for e in seen}
    assert {hearth.PoolEvent, hearth.NodeEvent, hearth.DecisionEvent} <= kinds
    decision = next(e for e in seen if isinstance(e, hearth.DecisionEvent))
    assert decision.target_slots == 1 and decision.reason
    ids = [e.id for e in seen]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    pool.close()


def test_filters_and_replay_from_an_id(client: hearth.Client, pool: hearth.Pool) -> None:
    with client.events(pool=pool, types=TYPES) as stream:
        stream.connect()
        task = client.tasks.submit(pool, f"{RUN}-replayed", instance_count=3, command="true")
        live = []
        for event in Bounded(stream, 30, "the task's end"):
            assert isinstance(event, (hearth.TaskProgress, hearth.InstanceEnded)), event
            assert event.pool == pool.uuid
            live.append(event)
            if (
                isinstance(event, hearth.TaskProgress)
                and event.task == task.uuid
                and event.finished
            ):
                break
    ended = [e for e in live if isinstance(e, hearth.InstanceEnded)]
    assert sorted(e.instance_id for e in ended) == [0, 1, 2] and all(
        e.outcome == "Succeeded" for e in ended
    )
    # The same events again, replayed from the id before the first.
    with client.events(task=task, types=TYPES, last_event_id=live[0].id - 1) as replay:
        again = []
        for event in Bounded(replay, 30, "the replay"):
            again.append(event)
            if event.id == live[-1].id:
                break
    assert [e.id for e in again] == [e.id for e in live if getattr(e, "task", None) == task.uuid]
    assert again == [e for e in live if getattr(e, "task", None) == task.uuid]


def test_resumes_after_the_connection_is_cut(
    server: HearthServer, client: hearth.Client, pool: hearth.Pool
) -> None:
    host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
    proxy = Proxy(host, port)
    try:
        with hearth.Client(proxy.url, server.owner_token) as via_proxy:
            stream = via_proxy.events(pool=pool, types=TYPES)
            stream.connect()
            task = client.tasks.submit(pool, f"{RUN}-cut", instance_count=24, command="sleep 0.05")
            got: list[hearth.models.Event] = []
            per_connection: dict[int, int] = {}
            cuts = 0
            for event in Bounded(stream, 30, "the cut task's end"):
                assert isinstance(event, (hearth.TaskProgress, hearth.InstanceEnded)), event
                got.append(event)
                # Events handed out while `connections` is k came over connection k (those
                # received whole before a cut are handed out before reconnecting).
                k = stream.connections
                per_connection[k] = per_connection.get(k, 0) + 1
                if cuts < 3 and k == cuts + 1 and per_connection[k] == 3:
                    assert proxy.cut() >= 1  # the stream's connection, mid-stream
                    cuts += 1
                if (
                    isinstance(event, hearth.TaskProgress)
                    and event.task == task.uuid
                    and event.finished
                ):
                    break
            stream.close()
        assert cuts == 3
        assert stream.connections == 4  # reconnected after each cut
        assert per_connection.get(4, 0) >= 1  # events kept coming after the last cut
        ids = [e.id for e in got]
        assert len(set(ids)) == len(ids), "an event was repeated"
        assert ids == sorted(ids)
        # Compare with the server's own record of the same events (a replay without cuts).
        with client.events(pool=pool, types=TYPES, last_event_id=ids[0] - 1) as replay:
            reference = []
            for event in Bounded(replay, 30, "the replay"):
                reference.append(event)
                if event.id == ids[-1]:
                    break
        assert [e.id for e in reference] == ids, "an event was lost"
        assert reference == got
        ended = {
            e.instance_id
            for e in got
            if isinstance(e, hearth.InstanceEnded) and e.task == task.uuid
        }
        assert ended == set(range(24))
    finally:
        proxy.close()


def test_sse_decoder_handles_chunk_boundaries_comments_and_crlf() -> None:
    raw = (
        b'retry: 1000\r\n\r\n: heartbeat\n\nid: 7\nevent: pool\ndata: {"id":7,"at":"2026-01-01T00:00:00.123456789Z",'
        b'"type":"pool","pool":"p","state":"Closed","targetSlots":0}\n\n'
        b'id: 8\nevent: reset\ndata: {"type":"reset","reason":"gone"}\r\n\r\n'
        b'id: 9\nevent: later\ndata: {"a":\ndata: 1}\n\n'
    )
    for size in (1, 2, 3, 7, len(raw)):
        decoder = SSEDecoder()
        messages = []
        for i in range(0, len(raw), size):
            messages.extend(decoder.feed(raw[i : i + size]))
        assert [m.event for m in messages] == ["pool", "reset", "later"]
        assert decoder.retry_ms == 1000 and decoder.last_id == "9"
        pool_event, reset, unknown = (parse_event(m) for m in messages)
        assert (
            isinstance(pool_event, hearth.PoolEvent)
            and pool_event.state == "Closed"
            and pool_event.id == 7
        )
        assert isinstance(reset, hearth.ResetEvent) and reset.id == 8 and reset.reason == "gone"
        assert (
            isinstance(unknown, hearth.UnknownEvent)
            and unknown.type == "later"
            and unknown.data == {"a": 1}
        )


def test_sse_decoder_is_bounded() -> None:
    decoder = SSEDecoder()
    with pytest.raises(SSEProtocolError):
        for _ in range(MAX_LINE_BYTES // 65536 + 2):
            decoder.feed(b"x" * 65536)


def test_a_cut_after_a_burst_repeats_nothing(
    server: HearthServer, client: hearth.Client, pool: hearth.Pool
) -> None:
    """A cut while events received in one burst are still being handed out (a replay comes
    as one chunk of up to 256 events) repeats none of them and loses none after them."""
    with client.events(pool=pool, types=TYPES) as live:
        live.connect()
        burst = client.tasks.submit(pool, f"{RUN}-burst", instance_count=8, command="true")
        before = []
        for event in Bounded(live, 30, "the burst task's end"):
            before.append(event.id)
            if (
                isinstance(event, hearth.TaskProgress)
                and event.task == burst.uuid
                and event.finished
            ):
                break
    proxy = Proxy("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
    try:
        with hearth.Client(proxy.url, server.owner_token) as via_proxy:
            stream = via_proxy.events(pool=pool, types=TYPES, last_event_id=before[0] - 1)
            first = next(stream)  # the whole replay arrives; one event is handed out
            assert len(stream._pending) >= 10, "the replay did not arrive as one burst"
            assert proxy.cut() >= 1
            after = client.tasks.submit(
                pool, f"{RUN}-after-burst", instance_count=2, command="true"
            )
            got = [first.id]
            for event in Bounded(stream, 30, "the second task's end"):
                got.append(event.id)
                if (
                    isinstance(event, hearth.TaskProgress)
                    and event.task == after.uuid
                    and event.finished
                ):
                    break
            stream.close()
        assert stream.connections == 2  # the replay was handed out, then it reconnected
        assert len(got) == len(set(got)), "an event was repeated"
        with client.events(pool=pool, types=TYPES, last_event_id=before[0] - 1) as replay:
            reference = []
            for event in Bounded(replay, 30, "the replay"):
                reference.append(event.id)
                if event.id == got[-1]:
                    break
        assert got == reference
        assert got[: len(before)] == before
    finally:
        proxy.close()
