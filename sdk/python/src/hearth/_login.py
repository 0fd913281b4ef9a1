"""Signing in with an email and a dashboard password (``POST /auth/token``)."""

from __future__ import annotations

import httpx

from ._errors import ConnectionError, error_from_response
from ._http import DEFAULT_TIMEOUT
from .models import CreatedToken

__all__ = ["login"]


def login(
    url: str,
    email: str,
    password: str,
    *,
    name: str = "hearth-py",
    expires_in_seconds: int | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
) -> CreatedToken:
    """Trades a user's email and dashboard password for a new API token of the user's role,
    named ``login: NAME`` and valid 30 days unless ``expires_in_seconds`` says (at most a
    year). A login under a name the user already has a login token of replaces that token.

    Not retried (a retry would sign in twice). A refusal raises :class:`Unauthorized`
    (``email or password not accepted``); the server slows repeated refusals down.

        token = hearth.login("http://127.0.0.1:8080", "ada@example.com", password).token
        client = hearth.Client(url="http://127.0.0.1:8080", token=token)
    """
    path = "/auth/token"
    body: dict[str, object] = {"email": email, "password": password, "name": name}
    if expires_in_seconds is not None:
        body["expiresInSeconds"] = expires_in_seconds
    try:
        response = httpx.post(url.rstrip("/") + path, json=body, timeout=timeout)
    except httpx.TransportError as error:
        raise ConnectionError(
            f"{type(error).__name__}: {error}", method="POST", path=path
        ) from error
    if response.status_code >= 400:
        raise error_from_response(response, "POST", path)
    return CreatedToken.model_validate(response.json())
