"""Where the client finds its URL and token: argument, environment, profile file."""

from __future__ import annotations

from pathlib import Path

import pytest

import hearth
from hearth import _config


def write_profiles(home: Path, text: str) -> Path:
    path = home / "hearth" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


PROFILES = """
default_profile = "prod"

[profiles.prod]
url = "https://prod.example"
token = "prod-secret"

[profiles.default]
url = "https://default.example"
token = "default-secret"

[profiles.staging]
url = "https://staging.example/"
token = "staging-secret"
"""


def test_argument_wins_over_everything(tmp_path: Path) -> None:
    write_profiles(tmp_path, PROFILES)
    env = {"XDG_CONFIG_HOME": str(tmp_path), "HEARTH_URL": "http://env", "HEARTH_TOKEN": "env-t"}
    s = _config.resolve("http://arg/", "arg-t", env)
    assert (s.url, s.token, s.url_source, s.token_source) == (
        "http://arg",
        "arg-t",
        "argument",
        "argument",
    )


def test_hearth_variables_then_qarnot_names(tmp_path: Path) -> None:
    env = {
        "XDG_CONFIG_HOME": str(tmp_path),
        "HEARTH_URL": "http://hearth-env",
        "QARNOT_CLUSTER_URL": "http://qarnot-env",
        "QARNOT_CLIENT_TOKEN": "q-token",
    }
    s = _config.resolve(None, None, env)
    assert (s.url, s.token) == ("http://hearth-env", "q-token")
    assert (s.url_source, s.token_source) == ("HEARTH_URL", "QARNOT_CLIENT_TOKEN")
    env2 = {
        "XDG_CONFIG_HOME": str(tmp_path),
        "QARNOT_CLUSTER_URL": "http://q",
        "QARNOT_CLIENT_TOKEN": "t",
    }
    assert _config.resolve(None, None, env2).url == "http://q"


def test_profile_file_default_profile_and_hearth_profile(tmp_path: Path) -> None:
    path = write_profiles(tmp_path, PROFILES)
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    s = _config.resolve(None, None, env)
    assert (s.url, s.token) == ("https://prod.example", "prod-secret")
    assert str(path) in s.url_source
    env["HEARTH_PROFILE"] = "staging"
    s = _config.resolve(None, None, env)
    assert (s.url, s.token) == ("https://staging.example", "staging-secret")


def test_profile_named_default_when_no_default_profile(tmp_path: Path) -> None:
    write_profiles(tmp_path, PROFILES.replace('default_profile = "prod"', ""))
    s = _config.resolve(None, None, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert (s.url, s.token) == ("https://default.example", "default-secret")


def test_home_config_when_no_xdg(tmp_path: Path) -> None:
    write_profiles(tmp_path / ".config", PROFILES)
    s = _config.resolve(None, None, {"HOME": str(tmp_path)})
    assert s.url == "https://prod.example"
    assert (
        _config.config_path({"HOME": str(tmp_path)})
        == tmp_path / ".config" / "hearth" / "config.toml"
    )


def test_profile_token_is_not_sent_to_another_url(tmp_path: Path) -> None:
    write_profiles(tmp_path, PROFILES)
    env = {"XDG_CONFIG_HOME": str(tmp_path), "HEARTH_URL": "https://elsewhere.example"}
    with pytest.raises(hearth.ConfigurationError) as raised:
        _config.resolve(None, None, env)
    assert "prod-secret" not in str(raised.value)
    # The same URL as the profile's: its token is used.
    env["HEARTH_URL"] = "https://prod.example/"
    assert _config.resolve(None, None, env).token == "prod-secret"
    # A token from the environment goes with the profile's URL.
    s = _config.resolve(None, None, {"XDG_CONFIG_HOME": str(tmp_path), "HEARTH_TOKEN": "mine"})
    assert (s.url, s.token) == ("https://prod.example", "mine")


def test_missing_everything_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(hearth.ConfigurationError, match="no hearth URL"):
        _config.resolve(None, None, {"XDG_CONFIG_HOME": str(tmp_path)})
    with pytest.raises(hearth.ConfigurationError, match="no hearth token"):
        _config.resolve("http://x", None, {"XDG_CONFIG_HOME": str(tmp_path)})


def test_a_chosen_profile_that_is_missing_is_an_error(tmp_path: Path) -> None:
    write_profiles(tmp_path, PROFILES)
    with pytest.raises(hearth.ConfigurationError, match=r"profiles\.nope"):
        _config.resolve(None, None, {"XDG_CONFIG_HOME": str(tmp_path), "HEARTH_PROFILE": "nope"})


def test_bad_toml_is_a_configuration_error(tmp_path: Path) -> None:
    write_profiles(tmp_path, "this is = = not toml")
    with pytest.raises(hearth.ConfigurationError, match="not valid TOML"):
        _config.resolve(None, None, {"XDG_CONFIG_HOME": str(tmp_path)})


def test_client_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("HEARTH_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("HEARTH_TOKEN", "top-secret-token")
    with hearth.Client() as c:
        assert c.url == "http://127.0.0.1:9"
        assert "top-secret-token" not in repr(c)
        assert "top-secret-token" not in repr(c.pools)
