"""Where the client finds its server URL and token.

Order, for each of the two values: the constructor's argument, then the environment
(``HEARTH_URL``/``HEARTH_TOKEN``, then Qarnot's ``QARNOT_CLUSTER_URL``/``QARNOT_CLIENT_TOKEN``),
then the CLI's profile file. The profile file is ``$XDG_CONFIG_HOME/hearth/config.toml``,
else ``~/.config/hearth/config.toml``::

    default_profile = "prod"          # optional

    [profiles.prod]
    url = "https://hearth.example.com"
    token = "…"

The profile read is ``$HEARTH_PROFILE``, else ``default_profile``, else ``default``. A
profile's token is only used with that profile's own URL, so that a token is never sent to
a server named elsewhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

__all__ = ["Settings", "config_path", "resolve", "load_profile"]

URL_VARIABLES = ("HEARTH_URL", "QARNOT_CLUSTER_URL")
TOKEN_VARIABLES = ("HEARTH_TOKEN", "QARNOT_CLIENT_TOKEN")
PROFILE_VARIABLE = "HEARTH_PROFILE"
DEFAULT_PROFILE = "default"


@dataclass(frozen=True)
class Settings:
    """A resolved URL and token, and where each came from (for error messages)."""

    url: str
    token: str = field(repr=False)
    url_source: str
    token_source: str


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The CLI's profile file: ``$XDG_CONFIG_HOME/hearth/config.toml`` or
    ``~/.config/hearth/config.toml``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME")
    root = Path(base) if base else Path(env.get("HOME") or Path.home()) / ".config"
    return root / "hearth" / "config.toml"


@dataclass(frozen=True)
class Profile:
    """One ``[profiles.NAME]`` table of the profile file."""

    name: str
    path: Path
    url: str | None
    token: str | None = field(repr=False)


def load_profile(environ: Mapping[str, str] | None = None) -> Profile | None:
    """Reads the profile in use from the profile file; ``None`` when there is no file or
    no such profile (an explicitly chosen ``HEARTH_PROFILE`` that is missing is an error)."""
    env = os.environ if environ is None else environ
    path = config_path(env)
    chosen = env.get(PROFILE_VARIABLE) or None
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if chosen:
            raise ConfigurationError(
                f"{PROFILE_VARIABLE}={chosen} but there is no profile file at {path}"
            ) from None
        return None
    except OSError as error:
        raise ConfigurationError(f"cannot read the profile file {path}: {error}") from None
    try:
        document: dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"the profile file {path} is not valid TOML: {error}") from None
    default = document.get("default_profile")
    if default is not None and not isinstance(default, str):
        raise ConfigurationError(f"{path}: default_profile must be a string")
    name = chosen or default or DEFAULT_PROFILE
    profiles = document.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigurationError(f"{path}: [profiles] must be a table")
    table = profiles.get(name)
    if table is None:
        if chosen or default:
            source = PROFILE_VARIABLE if chosen else "default_profile"
            raise ConfigurationError(f"{path} has no [profiles.{name}] (named by {source})")
        return None
    if not isinstance(table, dict):
        raise ConfigurationError(f"{path}: [profiles.{name}] must be a table")
    url = table.get("url")
    token = table.get("token")
    for key, value in (("url", url), ("token", token)):
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{path}: profiles.{name}.{key} must be a string")
    return Profile(name=name, path=path, url=url, token=token)


def _normalize(url: str) -> str:
    return url.strip().rstrip("/")


def resolve(
    url: str | None, token: str | None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Finds the URL and token (see the module's documentation)."""
    env = os.environ if environ is None else environ
    url_source = "argument"
    if url is None:
        for name in URL_VARIABLES:
            if env.get(name):
                url, url_source = env[name], name
                break
    token_source = "argument"
    if token is None:
        for name in TOKEN_VARIABLES:
            if env.get(name):
                token, token_source = env[name], name
                break
    if url is None or token is None:
        profile = load_profile(env)
        if profile is not None:
            where = f"{profile.path} [profiles.{profile.name}]"
            if url is None and profile.url:
                url, url_source = profile.url, where
            if token is None and profile.token:
                # Only with the profile's own server.
                if profile.url and _normalize(profile.url) == _normalize(url or ""):
                    token, token_source = profile.token, where
    if not url:
        raise ConfigurationError(
            "no hearth URL: pass url=, set HEARTH_URL (or QARNOT_CLUSTER_URL), or add a "
            f"profile with a url to {config_path(env)}"
        )
    if not token:
        raise ConfigurationError(
            f"no hearth token for {_normalize(url)}: pass token=, set HEARTH_TOKEN (or "
            f"QARNOT_CLIENT_TOKEN), or add a profile with this url and a token to "
            f"{config_path(env)}"
        )
    return Settings(
        url=_normalize(url), token=token.strip(), url_source=url_source, token_source=token_source
    )
