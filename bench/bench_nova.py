"""Nova driver costs against the real Nova stack, as ratios measured side by side in one run.

1. ``build()`` call latency over a bare openstacksdk ``create_server`` with
   already-known ids and the same body (tags, metadata): what the driver adds
   on top of Nova (image-by-tag, flavor and network lookups are cached, so the
   target is at most 1.15x).  Calls rotate, so drift hits every side alike.
   These creates ask for a flavor no host can take: nova-api does all of its
   work, but no compute boots anything in the background to blur the timing
   (on 2 cores a burst of boots doubles a create's latency at random).
2. Status of 50 amphorae: one ``statuses`` call against a loop of per-id GETs
   (target at least 5x).

Run: ``python bench/bench_nova.py`` (starts the stack, about 50 s, and stops it), or
``AMPHORA_NOVA_STACK_JSON=<run dir>/stack.json python bench/bench_nova.py`` against a
stack started by hand.  Prints numbers; asserts nothing about time.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.services.nova_stack import NovaStack  # noqa: E402

BUILD_PAIRS = int(os.environ.get("BENCH_NOVA_BUILD_PAIRS", "10"))
FLEET = int(os.environ.get("BENCH_NOVA_FLEET", "50"))
STATUS_ROUNDS = int(os.environ.get("BENCH_NOVA_STATUS_ROUNDS", "3"))


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(stack: NovaStack) -> None:
    import openstack.config
    import openstack.connection

    from amphora_compute.drivers.nova.driver import NovaDriver
    from amphora_compute.enums import AmphoraStatus
    from amphora_compute.models import BuildRequest

    res = stack.resources
    options = {"cloud": stack.cloud, "clouds_yaml": str(stack.clouds_yaml),
               "management_network": res.network_name, "image_tag": res.image_tag}
    driver = NovaDriver({**options, "flavor": "amp.huge"})  # phase 1: nothing boots
    fleet_driver = NovaDriver({**options, "flavor": "amp.tiny"})
    region = openstack.config.OpenStackConfig(config_files=[str(stack.clouds_yaml)]).get_one(
        cloud=stack.cloud)
    sdk = openstack.connection.Connection(config=region)
    ids: list[str] = []
    try:
        ids.append(driver.build(BuildRequest(name="bench-warm")))  # warms the lookup cache
        sdk.compute.create_server(name="bench-warm-sdk", image_id=res.image_id,
                                  flavor_id=res.flavors["amp.huge"],
                                  networks=[{"uuid": res.network_id}],
                                  tags=["amphora-compute"], metadata={"amphora_compute": "1"})
        ours: list[float] = []
        bare: list[float] = []
        keyed: list[float] = []
        in_http: list[float] = []
        session = driver._connection().session
        send = session.request

        def spied(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return send(*args, **kwargs)
            finally:
                in_http.append(time.perf_counter() - start)

        def build_ours(i: int) -> None:
            in_http.clear()
            session.request = spied
            try:
                total = timed(lambda: ids.append(driver.build(BuildRequest(
                    name=f"bench-drv-{i}"))))
            finally:
                del session.request
            ours.append(total)
            own.append(total - sum(in_http))

        own: list[float] = []
        steps: list[Callable[[int], None]] = [
            build_ours,
            lambda i: bare.append(timed(lambda: ids.append(sdk.compute.create_server(
                name=f"bench-sdk-{i}", image_id=res.image_id, flavor_id=res.flavors["amp.huge"],
                networks=[{"uuid": res.network_id}], tags=["amphora-compute"],
                metadata={"amphora_compute": "1"}).id))),
            lambda i: keyed.append(timed(lambda: ids.append(driver.build(BuildRequest(
                name=f"bench-key-{i}", idempotency_key=f"bench-{uuid.uuid4().hex}"))))),
        ]
        for i in range(BUILD_PAIRS):
            for step in steps[i % 3:] + steps[:i % 3]:  # rotate: no side always goes first
                step(i)
        med_ours, med_bare, med_keyed = (statistics.median(x) for x in (ours, bare, keyed))
        print(f"build() latency, {BUILD_PAIRS} calls each, alternating (median):")
        print(f"  bare openstacksdk create_server, known ids : {med_bare * 1000:7.1f} ms")
        print(f"  NovaDriver.build (image by tag, cached)   : {med_ours * 1000:7.1f} ms"
              f"   ratio {med_ours / med_bare:.2f}x (target <= 1.15x)")
        print(f"  NovaDriver.build with an idempotency key  : {med_keyed * 1000:7.1f} ms"
              f"   ratio {med_keyed / med_bare:.2f}x (one tag-filtered lookup more)")
        print(f"  driver's own time in build() outside HTTP : {statistics.median(own) * 1000:7.1f}"
              f" ms (median; the part a loaded Nova cannot blur)")

        # The fleet is exactly the 50: phase 1's servers (ERROR, no host) go first.
        for amphora_id in ids:
            driver.delete(amphora_id)
        for server in sdk.compute.servers(name="^bench-"):
            sdk.compute.delete_server(server)
        ids.clear()
        with ThreadPoolExecutor(4) as pool:
            fleet = list(pool.map(lambda n: fleet_driver.build(BuildRequest(
                name=f"bench-fleet-{n}")), range(FLEET)))
        ids.extend(fleet)
        deadline = time.monotonic() + 240
        waited = time.monotonic()
        while time.monotonic() < deadline:
            states = driver.statuses(fleet)
            if all(a.status is not AmphoraStatus.BUILDING for a in states.values()):
                break
            time.sleep(1.0)
        active = sum(a.status is AmphoraStatus.ACTIVE for a in driver.statuses(fleet).values())
        print(f"\nstatus of {FLEET} amphorae ({active} ACTIVE after "
              f"{time.monotonic() - waited:.0f}s of waiting), best of {STATUS_ROUNDS}:")
        one = min(timed(lambda: driver.statuses(fleet)) for _ in range(STATUS_ROUNDS))
        loop = min(timed(lambda: [driver.get_amphora(amphora_id=i) for i in fleet])
                   for _ in range(STATUS_ROUNDS))
        print(f"  per-id GET loop          : {loop * 1000:7.1f} ms")
        print(f"  one statuses() call      : {one * 1000:7.1f} ms   "
              f"speed-up {loop / one:.1f}x (target >= 5x)")
    finally:
        def delete(amphora_id: str) -> None:
            try:
                driver.delete(amphora_id)
            except Exception as exc:  # noqa: BLE001 - keep cleaning up
                print(f"cleanup of {amphora_id} failed: {exc}", file=sys.stderr)

        # One at a time: concurrent deletes of never-scheduled servers can hold
        # nova-api's sqlite write lock against each other (a sqlite artefact).
        for amphora_id in ids:
            delete(amphora_id)
        for server in sdk.compute.servers(name="^bench-warm-sdk$"):
            sdk.compute.delete_server(server)
        driver.close()
        fleet_driver.close()


def main() -> int:
    attach = os.environ.get("AMPHORA_NOVA_STACK_JSON")
    if attach:
        bench(NovaStack.attach(attach))
        return 0
    stack = NovaStack()
    try:
        stack.start()
        print(f"nova stack started in {stack.timings['total']:.1f}s\n")
        bench(stack)
    finally:
        stack.stop()
        if os.environ.get("AMPHORA_KEEP_STACK_DIR") != "1":
            shutil.rmtree(stack.run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
