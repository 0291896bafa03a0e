"""Noop drivers: the whole lifecycle without a cloud, one plugin per amphora type.

They stand in for the real backends in the dispatcher, the CLI demo, the
contract suite and Octavia's tests, so they are shaped like them: builds are
accepted at once and become ACTIVE after ``build_time``; suspend, resume,
delete and the optional capabilities of the backend each one stands in for
behave as the contract says.  Every call is recorded (operation and id, never
user data) and knobs inject latency and faults.

State lives in memory, or in a JSON file (``state_file``) so that several
processes (``amphora build`` then ``amphora show``; Octavia's API and worker)
see the same amphorae.  The file is guarded by an exclusive ``flock`` and
replaced atomically, so concurrent processes never corrupt it.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import logging
import os
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from amphora_compute import errors
from amphora_compute.config import reject_unknown_keys
from amphora_compute.enums import AmphoraStatus, AmphoraType, Capability
from amphora_compute.errors import (
    AmphoraBuildError,
    ConfigError,
    InstanceNotFoundError,
    InvalidRequestError,
    NotSuspendedError,
)
from amphora_compute.hookspecs import hookimpl
from amphora_compute.interface import AmphoraComputeDriver
from amphora_compute.models import Amphora, BuildRequest
from amphora_compute.registry import DriverSpec

LOG = logging.getLogger(__name__)

_OUTCOMES = ("active", "error", "never_active")
_ERRORS: dict[str, type[Exception]] = {
    "AmphoraComputeError": errors.AmphoraComputeError,
    "AmphoraBuildError": errors.AmphoraBuildError,
    "DeleteFailed": errors.DeleteFailed,
    "BackendUnavailableError": errors.BackendUnavailableError,
    "InstanceNotFoundError": errors.InstanceNotFoundError,
    "TimeoutError": TimeoutError,
    "ConnectionError": ConnectionError,
}


@dataclass(frozen=True, slots=True)
class NoopKnobs:
    """Options of a Noop backend (its ``[backends.noop-*]`` table)."""

    build_time: float = 0.0
    latency: float = 0.0
    build_outcome: str = "active"
    build_fault: str = "simulated build failure"
    fail_build_nth: int = 0
    failure_rate: float = 0.0
    fail_operations: tuple[str, ...] = ()
    error: str = "BackendUnavailableError"
    seed: int | None = None
    state_file: str | None = None
    flavors: tuple[str, ...] = ()
    availability_zones: tuple[str, ...] = ()
    disable_capabilities: tuple[str, ...] = ()
    addresses_prefix: str = "198.51.100."

    @classmethod
    def from_options(cls, options: Mapping[str, Any], backend: str) -> NoopKnobs:
        reject_unknown_keys(options, (f.name for f in fields(cls)), f"backends.{backend}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
        knobs = cls(**values)  # type: ignore[arg-type]  # checked just below
        if knobs.build_outcome not in _OUTCOMES:
            raise ConfigError(f"backends.{backend}.build_outcome: one of {list(_OUTCOMES)}")
        if knobs.error not in _ERRORS:
            raise ConfigError(f"backends.{backend}.error: one of {sorted(_ERRORS)}")
        if not 0.0 <= float(knobs.failure_rate) <= 1.0:
            raise ConfigError(f"backends.{backend}.failure_rate: must be within 0..1")
        for attr in ("build_time", "latency"):
            if float(getattr(knobs, attr)) < 0:
                raise ConfigError(f"backends.{backend}.{attr}: must be >= 0")
        return knobs


@dataclass
class _Store:
    """The Noop backend's world: amphorae, server groups and counters."""

    amphorae: dict[str, dict[str, Any]] = field(default_factory=dict)
    server_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    builds: int = 0


class _MemoryState:
    def __init__(self) -> None:
        self._store = _Store()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def open(self) -> Iterator[_Store]:
        with self._lock:
            yield self._store


class _FileState:
    """A JSON file shared by processes: flock for exclusion, rename for atomicity."""

    def __init__(self, path: str, backend: str) -> None:
        self.path = Path(path).expanduser()
        self.backend = backend
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def open(self) -> Iterator[_Store]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(f"{self.path}.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                everything = self._read()
                mine = everything.get(self.backend, {})
                store = _Store(amphorae=mine.get("amphorae", {}),
                               server_groups=mine.get("server_groups", {}),
                               builds=int(mine.get("builds", 0)))
                before = json.dumps(mine, sort_keys=True)
                yield store
                after = {"amphorae": store.amphorae, "server_groups": store.server_groups,
                         "builds": store.builds}
                if json.dumps(after, sort_keys=True) != before:
                    everything[self.backend] = after
                    self._write(everything)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise errors.AmphoraComputeError(f"noop state file {self.path} is unreadable: "
                                             f"{exc}") from exc
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".noop-state-")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, self.path)


class NoopDriver(AmphoraComputeDriver):
    """The shared Noop lifecycle; subclasses only set who they are and what they can do."""

    backend_name: ClassVar[str] = "noop"
    amphora_type: ClassVar[AmphoraType] = AmphoraType.VM
    STATUS_MAP: ClassVar[Mapping[str, AmphoraStatus]] = {
        "building": AmphoraStatus.BUILDING,
        "active": AmphoraStatus.ACTIVE,
        "suspended": AmphoraStatus.SUSPENDED,
        "error": AmphoraStatus.ERROR,
    }

    def __init__(self, options: Mapping[str, Any] | None = None, *,
                 breakers: Any = None) -> None:
        super().__init__(options, breakers=breakers)
        self.knobs = NoopKnobs.from_options(self.options, self.backend_name)
        #: (operation, amphora id) of the latest calls, bounded for long-lived processes.
        self.calls: collections.deque[tuple[str, str | None]] = collections.deque(maxlen=10000)
        self._random = random.Random(self.knobs.seed)
        self._calls_lock = threading.Lock()
        self._state: _MemoryState | _FileState = (
            _FileState(self.knobs.state_file, self.backend_name) if self.knobs.state_file
            else _MemoryState())

    # -- the contract -------------------------------------------------------

    def build(self, request: BuildRequest) -> str:
        self.check_request(request)
        self._enter("build", None)
        existing = self.existing_build(request)
        if existing is not None:
            return existing
        with self._state.open() as store:
            store.builds += 1
            number = store.builds
        if self.knobs.fail_build_nth and number == self.knobs.fail_build_nth:
            raise AmphoraBuildError(
                f"{self.backend_name}: build #{number} failed (fail_build_nth)",
                backend=self.backend_name)
        with self._state.open() as store:
            amphora_id = str(uuid.uuid4())
            store.amphorae[amphora_id] = {
                "id": amphora_id,
                "name": request.name,
                "created": time.time(),
                "suspended": False,
                "flavor": str(request.flavor) if request.flavor else None,
                "image": str(request.image) if request.image else None,
                "availability_zone": request.availability_zone,
                "server_group": request.server_group,
                "idempotency_key": request.idempotency_key,
                "address": f"{self.knobs.addresses_prefix}{len(store.amphorae) % 250 + 2}",
                "ports": [],
            }
            if request.server_group and request.server_group in store.server_groups:
                store.server_groups[request.server_group]["members"].append(amphora_id)
        LOG.debug("%s: accepted build of %s as %s", self.backend_name, request.name, amphora_id)
        return amphora_id

    def delete(self, amphora_id: str) -> None:
        self._enter("delete", amphora_id)
        with self._state.open() as store:
            if store.amphorae.pop(amphora_id, None) is None:
                LOG.info("%s: delete of %s: already gone", self.backend_name, amphora_id)

    def statuses(self, amphora_ids: Sequence[str]) -> dict[str, Amphora]:
        self._enter("statuses", None)
        with self._state.open() as store:
            return {i: self._to_amphora(store.amphorae[i]) if i in store.amphorae
                    else Amphora.deleted(i, self.amphora_type, self.backend_name)
                    for i in amphora_ids}

    def get_amphora(self, amphora_name: str | None = None,
                    amphora_id: str | None = None) -> Amphora:
        self.require_lookup(amphora_name, amphora_id)
        self._enter("get_amphora", amphora_id)
        with self._state.open() as store:
            if amphora_id:
                record = store.amphorae.get(amphora_id)
            else:
                matches = [r for r in store.amphorae.values() if r["name"] == amphora_name]
                record = max(matches, key=lambda r: r["created"]) if matches else None
            if record is None:
                raise InstanceNotFoundError(
                    f"{self.backend_name}: no amphora {amphora_id or amphora_name!r}",
                    backend=self.backend_name, amphora_id=amphora_id)
            return self._to_amphora(record)

    def list(self) -> list[Amphora]:
        self._enter("list", None)
        with self._state.open() as store:
            return [self._to_amphora(r) for r in
                    sorted(store.amphorae.values(), key=lambda r: r["created"])]

    def suspend(self, amphora_id: str) -> None:
        self._require(Capability.SUSPEND, "suspend")
        self._enter("suspend", amphora_id)
        with self._state.open() as store:
            record = self._record(store, amphora_id)
            status = self._raw_status(record)
            if status not in ("active", "suspended"):
                raise errors.AmphoraComputeError(
                    f"{self.backend_name}: cannot suspend {amphora_id} while it is {status}",
                    backend=self.backend_name, amphora_id=amphora_id, caller_error=True)
            record["suspended"] = True

    def resume(self, amphora_id: str) -> None:
        self._require(Capability.SUSPEND, "resume")
        self._enter("resume", amphora_id)
        with self._state.open() as store:
            record = self._record(store, amphora_id)
            if not record["suspended"]:
                raise NotSuspendedError(f"{self.backend_name}: {amphora_id} is not suspended",
                                        backend=self.backend_name, amphora_id=amphora_id)
            record["suspended"] = False

    def find_by_idempotency_key(self, key: str) -> Amphora | None:
        with self._state.open() as store:
            for record in store.amphorae.values():
                if record.get("idempotency_key") == key:
                    return self._to_amphora(record)
        return None

    # -- optional capabilities ------------------------------------------------

    def create_server_group(self, name: str, policy: str) -> str:
        self._require(Capability.SERVER_GROUPS, "create_server_group")
        if policy not in ("anti-affinity", "affinity", "soft-anti-affinity", "soft-affinity"):
            raise InvalidRequestError(f"unknown policy {policy!r}", field="policy")
        self._enter("create_server_group", None)
        group_id = str(uuid.uuid4())
        with self._state.open() as store:
            store.server_groups[group_id] = {"name": name, "policy": policy, "members": []}
        return group_id

    def delete_server_group(self, server_group_id: str) -> None:
        self._require(Capability.SERVER_GROUPS, "delete_server_group")
        self._enter("delete_server_group", None)
        with self._state.open() as store:
            store.server_groups.pop(server_group_id, None)

    def attach_network_or_port(self, amphora_id: str, network_id: str | None = None,
                               ip_address: str | None = None,
                               port_id: str | None = None) -> dict[str, Any]:
        self._require(Capability.ATTACH_NETWORK, "attach_network_or_port")
        self._enter("attach_network_or_port", amphora_id)
        with self._state.open() as store:
            record = self._record(store, amphora_id)
            port = {"port_id": port_id or str(uuid.uuid4()),
                    "network_id": network_id or str(uuid.uuid4()),
                    "fixed_ips": [{"ip_address": ip_address or "203.0.113.10"}]}
            record["ports"].append(port)
            return port

    def detach_port(self, amphora_id: str, port_id: str) -> None:
        self._require(Capability.ATTACH_NETWORK, "detach_port")
        self._enter("detach_port", amphora_id)
        with self._state.open() as store:
            record = store.amphorae.get(amphora_id)
            if record is not None:
                record["ports"] = [p for p in record["ports"] if p["port_id"] != port_id]

    def validate_flavor(self, flavor: str) -> None:
        self._require(Capability.VALIDATE_FLAVOR, "validate_flavor")
        self._enter("validate_flavor", None)
        if self.knobs.flavors and flavor not in self.knobs.flavors:
            raise InvalidRequestError(f"{self.backend_name}: unknown flavor {flavor!r}",
                                      field="flavor")

    def validate_availability_zone(self, availability_zone: str) -> None:
        self._require(Capability.VALIDATE_AVAILABILITY_ZONE, "validate_availability_zone")
        self._enter("validate_availability_zone", None)
        zones = self.knobs.availability_zones
        if zones and availability_zone not in zones:
            raise InvalidRequestError(
                f"{self.backend_name}: unknown availability zone {availability_zone!r}",
                field="availability_zone")

    # -- private ----------------------------------------------------------------

    def _require(self, capability: Capability, operation: str) -> None:
        if capability not in self.capabilities or \
                capability.value in self.knobs.disable_capabilities:
            raise self.unsupported(operation)

    def _enter(self, operation: str, amphora_id: str | None) -> None:
        """Record the call, then apply the latency and fault knobs."""
        with self._calls_lock:
            self.calls.append((operation, amphora_id))
        if self.knobs.latency:
            time.sleep(self.knobs.latency)
        if self.knobs.failure_rate and (not self.knobs.fail_operations
                                        or operation in self.knobs.fail_operations):
            with self._calls_lock:
                roll = self._random.random()
            if roll < self.knobs.failure_rate:
                error = _ERRORS[self.knobs.error]
                message = f"{self.backend_name}: injected failure in {operation}"
                if issubclass(error, errors.AmphoraComputeError):
                    raise error(message, backend=self.backend_name, amphora_id=amphora_id)
                raise errors.BackendUnavailableError(
                    message, backend=self.backend_name, amphora_id=amphora_id) from error(message)

    def _record(self, store: _Store, amphora_id: str) -> dict[str, Any]:
        record = store.amphorae.get(amphora_id)
        if record is None:
            raise InstanceNotFoundError(f"{self.backend_name}: no amphora {amphora_id!r}",
                                        backend=self.backend_name, amphora_id=amphora_id)
        return record

    def _raw_status(self, record: Mapping[str, Any]) -> str:
        if time.time() - float(record["created"]) < self.knobs.build_time \
                or self.knobs.build_outcome == "never_active":
            return "building"
        if self.knobs.build_outcome == "error":
            return "error"
        return "suspended" if record["suspended"] else "active"

    def _to_amphora(self, record: Mapping[str, Any]) -> Amphora:
        raw = self._raw_status(record)
        return Amphora(
            id=record["id"], name=record["name"], amphora_type=self.amphora_type,
            backend=self.backend_name, status=self.map_status(raw), raw_status=raw,
            fault=self.knobs.build_fault if raw == "error" else None,
            addresses=(record["address"],), flavor=record["flavor"], image=record["image"],
            created_at=datetime.fromtimestamp(float(record["created"]), UTC),
            availability_zone=record.get("availability_zone"),
            idempotency_key=record.get("idempotency_key"),
            extra={"server_group": record.get("server_group"), "ports": record.get("ports", [])})


_COMMON = frozenset({Capability.SUSPEND, Capability.VALIDATE_FLAVOR})


class NoopVMDriver(NoopDriver):
    """Stands in for Nova: every optional capability."""

    backend_name = "noop-vm"
    amphora_type = AmphoraType.VM
    capabilities = frozenset(Capability)


class NoopContainerDriver(NoopDriver):
    """Stands in for Zun."""

    backend_name = "noop-container"
    amphora_type = AmphoraType.CONTAINER
    capabilities = _COMMON | {Capability.VALIDATE_AVAILABILITY_ZONE, Capability.IMAGE_TAGS}


class NoopBaremetalDriver(NoopDriver):
    """Stands in for Ironic."""

    backend_name = "noop-baremetal"
    amphora_type = AmphoraType.BAREMETAL
    capabilities = _COMMON | {Capability.CONFIG_DRIVE}


class NoopHardwareLBDriver(NoopDriver):
    """Stands in for a hardware load-balancer slot."""

    backend_name = "noop-hardware-lb"
    amphora_type = AmphoraType.HARDWARE_LB
    capabilities = frozenset({Capability.SUSPEND})


NOOP_DRIVERS: tuple[type[NoopDriver], ...] = (
    NoopVMDriver, NoopContainerDriver, NoopBaremetalDriver, NoopHardwareLBDriver)


@hookimpl
def amphora_compute_drivers() -> list[DriverSpec]:
    return [DriverSpec(backend=cls.backend_name, amphora_type=cls.amphora_type,
                       target=f"{__name__}:{cls.__name__}",
                       description=(cls.__doc__ or "").strip().splitlines()[0])
            for cls in NOOP_DRIVERS]
