"""The ``[backends.ironic]`` options, parsed into a frozen dataclass (no client import).

Connection (one of):

* ``endpoint`` (the Ironic URL, e.g. ``http://127.0.0.1:6385``) with ``auth_type``
  ``"none"`` (standalone Ironic with ``auth_strategy = noauth``) or
  ``"http_basic"`` (``username`` + ``password_env``, the name of an environment
  variable holding the password; the password itself never sits in config);
* ``cloud`` (+ optional ``clouds_yaml``, ``region_name``): a keystoneauth session
  from the user's ``clouds.yaml``; the endpoint comes from the catalog
  (service type ``baremetal``) unless ``endpoint`` overrides it.

``timeout`` (s, default 30) bounds every HTTP request (keystoneauth applies it
to the connect and to each read); ``verify`` is TLS verification.
``api_version`` is the Ironic microversion sent on every request (default
``1.78``; at least ``1.58``: allocations arrived in 1.52, config drives given
as a dict in 1.56, allocation backfill semantics in 1.58).

Where amphorae go:

* ``resource_class`` (default ``"baremetal"``): the resource class claimed when
  the request's flavor has no name.  A flavor *name* is taken as the resource
  class and must be one of ``resource_classes`` (default: just
  ``resource_class``).  These resource classes are the pool dedicated to
  amphorae: ``statuses`` and ``list`` look only at claimed nodes of these
  classes.
* ``traits`` (list): traits every claimed node must have; ``candidate_nodes``
  (list of node names or uuids): only these nodes may be claimed; ``owner``:
  the allocation's owner (project), when the deployment uses node ownership.
* ``root_gb`` (default 10): the root partition size when the flavor gives no
  ``disk_gb``.

Images (standalone Ironic has no Glance, so tags resolve here): ``images`` is
a list of tables, each ``{id, source, checksum, checksum_algo, tags, owner,
created}``.  An image *id* in the request that matches an entry's ``id`` uses
that entry's ``source`` and ``checksum``; any other id is passed to Ironic as
``image_source`` as it is (a Glance uuid or an http(s) URL).  An image *tag*
picks the entries carrying the tag (and the owner, when the request names
one); the newest ``created`` wins (a warning is logged when several match, as
Octavia's Glance driver does); none matching is an InvalidRequestError before
any backend call.  ``default_image`` (an id, or ``tag:<tag>``) is used when the
request has no image.

Networks: standalone Ironic has no Neutron, so ``network_ids`` cannot become
ports and is refused before the claim.  ``port_ids`` are attached as VIFs
(``POST /v1/nodes/<id>/vifs``) before the deploy when ``vif_attach`` is true
(the nodes' network interface must support it: ``flat`` or ``neutron``);
otherwise they are refused before the claim too.

Behaviour:

* ``async_deploy`` (default true): ``build`` returns as soon as the claim is
  confirmed; setting the instance info and starting the deploy run on a small
  per-driver thread pool (``deploy_workers``, default 8), as the spec's
  non-blocking rule asks.  ``close()`` waits for what was started.  False does
  everything inside ``build``.
* ``claim_timeout`` (s, default 10): how long ``build`` waits for the
  allocation to become active; ``claim_attempts`` (default 3): how many
  allocations a build tries when one fails (Ironic's failure is text only, so
  "no free node" cannot be told from "every candidate was locked");
  ``claim_poll`` (s, default 0.02): the poll interval after a first poll that
  waits about as long as Ironic's recent claims took; after half a second of
  polling it doubles, up to 0.2 s.
* ``claim_candidates`` (default 3; 0 turns it off): a claim names this many
  candidate nodes taken from a list of free nodes the driver refreshes in the
  background (when it runs low or is older than ``candidate_max_age`` s, default
  10), because Ironic lists and loads the whole free pool for a claim that names
  none (half of its claim time with 100 nodes).  The claim stays Ironic's atomic
  allocation: if none of the named nodes can be claimed, the build claims again
  from the whole pool at once (see ``candidates.py``).
* ``conflict_retries`` (default 8): attempts after an HTTP 409 (node locked,
  wrong state for now), with exponential backoff from 0.1 s up to 2 s (about 9 s in all).
* ``connect_retries`` (default 2): attempts after a refused or reset connection,
  only for requests that are safe to repeat (GETs while claiming, and the claim
  POST, which carries its own uuid); a timeout is never retried.
* ``stale_claim`` (s, default 300): a claimed node that has not started
  deploying after this long is reported as ERROR (the process that claimed it
  died before starting the deploy); ``delete`` releases it.
* ``per_id_max`` (default 3): ``statuses`` of at most this many ids uses
  GETs by id; more ids use one node list per resource class and page
  (``page_size``, default 1000), with only the fields it needs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from amphora_compute.config import reject_unknown_keys
from amphora_compute.errors import ConfigError, InvalidRequestError
from amphora_compute.models import ImageRef

BACKEND = "ironic"
MIN_API_VERSION = (1, 58)
LOG = logging.getLogger(__name__)

_CONNECTION_KEYS = ("cloud", "clouds_yaml", "region_name", "endpoint", "auth_type",
                    "username", "password_env", "timeout", "verify")
_TRAIT = re.compile(r"^[A-Z0-9_]{1,255}$")
_RESOURCE_CLASS = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


@dataclass(frozen=True, slots=True)
class ImageEntry:
    """One image a tag can resolve to (an ``[[backends.ironic.images]]`` table)."""

    id: str
    source: str
    checksum: str | None = None
    checksum_algo: str | None = None
    tags: tuple[str, ...] = ()
    owner: str | None = None
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    """What goes into the node's instance_info for an image."""

    source: str
    checksum: str | None = None
    checksum_algo: str | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class IronicOptions:
    """The parsed ``[backends.ironic]`` table (see the module docstring for each key)."""

    cloud: str | None = None
    clouds_yaml: str | None = None
    region_name: str | None = None
    endpoint: str | None = None
    auth_type: str = "none"
    username: str | None = None
    password_env: str | None = None
    timeout: float = 30.0
    verify: bool | str = True
    api_version: str = "1.78"
    resource_class: str = "baremetal"
    resource_classes: tuple[str, ...] = ()
    traits: tuple[str, ...] = ()
    candidate_nodes: tuple[str, ...] = ()
    owner: str | None = None
    root_gb: int = 10
    images: tuple[ImageEntry, ...] = ()
    default_image: str | None = None
    vif_attach: bool = False
    async_deploy: bool = True
    deploy_workers: int = 8
    claim_timeout: float = 10.0
    claim_attempts: int = 3
    claim_poll: float = 0.02
    claim_candidates: int = 3
    candidate_max_age: float = 10.0
    conflict_retries: int = 8
    connect_retries: int = 2
    stale_claim: float = 300.0
    per_id_max: int = 3
    page_size: int = 1000

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> IronicOptions:
        """Validate ``options``; an unknown key or a bad value is a ConfigError naming it."""
        raw = dict(options or {})
        reject_unknown_keys(raw, (f.name for f in fields(cls)), f"backends.{BACKEND}")
        if not raw.get("cloud") and not raw.get("endpoint"):
            raise ConfigError(f"backends.{BACKEND}: set `endpoint` (a standalone Ironic URL) "
                              "or `cloud` (a name in clouds.yaml)")
        values: dict[str, Any] = {}
        for name in ("cloud", "clouds_yaml", "region_name", "endpoint", "username",
                     "password_env", "owner", "default_image"):
            if name in raw:
                values[name] = _optional_str(raw[name], name)
        for name in ("auth_type", "api_version", "resource_class"):
            if name in raw:
                values[name] = _str(raw[name], name)
        if "verify" in raw:
            if not isinstance(raw["verify"], bool | str):
                raise ConfigError(f"backends.{BACKEND}.verify: true, false or a CA bundle path")
            values["verify"] = raw["verify"]
        for name, strict in (("timeout", True), ("claim_timeout", True), ("claim_poll", True),
                             ("stale_claim", True), ("candidate_max_age", True)):
            if name in raw:
                values[name] = _number(raw[name], name, strict=strict)
        for name, minimum in (("root_gb", 1), ("deploy_workers", 1), ("conflict_retries", 0),
                              ("connect_retries", 0), ("claim_attempts", 1),
                              ("claim_candidates", 0),
                              ("per_id_max", 0), ("page_size", 1)):
            if name in raw:
                values[name] = _int(raw[name], name, minimum)
        for name in ("vif_attach", "async_deploy"):
            if name in raw:
                values[name] = _bool(raw[name], name)
        for name in ("resource_classes", "traits", "candidate_nodes"):
            if name in raw:
                values[name] = _str_list(raw[name], name)
        if "images" in raw:
            values["images"] = _images(raw["images"])
        parsed = cls(**values)
        parsed._check()
        if not parsed.resource_classes:
            object.__setattr__(parsed, "resource_classes", (parsed.resource_class,))
        return parsed

    def _check(self) -> None:
        if self.auth_type not in ("none", "http_basic"):
            raise ConfigError(f"backends.{BACKEND}.auth_type: {self.auth_type!r} is not one of "
                              "'none', 'http_basic' (use `cloud` for Keystone)")
        if self.auth_type == "http_basic" and not (self.username and self.password_env):
            raise ConfigError(f"backends.{BACKEND}: auth_type = 'http_basic' needs `username` "
                              "and `password_env` (the name of an environment variable)")
        match = re.fullmatch(r"1\.(\d+)", self.api_version)
        if not match or (1, int(match.group(1))) < MIN_API_VERSION:
            raise ConfigError(f"backends.{BACKEND}.api_version: {self.api_version!r} must be "
                              f"'1.N' with N >= {MIN_API_VERSION[1]} (allocations and config "
                              "drives as a dict need it)")
        for name in ("resource_class", *(["resource_classes"] if self.resource_classes else [])):
            values = [self.resource_class] if name == "resource_class" else self.resource_classes
            for value in values:
                if not _RESOURCE_CLASS.match(value):
                    raise ConfigError(f"backends.{BACKEND}.{name}: {value!r} is not a valid "
                                      "resource class")
        if self.resource_classes and self.resource_class not in self.resource_classes:
            raise ConfigError(f"backends.{BACKEND}.resource_classes: must include "
                              f"resource_class {self.resource_class!r}")
        for trait in self.traits:
            if not _TRAIT.match(trait):
                raise ConfigError(f"backends.{BACKEND}.traits: {trait!r} is not a trait "
                                  "(CUSTOM_* or a standard os-traits name)")
        if self.default_image is not None:
            try:
                self.default_image_ref()
            except InvalidRequestError as exc:
                raise ConfigError(f"backends.{BACKEND}.default_image: {exc}") from None

    # -- helpers the driver uses -----------------------------------------------------

    def auth_options(self) -> dict[str, Any]:
        """The connection keys, in the form ``drivers._openstack`` takes."""
        out = {key: getattr(self, key) for key in _CONNECTION_KEYS}
        return {k: v for k, v in out.items() if v is not None}

    def default_image_ref(self) -> ImageRef | None:
        if not self.default_image:
            return None
        if self.default_image.startswith("tag:"):
            return ImageRef(tag=self.default_image[4:])
        return ImageRef(id=self.default_image)

    def resource_class_for(self, flavor_name: str | None) -> str:
        """The resource class to claim: the flavor's name, which must be in the pool."""
        if flavor_name is None:
            return self.resource_class
        if flavor_name not in self.resource_classes:
            raise InvalidRequestError(
                f"{flavor_name!r} is not one of this backend's resource classes "
                f"{list(self.resource_classes)} (a bare-metal flavor is a resource class)",
                field="flavor")
        return flavor_name

    def resolve_image(self, ref: ImageRef | None) -> ResolvedImage:
        """An image id or tag -> image_source (+ checksum); the newest tagged image wins."""
        ref = ref or self.default_image_ref()
        if ref is None:
            raise InvalidRequestError("a bare-metal build needs an image (an id, a URL or a "
                                      "tag), and no default_image is configured", field="image")
        if ref.id is not None:
            for entry in self.images:
                if entry.id == ref.id:
                    return _resolved(entry)
            return ResolvedImage(source=ref.id, label=ref.id)
        matches = [e for e in self.images if ref.tag in e.tags
                   and (ref.owner is None or e.owner == ref.owner)]
        if not matches:
            owner = f" owned by {ref.owner!r}" if ref.owner else ""
            raise InvalidRequestError(f"no image in backends.{BACKEND}.images has tag "
                                      f"{ref.tag!r}{owner}", field="image_tag")
        epoch = datetime.min.replace(tzinfo=UTC)
        matches.sort(key=lambda e: (e.created or epoch, e.id), reverse=True)
        if len(matches) > 1:
            LOG.warning("ironic: %d images have tag %r; using the newest, %s",
                        len(matches), ref.tag, matches[0].id)
        return _resolved(matches[0])


def _resolved(entry: ImageEntry) -> ResolvedImage:
    return ResolvedImage(source=entry.source, checksum=entry.checksum,
                         checksum_algo=entry.checksum_algo, label=entry.id)


def _images(value: Any) -> tuple[ImageEntry, ...]:
    name = "images"
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ConfigError(f"backends.{BACKEND}.{name}: a list of tables "
                          "({id, source, checksum, tags, owner, created})")
    out: list[ImageEntry] = []
    allowed = {f.name for f in fields(ImageEntry)}
    for index, item in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"backends.{BACKEND}.{where}: must be a table")
        extra = sorted(set(item) - allowed)
        if extra:
            raise ConfigError(f"backends.{BACKEND}.{where}: unknown key(s) {extra}")
        if not item.get("id") or not item.get("source"):
            raise ConfigError(f"backends.{BACKEND}.{where}: `id` and `source` are required")
        created = item.get("created")
        if isinstance(created, str):
            try:
                created = datetime.fromisoformat(created)
            except ValueError:
                raise ConfigError(f"backends.{BACKEND}.{where}.created: not an ISO 8601 "
                                  "date/time") from None
        if isinstance(created, datetime) and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        if created is not None and not isinstance(created, datetime):
            raise ConfigError(f"backends.{BACKEND}.{where}.created: a date/time")
        out.append(ImageEntry(
            id=_str(item["id"], f"{where}.id"), source=_str(item["source"], f"{where}.source"),
            checksum=_optional_str(item.get("checksum"), f"{where}.checksum"),
            checksum_algo=_optional_str(item.get("checksum_algo"), f"{where}.checksum_algo"),
            tags=_str_list(item.get("tags", []), f"{where}.tags"),
            owner=_optional_str(item.get("owner"), f"{where}.owner"), created=created))
    return tuple(out)


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"backends.{BACKEND}.{name}: must be a non-empty string")
    return value


def _optional_str(value: Any, name: str) -> str | None:
    return None if value is None else _str(value, name)


def _str_list(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(f"backends.{BACKEND}.{name}: must be a list of strings")
    return tuple(_str(v, name) for v in value)


def _number(value: Any, name: str, *, strict: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value \
            or value in (float("inf"), float("-inf")) or value < 0 or (strict and value == 0):
        raise ConfigError(f"backends.{BACKEND}.{name}: must be a "
                          f"{'positive' if strict else 'non-negative'} number")
    return float(value)


def _int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"backends.{BACKEND}.{name}: must be an integer >= {minimum}")
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"backends.{BACKEND}.{name}: must be true or false")
    return value
