"""``HardwareDriver``: load-balancer amphorae as slots on SSH-managed devices (netmiko).

What an amphora is here: a slot on a device the operator declared.  For a
Linux appliance, a network namespace with its own veth and HAProxy; for F5
BIG-IP, A10 ACOS and Citrix ADC, a partition holding the amphora's objects.
How each family is driven lives in a hardware profile (a TOML data file, see
``profiles.py``); this module holds only what every family shares.

* Amphora ids are ``<device>:<slot>``.  Slot names are short random names that
  fit every family's limits (A10 partitions: 14 characters); the amphora's
  name, idempotency key and slot index are stored on the device with the slot
  (the stored mapping), so any controller process can read them back.
* ``build`` validates and renders every command before any connection, picks
  a device (``scheduler``), then, under that device's lock, reads the slots,
  allocates an index and a name, and runs the profile's build steps.  It
  returns once the device accepted them; if any step fails, the slot is
  removed again (the profile's delete commands) before the error is raised.
* ``statuses`` costs one command per device, whatever the number of ids.
* One breaker per device (``hardware:<device>``): a dead device opens its own
  breaker, the scheduler stops picking it, the others keep serving.

Options (``[backends.hardware]`` in the config)::

    devices = [{name, host, port = 22, username, key_file | password_env, profile,
                capacity, known_hosts, trust_on_first_use = false,
                connect_timeout = 10, command_timeout = <profile's>,
                availability_zone, slot_network, slot_address_offset = 10,
                params = {...}}]
    profile_paths = []      # extra profile files (vendor families are found by the hook)
    idle_timeout = 60       # close a device's session after this long unused
    lock_timeout = 60       # wait at most this long for a busy device
    session_log_dir = ""    # netmiko session logs (passwords are masked by netmiko)
"""

from __future__ import annotations

import builtins
import ipaddress
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from amphora_compute.enums import AmphoraStatus, AmphoraType, Capability
from amphora_compute.errors import (
    AmphoraBuildError,
    AmphoraComputeError,
    CircuitOpenError,
    ConfigError,
    DeleteFailed,
    InstanceNotFoundError,
    InvalidRequestError,
    NotSuspendedError,
)
from amphora_compute.interface import AmphoraComputeDriver
from amphora_compute.models import NAME_PATTERN, Amphora, BuildRequest

from . import scheduler
from .profiles import (
    BUILTIN_PATTERNS,
    Profile,
    decode_meta,
    encode_meta,
    load_profiles,
    placeholders,
    slot_address,
)
from .sessions import (
    Channel,
    DeviceConfig,
    DeviceSession,
    DeviceUnreachableError,
    SessionPool,
    UnexpectedOutputError,
    excerpt,
)

if TYPE_CHECKING:
    from amphora_compute.breakers import BreakerRegistry

LOG = logging.getLogger(__name__)
T = TypeVar("T")

BACKEND = "hardware"
_DEVICE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]{0,252}")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_ID = re.compile(r"(?P<device>[a-z0-9][a-z0-9_-]{0,31}):(?P<slot>[a-z][a-z0-9]{2,31})")
_DEVICE_KEYS = {
    "name", "host", "port", "username", "key_file", "password_env", "profile", "capacity",
    "known_hosts", "trust_on_first_use", "connect_timeout", "command_timeout",
    "availability_zone", "slot_network", "slot_address_offset", "params",
}
_OPTION_KEYS = {"devices", "profile_paths", "idle_timeout", "lock_timeout", "session_log_dir"}

_profile_cache: dict[str, Profile] | None = None
_profile_errors: list[str] = []
_profile_lock = threading.Lock()


def plugin_profiles(refresh: bool = False) -> dict[str, Profile]:
    """Every profile the plugins declare (built-ins and vendors alike), loaded once.

    A broken or duplicated file is left out and logged at WARNING (one vendor's
    mistake must not take the other families down); a device that names a
    family which failed to load gets a ConfigError quoting the problem.
    """
    global _profile_cache
    with _profile_lock:
        if _profile_cache is None or refresh:
            from amphora_compute.plugins import load_plugins

            profiles: dict[str, Profile] = {}
            errors: list[str] = []
            for plugin, source in load_plugins().hardware_profiles():
                try:
                    profile = load_profiles([source])
                except ConfigError as exc:
                    errors.append(f"plugin {plugin}: {exc}")
                    continue
                for family, loaded in profile.items():
                    if family in profiles:
                        errors.append(f"plugin {plugin}: family {family!r} in {loaded.source} "
                                      f"is already defined by {profiles[family].source}")
                        continue
                    profiles[family] = loaded
            for error in errors:
                LOG.warning("hardware profile left out: %s", error)
            _profile_cache = profiles
            _profile_errors[:] = errors
        return dict(_profile_cache)


@dataclass(frozen=True, slots=True)
class HardwareOptions:
    """The driver's options, parsed and checked (no I/O beyond reading profile files)."""

    devices: tuple[DeviceConfig, ...]
    profile_paths: tuple[str, ...] = ()
    idle_timeout: float = 60.0
    lock_timeout: float = 60.0
    session_log_dir: str | None = None

    @classmethod
    def parse(cls, options: Mapping[str, Any],
              profiles: Mapping[str, Profile]) -> HardwareOptions:
        unknown = set(options) - _OPTION_KEYS
        if unknown:
            raise ConfigError(f"hardware: unknown option(s) {sorted(unknown)}")
        raw_devices = options.get("devices", [])
        if not isinstance(raw_devices, list | tuple):
            raise ConfigError("hardware.devices must be a list of tables")
        devices = tuple(_parse_device(i, raw, profiles) for i, raw in enumerate(raw_devices))
        names = [d.name for d in devices]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ConfigError(f"hardware.devices: names used twice: {sorted(dup)}")
        log_dir = options.get("session_log_dir") or None
        if log_dir is not None and not isinstance(log_dir, str):
            raise ConfigError("hardware.session_log_dir must be a path")
        return cls(devices=devices,
                   profile_paths=tuple(_str_list(options.get("profile_paths", []),
                                                 "hardware.profile_paths")),
                   idle_timeout=_seconds(options, "idle_timeout", 60.0, "hardware"),
                   lock_timeout=_seconds(options, "lock_timeout", 60.0, "hardware"),
                   session_log_dir=log_dir)


@dataclass(frozen=True, slots=True)
class _Slot:
    """One slot as read back from a device."""

    device: str
    slot: str
    raw_state: str | None
    status: AmphoraStatus
    name: str | None = None
    key: str | None = None
    index: int | None = None


class _DeviceFull(Exception):
    """The chosen device filled up between scheduling and building (try the next one)."""


class DeviceRefusedError(UnexpectedOutputError):
    """The device answered a command with one of the profile's error patterns."""


class HardwareDriver(AmphoraComputeDriver):
    """Slots on dedicated load-balancer devices, driven over SSH by hardware profiles."""

    backend_name: ClassVar[str] = BACKEND
    amphora_type: ClassVar[AmphoraType] = AmphoraType.HARDWARE_LB
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SUSPEND, Capability.VALIDATE_AVAILABILITY_ZONE})
    #: The raw states of the built-in families (each profile carries its own map).
    STATUS_MAP: ClassVar[Mapping[str, AmphoraStatus]] = {
        "OPEN": AmphoraStatus.ACTIVE, "FULL": AmphoraStatus.ACTIVE,
        "PAUSED": AmphoraStatus.SUSPENDED, "STOP": AmphoraStatus.SUSPENDED,
        "building": AmphoraStatus.BUILDING, "down": AmphoraStatus.ERROR,
        "nosocket": AmphoraStatus.ERROR, "incomplete": AmphoraStatus.ERROR,
        "enabled": AmphoraStatus.ACTIVE, "disabled": AmphoraStatus.SUSPENDED,
        "enable": AmphoraStatus.ACTIVE, "disable": AmphoraStatus.SUSPENDED,
    }
    guards_own_breakers: ClassVar[bool] = True

    def __init__(self, options: Mapping[str, Any] | None = None, *,
                 breakers: BreakerRegistry | None = None) -> None:
        if breakers is None:
            from amphora_compute.breakers import BreakerRegistry

            breakers = BreakerRegistry()
        super().__init__(options, breakers=breakers)
        self.registry: BreakerRegistry = breakers
        raw = dict(self.options)
        profiles = plugin_profiles()
        extra = _str_list(raw.get("profile_paths", []), "hardware.profile_paths")
        if extra:
            for family, profile in load_profiles(Path(p) for p in extra).items():
                if family in profiles:
                    raise ConfigError(f"hardware.profile_paths: family {family!r} in "
                                      f"{profile.source} is already defined by "
                                      f"{profiles[family].source}")
                profiles[family] = profile
        self.profiles: dict[str, Profile] = profiles
        self.config = HardwareOptions.parse(raw, profiles)
        self.devices: dict[str, DeviceConfig] = {d.name: d for d in self.config.devices}
        self._device_values = {d.name: profiles[d.profile].values_for_device(d.params, d.name)
                               for d in self.config.devices}
        self.sessions = SessionPool(
            {d.name: DeviceSession(d, profiles[d.profile],
                                   lock_timeout=self.config.lock_timeout,
                                   idle_timeout=self.config.idle_timeout,
                                   session_log_dir=self.config.session_log_dir,
                                   prep_values=self._device_values[d.name])
             for d in self.config.devices},
            idle_timeout=self.config.idle_timeout)

    # -- the contract -------------------------------------------------------------

    def build(self, request: BuildRequest) -> str:
        self.check_request(request)
        candidates = [d for d in self.config.devices
                      if not request.availability_zone
                      or d.availability_zone == request.availability_zone]
        if not candidates:
            raise InvalidRequestError(f"no hardware device is in availability zone "
                                      f"{request.availability_zone!r}",
                                      field="availability_zone")
        # Everything a device will see is checked and rendered before any connection.
        prepared = {d.name: self._prepare(d, request) for d in candidates}
        existing = self.existing_build(request)
        if existing is not None:
            return str(existing)
        loads = self._loads(candidates)
        for name in scheduler.order(loads):
            try:
                return self._build_on(self.devices[name], request, prepared[name])
            except _DeviceFull:
                LOG.info("hardware: device %s is full; trying the next", name)
                loads = [scheduler.DeviceLoad(x.name, x.capacity, amphorae=x.capacity)
                         if x.name == name else x for x in loads]
        raise scheduler.no_device_error(loads, name=request.name)

    def delete(self, amphora_id: str) -> None:
        parsed = self._parse_id(amphora_id)
        if parsed is None:
            LOG.info("hardware: delete of %r: no such amphora (nothing to do)", amphora_id)
            return
        device, slot = parsed
        profile = self.profiles[device.profile]
        commands = self._render_all(device, profile.delete, {"slot": slot})

        def op(channel: Channel) -> int:
            gone = 0
            for command in commands:
                gone += self._send_checked(channel, device, command, "delete")
            return gone

        try:
            gone = self._on_device(device, op)
        except UnexpectedOutputError as exc:
            raise DeleteFailed(f"hardware: delete of {amphora_id} failed on device "
                               f"{device.name}: {exc}", backend=BACKEND, amphora_id=amphora_id,
                               fault=exc.fault) from exc
        if gone == len(commands):
            LOG.info("hardware: %s was already gone", amphora_id)
        else:
            LOG.info("hardware: deleted %s", amphora_id)

    def statuses(self, amphora_ids: Sequence[str]) -> dict[str, Amphora]:
        by_device: dict[str, list[str]] = {}
        answer: dict[str, Amphora] = {}
        for amphora_id in amphora_ids:
            parsed = self._parse_id(amphora_id)
            if parsed is None:
                answer[amphora_id] = Amphora.deleted(amphora_id, self.amphora_type, BACKEND)
            else:
                by_device.setdefault(parsed[0].name, []).append(amphora_id)
        for name, ids in by_device.items():
            device = self.devices[name]
            try:
                slots = self._read_device(device)
            except (DeviceUnreachableError, CircuitOpenError, UnexpectedOutputError) as exc:
                for amphora_id in ids:
                    answer[amphora_id] = Amphora(
                        id=amphora_id, name=None, amphora_type=self.amphora_type,
                        backend=BACKEND, status=AmphoraStatus.UNKNOWN,
                        fault=f"device {name}: {exc}", extra={"device": name})
                continue
            for amphora_id in ids:
                slot = slots.get(self._parse_id(amphora_id)[1])  # type: ignore[index]
                answer[amphora_id] = (self._to_amphora(device, slot) if slot is not None
                                      else Amphora.deleted(amphora_id, self.amphora_type,
                                                           BACKEND))
        return answer

    def get_amphora(self, amphora_name: str | None = None,
                    amphora_id: str | None = None) -> Amphora:
        self.require_lookup(amphora_name, amphora_id)
        if amphora_id:
            parsed = self._parse_id(amphora_id)
            if parsed is not None:
                device, slot_name = parsed
                slot = self._read_device(device).get(slot_name)
                if slot is not None:
                    return self._to_amphora(device, slot)
            raise InstanceNotFoundError(f"hardware: no amphora {amphora_id}", backend=BACKEND,
                                        amphora_id=amphora_id)
        assert amphora_name is not None
        if not NAME_PATTERN.match(amphora_name):
            raise InvalidRequestError(f"{amphora_name!r} is not a valid amphora name",
                                      field="amphora_name")
        found, failures = self._search(lambda s: s.name == amphora_name)
        if found:
            return found[0]
        if failures:
            raise failures[0]
        raise InstanceNotFoundError(f"hardware: no amphora named {amphora_name!r}",
                                    backend=BACKEND)

    def list(self) -> builtins.list[Amphora]:
        found, failures = self._search(lambda s: True)
        if failures:
            raise failures[0]
        return found

    def suspend(self, amphora_id: str) -> None:
        self._toggle(amphora_id, "suspend")

    def resume(self, amphora_id: str) -> None:
        self._toggle(amphora_id, "resume")

    def validate_availability_zone(self, availability_zone: str) -> None:
        zones = {d.availability_zone for d in self.config.devices if d.availability_zone}
        if availability_zone not in zones:
            raise InvalidRequestError(f"no hardware device is in availability zone "
                                      f"{availability_zone!r} (known: {sorted(zones)})",
                                      field="availability_zone")

    def close(self) -> None:
        self.sessions.close()

    def find_by_idempotency_key(self, key: str) -> Amphora | None:
        found, failures = self._search(lambda s: s.key == key)
        for failure in failures:
            LOG.warning("hardware: idempotency key check skipped a device: %s", failure)
        return found[0] if found else None

    # -- extras ---------------------------------------------------------------------

    def ex_device_loads(self) -> builtins.list[scheduler.DeviceLoad]:
        """What the scheduler would see now (for the CLI and for operators)."""
        return self._loads(list(self.config.devices))

    def ex_list(self, device: str) -> builtins.list[Amphora]:
        """The amphorae on one device (one command), even while other devices are down."""
        config = self.devices.get(device)
        if config is None:
            raise InvalidRequestError(f"no hardware device named {device!r}", field="device")
        return [self._to_amphora(config, s) for s in self._read_device(config).values()]

    def ex_connections(self, device: str) -> int:
        """How many SSH connections the driver has opened to ``device`` so far."""
        return self.sessions[device].connects

    # -- private: build ------------------------------------------------------------

    def _prepare(self, device: DeviceConfig, request: BuildRequest) -> dict[str, str]:
        """Check every request value against the family's patterns; dry-render everything.

        Runs before any connection: worst-case slot, index and address stand in
        for what the device will allocate, so a too-long command is refused now.
        """
        profile = self.profiles[device.profile]
        if profile.config_files == "refuse" and (request.config_drive_files
                                                  or request.user_data):
            raise InvalidRequestError(f"the {profile.family} family cannot take config-drive "
                                      "files or user data", field="config_drive_files")
        values = dict(self._device_values[device.name])
        values.update(profile.values_for_request(request.metadata))
        values["name"] = request.name
        values["key"] = request.idempotency_key or "-"
        profile.check_builtin({"name": values["name"], "key": values["key"]})
        dry = dict(values)
        dry.update(self._slot_values(device, profile.naming.prefix.ljust(
            profile.naming.length, "z"), device.capacity, request))
        for step in profile.build:
            if step.command is not None:
                profile.render_command(step.command, dry)
        for template in profile.delete:
            profile.render_command(template, dry)
        for spec in profile.files.values():
            profile.render_file(spec, dry)
        return values

    def _slot_values(self, device: DeviceConfig, slot: str, index: int,
                     request: BuildRequest) -> dict[str, str]:
        values = {"slot": slot, "index": str(index),
                  "meta": encode_meta(request.name, request.idempotency_key, index)}
        if device.slot_network:
            address, prefixlen = slot_address(device.slot_network, device.slot_address_offset,
                                              index)
            values.update(address=address, prefixlen=prefixlen)
        return values

    def _build_on(self, device: DeviceConfig, request: BuildRequest,
                  values: Mapping[str, str]) -> str:
        profile = self.profiles[device.profile]
        state: dict[str, Any] = {}

        def op(channel: Channel) -> str:
            slots = self._parse_slots(device, self._send_list(channel, device))
            if len(slots) >= device.capacity:
                raise _DeviceFull()
            used = {s.index for s in slots.values() if s.index is not None}
            index = min(set(range(1, device.capacity + 1)) - used)
            slot = self._new_slot_name(profile, set(slots))
            full = dict(values)
            full.update(self._slot_values(device, slot, index, request))
            profile.check_builtin(full)
            state["values"] = full
            plan = self._render_build(device, profile, full, request)
            try:
                for kind, item in plan:
                    if kind == "command":
                        self._send_checked(channel, device, item, "build")
                    else:
                        path, data, mode = item
                        if kind == "mkdir":
                            channel.makedirs(path)
                        else:
                            channel.upload(path, data, mode)
            except UnexpectedOutputError:
                channel.reset()
                self._rollback(channel, device, full)
                raise
            return f"{device.name}:{slot}"

        try:
            amphora_id: str = self._on_device(device, op)
        except UnexpectedOutputError as exc:
            raise AmphoraBuildError(f"hardware: build of {request.name!r} on device "
                                    f"{device.name} failed and was rolled back: {exc}",
                                    backend=BACKEND, fault=exc.fault) from exc
        except DeviceUnreachableError:
            if "values" in state:
                self._rollback_later(device, state["values"])
            raise
        LOG.info("hardware: built %s (%s) on %s", amphora_id, request.name, device.name)
        return amphora_id

    def _render_build(self, device: DeviceConfig, profile: Profile, values: Mapping[str, str],
                      request: BuildRequest) -> builtins.list[tuple[str, Any]]:
        """Every step of the build, rendered (commands quoted, files filled) up front."""
        plan: builtins.list[tuple[str, Any]] = []
        for step in profile.build:
            if step.command is not None:
                plan.append(("command", profile.render_command(step.command, values)))
            elif step.upload == "@config_files":
                plan.extend(self._config_file_steps(device, profile, values, request))
            else:
                path, data = profile.render_file(profile.files[step.upload or ""], values)
                plan.append(("upload", (path, data, profile.files[step.upload or ""].mode)))
        return plan

    def _config_file_steps(self, device: DeviceConfig, profile: Profile,
                           values: Mapping[str, str],
                           request: BuildRequest) -> builtins.list[tuple[str, Any]]:
        files = dict(request.config_drive_files)
        if not files and request.user_data is None:
            return []
        if profile.config_files != "sftp" or not profile.config_files_dir:
            LOG.info("hardware: the %s family has no file channel: %d config-drive file(s) "
                     "and user data (%s) not delivered to %s", profile.family, len(files),
                     "given" if request.user_data is not None else "none", device.name)
            return []
        root = profile.render_command(profile.config_files_dir, values)
        steps: builtins.list[tuple[str, Any]] = [("mkdir", (root, b"", 0o700))]
        for path, data in sorted(files.items()):
            parent = os.path.dirname(root + path)
            steps.append(("mkdir", (parent, b"", 0o700)))
            steps.append(("upload", (root + path, data, 0o600)))
        if request.user_data is not None:
            steps.append(("upload", (root + "/user_data", request.user_data, 0o600)))
        return steps

    def _rollback(self, channel: Channel, device: DeviceConfig,
                  values: Mapping[str, str]) -> None:
        """Remove a half-built slot on the same session; log (never raise) a failure."""
        profile = self.profiles[device.profile]
        try:
            for template in profile.delete:
                self._send_checked(channel, device, profile.render_command(template, values),
                                   "delete")
        except Exception as exc:  # noqa: BLE001 - the build error is the one to raise
            LOG.warning("hardware: rollback of slot %s on %s failed (%s); it may be left "
                        "behind", values.get("slot"), device.name, exc)

    def _rollback_later(self, device: DeviceConfig, values: Mapping[str, str]) -> None:
        """The session broke mid-build: try the rollback once on a fresh session."""
        try:
            self.sessions.run(device.name,
                              lambda channel: self._rollback(channel, device, values))
        except Exception as exc:  # noqa: BLE001
            LOG.warning("hardware: slot %s on %s could not be rolled back (%s); delete "
                        "%s:%s once the device is back", values.get("slot"), device.name,
                        exc, device.name, values.get("slot"))

    @staticmethod
    def _new_slot_name(profile: Profile, taken: set[str]) -> str:
        naming = profile.naming
        for _ in range(20):
            tail = "".join(secrets.choice(naming.alphabet)
                           for _ in range(naming.length - len(naming.prefix)))
            slot = naming.prefix + tail
            if slot not in taken:
                return slot
        raise AmphoraBuildError("hardware: could not find a free slot name", backend=BACKEND)

    def _loads(self, devices: Sequence[DeviceConfig]) -> builtins.list[scheduler.DeviceLoad]:
        loads: builtins.list[scheduler.DeviceLoad] = []
        for device in devices:
            if not self.registry.is_closed(_breaker(device)):
                loads.append(scheduler.DeviceLoad(device.name, device.capacity,
                                                  unavailable="breaker open"))
                continue
            if len(devices) == 1:
                # Nothing to compare: the build counts the slots under the device lock.
                loads.append(scheduler.DeviceLoad(device.name, device.capacity, amphorae=0))
                continue
            try:
                count = len(self._read_device(device))
            except (AmphoraComputeError, OSError) as exc:
                LOG.warning("hardware: device %s left out of scheduling: %s", device.name, exc)
                loads.append(scheduler.DeviceLoad(device.name, device.capacity,
                                                  unavailable=str(exc)[:200]))
                continue
            loads.append(scheduler.DeviceLoad(device.name, device.capacity, amphorae=count))
        return loads

    # -- private: reading ------------------------------------------------------------

    def _toggle(self, amphora_id: str, op_name: str) -> None:
        parsed = self._parse_id(amphora_id)
        if parsed is None:
            raise InstanceNotFoundError(f"hardware: no amphora {amphora_id}", backend=BACKEND,
                                        amphora_id=amphora_id)
        device, slot_name = parsed
        profile = self.profiles[device.profile]
        templates = profile.suspend if op_name == "suspend" else profile.resume
        commands = self._render_all(device, templates, {"slot": slot_name})

        def op(channel: Channel) -> None:
            slot = self._parse_slots(device, self._send_list(channel, device)).get(slot_name)
            if slot is None:
                raise InstanceNotFoundError(f"hardware: no amphora {amphora_id}",
                                            backend=BACKEND, amphora_id=amphora_id)
            if op_name == "resume" and slot.status is not AmphoraStatus.SUSPENDED:
                raise NotSuspendedError(f"hardware: {amphora_id} is {slot.status.value}, not "
                                        "suspended", backend=BACKEND, amphora_id=amphora_id)
            for command in commands:
                self._send_checked(channel, device, command, op_name)

        try:
            self._on_device(device, op)
        except UnexpectedOutputError as exc:
            raise AmphoraComputeError(f"hardware: {op_name} of {amphora_id} failed: {exc}",
                                      backend=BACKEND, amphora_id=amphora_id,
                                      fault=exc.fault) from exc
        LOG.info("hardware: %s %s", "suspended" if op_name == "suspend" else "resumed",
                 amphora_id)

    def _search(self, match: Callable[[_Slot], bool]
                ) -> tuple[builtins.list[Amphora], builtins.list[AmphoraComputeError]]:
        found: builtins.list[Amphora] = []
        failures: builtins.list[AmphoraComputeError] = []
        for device in self.config.devices:
            try:
                slots = self._read_device(device)
            except AmphoraComputeError as exc:
                failures.append(exc)
                continue
            found.extend(self._to_amphora(device, s) for s in slots.values() if match(s))
        return found, failures

    def _read_device(self, device: DeviceConfig) -> dict[str, _Slot]:
        """Every slot on one device: one command, retried once on a dropped session."""
        output = self._on_device(device, lambda ch: self._send_list(ch, device),
                                 idempotent=True)
        return self._parse_slots(device, output)

    def _send_list(self, channel: Channel, device: DeviceConfig) -> str:
        profile = self.profiles[device.profile]
        command = profile.render_command(profile.list.command, self._device_values[device.name])
        output = channel.send(command)
        self._raise_on_error(device, output, "list")
        return output

    def _parse_slots(self, device: DeviceConfig, output: str) -> dict[str, _Slot]:
        profile = self.profiles[device.profile]
        spec = profile.list
        slots: dict[str, _Slot] = {}
        if spec.split is None:
            for line in output.splitlines():
                line = line.rstrip()
                found = spec.record.match(line)
                if found is not None:
                    self._add_slot(slots, device, profile, found)
                elif not any(p.search(line) for p in spec.skip):
                    raise self._garbage(device, "list", output)
            return slots
        parts = spec.split.split(output)
        for line in parts[0].splitlines():
            if line.strip() and not any(p.search(line) for p in spec.skip):
                raise self._garbage(device, "list", output)
        for chunk in parts[1:]:
            found = spec.record.match(chunk)
            if found is not None:
                self._add_slot(slots, device, profile, found)
                continue
            first = chunk.splitlines()[0].strip() if chunk.strip() else ""
            if profile.naming.pattern.fullmatch(first):
                slots[first] = _Slot(device.name, first, "incomplete", AmphoraStatus.ERROR)
            elif not all(any(p.search(line) for p in spec.skip)
                         for line in chunk.splitlines()[1:] if line.strip()):
                raise self._garbage(device, "list", output)
        return slots

    def _add_slot(self, slots: dict[str, _Slot], device: DeviceConfig, profile: Profile,
                  found: re.Match[str]) -> None:
        slot = found["slot"]
        if not profile.naming.pattern.fullmatch(slot):
            return  # an object the operator made; not one of ours
        raw = found["state"] or profile.list.state_default
        meta = decode_meta(found["meta"] or "")
        if meta is None:
            slots[slot] = _Slot(device.name, slot, "incomplete", AmphoraStatus.ERROR)
            return
        name, key, index = meta
        slots[slot] = _Slot(device.name, slot, raw, profile.status_of(raw), name, key, index)

    def _to_amphora(self, device: DeviceConfig, slot: _Slot) -> Amphora:
        addresses: tuple[str, ...] = ()
        if device.slot_network and slot.index is not None:
            addresses = (slot_address(device.slot_network, device.slot_address_offset,
                                      slot.index)[0],)
        fault = None
        if slot.status in (AmphoraStatus.ERROR, AmphoraStatus.UNKNOWN):
            fault = f"device {device.name} reports slot {slot.slot} as {slot.raw_state}"
        return Amphora(id=f"{device.name}:{slot.slot}", name=slot.name,
                       amphora_type=self.amphora_type, backend=BACKEND, status=slot.status,
                       raw_status=slot.raw_state, fault=fault, addresses=addresses,
                       availability_zone=device.availability_zone,
                       idempotency_key=slot.key,
                       extra={"device": device.name, "slot": slot.slot,
                              "family": device.profile, "index": slot.index})

    # -- private: commands and errors -------------------------------------------------

    def _on_device(self, device: DeviceConfig, operation: Callable[[Channel], T], *,
                   idempotent: bool = False) -> T:
        with self.registry.guard(_breaker(device)):
            return self.sessions.run(device.name, operation, idempotent=idempotent)

    def _send_checked(self, channel: Channel, device: DeviceConfig, command: str,
                      op_name: str) -> int:
        """Run a changing command; 1 when the device said "not found" (delete: gone)."""
        profile = self.profiles[device.profile]
        output = channel.send(command)
        if any(p.search(output) for p in profile.not_found_patterns):
            if op_name == "delete":
                return 1
            raise DeviceRefusedError(f"device {device.name}: not found: {excerpt(output)!r}",
                                     backend=BACKEND, fault=excerpt(output))
        self._raise_on_error(device, output, op_name)
        if not profile.exit_status:
            stray = [line for line in output.splitlines() if line.strip()
                     and not re.fullmatch(r"\s*Done\s*", line)]
            if stray:
                raise self._garbage(device, op_name, output)
        return 0

    def _raise_on_error(self, device: DeviceConfig, output: str, op_name: str) -> None:
        profile = self.profiles[device.profile]
        if any(p.search(output) for p in profile.error_patterns):
            raise DeviceRefusedError(f"device {device.name} refused a {op_name} command: "
                                     f"{excerpt(output)!r}", backend=BACKEND,
                                     fault=excerpt(output))

    @staticmethod
    def _garbage(device: DeviceConfig, op_name: str, output: str) -> UnexpectedOutputError:
        return UnexpectedOutputError(
            f"device {device.name} ({device.profile}) gave unexpected output for {op_name}: "
            f"{excerpt(output)!r}", backend=BACKEND, fault=excerpt(output))

    def _render_all(self, device: DeviceConfig, templates: Iterable[str],
                    extra: Mapping[str, str]) -> builtins.list[str]:
        profile = self.profiles[device.profile]
        values = dict(self._device_values[device.name])
        values.update(extra)
        profile.check_builtin(extra)
        return [profile.render_command(t, values) for t in templates]

    def _parse_id(self, amphora_id: str) -> tuple[DeviceConfig, str] | None:
        """(device, slot) of a well-formed id of a configured device; None otherwise.

        Anything else (another backend's id, ``a; reboot``) is "no such amphora"
        and never reaches a device.
        """
        if not isinstance(amphora_id, str):
            return None
        found = _ID.fullmatch(amphora_id)
        if found is None:
            return None
        device = self.devices.get(found["device"])
        if device is None:
            return None
        slot = found["slot"]
        if not self.profiles[device.profile].naming.pattern.fullmatch(slot):
            return None
        return device, slot


# -- option parsing -------------------------------------------------------------------


def _breaker(device: DeviceConfig) -> str:
    return f"{BACKEND}:{device.name}"


def _parse_device(i: int, raw: Any, profiles: Mapping[str, Profile]) -> DeviceConfig:
    where = f"hardware.devices[{i}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = set(raw) - _DEVICE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    name = _pattern(raw, "name", _DEVICE_NAME, where)
    where = f"hardware.devices[{name}]"
    family = raw.get("profile")
    if not isinstance(family, str) or family not in profiles:
        broken = "; ".join(_profile_errors)
        raise ConfigError(f"{where}.profile: {family!r} is not a known hardware family "
                          f"(known: {sorted(profiles)})"
                          + (f"; profiles that failed to load: {broken}" if broken else ""))
    profile = profiles[family]
    key_file = raw.get("key_file")
    password_env = raw.get("password_env")
    if (key_file is None) == (password_env is None):
        raise ConfigError(f"{where}: give exactly one of key_file or password_env")
    if key_file is not None and not (isinstance(key_file, str) and os.path.isfile(key_file)):
        raise ConfigError(f"{where}.key_file: {key_file!r} is not a readable file")
    if password_env is not None and not (isinstance(password_env, str)
                                         and _ENV.fullmatch(password_env)):
        raise ConfigError(f"{where}.password_env must name an environment variable")
    known_hosts = raw.get("known_hosts")
    if not isinstance(known_hosts, str) or not known_hosts:
        raise ConfigError(f"{where}.known_hosts: a known_hosts file is required (host keys "
                          "are always verified)")
    capacity = raw.get("capacity")
    if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= 4000:
        raise ConfigError(f"{where}.capacity must be an integer from 1 to 4000")
    port = raw.get("port", 22)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ConfigError(f"{where}.port must be a TCP port")
    tofu = raw.get("trust_on_first_use", False)
    if not isinstance(tofu, bool):
        raise ConfigError(f"{where}.trust_on_first_use must be true or false")
    network = raw.get("slot_network")
    offset = raw.get("slot_address_offset", 10)
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 1:
        raise ConfigError(f"{where}.slot_address_offset must be a positive integer")
    uses_address = any({"address", "prefixlen"} & placeholders(t) for t in _templates(profile))
    if network is not None:
        try:
            net = ipaddress.IPv4Network(network)
        except (ValueError, TypeError):
            raise ConfigError(f"{where}.slot_network: {network!r} is not an IPv4 network") \
                from None
        if offset + capacity >= net.num_addresses - 1:
            raise ConfigError(f"{where}: slot_network {network} has no room for {capacity} "
                              f"slots from offset {offset}")
    elif uses_address:
        raise ConfigError(f"{where}.slot_network is required by the {family} family")
    command_timeout = raw.get("command_timeout")
    return DeviceConfig(
        name=name,
        host=_pattern(raw, "host", _HOST, where),
        port=port,
        username=_pattern(raw, "username", _USER, where),
        key_file=key_file,
        password_env=password_env,
        profile=family,
        capacity=capacity,
        known_hosts=known_hosts,
        trust_on_first_use=tofu,
        connect_timeout=_seconds(raw, "connect_timeout", 10.0, where),
        command_timeout=(None if command_timeout is None
                         else _seconds(raw, "command_timeout", 30.0, where)),
        availability_zone=raw.get("availability_zone"),
        slot_network=network,
        slot_address_offset=offset,
        params=dict(raw.get("params") or {}),
    )


def _templates(profile: Profile) -> list[str]:
    out = [s.command for s in profile.build if s.command] + list(profile.delete)
    out += [f.template for f in profile.files.values()]
    return out


def _pattern(raw: Mapping[str, Any], key: str, pattern: re.Pattern[str], where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ConfigError(f"{where}.{key}: {value!r} is not valid (must match "
                          f"{pattern.pattern})")
    return value


def _seconds(raw: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = raw.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 3600:
        raise ConfigError(f"{where}.{key} must be a number of seconds in (0, 3600]")
    return float(value)


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return list(value)


__all__ = ["BUILTIN_PATTERNS", "DeviceRefusedError", "HardwareDriver", "HardwareOptions",
           "plugin_profiles"]
