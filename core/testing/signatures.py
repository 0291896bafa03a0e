"""napalm's signature check, done properly: every driver's public surface vs the ABC.

Runs on classes (no instance, no credentials).  For each public method of
``AmphoraComputeDriver``: parameter names, kinds, order and defaults must match,
and the resolved type hints must agree.  Extra public methods must start with
``ex_``; nothing abstract may remain; the identity ClassVars must be valid, and
a declared capability must have its methods implemented, so a driver cannot
silently drift from the contract.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from ..enums import AmphoraStatus, AmphoraType, Capability
from ..interface import AmphoraComputeDriver

#: Optional methods and the capability that declares them.
CAPABILITY_METHODS: dict[str, Capability] = {
    "suspend": Capability.SUSPEND,
    "resume": Capability.SUSPEND,
    "create_server_group": Capability.SERVER_GROUPS,
    "delete_server_group": Capability.SERVER_GROUPS,
    "attach_network_or_port": Capability.ATTACH_NETWORK,
    "detach_port": Capability.ATTACH_NETWORK,
    "validate_flavor": Capability.VALIDATE_FLAVOR,
    "validate_availability_zone": Capability.VALIDATE_AVAILABILITY_ZONE,
}

_NOT_CONTRACT = {"unsupported", "map_status", "require_lookup", "existing_build",
                 "check_request"}


def contract_methods() -> dict[str, Any]:
    return {name: member for name, member in vars(AmphoraComputeDriver).items()
            if callable(member) and not name.startswith("_") and name not in _NOT_CONTRACT}


def _hints(func: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception as exc:  # an unresolvable annotation is itself a finding
        return {"<error>": f"{type(exc).__name__}: {exc}"}


def check_driver_class(cls: type) -> list[str]:
    """Every way ``cls`` differs from the contract, as readable lines (empty = conforms)."""
    problems: list[str] = []
    name = getattr(cls, "__name__", repr(cls))
    if not (isinstance(cls, type) and issubclass(cls, AmphoraComputeDriver)):
        return [f"{name} is not an AmphoraComputeDriver subclass"]
    if inspect.isabstract(cls):
        missing = sorted(getattr(cls, "__abstractmethods__", ()))
        problems.append(f"{name} leaves abstract methods unimplemented: {missing}")
    backend = getattr(cls, "backend_name", None)
    if not isinstance(backend, str) or not backend:
        problems.append(f"{name}.backend_name must be a non-empty string")
    if not isinstance(getattr(cls, "amphora_type", None), AmphoraType):
        problems.append(f"{name}.amphora_type must be an AmphoraType")
    capabilities = getattr(cls, "capabilities", None)
    if not isinstance(capabilities, frozenset) or not all(
            isinstance(c, Capability) for c in capabilities):
        problems.append(f"{name}.capabilities must be a frozenset of Capability")
        capabilities = frozenset()
    for raw, status in getattr(cls, "STATUS_MAP", {}).items():
        if not isinstance(status, AmphoraStatus):
            problems.append(f"{name}.STATUS_MAP[{raw!r}] = {status!r} is not an AmphoraStatus")

    for method, base in contract_methods().items():
        impl = getattr(cls, method)
        base_sig, impl_sig = inspect.signature(base), inspect.signature(impl)
        base_params = [(p.name, p.kind, p.default) for p in base_sig.parameters.values()]
        impl_params = [(p.name, p.kind, p.default) for p in impl_sig.parameters.values()]
        if base_params != impl_params:
            problems.append(f"{name}.{method}{impl_sig} differs from the contract's "
                            f"{method}{base_sig}")
            continue
        base_hints, impl_hints = _hints(base), _hints(impl)
        if impl is not base and base_hints != impl_hints:
            diff = {k: (base_hints.get(k), impl_hints.get(k))
                    for k in set(base_hints) | set(impl_hints)
                    if base_hints.get(k) != impl_hints.get(k)}
            problems.append(f"{name}.{method} type hints differ from the contract: "
                            + ", ".join(f"{k}: contract {b!r}, driver {i!r}"
                                        for k, (b, i) in sorted(diff.items())))
    for method, capability in CAPABILITY_METHODS.items():
        overridden = getattr(cls, method) is not getattr(AmphoraComputeDriver, method)
        if capability in capabilities and not overridden:
            problems.append(f"{name} declares {capability.value} but does not implement "
                            f"{method}")
    contract = set(contract_methods()) | _NOT_CONTRACT
    for attr, member in inspect.getmembers(cls):
        if attr.startswith("_") or attr in contract or not callable(member) \
                or inspect.isclass(member):
            continue
        if not attr.startswith("ex_"):
            problems.append(f"{name}.{attr} is public but not in the contract "
                            "(extensions must be named ex_*)")
    return problems

