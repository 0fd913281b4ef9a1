"""Following Server-Sent Event streams (``GET /events``, an instance's output) with
resumption: after a dropped connection the stream is opened again with ``Last-Event-ID``
so that no event is lost or repeated.

Bounded: one network chunk is decoded at a time and its events handed out one by one
before the next chunk is read, so a slow consumer never makes the client buffer more
than one chunk (the server disconnects a consumer that falls more than 1,024 events
behind; the stream then resumes from its last id).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, ExitStack
from typing import Any, Generic, TypeVar, Union

import httpx
from pydantic import ValidationError

from . import _errors
from ._http import AsyncHTTP, Call, SyncHTTP
from ._sse import SSEDecoder, SSEMessage, SSEProtocolError
from .models import (
    BudgetAlert,
    DecisionEvent,
    Event,
    InstanceEnded,
    NodeEvent,
    OutputChunk,
    OutputEnd,
    PoolEvent,
    ResetEvent,
    TaskProgress,
    UnknownEvent,
)

__all__ = [
    "AnyEvent",
    "OutputItem",
    "EVENT_TYPES",
    "parse_event",
    "parse_output",
    "EventStream",
    "AsyncEventStream",
    "OutputStream",
    "AsyncOutputStream",
]

#: What an event stream yields.
AnyEvent = Union[
    PoolEvent,
    NodeEvent,
    TaskProgress,
    InstanceEnded,
    DecisionEvent,
    BudgetAlert,
    ResetEvent,
    UnknownEvent,
]
#: What an output stream yields.
OutputItem = Union[OutputChunk, OutputEnd]

_KINDS: dict[str, type[Event]] = {
    "pool": PoolEvent,
    "node": NodeEvent,
    "taskProgress": TaskProgress,
    "instanceEnded": InstanceEnded,
    "decision": DecisionEvent,
    "budgetAlert": BudgetAlert,
}
#: The event kinds a ``types=`` filter may name.
EVENT_TYPES = tuple(_KINDS)

#: Reading a stream gives up (and reconnects) after this long without a byte; the server
#: sends a heartbeat every 15 s.
DEFAULT_READ_TIMEOUT = 45.0
#: Consecutive reconnections that brought nothing before the stream gives up.
MAX_EMPTY_RECONNECTS = 8
_T = TypeVar("_T")


def _numeric_id(text: str | None) -> int | None:
    if text is not None and text.strip().isdigit():
        return int(text.strip())
    return None


def parse_event(message: SSEMessage) -> AnyEvent:
    """The typed event for one SSE message of ``GET /events``."""
    try:
        data: Any = json.loads(message.data)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {"data": message.data}
    if message.event == "reset":
        reason = data.get("reason")
        return ResetEvent(
            id=_numeric_id(message.id), reason=reason if isinstance(reason, str) else None
        )
    kind = message.event if message.event != "message" else str(data.get("type", "message"))
    cls = _KINDS.get(kind)
    if cls is not None:
        try:
            event = cls.model_validate(data)
        except ValidationError:
            pass  # a changed shape from a newer server: handed over as it came
        else:
            return event  # type: ignore[return-value]
    return UnknownEvent(id=_numeric_id(message.id), type=kind, data=data)


def parse_output(message: SSEMessage) -> OutputItem | None:
    """The typed item for one SSE message of an instance's output stream."""
    try:
        data: Any = json.loads(message.data)
    except ValueError:
        return None
    if message.event == "end":
        return OutputEnd.model_validate(data)
    if message.event in ("output", "message"):
        return OutputChunk.model_validate(data)
    return None


class _Follow(Generic[_T]):
    """State shared by the blocking and async followers."""

    path: str

    def __init__(
        self,
        *,
        params: Mapping[str, str],
        last_id: str | None,
        reconnect: bool,
        read_timeout: float,
        deadline: float | None,
    ) -> None:
        self._params = dict(params)
        self._last_id = last_id
        self._reconnect = reconnect
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._pending: deque[SSEMessage] = deque()
        self._decoder = SSEDecoder()
        self._closed = False
        self._finished = False
        self._empty_connections = 0
        self._got_data = False
        #: Connections opened so far (1 + the reconnections).
        self.connections = 0

    # What to yield for a message (None: nothing), and whether the stream is over after it.
    def _parse(self, message: SSEMessage) -> _T | None:
        raise NotImplementedError

    def _ends(self, item: _T) -> bool:
        return False

    def _call(self) -> Call:
        headers: dict[str, str] = {"Accept": "text/event-stream"}
        # Only ever called with ``_pending`` empty: the last event handed out is the last
        # one received.
        if self._last_id is not None:
            headers["Last-Event-ID"] = self._last_id
        read = self._read_timeout
        if self._deadline is not None:
            read = max(0.01, min(read, self._deadline - time.monotonic()))
        return Call(
            "GET",
            self.path,
            params=self._params,
            headers=headers,
            timeout=httpx.Timeout(read, connect=10.0),
        )

    def _received(self, chunk: bytes) -> None:
        """Decodes a chunk; its whole events wait in ``_pending``."""
        self._got_data = True
        try:
            messages = self._decoder.feed(chunk)
        except SSEProtocolError as error:
            raise _errors.HearthError(str(error), method="GET", path=self.path) from error
        self._pending.extend(messages)

    def _take(self) -> _T | None:
        """The next item from the decoded messages, if any (updates the last id)."""
        while self._pending:
            message = self._pending.popleft()
            if message.id is not None:
                self._last_id = message.id
            item = self._parse(message)
            if item is not None:
                if self._ends(item):
                    self._finished = True
                return item
        return None

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _timeout_error(self) -> _errors.WaitTimeout:
        return _errors.WaitTimeout(
            "the wait ran out of time before the state waited for", method="GET", path=self.path
        )

    def _reconnect_delay(self) -> float:
        """No wait for the first reconnection after data flowed, then 0.25 s doubling to
        the server's ``retry`` (at least 1 s), at most 8 s."""
        if self._got_data and self._empty_connections <= 1:
            return 0.0
        ceiling = max(1.0, (self._decoder.retry_ms or 1000) / 1000.0)
        return float(min(8.0, ceiling, 0.25 * (2 ** max(0, self._empty_connections - 1))))

    def _note_connection_end(self, error: Exception | None) -> None:
        """Decides after a dropped connection: raise, or reconnect."""
        if self._past_deadline():
            raise self._timeout_error() from error
        if not self._reconnect:
            if error is None:
                self._closed = True
                return
            raise _errors.ConnectionError(
                f"the event stream broke: {type(error).__name__}: {error}",
                method="GET",
                path=self.path,
            ) from error
        if not self._got_data:
            self._empty_connections += 1
        else:
            self._empty_connections = 1
        self._got_data = False
        if self._empty_connections > MAX_EMPTY_RECONNECTS:
            raise _errors.ConnectionError(
                f"the stream closed {MAX_EMPTY_RECONNECTS} times in a row without data",
                method="GET",
                path=self.path,
            ) from error

    @property
    def last_id(self) -> str | None:
        """The id of the last event handed out (what a reconnection resumes after)."""
        return self._last_id


class _SyncFollow(_Follow[_T], Iterator[_T]):
    def __init__(self, http: SyncHTTP, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._http = http
        self._stack: ExitStack | None = None
        self._chunks: Iterator[bytes] | None = None

    def _open(self) -> None:
        stack = ExitStack()
        try:
            response = stack.enter_context(self._http.stream(self._call()))
        except httpx.TimeoutException as error:
            stack.close()
            if self._past_deadline():
                raise self._timeout_error() from error
            raise
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        self._chunks = response.iter_bytes()
        self._decoder = SSEDecoder()
        self.connections += 1

    def _drop(self) -> None:
        stack, self._stack, self._chunks = self._stack, None, None
        if stack is not None:
            try:
                stack.close()
            except httpx.TransportError:
                pass

    def connect(self) -> None:
        """Opens the connection now (iterating opens it otherwise), so that nothing
        announced from now on is missed."""
        if self._chunks is None and not self._closed:
            self._open()

    def __iter__(self) -> _SyncFollow[_T]:
        return self

    def __next__(self) -> _T:
        while True:
            item = self._take()
            if item is not None:
                return item
            if self._closed or self._finished:
                self.close()
                raise StopIteration
            if self._chunks is None:
                if self.connections:
                    delay = self._reconnect_delay()
                    if delay:
                        time.sleep(delay)
                self._open()
            assert self._chunks is not None
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._drop()
                self._note_connection_end(None)
                continue
            except (httpx.TransportError, httpx.StreamError) as error:
                self._drop()
                self._note_connection_end(error)
                continue
            if chunk:
                try:
                    self._received(chunk)
                except _errors.HearthError:
                    self._drop()
                    raise

    def close(self) -> None:
        """Closes the connection; iteration ends."""
        self._closed = True
        self._pending.clear()
        self._drop()

    def __enter__(self) -> _SyncFollow[_T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _AsyncFollow(_Follow[_T], AsyncIterator[_T]):
    def __init__(self, http: AsyncHTTP, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._http = http
        self._stack: AsyncExitStack | None = None
        self._chunks: AsyncIterator[bytes] | None = None

    async def _open(self) -> None:
        stack = AsyncExitStack()
        try:
            response = await stack.enter_async_context(self._http.stream(self._call()))
        except httpx.TimeoutException as error:
            await stack.aclose()
            if self._past_deadline():
                raise self._timeout_error() from error
            raise
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self._chunks = response.aiter_bytes()
        self._decoder = SSEDecoder()
        self.connections += 1

    async def _drop(self) -> None:
        stack, self._stack, self._chunks = self._stack, None, None
        if stack is not None:
            try:
                await stack.aclose()
            except httpx.TransportError:
                pass

    async def connect(self) -> None:
        """Opens the connection now (iterating opens it otherwise), so that nothing
        announced from now on is missed."""
        if self._chunks is None and not self._closed:
            await self._open()

    def __aiter__(self) -> _AsyncFollow[_T]:
        return self

    async def __anext__(self) -> _T:
        while True:
            item = self._take()
            if item is not None:
                return item
            if self._closed or self._finished:
                await self.aclose()
                raise StopAsyncIteration
            if self._chunks is None:
                if self.connections:
                    delay = self._reconnect_delay()
                    if delay:
                        await asyncio.sleep(delay)
                await self._open()
            assert self._chunks is not None
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                await self._drop()
                self._note_connection_end(None)
                continue
            except (httpx.TransportError, httpx.StreamError) as error:
                await self._drop()
                self._note_connection_end(error)
                continue
            if chunk:
                try:
                    self._received(chunk)
                except _errors.HearthError:
                    await self._drop()
                    raise

    async def aclose(self) -> None:
        """Closes the connection; iteration ends."""
        self._closed = True
        self._pending.clear()
        await self._drop()

    async def __aenter__(self) -> _AsyncFollow[_T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _event_params(
    pool: str | None, task: str | None, types: Sequence[str] | None
) -> dict[str, str]:
    params: dict[str, str] = {}
    if pool is not None:
        params["pool"] = pool
    if task is not None:
        params["task"] = task
    if types:
        unknown = [t for t in types if t not in _KINDS]
        if unknown:
            raise ValueError(f"unknown event types {unknown} (known: {', '.join(_KINDS)})")
        params["types"] = ",".join(types)
    return params


class _EventsMixin:
    _last_id: str | None
    connections: int

    def _parse(self, message: SSEMessage) -> AnyEvent | None:
        return parse_event(message)

    @property
    def last_event_id(self) -> int | None:
        """The id of the last event handed out; a reconnection resumes after it."""
        return _numeric_id(self._last_id)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(last_event_id={self.last_event_id!r}, "
            f"connections={self.connections})"
        )


class EventStream(_EventsMixin, _SyncFollow[AnyEvent]):
    """An iterator over the tenant's events (``GET /events``), as typed models.

    After a dropped connection (or the server ending the stream) it reconnects with
    ``Last-Event-ID`` and goes on: events are neither lost nor repeated. A
    :class:`~hearth.models.ResetEvent` says some events could not be replayed (read the
    state again). Use it as a context manager, or call :meth:`close`.
    """

    path = "/events"

    def __init__(
        self,
        http: SyncHTTP,
        *,
        pool: str | None = None,
        task: str | None = None,
        types: Sequence[str] | None = None,
        last_event_id: int | None = None,
        reconnect: bool = True,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        deadline: float | None = None,
    ) -> None:
        super().__init__(
            http,
            params=_event_params(pool, task, types),
            last_id=str(last_event_id) if last_event_id is not None else None,
            reconnect=reconnect,
            read_timeout=read_timeout,
            deadline=deadline,
        )


class AsyncEventStream(_EventsMixin, _AsyncFollow[AnyEvent]):
    """The async twin of :class:`EventStream` (``async for event in stream``)."""

    path = "/events"

    def __init__(
        self,
        http: AsyncHTTP,
        *,
        pool: str | None = None,
        task: str | None = None,
        types: Sequence[str] | None = None,
        last_event_id: int | None = None,
        reconnect: bool = True,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        deadline: float | None = None,
    ) -> None:
        super().__init__(
            http,
            params=_event_params(pool, task, types),
            last_id=str(last_event_id) if last_event_id is not None else None,
            reconnect=reconnect,
            read_timeout=read_timeout,
            deadline=deadline,
        )


class _OutputMixin:
    def _parse(self, message: SSEMessage) -> OutputItem | None:
        return parse_output(message)

    def _ends(self, item: OutputItem) -> bool:
        return isinstance(item, OutputEnd)


class OutputStream(_OutputMixin, _SyncFollow[OutputItem]):
    """An iterator over one instance's output as it is written (``tail -f``):
    :class:`~hearth.models.OutputChunk` items, then one :class:`~hearth.models.OutputEnd`
    when the instance is finished. Resumes after a drop from the bytes already received."""

    def __init__(
        self,
        http: SyncHTTP,
        task: str,
        instance_id: int,
        *,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.path = f"/tasks/{task}/instances/{instance_id}/output"
        super().__init__(
            http, params={}, last_id=None, reconnect=True, read_timeout=read_timeout, deadline=None
        )


class AsyncOutputStream(_OutputMixin, _AsyncFollow[OutputItem]):
    """The async twin of :class:`OutputStream`."""

    def __init__(
        self,
        http: AsyncHTTP,
        task: str,
        instance_id: int,
        *,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.path = f"/tasks/{task}/instances/{instance_id}/output"
        super().__init__(
            http, params={}, last_id=None, reconnect=True, read_timeout=read_timeout, deadline=None
        )
