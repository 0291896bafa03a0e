"""What the OpenStack drivers (Nova, Zun, Ironic) share: one keystoneauth session.

The session comes from the user's ``clouds.yaml`` (openstacksdk's config
loader, the ``cloud`` option), or, for a standalone service such as Ironic
without Keystone, from a plain ``endpoint`` with ``auth_type`` ``none`` or
``http_basic``.  Sessions are cached per process per distinct options, so
every driver instance for one cloud reuses one connection pool.  Credentials
never appear in a log line or an error message.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from amphora_compute.errors import ConfigError

_SESSIONS: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class OpenStackAuth:
    """The connection part of an OpenStack backend's options."""

    cloud: str | None = None
    clouds_yaml: str | None = None
    endpoint: str | None = None
    auth_type: str = "none"
    username: str | None = None
    password_env: str | None = None
    timeout: float = 30.0
    verify: bool | str = True
    region_name: str | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any], backend: str) -> OpenStackAuth:
        auth = cls(**{k: options[k] for k in cls.__slots__ if k in options})
        if not auth.cloud and not auth.endpoint:
            raise ConfigError(f"backends.{backend}: set `cloud` (a name in clouds.yaml) "
                              "or `endpoint` (a standalone service URL)")
        if auth.auth_type not in ("none", "http_basic"):
            raise ConfigError(f"backends.{backend}.auth_type: {auth.auth_type!r} is not one of "
                              "'none', 'http_basic' (use `cloud` for Keystone)")
        if auth.auth_type == "http_basic" and not (auth.username and auth.password_env):
            raise ConfigError(f"backends.{backend}: http_basic needs `username` and "
                              "`password_env` (the name of an environment variable)")
        if not isinstance(auth.timeout, int | float) or auth.timeout <= 0:
            raise ConfigError(f"backends.{backend}.timeout: must be a positive number")
        return auth


def keystone_session(options: Mapping[str, Any] | OpenStackAuth, backend: str = "openstack") -> Any:
    """A keystoneauth ``Session`` for these options, shared per process."""
    auth = options if isinstance(options, OpenStackAuth) \
        else OpenStackAuth.from_options(options, backend)
    key = (auth.cloud, auth.clouds_yaml, auth.endpoint, auth.auth_type, auth.username,
           auth.password_env, auth.timeout, auth.verify, auth.region_name)
    with _LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            session = _SESSIONS[key] = _make_session(auth, backend)
        return session


def cloud_config(auth: OpenStackAuth, backend: str) -> Any:
    """openstacksdk's ``CloudRegion`` for ``auth.cloud`` (clouds.yaml)."""
    import openstack.config

    files = [auth.clouds_yaml] if auth.clouds_yaml else None
    try:
        loader = openstack.config.OpenStackConfig(config_files=files) if files \
            else openstack.config.OpenStackConfig()
        return loader.get_one(cloud=auth.cloud, region_name=auth.region_name)
    except Exception as exc:  # openstack.exceptions.ConfigException and friends
        raise ConfigError(f"backends.{backend}.cloud: cannot load cloud {auth.cloud!r} from "
                          f"clouds.yaml: {exc}") from exc


def endpoint_override(options: Mapping[str, Any], service_type: str, backend: str) -> str | None:
    """The endpoint to use for ``service_type``: the plain ``endpoint``, or clouds.yaml's
    ``<service>_endpoint_override``; None lets the catalog decide."""
    auth = OpenStackAuth.from_options(options, backend)
    if auth.endpoint:
        return auth.endpoint
    region = cloud_config(auth, backend)
    key = service_type.replace("-", "_")
    value = region.config.get(f"{key}_endpoint_override") or region.config.get(
        f"{key}_endpoint")
    return str(value) if value else None


def _make_session(auth: OpenStackAuth, backend: str) -> Any:
    from keystoneauth1 import session as ks_session

    from amphora_compute import redact

    redact.install()  # request and response bodies carry user data: never log them
    if auth.cloud:
        region = cloud_config(auth, backend)
        session = region.get_session()
        if session.timeout is None:  # clouds.yaml may set none: a call must never hang
            session.timeout = auth.timeout
        return session
    if auth.auth_type == "http_basic":
        from keystoneauth1 import http_basic

        password = os.environ.get(auth.password_env or "")
        if not password:
            raise ConfigError(f"backends.{backend}.password_env: environment variable "
                              f"{auth.password_env!r} is not set")
        plugin: Any = http_basic.HTTPBasicAuth(endpoint=auth.endpoint, username=auth.username,
                                               password=password)
    else:
        from keystoneauth1 import noauth

        plugin = noauth.NoAuth(endpoint=auth.endpoint)
    return ks_session.Session(auth=plugin, timeout=auth.timeout, verify=auth.verify)
