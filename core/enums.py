"""The closed vocabularies of the contract: amphora types, statuses, capabilities."""

from __future__ import annotations

from enum import StrEnum


class AmphoraType(StrEnum):
    """What kind of compute an amphora runs on (the spec's ``amphora_type``)."""

    VM = "vm"
    CONTAINER = "container"
    BAREMETAL = "baremetal"
    HARDWARE_LB = "hardware_lb"

    @classmethod
    def parse(cls, value: str | AmphoraType) -> AmphoraType:
        """Accept the CLI/config spellings in any case, and the seed spec's names.

        ``vm``, ``container``, ``baremetal``, ``hardware_lb`` (any case), plus the
        spec's ``BareMetal`` and ``HWLoadBalancer`` and a few obvious variants.
        """
        if isinstance(value, AmphoraType):
            return value
        key = str(value).strip().lower().replace("-", "_")
        found = _TYPE_ALIASES.get(key)
        if found is None:
            choices = ", ".join(t.value for t in cls)
            raise ValueError(f"unknown amphora type {value!r} (choose one of: {choices})")
        return found


_TYPE_ALIASES: dict[str, AmphoraType] = {
    "vm": AmphoraType.VM,
    "virtual_machine": AmphoraType.VM,
    "container": AmphoraType.CONTAINER,
    "baremetal": AmphoraType.BAREMETAL,
    "bare_metal": AmphoraType.BAREMETAL,
    "hardware_lb": AmphoraType.HARDWARE_LB,
    "hardwarelb": AmphoraType.HARDWARE_LB,
    "hwloadbalancer": AmphoraType.HARDWARE_LB,
    "hw_load_balancer": AmphoraType.HARDWARE_LB,
    "hardware": AmphoraType.HARDWARE_LB,
}


class AmphoraStatus(StrEnum):
    """The normalized status every driver maps its backend's states onto."""

    BUILDING = "BUILDING"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    ERROR = "ERROR"
    DELETED = "DELETED"
    UNKNOWN = "UNKNOWN"


class Capability(StrEnum):
    """Optional operations a driver may declare.

    The core operations (build, delete, status, statuses, get_amphora, list)
    are always required.  What a driver does not declare raises
    ``NotImplementedError`` before any backend call.
    """

    SUSPEND = "suspend"
    SERVER_GROUPS = "server_groups"
    ATTACH_NETWORK = "attach_network"
    VALIDATE_FLAVOR = "validate_flavor"
    VALIDATE_AVAILABILITY_ZONE = "validate_availability_zone"
    CONFIG_DRIVE = "config_drive"
    IMAGE_TAGS = "image_tags"
