"""Plugin loading: built-ins first, exactly like external plugins, then the entry points.

tox 4 and datasette register their built-in plugins through the same call as
third-party ones; so do we (``DEFAULT_PLUGINS``).  Unlike pluggy's own
``load_setuptools_entrypoints``, one broken entry point does not stop the
others: it is recorded (``PluginSet.failures``, shown by ``amphora plugins``)
and logged at WARNING.  Hooks are called one implementation at a time, so a
raising plugin is isolated and every spec is tied to the plugin that made it.

Operator switches: ``AMPHORA_COMPUTE_DISABLED_PLUGINS`` (comma-separated plugin
names to block) and ``AMPHORA_COMPUTE_TRACE_PLUGINS=1`` (hook calls to DEBUG).
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError
from .registry import DriverRegistry, DriverSpec

LOG = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "amphora_compute"
DISABLED_ENV = "AMPHORA_COMPUTE_DISABLED_PLUGINS"
TRACE_ENV = "AMPHORA_COMPUTE_TRACE_PLUGINS"

#: Built-in plugins, registered exactly like external ones.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "amphora_compute.drivers.noop",
    "amphora_compute.drivers.nova",
    "amphora_compute.drivers.zun",
    "amphora_compute.drivers.ironic",
    "amphora_compute.drivers.hardware",
)


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """A plugin that could not be loaded or whose hook raised."""

    name: str
    source: str
    error: str


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    source: str
    backends: tuple[str, ...]


@dataclass
class PluginSet:
    """The loaded plugins and what they provide; the core calls hooks only through this."""

    manager: pluggy.PluginManager
    registry: DriverRegistry
    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    profiles: list[tuple[str, Traversable]] = field(default_factory=list)

    def hardware_profiles(self) -> list[tuple[str, Traversable]]:
        """(plugin name, profile file) for every hardware profile any plugin declared."""
        return list(self.profiles)


def new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    if os.environ.get(TRACE_ENV, "") not in ("", "0"):
        pm.trace.root.setwriter(lambda msg: LOG.debug("plugin trace: %s", msg.rstrip()))
        pm.enable_tracing()
    return pm


def load_plugins(disabled: Iterable[str] = (), *, entry_points: bool = True,
                 extra_plugins: Iterable[tuple[str, Any]] = ()) -> PluginSet:
    """Register the built-ins, the entry-point plugins and ``extra_plugins``; collect specs.

    Raises ``PluginError`` only for a conflict (two plugins claiming one backend
    name); a plugin that fails to import is recorded and skipped.
    """
    blocked = set(disabled) | {n.strip() for n in os.environ.get(DISABLED_ENV, "").split(",")
                               if n.strip()}
    pm = new_manager()
    for name in blocked:
        pm.set_blocked(name)
    plugin_set = PluginSet(manager=pm, registry=DriverRegistry())
    sources: dict[str, str] = {}

    for dotted in DEFAULT_PLUGINS:
        name = dotted.rsplit(".", 1)[-1]
        if name in blocked:
            continue
        _register(plugin_set, name, "built-in", lambda d=dotted: importlib.import_module(d))
        sources[name] = "built-in"
    if entry_points:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in blocked:
                continue
            dist = getattr(ep, "dist", None)
            source = f"{dist.name} {dist.version}" if dist is not None else ep.value
            if pm.has_plugin(ep.name):
                plugin_set.failures.append(PluginFailure(
                    ep.name, source, f"a plugin named {ep.name!r} is already registered "
                                     f"({sources.get(ep.name, '?')})"))
                LOG.warning("plugin %s from %s skipped: name already registered", ep.name, source)
                continue
            _register(plugin_set, ep.name, source, ep.load)
            sources[ep.name] = source
    for name, plugin in extra_plugins:
        _register(plugin_set, name, "extra", lambda p=plugin: p)
        sources[name] = "extra"
    pm.check_pending()
    _collect(plugin_set, sources)
    return plugin_set


def _register(plugin_set: PluginSet, name: str, source: str, load: Any) -> None:
    try:
        plugin = load()
        plugin_set.manager.register(plugin, name=name)
    except Exception as exc:  # a broken plugin must not stop the others
        plugin_set.failures.append(PluginFailure(name, source, f"{type(exc).__name__}: {exc}"))
        LOG.warning("plugin %s (%s) failed to load: %s: %s", name, source,
                    type(exc).__name__, exc)


def _traced(hook: str, impl: Any) -> Any:
    """Call one hook implementation; with ``AMPHORA_COMPUTE_TRACE_PLUGINS`` log the call.

    Hooks are called one implementation at a time (not through ``pm.hook``), so
    pluggy's own tracing never sees them: the trace line is written here.
    """
    result = impl.function()
    if os.environ.get(TRACE_ENV, "") not in ("", "0"):
        shown = list(result) if isinstance(result, list | tuple) else result
        LOG.debug("plugin trace: %s.%s() -> %r", impl.plugin_name, hook, shown)
    return result


def _collect(plugin_set: PluginSet, sources: dict[str, str]) -> None:
    pm = plugin_set.manager
    backends: dict[str, list[str]] = {}
    for impl in pm.hook.amphora_compute_drivers.get_hookimpls():
        name = impl.plugin_name
        try:
            specs = list(_traced("amphora_compute_drivers", impl) or ())
            for spec in specs:
                if not isinstance(spec, DriverSpec):
                    raise PluginError(f"returned {type(spec).__name__}, not a DriverSpec")
        except PluginError as exc:
            plugin_set.failures.append(PluginFailure(name, sources.get(name, "?"), str(exc)))
            LOG.warning("plugin %s: amphora_compute_drivers failed: %s", name, exc)
            continue
        except Exception as exc:
            plugin_set.failures.append(PluginFailure(name, sources.get(name, "?"),
                                                     f"{type(exc).__name__}: {exc}"))
            LOG.warning("plugin %s: amphora_compute_drivers raised %s: %s", name,
                        type(exc).__name__, exc)
            continue
        for spec in specs:
            # Two plugins claiming one backend name is an error naming both.
            plugin_set.registry.add(_with_plugin(spec, name))
            backends.setdefault(name, []).append(spec.backend)
    for impl in pm.hook.amphora_compute_hardware_profiles.get_hookimpls():
        name = impl.plugin_name
        try:
            for item in _traced("amphora_compute_hardware_profiles", impl) or ():
                path = Path(item) if isinstance(item, str | os.PathLike) else item
                plugin_set.profiles.append((name, path))
        except Exception as exc:
            plugin_set.failures.append(PluginFailure(name, sources.get(name, "?"),
                                                     f"{type(exc).__name__}: {exc}"))
            LOG.warning("plugin %s: amphora_compute_hardware_profiles raised %s", name, exc)
    for plugin_name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        plugin_set.plugins.append(PluginInfo(plugin_name, sources.get(plugin_name, "?"),
                                             tuple(backends.get(plugin_name, ()))))
    plugin_set.plugins.sort(key=lambda p: p.name)


def _with_plugin(spec: DriverSpec, plugin: str) -> DriverSpec:
    return DriverSpec(backend=spec.backend, amphora_type=spec.amphora_type, target=spec.target,
                      extra=spec.extra, description=spec.description, plugin=plugin)
