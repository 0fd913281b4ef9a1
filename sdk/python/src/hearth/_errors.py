"""The exceptions the SDK raises: one base class, one subclass per kind of failure."""

from __future__ import annotations

import builtins
import json
from typing import Any

import httpx

__all__ = [
    "HearthError",
    "ConfigurationError",
    "BadRequest",
    "Unauthorized",
    "PaymentRequired",
    "Forbidden",
    "NotFound",
    "Conflict",
    "RateLimited",
    "ServerError",
    "ConnectionError",
    "WaitTimeout",
    "error_from_response",
]


class HearthError(Exception):
    """Base class of every error the SDK raises.

    Attributes:
        message: the server's ``message`` (or the SDK's own words for client-side errors).
        code: the server's stable ``code`` (``validation``, ``not_found``, ...), or ``None``.
        status: the HTTP status of the answer, or ``None`` when there was no answer.
        method: the HTTP method of the failed request, when there was one.
        path: the path of the failed request (never its query string), when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        status = f"{self.status} " if self.status is not None else ""
        code = f"[{self.code}] " if self.code else ""
        return f"{where}{status}{code}{self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, code={self.code!r}, "
            f"status={self.status!r})"
        )


class ConfigurationError(HearthError):
    """No URL or no token could be found (argument, environment, profile file), or the
    profile file is unreadable."""


class BadRequest(HearthError):
    """400 (a field failed validation; the message names it) or 422 (JSON of the wrong
    shape, or an idempotency key reused with another body)."""


class Unauthorized(HearthError):
    """401: the token is missing, malformed, expired or revoked."""


class PaymentRequired(HearthError):
    """402: a spent budget refuses new pools and tasks."""


class Forbidden(HearthError):
    """403: the token's role may not do this (a viewer writing, a quota reached, ...)."""


class NotFound(HearthError):
    """404: no such object (also for another tenant's objects) or route."""


class Conflict(HearthError):
    """409: the object's state forbids the change (closing a closed pool, ...)."""


class RateLimited(HearthError):
    """429: the server refuses for now; ``retry_after`` holds its ``Retry-After`` in
    seconds when it sent one."""

    retry_after: float | None = None


class ServerError(HearthError):
    """5xx: the server failed."""


class ConnectionError(HearthError, builtins.ConnectionError):  # noqa: A001 - the spec's name
    """The server could not be reached or the connection broke (no HTTP answer).

    Also a subclass of the builtin :class:`ConnectionError`.
    """


class WaitTimeout(HearthError, builtins.TimeoutError):
    """A wait (``task.wait(timeout=…)``, ``wait_ready``) ran out of time before the
    object reached the state waited for. Also a builtin :class:`TimeoutError`."""


_BY_STATUS: dict[int, type[HearthError]] = {
    400: BadRequest,
    401: Unauthorized,
    402: PaymentRequired,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: BadRequest,
    429: RateLimited,
}


def error_class_for(status: int) -> type[HearthError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, HearthError)


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def error_from_response(response: httpx.Response, method: str, path: str) -> HearthError:
    """Builds the exception for an error answer from its ``{"message","code"}`` body.

    The body must already be read (``response.read()``/``aread()``).
    """
    message = ""
    code: str | None = None
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        raw_message = body.get("message") or body.get("error")
        if isinstance(raw_message, str):
            message = raw_message
        raw_code = body.get("code")
        if isinstance(raw_code, str):
            code = raw_code
    elif response.content:
        message = response.text[:2000]
    if not message:
        message = response.reason_phrase or f"HTTP {response.status_code}"
    cls = error_class_for(response.status_code)
    error = cls(message, code=code, status=response.status_code, method=method, path=path)
    if isinstance(error, RateLimited):
        error.retry_after = _parse_retry_after(response.headers.get("retry-after"))
    return error
