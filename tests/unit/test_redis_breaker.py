"""The Redis-shared breaker state: cheap per call, and seen by other OS processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from amphora_compute.breakers import BreakerRegistry
from amphora_compute.config import BreakerSettings
from amphora_compute.errors import BackendUnavailableError, CircuitOpenError
from amphora_compute.redis_storage import redis_storage_factory

pytestmark = pytest.mark.functional

CHILD = textwrap.dedent("""
    import sys, time
    from amphora_compute.breakers import BreakerRegistry
    from amphora_compute.config import BreakerSettings
    from amphora_compute.errors import BackendUnavailableError
    from amphora_compute.redis_storage import redis_storage_factory
    url, prefix, action = sys.argv[1], sys.argv[2], sys.argv[3]
    registry = BreakerRegistry(BreakerSettings(fail_max=2, reset_timeout=60),
                               storage_factory=redis_storage_factory(url, prefix=prefix))
    if action == "trip":
        def fail():
            raise BackendUnavailableError("down in the child")
        for _ in range(2):
            try:
                registry.call("backend:shared", fail)
            except BackendUnavailableError:
                pass
        print(registry.info("backend:shared").state)
    else:
        print(registry.info("backend:shared").state)
""")


def _child(url: str, prefix: str, action: str) -> str:
    out = subprocess.run([sys.executable, "-c", CHILD, url, prefix, action], check=True,
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def test_a_trip_in_one_process_is_seen_by_another_within_a_second(redis_server) -> None:
    prefix = f"test:{time.monotonic_ns()}"
    here = BreakerRegistry(BreakerSettings(fail_max=2, reset_timeout=60),
                           storage_factory=redis_storage_factory(redis_server.url, prefix=prefix))
    assert here.call("backend:shared", lambda: "ok") == "ok"  # closed, cached
    assert _child(redis_server.url, prefix, "trip") == "open"
    time.sleep(1.0)  # the cache lives at most 0.5 s
    with pytest.raises(CircuitOpenError) as info:
        here.call("backend:shared", lambda: "must not run")
    assert "down in the child" in str(info.value)  # why it opened travels through Redis
    # A third process sees it open too, straight from Redis.
    assert _child(redis_server.url, prefix, "look") == "open"


def test_breakers_have_their_own_namespaces(redis_server) -> None:
    prefix = f"test:{time.monotonic_ns()}"
    registry = BreakerRegistry(BreakerSettings(fail_max=1, reset_timeout=60),
                               storage_factory=redis_storage_factory(redis_server.url,
                                                                     prefix=prefix))

    def fail() -> None:
        raise BackendUnavailableError("x")

    with pytest.raises(BackendUnavailableError):
        registry.call("backend:a", fail)
    assert registry.info("backend:a").state == "open"
    assert registry.info("backend:b").state == "closed"


def test_successful_calls_do_not_write_to_redis(redis_server) -> None:
    import redis

    prefix = f"test:{time.monotonic_ns()}"
    registry = BreakerRegistry(storage_factory=redis_storage_factory(redis_server.url,
                                                                     prefix=prefix))
    registry.call("backend:quiet", lambda: None)  # creates the hash
    client = redis.Redis.from_url(redis_server.url)
    before = client.info("stats")["total_commands_processed"]
    for _ in range(200):
        registry.call("backend:quiet", lambda: None)
    after = client.info("stats")["total_commands_processed"]
    # 200 calls within well under a second: a handful of cached reads, no writes.
    assert after - before < 20


def test_redis_outage_does_not_break_calls() -> None:
    registry = BreakerRegistry(storage_factory=redis_storage_factory(
        "redis://127.0.0.1:1/0", socket_timeout=0.2))  # nothing listens on port 1
    assert registry.call("backend:x", lambda: "still works") == "still works"
