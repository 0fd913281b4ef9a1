"""The HTTP layer under both clients: auth header, timeouts, error mapping, and retries
with exponential backoff (connection errors, 429, 5xx, a create's 409 ``in_flight``) that
keep one ``Idempotency-Key`` per logical call."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import _errors
from ._version import __version__

__all__ = ["Call", "RetryPolicy", "SyncHTTP", "AsyncHTTP", "DEFAULT_TIMEOUT", "new_idempotency_key"]

#: Every request has a timeout: 10 s to connect, 30 s for each read/write.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = f"hearth-python/{__version__}"

# Transport errors raised before the request could reach the server: always safe to retry.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


def new_idempotency_key() -> str:
    """A fresh key for one logical create call (sent again, unchanged, by its retries)."""
    return f"hearth-py-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class RetryPolicy:
    """How failed calls are retried.

    Attributes:
        max_retries: retries after the first attempt (0 turns retrying off).
        backoff: the first delay in seconds; each next one doubles, up to ``max_backoff``.
            Each delay is jittered down by up to half.
        max_backoff: the longest delay between two attempts; a ``Retry-After`` longer
            than this is not waited for (the error is raised).
    """

    max_retries: int = 3
    backoff: float = 0.25
    max_backoff: float = 8.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to sleep before retry number ``attempt + 1``, or ``None`` to give up."""
        if attempt >= self.max_retries:
            return None
        base = min(self.max_backoff, self.backoff * (2.0**attempt))
        wait = base * random.uniform(0.5, 1.0)
        if retry_after is not None:
            if retry_after > self.max_backoff:
                return None
            wait = max(wait, retry_after)
        return wait


@dataclass
class Call:
    """One logical API call; its retries send the very same request (same key)."""

    method: str
    path: str
    params: Mapping[str, str | int | float] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Safe to send again when the first attempt may have reached the server (reads,
    #: PUT/DELETE, and POSTs that carry an Idempotency-Key or change nothing twice).
    retry_after_send: bool = True
    timeout: httpx.Timeout | None = None
    idempotency_key: str | None = None

    def __post_init__(self) -> None:
        if self.idempotency_key is not None:
            self.headers["Idempotency-Key"] = self.idempotency_key


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def _decide_on_status(
    call: Call, response: httpx.Response, attempt: int, policy: RetryPolicy
) -> float | None:
    status = response.status_code
    if status == 429:
        return policy.delay(attempt, _retry_after(response))
    if status == 409 and call.idempotency_key is not None and _code(response) == "in_flight":
        # The first try with this key is still being answered: its answer comes shortly.
        return policy.delay(attempt, _retry_after(response))
    if status >= 500 and call.retry_after_send:
        return policy.delay(attempt, _retry_after(response) if status == 503 else None)
    return None


def _decide_on_error(
    call: Call, error: httpx.TransportError, attempt: int, policy: RetryPolicy
) -> float | None:
    if isinstance(error, _NOT_SENT) or call.retry_after_send:
        return policy.delay(attempt)
    return None


def _connection_error(call: Call, error: httpx.TransportError) -> _errors.ConnectionError:
    detail = str(error) or type(error).__name__
    return _errors.ConnectionError(
        f"{type(error).__name__}: {detail}", method=call.method, path=call.path
    )


class _Base:
    def __init__(self, url: str, token: str, retry: RetryPolicy) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.retry = retry

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }

    def _request(self, client: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
        headers = self._headers()
        headers.update(call.headers)
        return client.build_request(
            call.method,
            self.url + call.path,
            params=dict(call.params) if call.params else None,
            json=call.json,
            headers=headers,
            timeout=call.timeout if call.timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"


class SyncHTTP(_Base):
    """Blocking transport (``httpx.Client``)."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: httpx.Timeout,
        retry: RetryPolicy,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(url, token, retry)
        self.client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def close(self) -> None:
        self.client.close()

    def send(self, call: Call) -> httpx.Response:
        """Sends ``call`` (with retries) and answers the read response; raises the mapped
        :class:`~hearth.HearthError` on an error status or a transport failure."""
        attempt = 0
        while True:
            try:
                response = self.client.send(self._request(self.client, call))
            except httpx.TransportError as error:
                delay = _decide_on_error(call, error, attempt, self.retry)
                if delay is None:
                    raise _connection_error(call, error) from error
            else:
                if response.status_code < 400:
                    return response
                delay = _decide_on_status(call, response, attempt, self.retry)
                if delay is None:
                    raise _errors.error_from_response(response, call.method, call.path)
            time.sleep(delay)
            attempt += 1

    @contextmanager
    def stream(self, call: Call) -> Iterator[httpx.Response]:
        """Opens a streamed answer (retrying the opening like :meth:`send`); the body is
        read by the caller inside the ``with``."""
        attempt = 0
        while True:
            try:
                response = self.client.send(self._request(self.client, call), stream=True)
            except httpx.TransportError as error:
                delay = _decide_on_error(call, error, attempt, self.retry)
                if delay is None:
                    raise _connection_error(call, error) from error
            else:
                if response.status_code < 400:
                    break
                try:
                    response.read()
                except httpx.TransportError as error:
                    raise _connection_error(call, error) from error
                finally:
                    response.close()
                delay = _decide_on_status(call, response, attempt, self.retry)
                if delay is None:
                    raise _errors.error_from_response(response, call.method, call.path)
            time.sleep(delay)
            attempt += 1
        try:
            yield response
        finally:
            response.close()


class AsyncHTTP(_Base):
    """Asynchronous transport (``httpx.AsyncClient``)."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: httpx.Timeout,
        retry: RetryPolicy,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(url, token, retry)
        self.client = httpx.AsyncClient(
            timeout=timeout, transport=transport, follow_redirects=False
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def send(self, call: Call) -> httpx.Response:
        """As :meth:`SyncHTTP.send`."""
        attempt = 0
        while True:
            try:
                response = await self.client.send(self._request(self.client, call))
            except httpx.TransportError as error:
                delay = _decide_on_error(call, error, attempt, self.retry)
                if delay is None:
                    raise _connection_error(call, error) from error
            else:
                if response.status_code < 400:
                    return response
                delay = _decide_on_status(call, response, attempt, self.retry)
                if delay is None:
                    raise _errors.error_from_response(response, call.method, call.path)
            await asyncio.sleep(delay)
            attempt += 1

    @asynccontextmanager
    async def stream(self, call: Call) -> AsyncIterator[httpx.Response]:
        """As :meth:`SyncHTTP.stream`."""
        attempt = 0
        while True:
            try:
                response = await self.client.send(self._request(self.client, call), stream=True)
            except httpx.TransportError as error:
                delay = _decide_on_error(call, error, attempt, self.retry)
                if delay is None:
                    raise _connection_error(call, error) from error
            else:
                if response.status_code < 400:
                    break
                try:
                    await response.aread()
                except httpx.TransportError as error:
                    raise _connection_error(call, error) from error
                finally:
                    await response.aclose()
                delay = _decide_on_status(call, response, attempt, self.retry)
                if delay is None:
                    raise _errors.error_from_response(response, call.method, call.path)
            await asyncio.sleep(delay)
            attempt += 1
        try:
            yield response
        finally:
            await response.aclose()
