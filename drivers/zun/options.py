"""The ``[backends.zun]`` options, parsed into a frozen dataclass (no client import).

Connection (one of):

* ``cloud`` (+ optional ``clouds_yaml``, ``region_name``): a keystoneauth
  session from the user's ``clouds.yaml``; the Zun endpoint comes from the
  catalog (service type ``container``) unless ``endpoint`` overrides it.
* ``endpoint`` (the Zun ``/v1`` URL) with ``auth_type`` ``"none"`` (keystoneauth's
  noauth plugin) or ``"token"`` (a pre-issued token read from the environment
  variable named by ``token_env``; the token itself never sits in config).

``timeout`` (s, default 30) bounds every request; ``verify`` is TLS
verification.  ``api_version`` is the Zun microversion sent on every request
(default and maximum ``1.40``, python-zunclient 5.5's maximum; at least 1.23,
where typed bind ``mounts`` arrived).

Mapping a ``BuildRequest`` onto a container:

* ``flavors``: backend flavor name -> ``{vcpus, ram_mb, disk_gb}`` (vcpus may
  be fractional, Zun takes cpu as a float); a neutral flavor maps directly
  (vcpus -> cpu, ram_mb -> memory in MiB, disk_gb -> disk in GiB);
  ``default_flavor`` when the request has none.
* ``images``: image tag -> Docker image reference (``"tag"``, or
  ``"tag@owner"`` to narrow by owner), or ``{image = "...", image_driver =
  "glance"}``.  An image *id* is passed to Zun as the image name, with the
  global ``image_driver`` (``docker`` or ``glance``; unset = Zun's default).
  ``default_image`` is used when the request has no image.
* ``command`` / ``entrypoint`` (lists), ``environment`` and ``labels``
  (tables of strings), ``hints`` (scheduler hints; the request's server group
  becomes ``hints.group``), ``availability_zone`` (default when the request
  has none), ``restart_policy`` (``no``, ``always``, ``on-failure``,
  ``unless-stopped``; default ``unless-stopped``) and ``restart_max_retries``.
* Delivery paths inside the container: ``ssh_keys_path`` (default
  ``/root/.ssh/authorized_keys``) and ``user_data_path`` (default
  ``/var/lib/cloud/seed/nocloud/user-data``, cloud-init's NoCloud seed; with
  ``nocloud_meta_data`` a ``meta-data`` file is mounted beside it).

Behaviour:

* ``page_size`` (default 1000, Zun's ``api.max_limit``): containers per list
  request; ``per_id_max`` (default 2): ``statuses`` of at most this many ids
  uses GETs by id instead of paging the list.
* ``force_delete`` (default false): the credentials are admin, so a container
  stuck in a transitional state is deleted with ``force=true``; otherwise
  ``delete`` waits up to ``delete_wait`` s (default 60) for it to settle.
* ``action_timeout`` (s, default 30): how long ``suspend``/``resume`` wait for
  Zun's asynchronous pause/unpause to show; ``poll_interval`` (s, default 0.2).
* ``read_retries`` (default 1): extra attempts for reads (GET, list) after a
  5xx or connection error; writes are never retried.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from amphora_compute.config import reject_unknown_keys
from amphora_compute.errors import ConfigError

BACKEND = "zun"
MIN_API_VERSION = (1, 23)
MAX_API_VERSION = (1, 40)
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
IMAGE_DRIVERS = ("docker", "glance")


@dataclass(frozen=True, slots=True)
class FlavorSpec:
    """What a backend flavor name means for a container."""

    cpu: float | None = None
    memory_mb: int | None = None
    disk_gb: int | None = None


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """Where an image tag points: a Docker reference or a Glance image, and its driver."""

    image: str
    image_driver: str | None = None


@dataclass(frozen=True, slots=True)
class ZunOptions:
    """The parsed ``[backends.zun]`` table (see the module docstring for each key)."""

    cloud: str | None = None
    clouds_yaml: str | None = None
    region_name: str | None = None
    endpoint: str | None = None
    auth_type: str = "none"
    token_env: str | None = None
    timeout: float = 30.0
    verify: bool | str = True
    api_version: str = "1.40"
    flavors: Mapping[str, FlavorSpec] = field(default_factory=dict)
    default_flavor: str | None = None
    images: Mapping[str, ImageSpec] = field(default_factory=dict)
    default_image: str | None = None
    image_driver: str | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    availability_zone: str | None = None
    restart_policy: str | None = "unless-stopped"
    restart_max_retries: int = 0
    ssh_keys_path: str = "/root/.ssh/authorized_keys"
    user_data_path: str = "/var/lib/cloud/seed/nocloud/user-data"
    nocloud_meta_data: bool = True
    user_data_max_bytes: int = 65535
    page_size: int = 1000
    per_id_max: int = 2
    force_delete: bool = False
    delete_wait: float = 60.0
    action_timeout: float = 30.0
    poll_interval: float = 0.2
    read_retries: int = 1

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> ZunOptions:
        """Validate ``options``; any unknown key or bad value is a ConfigError naming it."""
        raw = dict(options or {})
        reject_unknown_keys(raw, (f.name for f in fields(cls)), f"backends.{BACKEND}")
        values: dict[str, Any] = {}
        for name in ("cloud", "clouds_yaml", "region_name", "endpoint", "token_env",
                     "default_flavor", "default_image", "availability_zone",
                     "image_driver", "restart_policy"):
            if name in raw:
                values[name] = _optional_str(raw[name], name)
        for name in ("auth_type", "api_version", "ssh_keys_path", "user_data_path"):
            if name in raw:
                values[name] = _str(raw[name], name)
        for name in ("timeout", "delete_wait", "action_timeout", "poll_interval"):
            if name in raw:
                values[name] = _number(raw[name], name, minimum=0.0, strict=name != "delete_wait")
        for name, minimum in (("page_size", 1), ("per_id_max", 0), ("read_retries", 0),
                              ("restart_max_retries", 0), ("user_data_max_bytes", 1)):
            if name in raw:
                values[name] = _int(raw[name], name, minimum)
        for name in ("force_delete", "nocloud_meta_data"):
            if name in raw:
                values[name] = _bool(raw[name], name)
        if "verify" in raw:
            if not isinstance(raw["verify"], bool | str):
                raise ConfigError(f"backends.{BACKEND}.verify: must be true, false or a CA "
                                  "bundle path")
            values["verify"] = raw["verify"]
        for name in ("command", "entrypoint"):
            if name in raw and raw[name] is not None:
                values[name] = _str_list(raw[name], name)
        for name in ("environment", "labels", "hints"):
            if name in raw:
                values[name] = _str_table(raw[name], name)
        if "flavors" in raw:
            values["flavors"] = _flavors(raw["flavors"])
        if "images" in raw:
            values["images"] = _images(raw["images"])
        opts = cls(**values)
        opts._check()
        return opts

    @property
    def version_tuple(self) -> tuple[int, int]:
        major, _, minor = self.api_version.partition(".")
        return int(major), int(minor)

    def token(self) -> str:
        """The token for ``auth_type = "token"``, read from the environment at connect time."""
        value = os.environ.get(self.token_env or "")
        if not value:
            raise ConfigError(f"backends.{BACKEND}.token_env: environment variable "
                              f"{self.token_env!r} is not set")
        return value

    def _check(self) -> None:
        where = f"backends.{BACKEND}"
        if not self.cloud and not self.endpoint:
            raise ConfigError(f"{where}: set `cloud` (a name in clouds.yaml) or `endpoint` "
                              "(the Zun /v1 URL)")
        if self.endpoint and not self.endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"{where}.endpoint: must be an http:// or https:// URL")
        if self.auth_type not in ("none", "token"):
            raise ConfigError(f"{where}.auth_type: {self.auth_type!r} is not one of 'none', "
                              "'token' (use `cloud` for Keystone)")
        if self.auth_type == "token" and not self.token_env:
            raise ConfigError(f"{where}.token_env: auth_type 'token' needs the name of an "
                              "environment variable holding the token")
        try:
            version = self.version_tuple
        except ValueError:
            raise ConfigError(f"{where}.api_version: {self.api_version!r} is not X.Y") from None
        if not MIN_API_VERSION <= version <= MAX_API_VERSION:
            raise ConfigError(f"{where}.api_version: must be within 1.23 and 1.40 "
                              f"(typed bind mounts need 1.23), got {self.api_version}")
        if self.entrypoint and version < (1, 40):
            raise ConfigError(f"{where}.entrypoint: needs api_version 1.40")
        if self.timeout <= 0:
            raise ConfigError(f"{where}.timeout: must be > 0")
        if self.image_driver is not None and self.image_driver not in IMAGE_DRIVERS:
            raise ConfigError(f"{where}.image_driver: one of {list(IMAGE_DRIVERS)}")
        if self.restart_policy is not None:
            if self.restart_policy not in RESTART_POLICIES:
                raise ConfigError(f"{where}.restart_policy: one of {list(RESTART_POLICIES)}")
            if self.restart_policy in ("always", "unless-stopped") and self.restart_max_retries:
                raise ConfigError(f"{where}.restart_max_retries: Zun allows it only with "
                                  "restart_policy 'on-failure'")
        if self.default_flavor is not None and self.default_flavor not in self.flavors:
            raise ConfigError(f"{where}.default_flavor: {self.default_flavor!r} is not in "
                              "`flavors`")
        for name in ("ssh_keys_path", "user_data_path"):
            if not getattr(self, name).startswith("/"):
                raise ConfigError(f"{where}.{name}: must be an absolute path")


def _optional_str(value: Any, name: str) -> str | None:
    if value is None:
        return None
    return _str(value, name)


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"backends.{BACKEND}.{name}: must be a non-empty string")
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"backends.{BACKEND}.{name}: must be true or false")
    return value


def _number(value: Any, name: str, minimum: float, strict: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum \
            or (strict and value <= minimum):
        relation = ">" if strict else ">="
        raise ConfigError(f"backends.{BACKEND}.{name}: must be a number {relation} {minimum}, "
                          f"got {value!r}")
    return float(value)


def _int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"backends.{BACKEND}.{name}: must be an integer >= {minimum}, "
                          f"got {value!r}")
    return value


def _str_list(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"backends.{BACKEND}.{name}: must be a list of strings")
    return tuple(value)


def _str_table(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"backends.{BACKEND}.{name}: must be a table of strings")
    return dict(value)


def _flavors(value: Any) -> dict[str, FlavorSpec]:
    where = f"backends.{BACKEND}.flavors"
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a table of name -> {{vcpus, ram_mb, disk_gb}}")
    out: dict[str, FlavorSpec] = {}
    for name, spec in value.items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}.{name}: must be a table with vcpus, ram_mb, disk_gb")
        unknown = set(spec) - {"vcpus", "ram_mb", "disk_gb"}
        if unknown:
            raise ConfigError(f"{where}.{name}: unknown key(s) {sorted(unknown)}")
        cpu = spec.get("vcpus")
        if cpu is not None and (isinstance(cpu, bool) or not isinstance(cpu, int | float)
                                or cpu <= 0):
            raise ConfigError(f"{where}.{name}.vcpus: must be a number > 0")
        for key in ("ram_mb", "disk_gb"):
            number = spec.get(key)
            if number is not None and (isinstance(number, bool) or not isinstance(number, int)
                                       or number <= 0):
                raise ConfigError(f"{where}.{name}.{key}: must be an integer > 0")
        if cpu is None and spec.get("ram_mb") is None and spec.get("disk_gb") is None:
            raise ConfigError(f"{where}.{name}: give at least one of vcpus, ram_mb, disk_gb")
        out[str(name)] = FlavorSpec(cpu=float(cpu) if cpu is not None else None,
                                    memory_mb=spec.get("ram_mb"), disk_gb=spec.get("disk_gb"))
    return out


def _images(value: Any) -> dict[str, ImageSpec]:
    where = f"backends.{BACKEND}.images"
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a table of tag -> image reference")
    out: dict[str, ImageSpec] = {}
    for tag, spec in value.items():
        if isinstance(spec, str) and spec:
            out[str(tag)] = ImageSpec(image=spec)
            continue
        if not isinstance(spec, Mapping) or not isinstance(spec.get("image"), str):
            raise ConfigError(f"{where}.{tag}: must be an image reference or a table with "
                              "`image` (and optional `image_driver`)")
        unknown = set(spec) - {"image", "image_driver"}
        if unknown:
            raise ConfigError(f"{where}.{tag}: unknown key(s) {sorted(unknown)}")
        driver = spec.get("image_driver")
        if driver is not None and driver not in IMAGE_DRIVERS:
            raise ConfigError(f"{where}.{tag}.image_driver: one of {list(IMAGE_DRIVERS)}")
        out[str(tag)] = ImageSpec(image=spec["image"], image_driver=driver)
    return out
