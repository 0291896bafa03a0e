"""``NovaDriver``: VM amphorae on OpenStack Nova through openstacksdk.

How it talks to Nova:

* One keystoneauth session per process from the user's ``clouds.yaml``
  (``amphora_compute.drivers._openstack.keystone_session``), one openstacksdk
  ``Connection`` per driver on top of it, made lazily on the first call.
  openstacksdk's and keystoneauth's own retries are switched off; the one
  retry layer is here (tenacity, bounded: reads and deletes only).
* Every call uses the newest microversion both sides know, except a create
  that carries config-drive files by file injection: Nova takes
  ``personality`` only up to 2.56, so that one create is sent at 2.56 with
  ``config_drive=True`` (Octavia pins an old microversion for everything).
* Every server is tagged ``amphora-compute`` (the ``tag`` option), and one
  built with an idempotency key also gets a tag derived from the key: ``list``,
  ``statuses`` and the idempotency lookup are each one filtered list request
  per page, never a list of the whole cloud.
* Image-by-tag, flavor and network lookups are cached (``lookup_cache_ttl``),
  so a build costs one create call once the cache is warm.
* openstacksdk / keystoneauth / requests exceptions are translated at this
  edge with ``from_http_status`` (the original kept as ``__cause__``): 4xx are
  caller errors a breaker never counts, 5xx and connection errors are not.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import keystoneauth1.exceptions as ks_exceptions
import openstack.connection
import openstack.exceptions as os_exceptions
import requests
from openstack.compute.v2 import server as _server

from amphora_compute.cloudinit import encoded_size, merge_user_data
from amphora_compute.enums import AmphoraStatus, AmphoraType, Capability
from amphora_compute.errors import (
    AmphoraComputeError,
    ConfigError,
    InstanceNotFoundError,
    InvalidRequestError,
    NotSuspendedError,
    from_http_status,
    http_status_of,
)
from amphora_compute.interface import AmphoraComputeDriver
from amphora_compute.lazy import Lazy
from amphora_compute.models import Amphora, BuildRequest, Flavor, ImageRef
from amphora_compute.retries import retry_backend_failures

from .options import BACKEND, NovaOptions

if TYPE_CHECKING:
    from amphora_compute.breakers import BreakerRegistry

LOG = logging.getLogger(__name__)
T = TypeVar("T")

#: The newest microversion that still accepts ``personality`` (file injection).
PERSONALITY_MICROVERSION = "2.56"
#: Nova's cap on user_data, counted base64-encoded.
MAX_USER_DATA_BYTES = 65535
#: Metadata keys this project writes on every server it builds.
META_BUILT_BY = "amphora_compute"
META_IDEMPOTENCY_KEY = "amphora_idempotency_key"
SERVER_GROUP_POLICIES = ("anti-affinity", "affinity", "soft-anti-affinity", "soft-affinity")

_CLIENT_ERRORS = (os_exceptions.SDKException, ks_exceptions.ClientException,
                  requests.exceptions.RequestException)


class _TTLCache:
    """A small thread-safe cache of lookups; an entry lives ``ttl`` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key: Any, load: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]  # type: ignore[no-any-return]
        value = load()  # outside the lock: a slow lookup must not block other keys
        with self._lock:
            self._data[key] = (time.monotonic() + self.ttl, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class NovaDriver(AmphoraComputeDriver):
    """Builds, watches, suspends and deletes VM amphorae on Nova."""

    backend_name: ClassVar[str] = BACKEND
    amphora_type: ClassVar[AmphoraType] = AmphoraType.VM
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.SUSPEND, Capability.SERVER_GROUPS, Capability.ATTACH_NETWORK,
        Capability.VALIDATE_FLAVOR, Capability.VALIDATE_AVAILABILITY_ZONE,
        Capability.CONFIG_DRIVE, Capability.IMAGE_TAGS})
    #: Nova's server status -> normalized status (task states are kept in ``extra``).
    STATUS_MAP: ClassVar[Mapping[str, AmphoraStatus]] = {
        "BUILD": AmphoraStatus.BUILDING,
        "REBUILD": AmphoraStatus.BUILDING,
        "ACTIVE": AmphoraStatus.ACTIVE,
        "SUSPENDED": AmphoraStatus.SUSPENDED,
        "SHUTOFF": AmphoraStatus.SUSPENDED,
        "PAUSED": AmphoraStatus.SUSPENDED,
        "SHELVED": AmphoraStatus.SUSPENDED,
        "SHELVED_OFFLOADED": AmphoraStatus.SUSPENDED,
        "ERROR": AmphoraStatus.ERROR,
        "DELETED": AmphoraStatus.DELETED,
        "SOFT_DELETED": AmphoraStatus.DELETED,
        "UNKNOWN": AmphoraStatus.UNKNOWN,
    }

    def __init__(self, options: Mapping[str, Any] | None = None, *,
                 breakers: BreakerRegistry | None = None) -> None:
        super().__init__(options, breakers=breakers)
        self.config = NovaOptions.from_options(options)
        self._conn: Lazy[Any] = Lazy(self._connect)
        self._cache = _TTLCache(self.config.lookup_cache_ttl)
        #: How many of our servers the last full list returned (None: never listed).
        self._fleet_size: int | None = None

    # -- the contract -------------------------------------------------------------

    def build(self, request: BuildRequest) -> str:
        """Create the server and return its id without waiting (see the module doc)."""
        self.check_request(request)
        body = self._delivery(request)  # size checks: before any call
        if request.ssh_keys:
            raise InvalidRequestError("Nova takes a key pair name: use key_name (or deliver "
                                      "keys in user_data)", field="ssh_keys")
        existing = self.existing_build(request)
        if existing is not None:
            return str(existing)
        microversion = body.pop("_microversion", None)
        if "personality" in body:
            self._check_personality(body["personality"])
        attrs = self._server_attrs(request, body)
        with self._translate_errors("build"):
            conn = self._connection()
            if microversion:
                server = _server.Server.new(connection=conn, **attrs).create(
                    conn.compute, microversion=microversion)
            else:
                server = conn.compute.create_server(**attrs)
        amphora_id = str(server.id)
        LOG.debug("nova: accepted build of %s as %s", request.name, amphora_id)
        return amphora_id

    def delete(self, amphora_id: str) -> None:
        """Delete the server; one that is already gone is success (logged)."""
        try:
            self._retrying("delete", amphora_id,
                           lambda: self._connection().compute.delete_server(
                               amphora_id, ignore_missing=False))
        except InstanceNotFoundError:
            LOG.info("nova: delete of %s: already gone", amphora_id)

    def statuses(self, amphora_ids: Sequence[str]) -> dict[str, Amphora]:
        """One tag-filtered list per page; per-id GETs for a few ids out of a large fleet.

        Measured here: a GET costs about as much as listing ten servers, so a
        handful of ids out of a fleet ten times larger is cheaper by id.
        """
        wanted = list(dict.fromkeys(amphora_ids))
        if not wanted:
            return {}
        fleet = self._fleet_size
        if (len(wanted) <= self.config.per_id_max and fleet is not None
                and fleet >= self.config.per_id_fleet_ratio * len(wanted)):
            return {amphora_id: self._find(amphora_id) or self._deleted(amphora_id)
                    for amphora_id in wanted}
        found = {a.id: a for a in self.list()}
        return {i: found.get(i) or self._deleted(i) for i in wanted}

    def get_amphora(self, amphora_name: str | None = None,
                    amphora_id: str | None = None) -> Amphora:
        """By id (one GET) or by exact name among this project's servers."""
        self.require_lookup(amphora_name, amphora_id)
        if amphora_id:
            found = self._find(amphora_id)
            if found is None or found.status is AmphoraStatus.DELETED:
                raise InstanceNotFoundError(f"nova: no server {amphora_id}", backend=BACKEND,
                                            amphora_id=amphora_id)
            return found
        assert amphora_name is not None
        matches = [a for a in self._list_servers(name=f"^{re.escape(amphora_name)}$")
                   if a.name == amphora_name and a.status is not AmphoraStatus.DELETED]
        if not matches:
            raise InstanceNotFoundError(f"nova: no amphora named {amphora_name!r}",
                                        backend=BACKEND)
        return max(matches, key=lambda a: a.created_at or datetime.min)

    def list(self) -> builtins.list[Amphora]:
        """Every server carrying this project's tag (one request per page), less those
        being deleted."""
        found = [a for a in self._list_servers() if a.status is not AmphoraStatus.DELETED]
        self._fleet_size = len(found)
        return found

    def suspend(self, amphora_id: str) -> None:
        """Nova's suspend action; suspending a suspended (or shut off) server is success."""
        try:
            with self._translate_errors("suspend", amphora_id):
                self._connection().compute.suspend_server(amphora_id)
        except AmphoraComputeError as exc:
            if http_status_of(exc.__cause__ or exc) != 409:
                raise
            if self.get_amphora(amphora_id=amphora_id).status is not AmphoraStatus.SUSPENDED:
                raise

    def resume(self, amphora_id: str) -> None:
        """Nova's resume action (or start, for a server that was shut off).

        :raises NotSuspendedError: the server is not suspended (Nova's 409).
        """
        try:
            with self._translate_errors("resume", amphora_id):
                self._connection().compute.resume_server(amphora_id)
            return
        except AmphoraComputeError as exc:
            if http_status_of(exc.__cause__ or exc) != 409:
                raise
            conflict = exc
        current = self.get_amphora(amphora_id=amphora_id)
        if current.raw_status == "SHUTOFF":
            with self._translate_errors("resume", amphora_id):
                self._connection().compute.start_server(amphora_id)
            return
        raise NotSuspendedError(
            f"nova resume {amphora_id}: not suspended (status {current.raw_status})",
            backend=BACKEND, amphora_id=amphora_id) from (conflict.__cause__ or conflict)

    def close(self) -> None:
        """Drop the connection (the shared session stays with its process)."""
        self._conn.reset()
        self._cache.clear()

    def find_by_idempotency_key(self, key: str) -> Amphora | None:
        """One list request filtered by this project's tag and the key's tag."""
        found = [a for a in self._list_servers(extra_tag=self._key_tag(key))
                 if a.idempotency_key == key and a.status is not AmphoraStatus.DELETED]
        return min(found, key=lambda a: a.created_at or datetime.min) if found else None

    # -- optional capabilities (Octavia's extras) ----------------------------------------

    def create_server_group(self, name: str, policy: str) -> str:
        """A Nova server group (``anti-affinity`` for ACTIVE_STANDBY pairs); returns its id."""
        if policy not in SERVER_GROUP_POLICIES:
            raise InvalidRequestError(f"{policy!r} is not one of "
                                      f"{', '.join(SERVER_GROUP_POLICIES)}", field="policy")
        if not isinstance(name, str) or not 0 < len(name) <= 255:
            raise InvalidRequestError("must be 1 to 255 characters", field="name")
        with self._translate_errors("create_server_group"):
            group = self._connection().compute.create_server_group(name=name, policy=policy)
        return str(group.id)

    def delete_server_group(self, server_group_id: str) -> None:
        """Delete a server group; one already gone is success."""
        try:
            self._retrying("delete_server_group", server_group_id,
                           lambda: self._connection().compute.delete_server_group(
                               server_group_id, ignore_missing=False))
        except InstanceNotFoundError:
            LOG.info("nova: server group %s: already gone", server_group_id)

    def attach_network_or_port(self, amphora_id: str, network_id: str | None = None,
                               ip_address: str | None = None,
                               port_id: str | None = None) -> dict[str, Any]:
        """Attach a port, or a new port on a network (optionally with a fixed IP)."""
        if bool(network_id) == bool(port_id):
            raise InvalidRequestError("give exactly one of network_id or port_id",
                                      field="network_id")
        if ip_address and not network_id:
            raise InvalidRequestError("a fixed IP needs a network_id", field="ip_address")
        attrs: dict[str, Any] = {"port_id": port_id} if port_id else {"net_id": network_id}
        if ip_address:
            attrs["fixed_ips"] = [{"ip_address": ip_address}]
        with self._translate_errors("attach_network_or_port", amphora_id):
            iface = self._connection().compute.create_server_interface(amphora_id, **attrs)
        return {"port_id": iface.port_id, "network_id": iface.net_id,
                "fixed_ips": [dict(ip) for ip in (iface.fixed_ips or [])],
                "mac_address": iface.mac_addr}

    def detach_port(self, amphora_id: str, port_id: str) -> None:
        """Detach a port; one already detached is success."""
        try:
            with self._translate_errors("detach_port", amphora_id):
                self._connection().compute.delete_server_interface(
                    port_id, server=amphora_id, ignore_missing=False)
        except InstanceNotFoundError:
            LOG.info("nova: port %s of %s: already detached", port_id, amphora_id)

    def validate_flavor(self, flavor: str) -> None:
        """The flavor (name, id or neutral size) resolves to a Nova flavor."""
        parsed = Flavor.parse(flavor)
        assert parsed is not None
        self._flavor_id(parsed)

    def validate_availability_zone(self, availability_zone: str) -> None:
        """The zone exists and Nova reports it available."""
        def zones() -> dict[str, bool]:
            found = self._connection().compute.availability_zones()
            return {z.name: bool((z.state or {}).get("available")) for z in found}

        known = self._retrying("validate_availability_zone", None, zones)
        if not known.get(availability_zone):
            state = "not available" if availability_zone in known else "unknown"
            raise InvalidRequestError(f"{availability_zone!r} is {state} (available: "
                                      f"{', '.join(sorted(k for k, v in known.items() if v))})",
                                      field="availability_zone")

    # -- private helpers ---------------------------------------------------------------

    def _connection(self) -> Any:
        return self._conn.get()

    def _connect(self) -> Any:
        """An openstacksdk Connection on the process's shared session; retries off."""
        from amphora_compute.drivers._openstack import OpenStackAuth, cloud_config, keystone_session

        cfg = self.config
        auth = OpenStackAuth(cloud=cfg.cloud, clouds_yaml=cfg.clouds_yaml, timeout=cfg.timeout,
                             verify=cfg.verify, region_name=cfg.region_name)
        session = keystone_session(auth, BACKEND)  # bounded even if clouds.yaml sets no timeout
        region = cloud_config(auth, BACKEND)
        settings = {k: v for k, v in region.config.items()
                    if k not in ("auth", "auth_type", "region_name", "profile", "name")}
        for service in ("", "compute_", "image_", "network_"):
            settings[f"{service}connect_retries"] = 0
            settings[f"{service}status_code_retries"] = 0
        try:
            conn = openstack.connection.Connection(
                session=session, region_name=region.region_name, app_name="amphora-compute",
                **settings)
        except os_exceptions.SDKException as exc:
            raise ConfigError(f"backends.{BACKEND}.cloud: {exc}") from exc
        _quiet_request_bodies(conn.compute)
        return conn

    @contextlib.contextmanager
    def _translate_errors(self, operation: str, amphora_id: str | None = None) -> Iterator[None]:
        """openstacksdk / keystoneauth / requests exceptions -> contract errors, cause kept."""
        try:
            yield
        except _CLIENT_ERRORS as exc:
            status = http_status_of(exc)
            if status is None and isinstance(exc, os_exceptions.NotFoundException):
                status = 404  # find_*(ignore_missing=False) raises without a status
            raise from_http_status(status, _message(exc), operation=operation, backend=BACKEND,
                                   amphora_id=amphora_id) from exc

    def _retrying(self, operation: str, amphora_id: str | None, call: Callable[[], T]) -> T:
        """An idempotent call with bounded retries on 5xx / connection errors (the one layer)."""
        def attempt() -> T:
            with self._translate_errors(operation, amphora_id):
                return call()

        return retry_backend_failures(attempt, self.config.read_retries)

    def _find(self, amphora_id: str) -> Amphora | None:
        try:
            server = self._retrying("get_amphora", amphora_id,
                                    lambda: self._connection().compute.get_server(amphora_id))
        except InstanceNotFoundError:
            return None
        return self._to_amphora(server)

    def _deleted(self, amphora_id: str) -> Amphora:
        return Amphora.deleted(amphora_id, self.amphora_type, BACKEND)

    def _list_servers(self, extra_tag: str | None = None,
                      **query: Any) -> builtins.list[Amphora]:
        tags = self.config.tag + (f",{extra_tag}" if extra_tag else "")

        def fetch() -> builtins.list[Any]:
            # No ``limit``: openstacksdk would then always ask for one more page;
            # Nova pages by its own max_limit and links the next page itself.
            return list(self._connection().compute.servers(details=True, tags=tags, **query))

        return [self._to_amphora(s) for s in self._retrying("list", None, fetch)]

    def _to_amphora(self, server: Any) -> Amphora:
        raw = server.status
        status = self.map_status(raw)
        if status is AmphoraStatus.UNKNOWN and raw not in self.STATUS_MAP:
            LOG.warning("nova: unexpected server status %r for %s", raw, server.id)
        if server.task_state == "deleting":
            # Nova accepted the delete and finishes it on its own (a failed delete
            # shows up as ERROR on the next poll): for the caller it is gone.
            status = AmphoraStatus.DELETED
        fault = None
        if server.fault:
            fault = str(server.fault.get("message") or "") or None
        metadata = dict(server.metadata or {})
        flavor = server.flavor or {}
        image = server.image or {}
        return Amphora(
            id=str(server.id), name=server.name, amphora_type=self.amphora_type,
            backend=BACKEND, status=status, raw_status=raw,
            fault=fault if status is AmphoraStatus.ERROR else None,
            addresses=self._addresses(server.addresses or {}),
            flavor=flavor.get("original_name") or flavor.get("name") or flavor.get("id"),
            image=image.get("id") if isinstance(image, Mapping) else None,
            created_at=_parse_time(server.created_at),
            availability_zone=server.availability_zone,
            idempotency_key=metadata.get(META_IDEMPOTENCY_KEY),
            extra={"task_state": server.task_state, "vm_state": server.vm_state,
                   "power_state": server.power_state, "host": server.compute_host,
                   "tags": list(server.tags or []), "metadata": metadata,
                   "fault": dict(server.fault) if server.fault and fault else None})

    def _addresses(self, addresses: Mapping[str, Any]) -> tuple[str, ...]:
        """Every fixed and floating address; the management network's first."""
        mgmt = self._management_network_name()
        order = sorted(addresses, key=lambda net: (net != mgmt, net))
        return tuple(str(entry["addr"]) for net in order for entry in addresses[net]
                     if isinstance(entry, Mapping) and entry.get("addr"))

    def _management_network_name(self) -> str | None:
        mgmt = self.config.management_network
        if not mgmt:
            return None
        return self._network(mgmt)[1]

    def _network(self, name_or_id: str) -> tuple[str, str]:
        """(id, name) of a network, cached."""
        def load() -> tuple[str, str]:
            net = self._connection().network.find_network(name_or_id, ignore_missing=False)
            return str(net.id), str(net.name)

        try:
            return self._cache.get_or_load(
                ("network", name_or_id),
                lambda: self._retrying("network lookup", None, load))
        except InstanceNotFoundError:
            raise InvalidRequestError(f"no network {name_or_id!r}",
                                      field="management_network") from None

    def _delivery(self, request: BuildRequest) -> dict[str, Any]:
        """user_data / personality / config_drive for the create, sizes checked (no call)."""
        files = dict(request.config_drive_files)
        user_data = request.user_data
        body: dict[str, Any] = {}
        field = "user_data"
        if files and self.config.config_drive_delivery == "personality":
            body["personality"] = [{"path": path, "contents": base64.b64encode(data).decode()}
                                   for path, data in sorted(files.items())]
            body["config_drive"] = True
            body["_microversion"] = PERSONALITY_MICROVERSION
        elif files:
            user_data = merge_user_data(user_data, files)
            field = "config_drive_files"
        if user_data:
            size = encoded_size(user_data)
            if size > MAX_USER_DATA_BYTES:
                raise InvalidRequestError(
                    f"user_data is {size} bytes base64-encoded; Nova's limit is "
                    f"{MAX_USER_DATA_BYTES}", field=field)
            body["user_data"] = base64.b64encode(user_data).decode("ascii")
        return body

    def _check_personality(self, personality: Sequence[Mapping[str, str]]) -> None:
        """Injected files within this cloud's quotas, checked before the create.

        Nova counts a file's *base64* text against ``maxPersonalitySize`` (10240
        by default, so a 10 KiB file needs 13656): a refusal here names the
        file, where Nova would answer a bare 403 after the fact.
        """
        max_files, max_size = self._cache.get_or_load(("personality-limits",),
                                                      self._personality_limits)
        if 0 <= max_files < len(personality):
            raise InvalidRequestError(f"this cloud injects at most {max_files} files",
                                      field="config_drive_files")
        for item in personality:
            size = len(item["contents"])
            if 0 <= max_size < size:
                raise InvalidRequestError(
                    f"{item['path']} is {size} bytes base64-encoded; this cloud's "
                    f"maxPersonalitySize is {max_size} (raise the injected_file_content_bytes "
                    "quota or use config_drive_delivery = \"user_data\")",
                    field="config_drive_files")

    def _personality_limits(self) -> tuple[int, int]:
        def fetch() -> tuple[int, int]:
            answer = self._connection().compute.get(
                "/limits", microversion=PERSONALITY_MICROVERSION, raise_exc=True)
            absolute = answer.json()["limits"]["absolute"]
            return int(absolute.get("maxPersonality", -1)), \
                int(absolute.get("maxPersonalitySize", -1))

        return self._retrying("limits", None, fetch)

    def _server_attrs(self, request: BuildRequest, body: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        image = request.image or cfg.default_image()
        if image is None:
            raise InvalidRequestError("no image in the request and no image_id / image_tag "
                                      "in backends.nova", field="image")
        flavor = request.flavor or cfg.default_flavor()
        if flavor is None:
            raise InvalidRequestError("no flavor in the request and no flavor in "
                                      "backends.nova", field="flavor")
        attrs: dict[str, Any] = {
            "name": request.name,
            "image_id": self._image_id(image),
            "flavor_id": self._flavor_id(flavor),
            "networks": self._nics(request),
            "metadata": {**dict(request.metadata), META_BUILT_BY: "1"},
            "tags": [cfg.tag],
        }
        if request.idempotency_key:
            attrs["metadata"][META_IDEMPOTENCY_KEY] = request.idempotency_key
            attrs["tags"].append(self._key_tag(request.idempotency_key))
        groups = request.security_groups or cfg.security_groups
        if groups:
            attrs["security_groups"] = [{"name": g} for g in groups]
        key_name = request.key_name or cfg.key_name
        if key_name:
            attrs["key_name"] = key_name
        zone = request.availability_zone or cfg.availability_zone
        if zone:
            attrs["availability_zone"] = zone
        if request.server_group:
            attrs["scheduler_hints"] = {"group": request.server_group}
        attrs.update(body)
        return attrs

    def _nics(self, request: BuildRequest) -> builtins.list[dict[str, str]] | str:
        nets = list(request.network_ids) or list(self.config.network_ids)
        nics = [{"uuid": n} for n in nets] + [{"port": p} for p in request.port_ids]
        if nics:
            return nics
        if self.config.management_network:
            return [{"uuid": self._network(self.config.management_network)[0]}]
        return "none"

    def _image_id(self, image: ImageRef) -> str:
        """An id as it is (Nova checks it); a tag -> the newest active image carrying it."""
        if image.id:
            return str(image.id)
        return self._cache.get_or_load(("image", image.tag, image.owner),
                                       lambda: self._newest_image(image))

    def _newest_image(self, image: ImageRef) -> str:
        query: dict[str, Any] = {"tag": [image.tag], "status": "active",
                                 "sort": "created_at:desc", "limit": 2}
        if image.owner:
            query["owner"] = image.owner

        def fetch() -> builtins.list[Any]:
            return list(self._connection().image.images(paginated=False, **query))

        found = self._retrying("image lookup", None, fetch)
        if not found:
            raise InvalidRequestError(
                f"no active image tagged {image.tag!r}"
                + (f" owned by {image.owner}" if image.owner else ""), field="image_tag")
        if len(found) > 1:
            LOG.warning("nova: several images tagged %r; using the newest, %s",
                        image.tag, found[0].id)
        return str(found[0].id)

    def _flavor_id(self, flavor: Flavor) -> str:
        """A name or id -> the flavor's id; a neutral size -> the smallest fitting flavor."""
        flavors = self._cache.get_or_load(("flavors",), self._all_flavors)
        if flavor.name:
            for item in flavors:
                if flavor.name in (item["id"], item["name"]):
                    return str(item["id"])
            raise InvalidRequestError(f"no Nova flavor named {flavor.name!r}", field="flavor")
        fitting = [f for f in flavors
                   if f["vcpus"] >= (flavor.vcpus or 0) and f["ram"] >= (flavor.ram_mb or 0)
                   and f["disk"] >= (flavor.disk_gb or 0)]
        if not fitting:
            raise InvalidRequestError(f"no Nova flavor fits {flavor}", field="flavor")
        best = min(fitting, key=lambda f: (f["vcpus"], f["ram"], f["disk"], f["name"]))
        return str(best["id"])

    def _all_flavors(self) -> builtins.list[dict[str, Any]]:
        def fetch() -> builtins.list[dict[str, Any]]:
            return [{"id": f.id, "name": f.name, "vcpus": f.vcpus or 0, "ram": f.ram or 0,
                     "disk": f.disk or 0}
                    for f in self._connection().compute.flavors(details=True)
                    if not getattr(f, "is_disabled", False)]

        return self._retrying("flavor lookup", None, fetch)

    @staticmethod
    def _key_tag(key: str) -> str:
        """A server tag for an idempotency key (tags cannot hold '/' or ',', max 60)."""
        return "amp-key-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def _quiet_request_bodies(proxy: Any) -> None:
    """Keep create bodies (user_data, injected files) out of keystoneauth's DEBUG log.

    keystoneauth logs every request as a curl line with its body at DEBUG;
    base64 is not redaction.  openstacksdk offers no switch, so POST and PUT
    through this proxy pass keystoneauth's own ``log=False``.
    """
    send = proxy.request

    def request(url: str, method: str, *args: Any, **kwargs: Any) -> Any:
        if method.upper() in ("POST", "PUT"):
            kwargs.setdefault("log", False)
        return send(url, method, *args, **kwargs)

    proxy.request = request


def _message(exc: BaseException) -> str:
    """A short text for an error (the service's message, never a request body)."""
    text = getattr(exc, "details", None) or getattr(exc, "message", None) or str(exc)
    return str(text or type(exc).__name__)[:300]


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
