"""The ``[backends.nova]`` options, parsed into a frozen dataclass (no client import).

Connection: ``cloud`` (a name in ``clouds.yaml``; required), ``clouds_yaml``
(a path, when not in the usual places), ``region_name``, ``timeout`` (s,
default 30, bounds every request) and ``verify`` (TLS).

Defaults for what a ``BuildRequest`` leaves out: ``image_id`` or
``image_tag`` (+ ``image_owner``), ``flavor`` (a name or id, or a neutral
``"vcpus=1,ram_mb=1024,disk_gb=2"``), ``network_ids``, ``security_groups``,
``key_name``, ``availability_zone``.

``management_network`` (a network name or id): its address is the amphora's
management address (first in ``Amphora.addresses``), and it is the NIC a
build gets when neither the request nor ``network_ids`` names one.

``config_drive_delivery``: how ``config_drive_files`` reach the amphora.
``"personality"`` (default, what Octavia does): Nova's file injection onto a
config drive, which needs API microversion 2.56 for that one create (the
driver uses the newest microversion for everything else).  ``"user_data"``:
gzip-compressed cloud-init ``write_files`` merged into the user_data
(multipart MIME), within Nova's 65535-byte user_data limit.

Behaviour: ``lookup_cache_ttl`` (s, default 300) keeps image, flavor and
network lookups so that a build costs one create call; ``read_retries``
(default 2) extra attempts for reads and deletes after a 5xx or connection
error (creates are never retried); ``per_id_max`` (default 3): ``statuses``
of at most this many ids uses GETs by id when the fleet last seen is at least
``per_id_fleet_ratio`` (default 10) times larger, otherwise one filtered list
per page; ``tag`` (default ``amphora-compute``) marks every server this
project builds.  Lists are paged by Nova's own ``max_limit`` (1000 by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from amphora_compute.config import reject_unknown_keys
from amphora_compute.errors import ConfigError, InvalidRequestError
from amphora_compute.models import Flavor, ImageRef

BACKEND = "nova"
DELIVERIES = ("personality", "user_data")
#: Nova server tags: at most 60 characters, no '/' or ','.
MAX_TAG_LENGTH = 60


@dataclass(frozen=True, slots=True)
class NovaOptions:
    """Validated options of one Nova backend."""

    cloud: str
    clouds_yaml: str | None = None
    region_name: str | None = None
    timeout: float = 30.0
    verify: bool | str = True
    management_network: str | None = None
    image_id: str | None = None
    image_tag: str | None = None
    image_owner: str | None = None
    flavor: str | None = None
    network_ids: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    key_name: str | None = None
    availability_zone: str | None = None
    config_drive_delivery: str = "personality"
    lookup_cache_ttl: float = 300.0
    read_retries: int = 2
    per_id_max: int = 3
    per_id_fleet_ratio: int = 10
    tag: str = "amphora-compute"

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> NovaOptions:
        """Parse and check; ConfigError names the first bad key (``backends.nova.<key>``)."""
        raw = dict(options or {})
        reject_unknown_keys(raw, (f.name for f in fields(cls)), f"backends.{BACKEND}")
        if not raw.get("cloud") or not isinstance(raw["cloud"], str):
            raise ConfigError(f"backends.{BACKEND}.cloud: required (a cloud name in clouds.yaml)")
        for key in ("network_ids", "security_groups"):
            if key in raw:
                value = raw[key]
                if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"backends.{BACKEND}.{key}: must be a list of strings")
                raw[key] = tuple(value)
        opts = cls(**raw)
        opts._check()
        return opts

    def _check(self) -> None:
        def bad(key: str, why: str) -> ConfigError:
            return ConfigError(f"backends.{BACKEND}.{key}: {why}")

        for key in ("clouds_yaml", "region_name", "management_network", "image_id",
                    "image_tag", "image_owner", "flavor", "key_name", "availability_zone"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value):
                raise bad(key, "must be a non-empty string")
        for key in ("timeout", "lookup_cache_ttl"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise bad(key, "must be a positive number")
        for key, low in (("read_retries", 0), ("per_id_max", 0), ("per_id_fleet_ratio", 1)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise bad(key, f"must be an integer >= {low}")
        if not isinstance(self.verify, bool | str):
            raise bad("verify", "must be true, false or a CA bundle path")
        if self.config_drive_delivery not in DELIVERIES:
            raise bad("config_drive_delivery", f"must be one of {', '.join(DELIVERIES)}")
        if not self.tag or len(self.tag) > 40 or any(c in self.tag for c in "/,"):
            raise bad("tag", "must be 1 to 40 characters without '/' or ','")
        if self.image_id and self.image_tag:
            raise bad("image_tag", "set image_id or image_tag, not both")
        try:
            self.default_image()
            self.default_flavor()
        except InvalidRequestError as exc:
            raise bad(exc.field or "image", str(exc)) from None

    def default_image(self) -> ImageRef | None:
        if self.image_id:
            return ImageRef(id=self.image_id)
        if self.image_tag:
            return ImageRef(tag=self.image_tag, owner=self.image_owner)
        return None

    def default_flavor(self) -> Flavor | None:
        return Flavor.parse(self.flavor) if self.flavor else None
