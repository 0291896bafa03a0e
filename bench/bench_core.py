"""Core benchmarks (issue: core).  Ratios measured side by side in one run; no assertions.

1. Per-call overhead of dispatcher + breaker over a direct Noop call, against the
   overhead of a bare pybreaker ``call()``.  Target: at most 2x.
2. 200 builds through the async facade, Noop latency 50 ms, pool of 32: wall time
   over the ideal 200 / 32 x 50 ms.  Target: at most 1.3x.
3. A successful call through a Redis-shared breaker (real redis-server on
   loopback): our cached storage against pybreaker's CircuitRedisStorage.
   Target: at most 20 us per call and at least 10x cheaper.
4. ``amphora --help`` start-up over ``python -c pass``.  Target: at most 150 ms
   more, and no backend library imported.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

# redis before pybreaker, so that pybreaker's own Redis storage exists for the comparison
# (amphora_compute imports pybreaker without redis, to start fast).
import redis  # noqa: F401
from _util import interleaved_us, report

from amphora_compute import AmphoraType, BuildRequest, Dispatcher
from amphora_compute.config import parse_config


def bench_dispatch_overhead() -> None:
    import pybreaker

    dispatcher = Dispatcher(parse_config({}))
    amphora_id = dispatcher.build(BuildRequest(name="bench"))
    driver = dispatcher.driver(AmphoraType.VM)
    bare = pybreaker.CircuitBreaker()
    times = interleaved_us({
        "direct": lambda: driver.status(amphora_id),
        "bare": lambda: bare.call(driver.status, amphora_id),
        "ours": lambda: dispatcher.status(amphora_id),
    })
    ours, theirs = times["ours"] - times["direct"], times["bare"] - times["direct"]
    report("direct Noop status() call", f"{times['direct']:.2f} us", "", None)
    report("dispatcher+breaker overhead per call", f"{ours:.2f} us", "", None)
    report("bare pybreaker call() overhead per call", f"{theirs:.2f} us", "", None)
    ratio = ours / theirs if theirs > 0 else float("inf")
    report("overhead ratio (ours / bare pybreaker)", f"{ratio:.2f}x", "<= 2x", ratio <= 2)
    dispatcher.close()


def bench_async_builds() -> None:
    latency, pool, count = 0.05, 32, 200
    config = parse_config({"backends": {"noop-vm": {"latency": latency}}})

    async def run() -> float:
        from amphora_compute.aio import AsyncDispatcher

        async with AsyncDispatcher(Dispatcher(config), pool_size=pool) as facade:
            start = time.perf_counter()
            await asyncio.gather(*(facade.build(BuildRequest(name=f"b{i}"))
                                   for i in range(count)))
            return time.perf_counter() - start

    wall = asyncio.run(run())
    ideal = count / pool * latency
    report("200 async builds, 50 ms latency, pool 32 (wall)", f"{wall * 1000:.0f} ms", "", None)
    report("wall over ideal (200/32 x 50 ms)", f"{wall / ideal:.2f}x", "<= 1.3x",
           wall / ideal <= 1.3)


def bench_redis_breaker() -> None:
    import pybreaker

    from amphora_compute.breakers import BreakerRegistry
    from amphora_compute.redis_storage import redis_storage_factory
    from tests.services.redis_server import RedisServer

    try:
        server = RedisServer().start()
    except (OSError, TimeoutError) as exc:
        print(f"redis bench skipped: {exc}")
        return
    try:
        ours = BreakerRegistry(storage_factory=redis_storage_factory(server.url))
        ours.call("backend:bench", lambda: None)
        client = redis.Redis.from_url(server.url)
        storage = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, client,
                                                namespace="bench-theirs")
        theirs = pybreaker.CircuitBreaker(state_storage=storage)
        plain = BreakerRegistry()

        def noop() -> None:
            return None

        times = interleaved_us({"plain": lambda: plain.call("backend:bench", noop),
                                "ours": lambda: ours.call("backend:bench", noop)}, 5000, 10)
        us_plain, us_ours = times["plain"], times["ours"]
        us_theirs = interleaved_us({"theirs": lambda: theirs.call(noop)}, 300, 5)["theirs"]
        report("in-memory breaker, successful call", f"{us_plain:.1f} us", "", None)
        report("Redis-shared breaker (ours), successful call", f"{us_ours:.1f} us", "<= 20 us",
               us_ours <= 20)
        report("pybreaker CircuitRedisStorage, successful call", f"{us_theirs:.1f} us", "",
               None)
        report("pybreaker Redis storage / ours", f"{us_theirs / us_ours:.1f}x", ">= 10x",
               us_theirs / us_ours >= 10)
    finally:
        server.stop()


def bench_cli_startup() -> None:
    script = Path(sys.executable).with_name("amphora")
    if not script.exists():
        print(f"cli bench skipped: no console script at {script}")
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}

    def best_of(argv: list[str], runs: int = 7) -> float:
        best = float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, env=env, check=True)
            best = min(best, time.perf_counter() - start)
        return best

    baseline = best_of([sys.executable, "-c", "pass"])
    helped = best_of([str(script), "--help"])
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys\nimport amphora_compute.cli as c\n"
         "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
         "heavy=('openstack','zunclient','ironicclient','netmiko','paramiko','redis',"
         "'pybreaker')\nprint(','.join(m for m in heavy if m in sys.modules) or 'none')"],
        capture_output=True, text=True, env=env, check=True).stdout.strip().splitlines()[-1]
    extra = (helped - baseline) * 1000
    report("python -c pass", f"{baseline * 1000:.0f} ms", "", None)
    report("amphora --help", f"{helped * 1000:.0f} ms", "", None)
    report("amphora --help over python -c pass", f"+{extra:.0f} ms", "<= +150 ms", extra <= 150)
    report("backend libraries imported by --help", probe, "none", probe == "none")


if __name__ == "__main__":
    bench_dispatch_overhead()
    bench_async_builds()
    bench_redis_breaker()
    bench_cli_startup()
