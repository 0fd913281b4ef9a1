"""``hearth.login``: an email and dashboard password for a token, against the real server."""

from __future__ import annotations

import uuid

import pytest

import hearth
from conftest import HearthServer

PASSWORD = "correct horse battery staple"


def _member_with_password(server: HearthServer) -> str:
    email = f"py-{uuid.uuid4().hex}@example.com"
    user = server.raw("POST", "/users", server.owner_token, {"email": email, "role": "member"})
    assert user.status_code == 201, user.text
    set_pw = server.raw(
        "PUT", f"/users/{user.json()['uuid']}/password", server.owner_token, {"password": PASSWORD}
    )
    assert set_pw.status_code == 204, set_pw.text
    return email


def test_login_answers_a_token_of_the_users_role(server: HearthServer) -> None:
    email = _member_with_password(server)
    created = hearth.login(server.url, email, PASSWORD, name="notebook")
    assert created.name == "login: notebook"
    assert created.role == "member"
    assert PASSWORD not in repr(created) and created.token not in repr(created)
    with hearth.Client(server.url, created.token) as client:
        list(client.pools.list())  # the token works through the SDK
    info = server.raw("GET", "/info", created.token)
    assert info.status_code == 200 and info.json()["email"] == email


def test_a_wrong_password_is_unauthorized(server: HearthServer) -> None:
    email = _member_with_password(server)
    with pytest.raises(hearth.Unauthorized) as refused:
        hearth.login(server.url, email, "not the password")
    assert refused.value.code == "unauthorized"
    assert "email or password" in str(refused.value)
    with pytest.raises(hearth.BadRequest) as bad:
        hearth.login(server.url, email, PASSWORD, expires_in_seconds=0)
    assert "expiresInSeconds" in str(bad.value)
