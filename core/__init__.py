"""amphora-compute: one contract for load-balancer amphorae on any compute.

Import cost matters (the CLI must start fast), so this module re-exports the
light contract types and resolves the rest lazily; it imports no backend
client library and not even pybreaker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .aio import AsyncDispatcher
    from .config import Config
    from .dispatcher import Dispatcher

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

_LAZY = {
    "Dispatcher": ("dispatcher", "Dispatcher"),
    "AsyncDispatcher": ("aio", "AsyncDispatcher"),
    "Config": ("config", "Config"),
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

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
