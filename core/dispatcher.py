"""The dispatcher: amphora type -> configured backend, each behind its own breaker.

A controller asks for an amphora of a type; the dispatcher picks the backend
the config names for that type, constructs its driver on first use (so a
backend's client library is imported only when that backend is used), runs
every call through the backend's circuit breaker, and remembers which backend
owns each id so that no later call has to name the backend again.

An id the dispatcher has not seen (another process built it) is located by
asking each configured backend for it with one ``statuses`` call; backends
whose breaker is open are not asked.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

from .breakers import BreakerRegistry
from .config import Config
from .enums import AmphoraStatus, AmphoraType
from .errors import (
    AmphoraComputeError,
    CircuitOpenError,
    InstanceNotFoundError,
    InvalidRequestError,
)
from .interface import AmphoraComputeDriver
from .models import Amphora, BuildRequest
from .plugins import PluginSet, load_plugins

LOG = logging.getLogger(__name__)
T = TypeVar("T")


class Dispatcher:
    """Routes every operation to the backend that owns the amphora.

    Thread-safe; one per process is enough (drivers and breakers are shared).
    """

    def __init__(self, config: Config | None = None, *, plugins: PluginSet | None = None,
                 breakers: BreakerRegistry | None = None) -> None:
        self.config = config or Config()
        self._plugins = plugins
        self._breakers = breakers
        self._drivers: dict[str, AmphoraComputeDriver] = {}
        self._routes: dict[str, str] = {}
        self._key_locks: dict[str, threading.Lock] = {}
        self._breaker_names: dict[str, str] = {}
        self._lock = threading.RLock()
        self._closed = False

    # -- wiring ------------------------------------------------------------------

    @property
    def plugins(self) -> PluginSet:
        with self._lock:
            if self._plugins is None:
                self._plugins = load_plugins(self.config.disabled_plugins)
            return self._plugins

    @property
    def breakers(self) -> BreakerRegistry:
        if self._breakers is not None:
            return self._breakers
        with self._lock:
            if self._breakers is None:
                factory = None
                if self.config.redis_url:
                    from .redis_storage import redis_storage_factory

                    factory = redis_storage_factory(self.config.redis_url,
                                                    ttl=self.config.redis_ttl)
                self._breakers = BreakerRegistry(self.config.breaker,
                                                 self.config.breaker_overrides, factory)
            return self._breakers

    def backend_for(self, amphora_type: AmphoraType | str) -> str:
        return self.config.types[AmphoraType.parse(amphora_type)]

    def driver(self, amphora_type: AmphoraType | str) -> AmphoraComputeDriver:
        """The (unguarded) driver serving ``amphora_type``, constructed on first use."""
        return self.driver_for_backend(self.backend_for(amphora_type))

    def driver_for_backend(self, backend: str) -> AmphoraComputeDriver:
        driver = self._drivers.get(backend)
        if driver is not None:
            return driver
        with self._lock:
            if self._closed:
                raise AmphoraComputeError("the dispatcher is closed")
            driver = self._drivers.get(backend)
            if driver is None:
                cls = self.plugins.registry.driver_class(backend)
                driver = cls(self.config.backend_options(backend), breakers=self.breakers)
                self._drivers[backend] = driver
            return driver

    def configured_backends(self) -> builtins.list[str]:
        """Each configured backend once, in amphora-type order."""
        return builtins.list(dict.fromkeys(self.config.types[t] for t in AmphoraType))

    # -- the contract, routed ----------------------------------------------------

    def build(self, request: BuildRequest) -> str:
        """Build on the backend configured for ``request.amphora_type``; return its id."""
        backend = self.backend_for(request.amphora_type)
        driver = self.driver_for_backend(backend)
        with self._idempotency_lock(request.idempotency_key):
            amphora_id = self._call(backend, "build", None, lambda: driver.build(request))
        self._remember(amphora_id, backend)
        return amphora_id

    def delete(self, amphora_id: str) -> None:
        """Delete wherever it lives; an id no backend knows is already deleted (success)."""
        backend = self._locate(amphora_id, missing_ok=True)
        if backend is None:
            LOG.info("delete %s: no configured backend has it; already deleted", amphora_id)
            return
        driver = self.driver_for_backend(backend)
        self._call(backend, "delete", amphora_id, lambda: driver.delete(amphora_id))
        with self._lock:
            self._routes.pop(amphora_id, None)

    def status(self, amphora_id: str) -> AmphoraStatus:
        backend = self._routes.get(amphora_id) or self._locate(amphora_id)
        assert backend is not None
        driver = self._drivers.get(backend) or self.driver_for_backend(backend)
        return self._call(backend, "status", amphora_id, partial(driver.status, amphora_id))

    def statuses(self, amphora_ids: Sequence[str]) -> dict[str, Amphora]:
        """Records of many amphorae: one batch call per backend that owns some of them."""
        by_backend: dict[str, builtins.list[str]] = {}
        unknown: builtins.list[str] = []
        for amphora_id in dict.fromkeys(amphora_ids):
            backend = self._routes.get(amphora_id)
            if backend is None:
                unknown.append(amphora_id)
            else:
                by_backend.setdefault(backend, []).append(amphora_id)
        result: dict[str, Amphora] = {}
        for backend, ids in by_backend.items():
            result.update(self._statuses_on(backend, ids))
        if unknown:
            result.update(self._probe(unknown))
        return {i: result[i] for i in amphora_ids if i in result}

    def get_amphora(self, amphora_id: str | None = None, amphora_name: str | None = None,
                    amphora_type: AmphoraType | str | None = None) -> Amphora:
        """One amphora by id (any backend) or by name (one type, or every configured backend)."""
        if amphora_id:
            backend = self._locate(amphora_id)
            assert backend is not None
            driver = self.driver_for_backend(backend)
            return self._call(backend, "get_amphora", amphora_id,
                              lambda: driver.get_amphora(amphora_id=amphora_id))
        if not amphora_name:
            raise InvalidRequestError("give an amphora id or name", field="amphora_id")
        backends = [self.backend_for(amphora_type)] if amphora_type \
            else self.configured_backends()
        for backend in backends:
            driver = self.driver_for_backend(backend)
            try:
                found: Amphora = self._call(backend, "get_amphora", None,
                                            partial(driver.get_amphora, amphora_name=amphora_name))
            except InstanceNotFoundError:
                continue
            self._remember(found.id, backend)
            return found
        raise InstanceNotFoundError(f"no amphora named {amphora_name!r}")

    def list(self, amphora_type: AmphoraType | str | None = None) -> builtins.list[Amphora]:
        backends = [self.backend_for(amphora_type)] if amphora_type \
            else self.configured_backends()
        out: builtins.list[Amphora] = []
        for backend in backends:
            driver = self.driver_for_backend(backend)
            found = self._call(backend, "list", None, driver.list)
            for amphora in found:
                self._remember(amphora.id, backend)
            out.extend(found)
        return out

    def suspend(self, amphora_id: str) -> None:
        self._routed(amphora_id, "suspend", lambda d: d.suspend(amphora_id))

    def resume(self, amphora_id: str) -> None:
        self._routed(amphora_id, "resume", lambda d: d.resume(amphora_id))

    # -- optional capabilities -----------------------------------------------------

    def call_type(self, amphora_type: AmphoraType | str, operation: str, *args: Any,
                  **kwargs: Any) -> Any:
        """Call an optional operation (``create_server_group``, ``validate_flavor``...) on the
        backend of ``amphora_type``, through its breaker."""
        backend = self.backend_for(amphora_type)
        driver = self.driver_for_backend(backend)
        method = getattr(driver, operation)
        return self._call(backend, operation, None, lambda: method(*args, **kwargs))

    def call_amphora(self, amphora_id: str, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Call an optional per-amphora operation (``attach_network_or_port``...) where it lives."""
        return self._routed(amphora_id, operation,
                            lambda d: getattr(d, operation)(amphora_id, *args, **kwargs))

    def breaker_snapshot(self) -> builtins.list[dict[str, Any]]:
        """Every configured backend's breaker (and any per-device ones created so far)."""
        for backend in self.configured_backends():
            self.breakers.breaker(f"backend:{backend}")
        return [info.to_dict() for info in self.breakers.snapshot()]

    def close(self) -> None:
        """Close every constructed driver (errors are logged, not raised: closing must finish)."""
        with self._lock:
            self._closed = True
            drivers, self._drivers = builtins.list(self._drivers.items()), {}
        for backend, driver in drivers:
            try:
                driver.close()
            except Exception:
                LOG.exception("closing the %s driver failed", backend)

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- private -------------------------------------------------------------------

    def _call(self, backend: str, operation: str, amphora_id: str | None,
              func: Callable[[], T]) -> T:
        """Run one backend call under its breaker; at DEBUG, log it with its duration.

        This is the hot path of every operation: the breaker name is computed
        once per backend and the clock is read only when DEBUG is on.
        """
        breaker = self._breaker_names.get(backend)
        if breaker is None:
            driver = self.driver_for_backend(backend)
            breaker = "" if driver.guards_own_breakers else f"backend:{backend}"
            self._breaker_names[backend] = breaker
        if not LOG.isEnabledFor(logging.DEBUG):
            return self.breakers.call(breaker, func) if breaker else func()
        start = time.perf_counter()
        outcome = "ok"
        try:
            result = self.breakers.call(breaker, func) if breaker else func()
            if amphora_id is None and operation == "build":
                amphora_id = str(result)  # the DEBUG line names what was built
            return result
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            LOG.debug("backend=%s op=%s id=%s duration_ms=%.1f outcome=%s", backend, operation,
                      amphora_id or "-", (time.perf_counter() - start) * 1000, outcome)

    def _routed(self, amphora_id: str, operation: str,
                func: Callable[[AmphoraComputeDriver], T]) -> T:
        backend = self._locate(amphora_id)
        assert backend is not None
        driver = self.driver_for_backend(backend)
        return self._call(backend, operation, amphora_id, lambda: func(driver))

    def _statuses_on(self, backend: str, ids: builtins.list[str]) -> dict[str, Amphora]:
        driver = self.driver_for_backend(backend)
        return self._call(backend, "statuses", f"{len(ids)} ids", lambda: driver.statuses(ids))

    def _remember(self, amphora_id: str, backend: str) -> None:
        with self._lock:
            self._routes[amphora_id] = backend

    def _locate(self, amphora_id: str, missing_ok: bool = False) -> str | None:
        backend = self._routes.get(amphora_id)
        if backend is not None:
            return backend
        self._probe([amphora_id])  # remembers the route of every id it finds
        backend = self._routes.get(amphora_id)
        if backend is not None:
            return backend
        if missing_ok:
            return None
        raise InstanceNotFoundError(f"no configured backend has an amphora {amphora_id!r}",
                                    amphora_id=amphora_id)

    def _probe(self, ids: builtins.list[str]) -> dict[str, Amphora]:
        """Ask each configured backend for ids nobody has routed yet."""
        result: dict[str, Amphora] = {}
        remaining = builtins.list(ids)
        refused: builtins.list[CircuitOpenError] = []
        for backend in self.configured_backends():
            if not remaining:
                break
            try:
                answer = self._statuses_on(backend, remaining)
            except CircuitOpenError as exc:
                refused.append(exc)
                continue
            for amphora_id, record in answer.items():
                if record.status is not AmphoraStatus.DELETED:
                    result[amphora_id] = record
                    self._remember(amphora_id, backend)
            remaining = [i for i in remaining if i not in result]
        if remaining and refused:
            # We cannot say "deleted" for ids a tripped backend might own.
            raise refused[0]
        for amphora_id in remaining:
            result[amphora_id] = Amphora(id=amphora_id, name=None,
                                         amphora_type=AmphoraType.VM, backend="-",
                                         status=AmphoraStatus.DELETED)
        return result

    @contextmanager
    def _idempotency_lock(self, key: str | None) -> Iterator[None]:
        """Serialize builds sharing an idempotency key in this process (no double build)."""
        if not key:
            yield
            return
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            yield
