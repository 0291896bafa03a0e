"""amphora-compute: one contract for load-balancer amphorae on any compute.

Import cost matters (the CLI must start fast), so this module resolves every
public name lazily (PEP 562): importing it imports nothing else, no backend
client library, not even pluggy or pybreaker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aio import AsyncDispatcher
    from .config import Config
    from .dispatcher import Dispatcher
    from .enums import AmphoraStatus, AmphoraType, Capability
    from .errors import (
        AmphoraBuildError,
        AmphoraComputeError,
        BackendUnavailableError,
        CircuitOpenError,
        ConfigError,
        DeleteFailed,
        InstanceNotFoundError,
        InvalidRequestError,
        NotSuspendedError,
        PluginError,
    )
    from .hookspecs import hookimpl
    from .interface import AmphoraComputeDriver
    from .models import Amphora, BuildRequest, Flavor, ImageRef
    from .registry import DriverSpec

__all__ = [
    "Amphora",
    "AmphoraBuildError",
    "AmphoraComputeDriver",
    "AmphoraComputeError",
    "AmphoraStatus",
    "AmphoraType",
    "AsyncDispatcher",
    "BackendUnavailableError",
    "BuildRequest",
    "Capability",
    "CircuitOpenError",
    "Config",
    "ConfigError",
    "DeleteFailed",
    "Dispatcher",
    "DriverSpec",
    "Flavor",
    "ImageRef",
    "InstanceNotFoundError",
    "InvalidRequestError",
    "NotSuspendedError",
    "PluginError",
    "__version__",
    "hookimpl",
]

#: Public name -> defining module.  Everything is resolved on first use, so
#: ``import amphora_compute.cli`` costs only what the CLI itself needs.
_LAZY = {
    "Dispatcher": "dispatcher",
    "AsyncDispatcher": "aio",
    "Config": "config",
    "AmphoraStatus": "enums",
    "AmphoraType": "enums",
    "Capability": "enums",
    "AmphoraBuildError": "errors",
    "AmphoraComputeError": "errors",
    "BackendUnavailableError": "errors",
    "CircuitOpenError": "errors",
    "ConfigError": "errors",
    "DeleteFailed": "errors",
    "InstanceNotFoundError": "errors",
    "InvalidRequestError": "errors",
    "NotSuspendedError": "errors",
    "PluginError": "errors",
    "hookimpl": "hookspecs",
    "AmphoraComputeDriver": "interface",
    "Amphora": "models",
    "BuildRequest": "models",
    "Flavor": "models",
    "ImageRef": "models",
    "DriverSpec": "registry",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("amphora-compute")
        except PackageNotFoundError:  # running from a source tree
            return "0.0.0+unknown"
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value  # later look-ups skip __getattr__
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
