"""``ZunDriver``: container amphorae on OpenStack Zun through python-zunclient.

Zun's states and the normalized status (``STATUS_MAP``):

* Creating, Created -> BUILDING.  Every container is created with
  ``run=true``, so Created is only the moment between creation and start;
  Restarting and Rebuilding are BUILDING too.
* Running -> ACTIVE.
* Paused, Stopped -> SUSPENDED (``suspend`` pauses; a container that stopped
  on its own also counts as suspended, ``resume`` starts it again).
* Error, Dead -> ERROR, with Zun's ``status_reason`` as the fault.
* Deleting, Deleted, or gone -> DELETED.  Unknown -> UNKNOWN.

Batch status: Zun's list API has no label filter (its filters are name,
image, project_id, user_id, memory, host, task_state, status, auto_remove),
so ``statuses`` and ``list`` page through the project's containers
(marker / limit, ``page_size`` per request) and keep the ones labelled as
built by this project.  That is one request per page, never one per id, and
never ``all_projects``: run amphorae in their own service project, as
Octavia does.  For at most ``per_id_max`` ids, GETs by id are cheaper than
paging a large project, and are used instead.

Suspend and resume are Zun's pause and unpause (the container keeps its
memory and addresses), waiting up to ``action_timeout`` for Zun's
asynchronous action to show.  Delete is ``DELETE ?stop=true`` (Zun stops a
running container first); a paused container is unpaused first; one in a
transitional state (Creating, Restarting...) is force-deleted when the
credentials are admin (``force_delete``), otherwise waited for up to
``delete_wait`` s.  A container that is already gone is success.

Errors: every zunclient / keystoneauth exception is translated at this edge
with ``amphora_compute.errors.from_http_status`` (404 -> not found, other
4xx -> caller errors that do not count against the breaker, 5xx or no answer
-> backend errors that do), the original kept as ``__cause__``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from keystoneauth1 import exceptions as ks_exceptions
from zunclient import client as zun_client
from zunclient.common.apiclient import exceptions as zun_exceptions

from amphora_compute.enums import AmphoraStatus, AmphoraType, Capability
from amphora_compute.errors import (
    AmphoraComputeError,
    BackendUnavailableError,
    DeleteFailed,
    InstanceNotFoundError,
    InvalidRequestError,
    NotSuspendedError,
    from_http_status,
    http_status_of,
)
from amphora_compute.interface import AmphoraComputeDriver
from amphora_compute.lazy import Lazy
from amphora_compute.models import Amphora, BuildRequest
from amphora_compute.retries import retry_backend_failures

from . import mapping
from .options import BACKEND, ZunOptions

LOG = logging.getLogger(__name__)
T = TypeVar("T")

#: What zunclient and keystoneauth raise; anything else is a bug and is not translated.
_CLIENT_ERRORS: tuple[type[BaseException], ...] = (
    zun_exceptions.ClientException, ks_exceptions.ClientException, OSError)

# zun/common/utils.py VALID_STATES: where ``DELETE ?stop=true`` is allowed.
_DELETABLE = frozenset({"Running", "Created", "Error", "Stopped", "Deleted", "Dead"})
_GONE = frozenset({"Deleting", "Deleted"})
_SUSPENDED = frozenset({"Paused", "Stopped"})


class ZunDriver(AmphoraComputeDriver):
    """Container amphorae on Zun (see the module docstring for the mapping)."""

    backend_name: ClassVar[str] = BACKEND
    amphora_type: ClassVar[AmphoraType] = AmphoraType.CONTAINER
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.SUSPEND, Capability.CONFIG_DRIVE, Capability.IMAGE_TAGS,
        Capability.VALIDATE_FLAVOR, Capability.VALIDATE_AVAILABILITY_ZONE})
    STATUS_MAP: ClassVar[Mapping[str, AmphoraStatus]] = {
        "Creating": AmphoraStatus.BUILDING,
        "Created": AmphoraStatus.BUILDING,
        "Restarting": AmphoraStatus.BUILDING,
        "Rebuilding": AmphoraStatus.BUILDING,
        "Running": AmphoraStatus.ACTIVE,
        "Paused": AmphoraStatus.SUSPENDED,
        "Stopped": AmphoraStatus.SUSPENDED,
        "Error": AmphoraStatus.ERROR,
        "Dead": AmphoraStatus.ERROR,
        "Deleting": AmphoraStatus.DELETED,
        "Deleted": AmphoraStatus.DELETED,
        "Unknown": AmphoraStatus.UNKNOWN,
    }

    def __init__(self, options: Mapping[str, Any] | None = None, *,
                 breakers: Any = None) -> None:
        super().__init__(options, breakers=breakers)
        self.config = ZunOptions.parse(self.options)
        self._client: Lazy[Any] = Lazy(self._connect)
        self._own_session: Any = None
        self._lock = threading.Lock()

    # -- the contract -----------------------------------------------------------

    def build(self, request: BuildRequest) -> str:
        """Run a container (``run=true``) and return its uuid without waiting."""
        self.check_request(request)
        body = mapping.container_body(request, self.config)
        with self._translate_errors("build"):
            existing = self.existing_build(request)
        if existing:
            return str(existing)
        with self._translate_errors("build"):
            container = self._zun().containers.run(**body)
        LOG.debug("zun: accepted build of %s as %s", request.name, container.uuid)
        return str(container.uuid)

    def delete(self, amphora_id: str) -> None:
        """Stop and delete; gone already is success.  See the module docstring."""
        deadline = time.monotonic() + self.config.delete_wait
        while True:
            container = self._find(amphora_id, "delete")
            if container is None or container["status"] in _GONE:
                LOG.info("zun: delete of %s: already gone", amphora_id)
                return
            self._require_managed(container, "delete")
            status = container["status"]
            if status == "Paused":
                self._action(amphora_id, "unpause", "delete", tolerate_conflict=True)
            elif status in _DELETABLE:
                if self._delete_call(amphora_id, stop=True):
                    return
            elif self.config.force_delete:
                self._delete_call(amphora_id, force=True)
                return
            if time.monotonic() >= deadline:
                # One stuck container says nothing about Zun's health: not counted.
                raise DeleteFailed(
                    f"zun delete {amphora_id}: still {status} after "
                    f"{self.config.delete_wait:.0f} s (set force_delete with admin "
                    "credentials to delete containers in transitional states)",
                    backend=BACKEND, amphora_id=amphora_id, fault=status, caller_error=True)
            time.sleep(self.config.poll_interval)

    def statuses(self, amphora_ids: Sequence[str]) -> dict[str, Amphora]:
        """One list request per page (or GETs for a few ids); missing ids are DELETED."""
        wanted = list(dict.fromkeys(amphora_ids))
        if not wanted:
            return {}
        found: dict[str, Amphora] = {}
        if len(wanted) <= self.config.per_id_max:
            for amphora_id in wanted:
                container = self._find(amphora_id, "statuses")
                if container is not None and self._managed(container):
                    found[amphora_id] = self._to_amphora(container)
        else:
            remaining = set(wanted)
            for container in self._pages("statuses"):
                if container["uuid"] in remaining and self._managed(container):
                    found[container["uuid"]] = self._to_amphora(container)
                    remaining.discard(container["uuid"])
                    if not remaining:
                        break
        return {i: found.get(i) or Amphora.deleted(i, self.amphora_type, BACKEND)
                for i in wanted}

    def get_amphora(self, amphora_name: str | None = None,
                    amphora_id: str | None = None) -> Amphora:
        """By id (one GET) or by name (Zun's ``name`` filter; the newest match wins)."""
        self.require_lookup(amphora_name, amphora_id)
        if amphora_id:
            container = self._find(amphora_id, "get_amphora")
            if container is None or not self._managed(container) \
                    or container.get("status") in _GONE:
                raise InstanceNotFoundError(f"zun: no amphora {amphora_id!r}", backend=BACKEND,
                                            amphora_id=amphora_id)
            return self._to_amphora(container)
        matches = [c for c in self._read("get_amphora", None,
                                         lambda: self._zun().containers.list(name=amphora_name))]
        mine = [_record(c) for c in matches]
        mine = [c for c in mine if self._managed(c) and c.get("status") not in _GONE]
        if not mine:
            raise InstanceNotFoundError(f"zun: no amphora named {amphora_name!r}",
                                        backend=BACKEND)
        return self._to_amphora(max(mine, key=lambda c: c.get("created_at") or ""))

    def list(self) -> list[Amphora]:
        """Every container labelled as built by this project, in creation order."""
        return [self._to_amphora(c) for c in self._pages("list")
                if self._managed(c) and c.get("status") not in _GONE]

    def suspend(self, amphora_id: str) -> None:
        """Pause the container; one already paused or stopped stays as it is."""
        try:
            self._action(amphora_id, "pause", "suspend")
        except AmphoraComputeError as exc:
            if http_status_of(exc.__cause__ or exc) != 409:
                raise
            container = self._get(amphora_id, "suspend")
            if container["status"] in _SUSPENDED:
                return
            raise AmphoraComputeError(
                f"zun suspend {amphora_id}: cannot pause a container that is "
                f"{container['status']}", backend=BACKEND, amphora_id=amphora_id,
                fault=container.get("status_reason"), caller_error=True) from exc
        self._wait_for(amphora_id, "suspend", _SUSPENDED)

    def resume(self, amphora_id: str) -> None:
        """Unpause a paused container, start a stopped one.

        :raises NotSuspendedError: it is neither paused nor stopped.
        """
        container = self._get(amphora_id, "resume")
        action = {"Paused": "unpause", "Stopped": "start"}.get(container["status"])
        if action is None or container.get("task_state"):
            raise NotSuspendedError(f"zun resume {amphora_id}: it is {container['status']}, "
                                    "not suspended", backend=BACKEND, amphora_id=amphora_id)
        try:
            self._action(amphora_id, action, "resume")
        except AmphoraComputeError as exc:
            if http_status_of(exc.__cause__ or exc) == 409:
                raise NotSuspendedError(f"zun resume {amphora_id}: no longer suspended",
                                        backend=BACKEND, amphora_id=amphora_id) from exc
            raise
        self._wait_for(amphora_id, "resume", frozenset({"Running"}))

    def close(self) -> None:
        """Drop the client; a session this driver made itself is closed."""
        self._client.reset()
        with self._lock:
            session, self._own_session = self._own_session, None
        if session is not None:
            with contextlib.suppress(Exception):
                session.session.close()

    def find_by_idempotency_key(self, key: str) -> Amphora | None:
        for container in self._pages("build"):
            labels = container.get("labels") or {}
            if self._managed(container) and labels.get(mapping.LABEL_KEY) == key \
                    and container.get("status") not in _GONE:
                return self._to_amphora(container)
        return None

    def validate_flavor(self, flavor: str) -> None:
        """A flavor name must be in the ``flavors`` option (Zun has no flavors)."""
        if flavor not in self.config.flavors:
            known = ", ".join(sorted(self.config.flavors)) or "none configured"
            raise InvalidRequestError(f"zun: unknown flavor {flavor!r} (known: {known})",
                                      field="flavor")

    def validate_availability_zone(self, availability_zone: str) -> None:
        """Ask Zun for its availability zones."""
        zones = self._read("validate_availability_zone", None,
                           lambda: self._zun().availability_zones.list())
        names = {getattr(z, "availability_zone", None) for z in zones}
        if availability_zone not in names:
            raise InvalidRequestError(
                f"zun: unknown availability zone {availability_zone!r} "
                f"(known: {', '.join(sorted(n for n in names if n)) or 'none'})",
                field="availability_zone")

    # -- private ----------------------------------------------------------------

    def _zun(self) -> Any:
        """The zunclient ``Client``, made on first use (no I/O in ``__init__``)."""
        return self._client.get()

    def _connect(self) -> Any:
        cfg = self.config
        if cfg.cloud:
            from amphora_compute.drivers._openstack import keystone_session

            session = keystone_session({k: getattr(cfg, k) for k in (
                "cloud", "clouds_yaml", "region_name", "timeout", "verify")}, BACKEND)
        elif cfg.auth_type == "token":
            from keystoneauth1 import session as ks_session
            from keystoneauth1 import token_endpoint

            session = ks_session.Session(auth=token_endpoint.Token(cfg.endpoint, cfg.token()),
                                         timeout=cfg.timeout, verify=cfg.verify)
            with self._lock:
                self._own_session = session
        else:
            from amphora_compute.drivers._openstack import keystone_session

            session = keystone_session({"endpoint": cfg.endpoint, "auth_type": "none",
                                        "timeout": cfg.timeout, "verify": cfg.verify}, BACKEND)
        kwargs: dict[str, Any] = {"session": session, "service_type": "container"}
        if cfg.endpoint:
            kwargs["endpoint_override"] = cfg.endpoint
        if cfg.region_name:
            kwargs["region_name"] = cfg.region_name
        try:
            client = zun_client.Client(cfg.api_version, **kwargs)
        except RuntimeError as exc:  # zunclient: no container endpoint in the catalog
            raise BackendUnavailableError(f"zun: cannot find the container endpoint: {exc}",
                                          backend=BACKEND) from exc
        _quiet_create_bodies(client)
        return client

    @contextlib.contextmanager
    def _translate_errors(self, operation: str, amphora_id: str | None = None) -> Iterator[None]:
        """zunclient / keystoneauth exceptions -> the contract's errors, cause kept."""
        try:
            yield
        except _CLIENT_ERRORS as exc:
            raise from_http_status(http_status_of(exc), _message(exc), operation=operation,
                                   backend=BACKEND, amphora_id=amphora_id) from exc

    def _read(self, operation: str, amphora_id: str | None, call: Callable[[], T]) -> T:
        """A read with bounded retries on 5xx / connection errors (the one retry layer)."""
        def attempt() -> T:
            with self._translate_errors(operation, amphora_id):
                return call()

        return retry_backend_failures(attempt, self.config.read_retries)

    def _find(self, amphora_id: str, operation: str) -> dict[str, Any] | None:
        """GET one container; None when Zun says 404."""
        try:
            return self._get(amphora_id, operation)
        except InstanceNotFoundError:
            return None

    def _get(self, amphora_id: str, operation: str) -> dict[str, Any]:
        container = self._read(operation, amphora_id,
                               lambda: self._zun().containers.get(amphora_id))
        if container is None:
            raise InstanceNotFoundError(f"zun: no amphora {amphora_id!r}", backend=BACKEND,
                                        amphora_id=amphora_id)
        return _record(container)

    def _pages(self, operation: str) -> Iterator[dict[str, Any]]:
        """The project's containers, one list request per page (marker / limit)."""
        marker: str | None = None
        size = self.config.page_size
        while True:
            page: Sequence[Any] = self._read(operation, None, functools.partial(
                self._list_page, marker, size))
            for container in page:
                yield _record(container)
            if len(page) < size:
                return
            marker = page[-1].uuid

    def _list_page(self, marker: str | None, size: int) -> Sequence[Any]:
        return list(self._zun().containers.list(marker=marker, limit=size))

    def _action(self, amphora_id: str, action: str, operation: str,
                tolerate_conflict: bool = False) -> None:
        try:
            with self._translate_errors(operation, amphora_id):
                getattr(self._zun().containers, action)(amphora_id)
        except AmphoraComputeError as exc:
            if not (tolerate_conflict and http_status_of(exc.__cause__ or exc) == 409):
                raise

    def _delete_call(self, amphora_id: str, *, stop: bool = False, force: bool = False) -> bool:
        """One DELETE; True when done (or gone), False when Zun's state rules said 409."""
        try:
            with self._translate_errors("delete", amphora_id):
                if force:
                    self._zun().containers.delete(amphora_id, force=True)
                else:
                    self._zun().containers.delete(amphora_id, stop=stop)
        except InstanceNotFoundError:
            LOG.info("zun: delete of %s: already gone", amphora_id)
        except AmphoraComputeError as exc:
            if http_status_of(exc.__cause__ or exc) == 409 and not force:
                return False
            raise
        return True

    def _wait_for(self, amphora_id: str, operation: str, targets: frozenset[str]) -> None:
        """Zun's actions are asynchronous: wait (bounded) until the container shows the result."""
        deadline = time.monotonic() + self.config.action_timeout
        while True:
            container = self._get(amphora_id, operation)
            if container["status"] in targets and not container.get("task_state"):
                return
            if container["status"] == "Error":
                raise AmphoraComputeError(
                    f"zun {operation} {amphora_id}: went to Error: "
                    f"{container.get('status_reason')}", backend=BACKEND,
                    amphora_id=amphora_id, fault=container.get("status_reason"))
            if time.monotonic() >= deadline:
                raise AmphoraComputeError(
                    f"zun {operation} {amphora_id}: still {container['status']} "
                    f"({container.get('task_state')}) after {self.config.action_timeout:.0f} s",
                    backend=BACKEND, amphora_id=amphora_id)
            time.sleep(self.config.poll_interval)

    @staticmethod
    def _managed(container: Mapping[str, Any]) -> bool:
        labels = container.get("labels") or {}
        return labels.get(mapping.LABEL_MANAGED) == mapping.MANAGED_VALUE

    def _require_managed(self, container: Mapping[str, Any], operation: str) -> None:
        if not self._managed(container):
            raise InvalidRequestError(
                f"zun {operation}: container {container.get('uuid')} was not built by "
                "amphora-compute; refusing to touch it", field="amphora_id")

    def _to_amphora(self, container: Mapping[str, Any]) -> Amphora:
        raw = container.get("status")
        status = self.map_status(raw)
        labels = container.get("labels") or {}
        addresses = tuple(
            str(entry["addr"]) for entries in (container.get("addresses") or {}).values()
            for entry in entries if entry.get("addr"))
        flavor = labels.get(mapping.LABEL_FLAVOR) or \
            f"cpu={container.get('cpu')},memory={container.get('memory')}"
        return Amphora(
            id=str(container["uuid"]), name=container.get("name"),
            amphora_type=self.amphora_type, backend=BACKEND, status=status, raw_status=raw,
            fault=container.get("status_reason") if status is AmphoraStatus.ERROR else None,
            addresses=addresses, flavor=flavor, image=container.get("image"),
            created_at=_parse_time(container.get("created_at")),
            availability_zone=labels.get(mapping.LABEL_AZ),
            idempotency_key=labels.get(mapping.LABEL_KEY),
            extra={"task_state": container.get("task_state"),
                   "status_detail": container.get("status_detail"),
                   "status_reason": container.get("status_reason"),
                   "cpu": container.get("cpu"), "memory": container.get("memory"),
                   "disk": container.get("disk"),
                   "server_group": labels.get(mapping.LABEL_SERVER_GROUP),
                   "labels": dict(labels)})


def _quiet_create_bodies(client: Any) -> None:
    """Keep create bodies (file contents, user_data, keys) out of keystoneauth's DEBUG log.

    keystoneauth logs every request as a curl line with its body at DEBUG, and a
    create body carries the config-drive files, user_data and ssh keys (base64
    is not redaction).  zunclient offers no switch, so the client's one
    request method passes keystoneauth's own ``log=False`` for POSTs; other
    requests keep their DEBUG lines.
    """
    http = client.http_client
    send = http._http_request

    def request(url: str, method: str, **kwargs: Any) -> Any:
        if method.upper() == "POST":
            kwargs.setdefault("log", False)
        return send(url, method, **kwargs)

    http._http_request = request


def _record(resource: Any) -> dict[str, Any]:
    """A zunclient resource's data.  ``to_dict()`` deep-copies every container (half the
    time of a 200-container status poll); we only read it, so a shallow copy will do."""
    info = getattr(resource, "_info", None)
    return dict(info) if isinstance(info, dict) else dict(resource.to_dict())


def _message(exc: BaseException) -> str:
    """A short text for an error (Zun's title, never the request body), at most 300 chars."""
    text = getattr(exc, "message", None) if isinstance(exc, zun_exceptions.HttpError) else None
    text = text or str(exc) or type(exc).__name__
    return str(text)[:300]


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
