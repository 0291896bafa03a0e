"""One circuit breaker per backend endpoint, built on pybreaker without its lock.

Why not ``breaker.call()``: pybreaker holds the breaker's lock for the whole
guarded call, so concurrent calls to one backend run one at a time (four 0.3 s
calls took 1.2 s).  ``call()`` and ``guard()`` here decide admission from the
stored state, run the call with no lock held, then hand the outcome to
pybreaker's state objects (``_handle_error`` / ``_handle_success``), so calls
overlap and pybreaker's own counting, storage and listeners still apply.

What we add on top of pybreaker:

* caller errors (bad request, not found, not suspended, not implemented) are
  excluded: they say nothing about the backend's health;
* an open breaker raises ``CircuitOpenError`` carrying when the next trial call
  is allowed and the error that tripped it;
* half-open lets exactly one trial call through per process (no probe herd);
* transitions are logged at WARNING by a listener that never raises.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from . import _pybreaker
from .config import BreakerSettings
from .errors import CircuitOpenError, is_caller_error

if TYPE_CHECKING:
    import pybreaker
else:
    pybreaker = _pybreaker.load()
LOG = logging.getLogger(__name__)
T = TypeVar("T")

StorageFactory = Callable[[str], pybreaker.CircuitBreakerStorage]


@dataclass(frozen=True, slots=True)
class BreakerInfo:
    """A read-only view of one breaker (``amphora breakers``)."""

    name: str
    state: str
    fail_counter: int
    fail_max: int
    reset_timeout: float
    retry_at: datetime | None
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "fail_counter": self.fail_counter,
            "fail_max": self.fail_max,
            "reset_timeout": self.reset_timeout,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "last_error": self.last_error,
        }


class _Listener(pybreaker.CircuitBreakerListener):
    """Logs transitions and remembers the last failure; never raises."""

    def __init__(self, registry: BreakerRegistry) -> None:
        self._registry = registry

    def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        with contextlib.suppress(Exception):
            text = f"{type(exc).__name__}: {exc}"[:300]
            self._registry._last_error[cb.name or ""] = text
            # When this failure (re)opens the breaker, shared storage keeps the reason
            # too, so other processes can say why it is open.  pybreaker counts the
            # failure before it calls listeners.
            setter = getattr(cb._state_storage, "set_last_error", None)
            trips = cb.current_state != pybreaker.STATE_CLOSED or cb.fail_counter >= cb.fail_max
            if setter is not None and trips:
                setter(text)

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        with contextlib.suppress(Exception):
            old = getattr(old_state, "name", None)
            new = getattr(new_state, "name", None)
            if old != new:
                LOG.warning("circuit breaker %s: %s -> %s (last error: %s)", cb.name, old, new,
                            self._registry._last_error.get(cb.name or "", "none"))


class BreakerRegistry:
    """Creates and holds breakers by name ("backend:nova", "hardware:lb-1", ...).

    ``settings`` is the default; ``overrides`` maps a breaker-name prefix
    (usually the backend name) to its own settings.  ``storage_factory`` makes
    the state storage per breaker (in memory when None; see ``redis_storage``).
    """

    def __init__(self, settings: BreakerSettings | None = None,
                 overrides: Mapping[str, BreakerSettings] | None = None,
                 storage_factory: StorageFactory | None = None) -> None:
        self.settings = settings or BreakerSettings()
        self.overrides = dict(overrides or {})
        self._storage_factory = storage_factory
        self._breakers: dict[str, pybreaker.CircuitBreaker] = {}
        self._probes: dict[str, threading.Lock] = {}
        self._last_error: dict[str, str] = {}
        self._lock = threading.Lock()
        self._listener = _Listener(self)

    def settings_for(self, name: str) -> BreakerSettings:
        """Settings of the longest override prefix of ``name``.

        ``hardware`` covers ``hardware:dev-a``.
        """
        best = ""
        scope, _, rest = name.partition(":")
        for prefix in self.overrides:
            # "nova" covers "backend:nova"; "hardware" covers "hardware:dev-a"
            matches = name == prefix or name.startswith(prefix + ":") or (
                scope == "backend" and rest == prefix)
            if matches and len(prefix) > len(best):
                best = prefix
        return self.overrides.get(best, self.settings)

    def breaker(self, name: str) -> pybreaker.CircuitBreaker:
        cb = self._breakers.get(name)
        if cb is not None:
            return cb
        with self._lock:
            cb = self._breakers.get(name)
            if cb is None:
                s = self.settings_for(name)
                storage = self._storage_factory(name) if self._storage_factory else None
                cb = pybreaker.CircuitBreaker(
                    fail_max=s.fail_max, reset_timeout=s.reset_timeout,
                    success_threshold=s.success_threshold, exclude=[is_caller_error],
                    listeners=[self._listener], state_storage=storage, name=name,
                    throw_new_error_on_trip=False)
                self._breakers[name] = cb
                self._probes[name] = threading.Lock()
            return cb

    @contextlib.contextmanager
    def guard(self, name: str) -> Iterator[None]:
        """Run the ``with`` body under breaker ``name`` (for code that is not one call).

        :raises CircuitOpenError: the breaker is open (the body does not run).
        """
        cb, probe = self._admit(name)
        try:
            yield
        except BaseException as exc:
            self._failed(cb, exc)
            raise
        else:
            self._succeeded(cb)
        finally:
            if probe is not None:
                probe.release()

    def call(self, name: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``func(*args, **kwargs)`` under breaker ``name``; concurrent calls overlap.

        The hot path: in the closed state this is one storage read before the
        call and one after (a no-op write while nothing failed).
        """
        cb, probe = self._admit(name)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            self._failed(cb, exc)
            raise
        else:
            self._succeeded(cb)
            return result
        finally:
            if probe is not None:
                probe.release()

    def is_closed(self, name: str) -> bool:
        """True when calls would go through now (closed, or open with its timeout over)."""
        cb = self.breaker(name)
        state = cb.current_state
        if state == pybreaker.STATE_CLOSED:
            return True
        retry_at = self._retry_at(cb)
        return retry_at is None or datetime.now(UTC) >= retry_at

    def info(self, name: str) -> BreakerInfo:
        cb = self.breaker(name)
        state = cb.current_state
        return BreakerInfo(name=name, state=state, fail_counter=cb.fail_counter,
                           fail_max=cb.fail_max, reset_timeout=cb.reset_timeout,
                           retry_at=self._retry_at(cb) if state != pybreaker.STATE_CLOSED
                           else None,
                           last_error=self._last_error.get(name)
                           or getattr(cb._state_storage, "last_error", None))

    def names(self) -> list[str]:
        return sorted(self._breakers)

    def snapshot(self) -> list[BreakerInfo]:
        return [self.info(name) for name in self.names()]

    # -- private -------------------------------------------------------------

    def _admit(self, name: str) -> tuple[pybreaker.CircuitBreaker, threading.Lock | None]:
        """Decide whether a call may go through; returns the probe lock a trial call holds.

        Closed: go.  Open before its timeout: refuse.  Open after its timeout or
        half-open: exactly one trial call per process goes, the rest are refused.
        """
        cb = self._breakers.get(name) or self.breaker(name)
        state = cb.current_state
        if state == pybreaker.STATE_CLOSED:
            return cb, None
        retry_at = self._retry_at(cb)
        if state == pybreaker.STATE_OPEN and retry_at and datetime.now(UTC) < retry_at:
            raise self._open_error(cb, retry_at)
        probe = self._probes[name]
        if not probe.acquire(blocking=False):
            raise self._open_error(cb, retry_at, "a trial call is already in progress")
        if state == pybreaker.STATE_OPEN:
            cb.half_open()
        return cb, probe

    @staticmethod
    def _failed(cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        """Let pybreaker's current state count the failure (caller errors are excluded).

        pybreaker's state raises to signal a trip; the caller must see its own
        error, so that is swallowed here and the original is re-raised by us.
        """
        with contextlib.suppress(BaseException):  # the trip; the original error follows
            cb.state._handle_error(exc, reraise=False)

    @staticmethod
    def _succeeded(cb: pybreaker.CircuitBreaker) -> None:
        # ``cb.state`` re-reads the storage; the cached state object is current
        # unless another thread or process changed it meanwhile.
        state = cb._state if cb._state.name == pybreaker.STATE_CLOSED else cb.state
        state._handle_success()

    @staticmethod
    def _retry_at(cb: pybreaker.CircuitBreaker) -> datetime | None:
        opened_at: datetime | None = cb._state_storage.opened_at  # kept in the storage
        if opened_at is None:
            return None
        if opened_at.tzinfo is None:
            opened_at = opened_at.replace(tzinfo=UTC)
        return opened_at + timedelta(seconds=cb.reset_timeout)

    def _open_error(self, cb: pybreaker.CircuitBreaker, retry_at: datetime | None,
                    why: str = "") -> CircuitOpenError:
        name = cb.name or "?"
        last = self._last_error.get(name) or getattr(cb._state_storage, "last_error", None)
        when = f"; next trial at {retry_at.isoformat(timespec='seconds')}" if retry_at else ""
        detail = f" ({why})" if why else ""
        backend = name.split(":", 1)[1] if ":" in name else name
        return CircuitOpenError(
            f"circuit breaker {name} is open{detail}{when}; last error: {last or 'unknown'}",
            breaker=name, retry_at=retry_at, last_error=last, backend=backend)
