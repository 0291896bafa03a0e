"""The one TOML config file: which backend serves each type, with what options.

Looked up in this order: an explicit path (``--config``), the
``AMPHORA_COMPUTE_CONFIG`` environment variable, then the per-user default
``$XDG_CONFIG_HOME/amphora-compute/config.toml``.  No file means the embedded
default: the Noop backend for all four types.  OpenStack credentials never
live here: a backend names a ``cloud`` in the user's ``clouds.yaml``.

Every error names the key and the problem (``ConfigError``).
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .enums import AmphoraType
from .errors import ConfigError

ENV_VAR = "AMPHORA_COMPUTE_CONFIG"

#: The embedded default: every type on its Noop plugin.
DEFAULT_TYPES: Mapping[AmphoraType, str] = {
    AmphoraType.VM: "noop-vm",
    AmphoraType.CONTAINER: "noop-container",
    AmphoraType.BAREMETAL: "noop-baremetal",
    AmphoraType.HARDWARE_LB: "noop-hardware-lb",
}

#: How long ``--wait`` waits per type by default (bare metal deploys take tens of minutes).
DEFAULT_WAIT_TIMEOUTS: Mapping[AmphoraType, float] = {
    AmphoraType.VM: 600.0,
    AmphoraType.CONTAINER: 120.0,
    AmphoraType.BAREMETAL: 1800.0,
    AmphoraType.HARDWARE_LB: 120.0,
}

@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """How many consecutive failures open a breaker, and how long it stays open."""

    fail_max: int = 5
    reset_timeout: float = 30.0
    success_threshold: int = 1



_TOP_KEYS = {"types", "backends", "breakers", "pool", "timeouts", "plugins", "octavia"}
_BREAKER_KEYS = {"fail_max", "reset_timeout", "success_threshold"}


@dataclass(frozen=True, slots=True)
class Config:
    """The parsed configuration.  ``raw`` keeps the TOML for sections owned by others
    (``[octavia]`` is read by the Octavia adapter)."""

    types: Mapping[AmphoraType, str] = field(default_factory=lambda: dict(DEFAULT_TYPES))
    backends: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    breaker_overrides: Mapping[str, BreakerSettings] = field(default_factory=dict)
    redis_url: str | None = None
    redis_ttl: float = 0.5
    pool_size: int = 32
    wait_timeouts: Mapping[AmphoraType, float] = field(
        default_factory=lambda: dict(DEFAULT_WAIT_TIMEOUTS))
    disabled_plugins: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def backend_options(self, backend: str) -> Mapping[str, Any]:
        return self.backends.get(backend, {})

    def with_backend_options(self, backend: str, **options: Any) -> Config:
        """A copy with ``options`` merged into ``[backends.<backend>]`` (CLI and tests)."""
        backends = {name: dict(opts) for name, opts in self.backends.items()}
        backends.setdefault(backend, {}).update(options)
        return Config(types=self.types, backends=backends, breaker=self.breaker,
                      breaker_overrides=self.breaker_overrides, redis_url=self.redis_url,
                      redis_ttl=self.redis_ttl, pool_size=self.pool_size,
                      wait_timeouts=self.wait_timeouts, disabled_plugins=self.disabled_plugins,
                      raw=self.raw, path=self.path)


def default_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "amphora-compute" / "config.toml"


def resolve_path(path: str | os.PathLike[str] | None,
                 env: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read, or None for the embedded default."""
    env = os.environ if env is None else env
    if path:
        return Path(path)
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR])
    candidate = default_path()
    return candidate if candidate.is_file() else None


def load_config(path: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config; an explicitly named file must exist."""
    resolved = resolve_path(path, env)
    if resolved is None:
        return Config()
    try:
        with open(resolved, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {resolved} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {resolved} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {resolved} cannot be read: {exc}") from None
    return parse_config(data, path=resolved)


def parse_config(data: Mapping[str, Any], path: Path | None = None) -> Config:
    """Validate a TOML document (already parsed) into a ``Config``."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {sorted(unknown)} "
                          f"(known: {sorted(_TOP_KEYS)})")
    types = dict(DEFAULT_TYPES)
    for key, backend in _table(data, "types").items():
        try:
            amphora_type = AmphoraType.parse(key)
        except ValueError as exc:
            raise ConfigError(f"types.{key}: {exc}") from None
        if not isinstance(backend, str) or not backend:
            raise ConfigError(f"types.{key}: must be a backend name (a string)")
        types[amphora_type] = backend

    backends: dict[str, dict[str, Any]] = {}
    for name, options in _table(data, "backends").items():
        if not isinstance(options, Mapping):
            raise ConfigError(f"backends.{name}: must be a table of options")
        backends[name] = dict(options)

    breakers = dict(_table(data, "breakers"))
    per_backend = breakers.pop("backends", {})
    redis_url = breakers.pop("redis_url", None)
    redis_ttl = _number(breakers.pop("redis_ttl", 0.5), "breakers.redis_ttl", minimum=0.0)
    if redis_ttl > 1.0:
        raise ConfigError("breakers.redis_ttl: at most 1.0 s (a trip must be seen within 1 s)")
    if redis_url is not None and not (isinstance(redis_url, str)
                                      and redis_url.startswith(("redis://", "rediss://",
                                                                "unix://"))):
        raise ConfigError("breakers.redis_url: must be a redis://, rediss:// or unix:// URL")
    breaker = _breaker_settings(breakers, "breakers", also_known=("redis_url", "redis_ttl"))
    overrides = {}
    if not isinstance(per_backend, Mapping):
        raise ConfigError("breakers.backends: must be a table of per-backend tables")
    for name, table in per_backend.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"breakers.backends.{name}: must be a table")
        merged = {"fail_max": breaker.fail_max, "reset_timeout": breaker.reset_timeout,
                  "success_threshold": breaker.success_threshold, **table}
        overrides[name] = _breaker_settings(merged, f"breakers.backends.{name}")

    pool = dict(_table(data, "pool"))
    pool_size = int(_number(pool.pop("max_workers", 32), "pool.max_workers", minimum=1,
                            integer=True))
    if pool:
        raise ConfigError(f"pool: unknown key(s) {sorted(pool)} (known: ['max_workers'])")

    timeouts = dict(DEFAULT_WAIT_TIMEOUTS)
    for key, value in _table(data, "timeouts").items():
        try:
            amphora_type = AmphoraType.parse(key)
        except ValueError as exc:
            raise ConfigError(f"timeouts.{key}: {exc}") from None
        timeouts[amphora_type] = _number(value, f"timeouts.{key}", minimum=0.001)

    plugins = dict(_table(data, "plugins"))
    disabled = plugins.pop("disabled", [])
    if plugins:
        raise ConfigError(f"plugins: unknown key(s) {sorted(plugins)} (known: ['disabled'])")
    if not isinstance(disabled, list) or not all(isinstance(x, str) for x in disabled):
        raise ConfigError("plugins.disabled: must be a list of plugin names")

    return Config(types=types, backends=backends, breaker=breaker,
                  breaker_overrides=overrides, redis_url=redis_url, redis_ttl=redis_ttl,
                  pool_size=pool_size, wait_timeouts=timeouts, disabled_plugins=tuple(disabled),
                  raw=dict(data), path=path)


def reject_unknown_keys(table: Mapping[str, Any], known: Iterable[str], where: str,
                        noun: str = "option") -> None:
    """A ConfigError naming ``where``, the unknown keys and the known ones.

    Every options table (a backend's, a device's, the ``[octavia]`` section's)
    is checked this way, so a typo never silently falls back to a default.
    """
    allowed = set(known)
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown {noun}(s) {unknown} (known: {sorted(allowed)})")


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: must be a table")
    return value


def _number(value: Any, key: str, minimum: float, integer: bool = False) -> float:
    """A finite number >= ``minimum`` (a whole one when ``integer``): NaN compares false
    with everything and would slip through a plain ``<`` check; inf would never expire."""
    kinds = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) \
            or value < minimum:
        what = "an integer" if integer else "a number"
        raise ConfigError(f"{key}: must be {what} >= {minimum}, got {value!r}")
    return float(value)


def _breaker_settings(table: Mapping[str, Any], where: str,
                      also_known: tuple[str, ...] = ()) -> BreakerSettings:
    unknown = set(table) - _BREAKER_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)} "
                          f"(known: {sorted(_BREAKER_KEYS | set(also_known))})")
    defaults = BreakerSettings()
    return BreakerSettings(
        fail_max=int(_number(table.get("fail_max", defaults.fail_max), f"{where}.fail_max", 1,
                             integer=True)),
        reset_timeout=_number(table.get("reset_timeout", defaults.reset_timeout),
                              f"{where}.reset_timeout", 0.001),
        success_threshold=int(_number(table.get("success_threshold",
                                                defaults.success_threshold),
                                      f"{where}.success_threshold", 1, integer=True)),
    )
