"""Breakers: concurrency, caller-error exclusion, open/half-open behaviour, listeners."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from amphora_compute.breakers import BreakerRegistry
from amphora_compute.config import BreakerSettings
from amphora_compute.errors import (
    BackendUnavailableError,
    CircuitOpenError,
    InstanceNotFoundError,
    InvalidRequestError,
    NotSuspendedError,
)


def _fail() -> None:
    raise BackendUnavailableError("backend down")


def test_concurrent_calls_through_one_breaker_overlap() -> None:
    """pybreaker's call() would serialize these; guard() must let them overlap."""
    registry = BreakerRegistry()
    inside = 0
    peak = 0
    lock = threading.Lock()
    all_in = threading.Barrier(4, timeout=5)

    def slow() -> None:
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
        all_in.wait()  # only returns if all four are inside the breaker at once
        with lock:
            inside -= 1

    threads = [threading.Thread(target=registry.call, args=("backend:x", slow))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak == 4
    assert not all_in.broken


@pytest.mark.parametrize("error", [InstanceNotFoundError("x"), InvalidRequestError("x"),
                                   NotSuspendedError("x"), NotImplementedError("x")])
def test_caller_errors_never_open_a_breaker(error: Exception) -> None:
    registry = BreakerRegistry(BreakerSettings(fail_max=2, reset_timeout=60))

    def raise_it() -> None:
        raise error

    for _ in range(5):
        with pytest.raises(type(error)):
            registry.call("backend:x", raise_it)
    assert registry.info("backend:x").state == "closed"


def test_backend_failures_open_the_breaker_and_it_refuses_without_calling() -> None:
    registry = BreakerRegistry(BreakerSettings(fail_max=2, reset_timeout=60))
    for _ in range(2):
        with pytest.raises(BackendUnavailableError):  # the original error, not a wrapper
            registry.call("backend:x", _fail)
    called = []
    with pytest.raises(CircuitOpenError) as info:
        registry.call("backend:x", lambda: called.append(1))
    assert called == []
    assert info.value.retry_at is not None
    assert "backend down" in (info.value.last_error or "")
    assert info.value.breaker == "backend:x"
    assert not registry.is_closed("backend:x")


def test_one_breaker_per_name_does_not_trip_the_others() -> None:
    registry = BreakerRegistry(BreakerSettings(fail_max=1, reset_timeout=60))
    with pytest.raises(BackendUnavailableError):
        registry.call("hardware:dev-a", _fail)
    assert not registry.is_closed("hardware:dev-a")
    assert registry.call("hardware:dev-b", lambda: "fine") == "fine"


def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    registry = BreakerRegistry(BreakerSettings(fail_max=1, reset_timeout=0.2))
    with pytest.raises(BackendUnavailableError):
        registry.call("backend:x", _fail)
    time.sleep(0.25)
    probe_started = threading.Event()
    release = threading.Event()
    results: list[str] = []

    def probe() -> str:
        probe_started.set()
        release.wait(5)
        return "probe ok"

    t = threading.Thread(target=lambda: results.append(registry.call("backend:x", probe)))
    t.start()
    assert probe_started.wait(5)
    with pytest.raises(CircuitOpenError, match="trial call"):
        registry.call("backend:x", lambda: "second caller")
    release.set()
    t.join(5)
    assert results == ["probe ok"]
    assert registry.info("backend:x").state == "closed"


def test_failed_probe_reopens() -> None:
    registry = BreakerRegistry(BreakerSettings(fail_max=1, reset_timeout=0.1))
    with pytest.raises(BackendUnavailableError):
        registry.call("backend:x", _fail)
    time.sleep(0.15)
    with pytest.raises(BackendUnavailableError):
        registry.call("backend:x", _fail)
    assert registry.info("backend:x").state == "open"


def test_transitions_are_logged_at_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="amphora_compute.breakers")
    registry = BreakerRegistry(BreakerSettings(fail_max=1, reset_timeout=60))
    with pytest.raises(BackendUnavailableError):
        registry.call("backend:logged", _fail)
    assert any("backend:logged" in r.getMessage() and "open" in r.getMessage()
               and r.levelno == logging.WARNING for r in caplog.records)


def test_per_backend_overrides_apply_by_prefix() -> None:
    registry = BreakerRegistry(BreakerSettings(fail_max=5),
                               {"hardware": BreakerSettings(fail_max=1, reset_timeout=9)})
    assert registry.breaker("hardware:dev-a").fail_max == 1
    assert registry.breaker("backend:nova").fail_max == 5
