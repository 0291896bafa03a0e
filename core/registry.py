"""Which backends exist: ``DriverSpec`` records and their lazy import.

A spec names its class as ``"module:Class"`` (libcloud's lazy provider table),
so registering a backend imports nothing; the class is imported the first time
the backend is used.  A missing client library gives an error that names the
extra to install.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .enums import AmphoraType
from .errors import PluginError

if TYPE_CHECKING:
    from .interface import AmphoraComputeDriver


@dataclass(frozen=True, slots=True)
class DriverSpec:
    """One backend a plugin provides."""

    backend: str
    amphora_type: AmphoraType
    target: str
    extra: str | None = None
    description: str = ""
    plugin: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "amphora_type", AmphoraType.parse(self.amphora_type))
        if ":" not in self.target:
            raise PluginError(f"driver target {self.target!r} must look like 'module:Class'")

    def load(self) -> type[AmphoraComputeDriver]:
        """Import the driver class (the first use of the backend)."""
        from .interface import AmphoraComputeDriver

        module_name, _, attr = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            hint = f" (install it with: pip install 'amphora-compute[{self.extra}]')" \
                if self.extra else ""
            raise PluginError(f"backend {self.backend!r} cannot be loaded: {exc}{hint}") from exc
        cls = getattr(module, attr, None)
        if not (isinstance(cls, type) and issubclass(cls, AmphoraComputeDriver)):
            raise PluginError(f"{self.target} is not an AmphoraComputeDriver subclass")
        return cls


class DriverRegistry:
    """Backend name -> ``DriverSpec``; a second claim on one name is an error naming both."""

    def __init__(self) -> None:
        self._specs: dict[str, DriverSpec] = {}
        self._classes: dict[str, type[AmphoraComputeDriver]] = {}
        self._lock = threading.Lock()

    def add(self, spec: DriverSpec) -> None:
        existing = self._specs.get(spec.backend)
        if existing is not None:
            raise PluginError(
                f"backend name {spec.backend!r} is claimed twice: by plugin "
                f"{existing.plugin or existing.target!r} and by {spec.plugin or spec.target!r}")
        self._specs[spec.backend] = spec

    def get(self, backend: str) -> DriverSpec:
        try:
            return self._specs[backend]
        except KeyError:
            known = ", ".join(sorted(self._specs)) or "none"
            raise PluginError(f"no backend named {backend!r} (registered: {known})") from None

    def driver_class(self, backend: str) -> type[AmphoraComputeDriver]:
        with self._lock:
            cls = self._classes.get(backend)
            if cls is None:
                cls = self._classes[backend] = self.get(backend).load()
            return cls

    def specs(self) -> list[DriverSpec]:
        return sorted(self._specs.values(), key=lambda s: (s.amphora_type.value, s.backend))

    def for_type(self, amphora_type: AmphoraType) -> list[DriverSpec]:
        return [s for s in self.specs() if s.amphora_type is amphora_type]

    def __contains__(self, backend: object) -> bool:
        return backend in self._specs
