"""OpenStack Octavia compute driver: VM, container, bare-metal and hardware amphorae.

Using with Octavia
------------------
Install this project into Octavia's environment (with the extras of the
backends you use, e.g. ``pip install 'amphora-compute[nova,ironic]'``) and set
in octavia.conf::

    [controller_worker]
    compute_driver = amphora_compute      # the octavia.compute.drivers entry point

    [amphora_compute]
    config_file = /etc/octavia/amphora-compute.toml

The config file is this project's TOML file.  Octavia's ``[amphora_compute]
config_file`` wins; when it is unset, the ``AMPHORA_COMPUTE_CONFIG``
environment variable; then ``$XDG_CONFIG_HOME/amphora-compute/config.toml``.
It is read once per Octavia process: restart octavia-api and octavia-worker
after changing it.  Its ``[octavia]`` section picks the amphora type of
every build::

    [octavia]
    default_type = "vm"                     # builds no mapping below claims
    [octavia.flavors."amphora-bm"]          # an Octavia compute_flavor
    type = "baremetal"
    flavor = "baremetal-amphora"            # the backend's flavor (default: the key)
    [octavia.availability_zones."rack-7"]   # an Octavia compute_zone
    type = "hardware_lb"                    # optional
    zone = "rack7"                          # the backend's zone (default: the key)

The type comes from the compute flavor's entry, else the zone's, else
``default_type``; a flavor and a zone naming two different types are refused.
A non-empty compute flavor without an entry is refused by ``validate_flavor``
(when the operator creates the flavor profile, HTTP 500 from Octavia's API with
the message) and at build time; ``[controller_worker] amp_flavor_id``, used when
an LB has no Octavia flavor, needs an entry too unless it is empty.  The
backend then validates its own flavor and zone where it can.

What Octavia 19 does with a compute driver, and what this one does:

* It builds the class with no arguments once per flow task and in the API
  process, so ``__init__`` does nothing; the ``Dispatcher`` (drivers, client
  sessions, breakers) is built once per process, on first use, under a lock,
  and shared by every instance and thread; after a fork it is built again.
* ``build`` returns the backend's id; ``get_amphora`` reports ACTIVE / ERROR /
  BUILD (Octavia waits) and ``UNKNOWN`` while the backend is unreachable or its
  breaker open (Octavia polls again rather than reverting at once);
  ``lb_network_ip`` is the backend's first address (``management_network_id``
  cannot select another one: the contract has no per-network addresses);
  ``delete`` of an amphora no backend has is success.
* Server groups (ACTIVE_STANDBY with ``[nova] enable_anti_affinity``): Octavia
  names the group ``octavia-lb-<lb id>``; the group is made on the backend of
  the type that LB's amphorae get (its flavor and zone are read from Octavia's
  database).  A backend without server groups (Zun, Ironic, hardware) raises
  ``NotImplementedError`` and logs a WARNING: that LB goes to ERROR; turn
  anti-affinity off or map such LBs elsewhere.  Deleting a group asks every
  backend that has server groups (an unknown group is success).
* Ports (failover attaches the VIP base port): ``attach_network_or_port`` and
  ``detach_port`` go to the amphora's backend; one without them raises
  ``NotImplementedError`` (logged), so failover works only on such backends.
  Unlike the Nova driver, a failing ``detach_port`` raises (callers catch it).
* With Octavia's noop network driver, attachments are also written where that
  driver looks for them, as Octavia's own noop compute driver does.

Errors become what Octavia's tasks expect: ``ComputeBuildException``,
``ComputeDeleteException``, ``ComputeGetException``, ``ComputeStatusException``,
``ServerGroupObjectCreateException`` / ``...DeleteException``,
``InvalidSubresource`` (validation), ``NotFound(resource='Instance')`` and
``ComputeUnknownException`` (ports).

Octavia loads this module itself; it is the only module of this project that
imports octavia, and nothing else in ``amphora_compute`` imports it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from octavia.common import constants, data_models, exceptions
from octavia.compute import compute_base

from .config import Config, load_config, reject_unknown_keys
from .dispatcher import Dispatcher
from .enums import AmphoraStatus, AmphoraType, Capability
from .errors import (
    AmphoraComputeError,
    BackendUnavailableError,
    CircuitOpenError,
    ConfigError,
    InstanceNotFoundError,
    InvalidRequestError,
)
from .models import Amphora, BuildRequest, Flavor, ImageRef

LOG = logging.getLogger(__name__)

#: Octavia's ``[amphora_compute]`` option group (registered on first use, not at import).
OPTION_GROUP = "amphora_compute"
#: How Octavia names the server group of a load balancer (NovaServerGroupCreate).
SERVER_GROUP_PREFIX = "octavia-lb-"
#: Octavia's ``amphora.image_id`` column is 36 characters long.
IMAGE_ID_MAX = 36

#: Our normalized status -> the compute status Octavia compares against.  Octavia
#: waits for ACTIVE, reverts on ERROR and keeps polling on anything else; the
#: other words are Nova's, which is what Octavia's code and operators know.
STATUS_TO_OCTAVIA: Mapping[AmphoraStatus, str] = {
    AmphoraStatus.BUILDING: "BUILD",
    AmphoraStatus.ACTIVE: constants.ACTIVE,
    AmphoraStatus.SUSPENDED: "SHUTOFF",
    AmphoraStatus.ERROR: constants.ERROR,
    AmphoraStatus.DELETED: constants.DELETED,
    AmphoraStatus.UNKNOWN: "UNKNOWN",
}

_OCTAVIA_KEYS = {"default_type", "flavors", "availability_zones"}
_FLAVOR_KEYS = {"type", "flavor"}
_ZONE_KEYS = {"type", "zone"}


# -- the [octavia] section -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlavorMapping:
    """One Octavia compute flavor: the amphora type and the backend's flavor for it."""

    amphora_type: AmphoraType
    flavor: str


@dataclass(frozen=True, slots=True)
class ZoneMapping:
    """One Octavia compute zone: optionally a type, and the backend's zone name."""

    amphora_type: AmphoraType | None
    zone: str


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one build goes: the amphora type and what its backend is asked for."""

    amphora_type: AmphoraType
    flavor: str | None
    availability_zone: str | None


@dataclass(frozen=True, slots=True)
class OctaviaSettings:
    """The parsed ``[octavia]`` section of this project's config."""

    default_type: AmphoraType = AmphoraType.VM
    flavors: Mapping[str, FlavorMapping] = field(default_factory=dict)
    availability_zones: Mapping[str, ZoneMapping] = field(default_factory=dict)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> OctaviaSettings:
        """Parse ``raw["octavia"]`` (the config's TOML); every error names its key."""
        section = raw.get("octavia", {})
        if not isinstance(section, Mapping):
            raise ConfigError("octavia: must be a table")
        reject_unknown_keys(section, _OCTAVIA_KEYS, "octavia", noun="key")
        default_type = _parse_type(section.get("default_type", "vm"), "octavia.default_type")
        flavors = {}
        for name, table in _subtables(section, "flavors").items():
            where = f'octavia.flavors."{name}"'
            reject_unknown_keys(table, _FLAVOR_KEYS, where, noun="key")
            flavors[name] = FlavorMapping(
                amphora_type=_parse_type(table.get("type", default_type.value), f"{where}.type"),
                flavor=_parse_name(table.get("flavor", name), f"{where}.flavor"))
        zones = {}
        for name, table in _subtables(section, "availability_zones").items():
            where = f'octavia.availability_zones."{name}"'
            reject_unknown_keys(table, _ZONE_KEYS, where, noun="key")
            zone_type = table.get("type")
            zones[name] = ZoneMapping(
                amphora_type=None if zone_type is None
                else _parse_type(zone_type, f"{where}.type"),
                zone=_parse_name(table.get("zone", name), f"{where}.zone"))
        return cls(default_type=default_type, flavors=flavors, availability_zones=zones)

    def resolve(self, compute_flavor: str | None, compute_zone: str | None) -> Placement:
        """The placement of one build.

        The type comes from the flavor's mapping, else the zone's, else
        ``default_type``; a flavor and a zone that map to two different types
        are refused, as is a compute flavor nobody mapped.
        :raises InvalidRequestError: naming the config key to add or fix.
        """
        flavor_map = None
        if compute_flavor:
            flavor_map = self.flavors.get(compute_flavor)
            if flavor_map is None:
                raise InvalidRequestError(
                    f"compute flavor {compute_flavor!r} is not mapped to an amphora type: add "
                    f'[octavia.flavors."{compute_flavor}"] to the amphora-compute config',
                    field="amphora_flavor")
        zone_map = self.availability_zones.get(compute_zone) if compute_zone else None
        if flavor_map and zone_map and zone_map.amphora_type \
                and zone_map.amphora_type is not flavor_map.amphora_type:
            raise InvalidRequestError(
                f"compute flavor {compute_flavor!r} maps to {flavor_map.amphora_type.value} "
                f"amphorae but availability zone {compute_zone!r} to "
                f"{zone_map.amphora_type.value}", field="availability_zone")
        amphora_type = (flavor_map.amphora_type if flavor_map
                        else zone_map.amphora_type if zone_map and zone_map.amphora_type
                        else self.default_type)
        return Placement(
            amphora_type=amphora_type,
            flavor=flavor_map.flavor if flavor_map else None,
            availability_zone=zone_map.zone if zone_map else (compute_zone or None))


def _subtables(section: Mapping[str, Any], key: str) -> Mapping[str, Mapping[str, Any]]:
    tables = section.get(key, {})
    if not isinstance(tables, Mapping):
        raise ConfigError(f"octavia.{key}: must be a table of tables")
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f'octavia.{key}."{name}": must be a table')
    return tables


def _parse_type(value: Any, key: str) -> AmphoraType:
    try:
        return AmphoraType.parse(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _parse_name(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: must be a non-empty string, got {value!r}")
    return value


# -- the per-process shared dispatcher ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Shared:
    dispatcher: Dispatcher
    settings: OctaviaSettings
    config: Config
    pid: int


_shared_lock = threading.Lock()
_shared_state: _Shared | None = None


def config_path() -> str | None:
    """The config file: Octavia's ``[amphora_compute] config_file``, else the usual lookup.

    The usual lookup is the ``AMPHORA_COMPUTE_CONFIG`` environment variable,
    then ``$XDG_CONFIG_HOME/amphora-compute/config.toml`` (``load_config``).
    """
    from oslo_config import cfg

    cfg.CONF.register_opts(list_opts()[0][1], group=OPTION_GROUP)
    try:
        value = cfg.CONF[OPTION_GROUP].config_file
    except cfg.Error:  # CONF not parsed (a script using the class directly)
        return None
    return str(value) if value else None


def list_opts() -> list[tuple[str, list[Any]]]:
    """Octavia-side options, for oslo-config-generator."""
    from oslo_config import cfg

    return [(OPTION_GROUP, [cfg.StrOpt(
        "config_file",
        help="amphora-compute's TOML config file. When unset, the AMPHORA_COMPUTE_CONFIG "
             "environment variable, then $XDG_CONFIG_HOME/amphora-compute/config.toml.")])]


def shared() -> _Shared:
    """This process's dispatcher and settings, built once (and again after a fork)."""
    global _shared_state
    state = _shared_state
    if state is not None and state.pid == os.getpid():
        return state
    with _shared_lock:
        state = _shared_state
        if state is None or state.pid != os.getpid():
            config = load_config(config_path())
            settings = OctaviaSettings.from_raw(config.raw)
            state = _Shared(dispatcher=Dispatcher(config), settings=settings, config=config,
                            pid=os.getpid())
            _shared_state = state
            LOG.info("amphora-compute for Octavia: config %s, default type %s, %d flavor "
                     "and %d zone mapping(s)", config.path or "(built-in default)",
                     settings.default_type.value, len(settings.flavors),
                     len(settings.availability_zones))
        return state


def reset_shared() -> None:
    """Drop this process's dispatcher (tests; a config change needs a restart otherwise)."""
    global _shared_state
    with _shared_lock:
        state, _shared_state = _shared_state, None
    if state is not None and state.pid == os.getpid():
        state.dispatcher.close()


# -- what Octavia gets back ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerGroup:
    """What ``create_server_group`` returns: Octavia reads ``.id``."""

    id: str
    name: str
    policy: str


@dataclass(frozen=True, slots=True)
class Interface:
    """An attached port, shaped like the Nova interface Octavia's network drivers read."""

    id: str
    port_id: str
    net_id: str | None
    fixed_ips: list[dict[str, Any]]
    compute_id: str

    @property
    def network_id(self) -> str | None:
        return self.net_id


# -- the driver ------------------------------------------------------------------------


class AmphoraComputeOctaviaDriver(compute_base.ComputeBase):
    """Octavia's compute driver over this project's dispatcher (any amphora type)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def _dispatcher(self) -> Dispatcher:
        return shared().dispatcher

    @property
    def _settings(self) -> OctaviaSettings:
        return shared().settings

    # -- build / delete / status / get_amphora -------------------------------------------

    def build(self, name: str = "amphora_name", amphora_flavor: str | None = None,
              image_tag: str | None = None, image_owner: str | None = None,
              key_name: str | None = None, sec_groups: list[str] | None = None,
              network_ids: list[str] | None = None, port_ids: list[str] | None = None,
              config_drive_files: Mapping[str, Any] | None = None, user_data: Any = None,
              server_group_id: str | None = None,
              availability_zone: Mapping[str, Any] | None = None) -> str:
        """Build on the backend of the amphora type the flavor/zone map to; return its id.

        :raises ComputeBuildException: the request or the backend failed.
        """
        try:
            placement = self._settings.resolve(amphora_flavor or None,
                                               self._compute_zone(availability_zone))
            request = BuildRequest(
                name=name, amphora_type=placement.amphora_type,
                flavor=Flavor.parse(placement.flavor) if placement.flavor else None,
                image=ImageRef(tag=image_tag, owner=image_owner or None) if image_tag else None,
                key_name=key_name or None, security_groups=tuple(sec_groups or ()),
                network_ids=tuple(network_ids or ()), port_ids=tuple(port_ids or ()),
                availability_zone=placement.availability_zone,
                server_group=server_group_id or None,
                config_drive_files=dict(config_drive_files or {}), user_data=user_data)
            return self._dispatcher.build(request)
        except NotImplementedError as exc:
            LOG.warning("amphora-compute: build of %s is not supported: %s", name, exc)
            raise exceptions.ComputeBuildException(fault=str(exc)) from exc
        except AmphoraComputeError as exc:
            raise exceptions.ComputeBuildException(fault=str(exc)) from exc

    def delete(self, compute_id: str) -> None:
        """Delete wherever it lives; an amphora that is already gone is success."""
        try:
            self._dispatcher.delete(compute_id)
        except AmphoraComputeError as exc:
            raise exceptions.ComputeDeleteException(compute_msg=str(exc)) from exc

    def status(self, compute_id: str) -> str:
        """``constants.UP`` when ACTIVE, else ``constants.DOWN`` (what Octavia's drivers return)."""
        try:
            amphora_status = self._dispatcher.status(compute_id)
        except AmphoraComputeError as exc:
            raise exceptions.ComputeStatusException() from exc
        return str(constants.UP if amphora_status is AmphoraStatus.ACTIVE else constants.DOWN)

    def get_amphora(self, compute_id: str, management_network_id: str | None = None
                    ) -> tuple[data_models.Amphora, str | None]:
        """``(Amphora, fault)`` with the compute status Octavia waits on.

        ``lb_network_ip`` is the backend's management address (the first one
        it reports); the contract has no per-network addresses, so
        ``management_network_id`` does not change it.

        A backend that is unreachable for now (or whose breaker is open) gives
        status ``UNKNOWN`` with the error as the fault: Octavia then polls again
        after ``amp_active_wait_sec``, up to ``amp_active_retries`` times, as it
        does while an amphora builds, instead of reverting at the first hiccup
        (Octavia's Nova driver retries its GET for the same reason).
        :raises ComputeGetException: the amphora is gone, or another error.
        """
        try:
            amphora = self._dispatcher.get_amphora(amphora_id=compute_id)
        except (BackendUnavailableError, CircuitOpenError) as exc:
            LOG.warning("amphora-compute: amphora %s: backend unavailable for now, Octavia "
                        "will poll again: %s", compute_id, exc)
            return data_models.Amphora(compute_id=compute_id,
                                       status=STATUS_TO_OCTAVIA[AmphoraStatus.UNKNOWN]), str(exc)
        except AmphoraComputeError as exc:
            raise exceptions.ComputeGetException() from exc
        return self._to_octavia(amphora), amphora.fault

    # -- server groups ----------------------------------------------------------------

    def create_server_group(self, name: str, policy: str) -> ServerGroup:
        """Create the group on the backend of the type this load balancer's amphorae get.

        Octavia names the group after the load balancer, so its flavor and zone
        (hence its type) are read from Octavia's database.
        :raises NotImplementedError: that backend has no server groups (logged).
        :raises ServerGroupObjectCreateException: the backend failed.
        """
        amphora_type = self._load_balancer_type(name)
        try:
            group_id = self._dispatcher.call_type(amphora_type, "create_server_group",
                                                  name, policy)
        except NotImplementedError as exc:
            LOG.warning("amphora-compute: %s server group %s not supported for %s amphorae "
                        "(backend %s): %s; set [nova] enable_anti_affinity = False or map "
                        "this load balancer's flavor to a type whose backend has server "
                        "groups", policy, name, amphora_type.value,
                        self._dispatcher.backend_for(amphora_type), exc)
            raise
        except AmphoraComputeError as exc:
            raise exceptions.ServerGroupObjectCreateException() from exc
        return ServerGroup(id=str(group_id), name=name, policy=policy)

    def delete_server_group(self, server_group_id: str) -> None:
        """Delete the group on every backend that has server groups (gone = success).

        A group id does not say which backend made it, and deleting an unknown
        group is success, so each such backend (usually one) is asked.
        """
        if not isinstance(server_group_id, str) or not server_group_id:
            # Octavia's revert of a failed create hands over its Failure object.
            LOG.debug("delete_server_group: nothing to delete (%r)", server_group_id)
            return
        try:
            for amphora_type in self._types_with(Capability.SERVER_GROUPS):
                self._dispatcher.call_type(amphora_type, "delete_server_group",
                                           server_group_id)
        except AmphoraComputeError as exc:
            raise exceptions.ServerGroupObjectDeleteException() from exc

    # -- ports ------------------------------------------------------------------------

    def attach_network_or_port(self, compute_id: str, network_id: str | None = None,
                               ip_address: str | None = None,
                               port_id: str | None = None) -> Interface:
        """Attach a port or network to the amphora, on its backend.

        :raises NotFound: the amphora is gone (Octavia's network drivers look for
            'Instance' in the message, as with Nova).
        :raises NotImplementedError: its backend cannot attach ports (logged).
        """
        try:
            port = self._dispatcher.call_amphora(
                compute_id, "attach_network_or_port", network_id=network_id,
                ip_address=ip_address, port_id=port_id)
        except InstanceNotFoundError as exc:
            raise exceptions.NotFound(resource="Instance", id=compute_id) from exc
        except NotImplementedError as exc:
            LOG.warning("amphora-compute: attaching port %s to amphora %s is not supported: "
                        "%s", port_id or network_id, compute_id, exc)
            raise
        except AmphoraComputeError as exc:
            raise exceptions.ComputeUnknownException(exc=str(exc)) from exc
        if port_id:
            _record_noop_network_attachment(compute_id, port_id)
        return Interface(id=str(port.get("port_id") or port_id),
                         port_id=str(port.get("port_id") or port_id),
                         net_id=port.get("network_id") or network_id,
                         fixed_ips=list(port.get("fixed_ips") or []), compute_id=compute_id)

    def detach_port(self, compute_id: str, port_id: str) -> None:
        """Detach a port; an amphora or port that is already gone is success.

        Unlike Octavia's Nova driver, a backend failure is raised, not swallowed
        (Octavia's callers catch and log it).
        """
        try:
            self._dispatcher.call_amphora(compute_id, "detach_port", port_id)
        except InstanceNotFoundError:
            LOG.info("detach_port: amphora %s is gone; port %s is detached", compute_id,
                     port_id)
        except NotImplementedError as exc:
            LOG.warning("amphora-compute: detaching port %s from amphora %s is not "
                        "supported: %s", port_id, compute_id, exc)
            raise
        except AmphoraComputeError as exc:
            raise exceptions.ComputeUnknownException(exc=str(exc)) from exc

    # -- validation (API process, at profile creation and on every LB create) ----------

    def validate_flavor(self, flavor_id: str) -> None:
        """The compute flavor must be mapped; its backend checks the backend flavor.

        :raises InvalidSubresource: not mapped, or the backend has no such flavor.
        """
        try:
            placement = self._settings.resolve(flavor_id, None)
        except InvalidRequestError as exc:
            LOG.info("validate_flavor: %s", exc)
            raise exceptions.InvalidSubresource(
                resource="Compute flavor (not mapped in [octavia.flavors] of the "
                         "amphora-compute config)", id=flavor_id) from exc
        self._validate_on_backend(placement.amphora_type, Capability.VALIDATE_FLAVOR,
                                  "validate_flavor", placement.flavor or flavor_id,
                                  f"{placement.amphora_type.value} flavor")

    def validate_availability_zone(self, availability_zone: str) -> None:
        """The zone's type (mapped, else the default) must know the backend zone.

        :raises InvalidSubresource: the backend has no such zone.
        """
        placement = self._settings.resolve(None, availability_zone)
        self._validate_on_backend(placement.amphora_type,
                                  Capability.VALIDATE_AVAILABILITY_ZONE,
                                  "validate_availability_zone",
                                  placement.availability_zone or availability_zone,
                                  f"{placement.amphora_type.value} availability zone")

    # -- private ------------------------------------------------------------------------

    def _validate_on_backend(self, amphora_type: AmphoraType, capability: Capability,
                             operation: str, value: str, what: str) -> None:
        if capability not in self._capabilities(amphora_type):
            LOG.debug("%s %r: the %s backend cannot check it; accepted", operation, value,
                      amphora_type.value)
            return
        try:
            self._dispatcher.call_type(amphora_type, operation, value)
        except InvalidRequestError as exc:
            LOG.info("%s: %s", operation, exc)
            raise exceptions.InvalidSubresource(resource=what, id=value) from exc

    def _capabilities(self, amphora_type: AmphoraType) -> frozenset[Capability]:
        driver = self._dispatcher.driver(amphora_type)
        return frozenset(driver.capabilities)

    def _types_with(self, capability: Capability) -> list[AmphoraType]:
        """One amphora type per configured backend that declares ``capability``."""
        seen: dict[str, AmphoraType] = {}
        for amphora_type in AmphoraType:
            backend = self._dispatcher.backend_for(amphora_type)
            if backend not in seen and capability in self._capabilities(amphora_type):
                seen[backend] = amphora_type
        return list(seen.values())

    @staticmethod
    def _compute_zone(availability_zone: Mapping[str, Any] | None) -> str | None:
        """The compute zone of Octavia's availability-zone metadata (else Nova's default)."""
        if availability_zone:
            zone = availability_zone.get(constants.COMPUTE_ZONE)
            if zone:
                return str(zone)
        from oslo_config import cfg

        try:
            default = cfg.CONF.nova.availability_zone
        except cfg.Error:
            return None
        return str(default) if default else None

    def _load_balancer_type(self, server_group_name: str) -> AmphoraType:
        """The amphora type of the load balancer a server group is made for.

        Read from Octavia's database (its flavor's compute_flavor and its zone's
        compute_zone); when that fails, the default type, with a warning.
        """
        settings = self._settings
        if not server_group_name.startswith(SERVER_GROUP_PREFIX):
            return settings.default_type
        lb_id = server_group_name[len(SERVER_GROUP_PREFIX):]
        try:
            compute_flavor, compute_zone = _load_balancer_compute(lb_id)
            return settings.resolve(compute_flavor, compute_zone).amphora_type
        except Exception as exc:  # a lookup problem must not hide the group's creation
            LOG.warning("amphora-compute: cannot tell the amphora type of load balancer %s "
                        "(%s); its server group goes to the default type %s", lb_id, exc,
                        settings.default_type.value)
            return settings.default_type

    def _to_octavia(self, amphora: Amphora) -> data_models.Amphora:
        image = amphora.image if amphora.image and len(amphora.image) <= IMAGE_ID_MAX else None
        return data_models.Amphora(
            compute_id=amphora.id,
            status=STATUS_TO_OCTAVIA.get(amphora.status, "UNKNOWN"),
            lb_network_ip=amphora.management_address,
            cached_zone=amphora.availability_zone,
            image_id=image,
            compute_flavor=amphora.flavor)


def _load_balancer_compute(lb_id: str) -> tuple[str | None, str | None]:
    """(compute_flavor, compute_zone) of a load balancer, from Octavia's database."""
    from octavia.db import api as db_api
    from octavia.db import repositories
    from oslo_config import cfg

    flavor_meta: Mapping[str, Any] = {}
    zone_meta: Mapping[str, Any] = {}
    session = db_api.get_session()
    with session.begin():
        lb = repositories.LoadBalancerRepository().get(session, id=lb_id)
        if lb is None:
            raise LookupError(f"no load balancer {lb_id}")
        if lb.flavor_id:
            flavor_meta = repositories.FlavorRepository().get_flavor_metadata_dict(
                session, lb.flavor_id)
        if lb.availability_zone:
            zone_meta = repositories.AvailabilityZoneRepository(
            ).get_availability_zone_metadata_dict(session, lb.availability_zone)
    compute_flavor = flavor_meta.get(constants.COMPUTE_FLAVOR,
                                     cfg.CONF.controller_worker.amp_flavor_id)
    compute_zone = zone_meta.get(constants.COMPUTE_ZONE)
    return (str(compute_flavor) if compute_flavor else None,
            str(compute_zone) if compute_zone else None)


#: Octavia's noop network driver keeps its ports in this sqlite file (a fixed path).
_NOOP_NETWORK_DB = "sqlite:////tmp/octavia-network-noop.db"
_NOOP_NETWORK_DRIVER = "network_noop_driver"


def _record_noop_network_attachment(compute_id: str, port_id: str) -> None:
    """Under Octavia's noop network driver, record the attachment where it looks for it.

    That driver answers ``get_plugged_networks`` from its own sqlite table,
    which Octavia's noop compute driver updates on every attach (with Neutron,
    Neutron itself knows).  Without the same update a failover cannot work on
    the noop network driver, so a compute driver used with it must do this too.
    Nothing happens under any other network driver.
    """
    from oslo_config import cfg

    try:
        if cfg.CONF.controller_worker.network_driver != _NOOP_NETWORK_DRIVER:
            return
    except cfg.Error:
        return
    import sqlalchemy as sa

    engine = sa.create_engine(_NOOP_NETWORK_DB, isolation_level="SERIALIZABLE")
    try:
        table = sa.Table("interfaces", sa.MetaData(), sa.Column("port_id", sa.String(36)),
                         sa.Column("compute_id", sa.String(36)))
        with engine.connect() as connection:
            connection.execute(sa.update(table).where(table.c.port_id == port_id)
                               .values(compute_id=compute_id))
            connection.commit()
    except sa.exc.SQLAlchemyError as exc:
        LOG.warning("noop network driver: cannot record port %s on %s: %s", port_id,
                    compute_id, exc)
    finally:
        engine.dispose()
