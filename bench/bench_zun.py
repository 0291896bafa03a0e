"""Zun benchmark (issue 7).  Ratios measured side by side in one run; no assertions.

Status of 200 container amphorae against the Zun API server of the tests
(Zun's v1 API on a loopback port, its own process), driven by the real
python-zunclient:

* one ``statuses(ids)`` call (the driver pages the project's containers:
  one list request per ``page_size`` containers);
* a per-id loop (``status(id)`` for each: one GET each).

Target: the batch call is at least 20x faster.  Rounds are interleaved so a
burst of load elsewhere hits both alike; the best round of each is reported.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from _util import report

from amphora_compute.enums import AmphoraStatus, AmphoraType
from amphora_compute.models import BuildRequest, Flavor, ImageRef

N = 200
ROUNDS = 5
UNLIMITED = ("--quota-containers", "-1", "--quota-cpu", "-1", "--quota-memory", "-1",
             "--quota-disk", "-1", "--create-delay", "0.05", "--start-delay", "0.05")


def main() -> int:
    from amphora_compute.drivers.zun.driver import ZunDriver
    from tests.services.zun_api import ZunAPIService

    with tempfile.TemporaryDirectory(prefix="bench-zun-") as tmp:
        try:
            service = ZunAPIService(Path(tmp), args=UNLIMITED).start()
        except (OSError, RuntimeError) as exc:
            print(f"zun bench skipped: the Zun API server did not start: {exc}")
            return 0
        try:
            driver = ZunDriver({"endpoint": service.endpoint, "timeout": 10.0})
            small = ZunDriver({"endpoint": service.endpoint, "timeout": 10.0, "page_size": 50})
            started = time.perf_counter()
            ids = [driver.build(BuildRequest(
                name=f"bench-{i}", amphora_type=AmphoraType.CONTAINER,
                image=ImageRef(id="octavia/amphora-haproxy:2.8"),
                flavor=Flavor(vcpus=1, ram_mb=256))) for i in range(N)]
            build_s = time.perf_counter() - started
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if all(a.status is AmphoraStatus.ACTIVE for a in driver.statuses(ids).values()):
                    break
                time.sleep(0.1)
            print(f"built {N} container amphorae in {build_s:.2f} s "
                  f"({build_s / N * 1000:.1f} ms per build call)")

            batch: list[float] = []
            batch_50: list[float] = []
            loop: list[float] = []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                answer = driver.statuses(ids)
                batch.append(time.perf_counter() - start)
                assert len(answer) == N
                start = time.perf_counter()
                small.statuses(ids)
                batch_50.append(time.perf_counter() - start)
                start = time.perf_counter()
                for amphora_id in ids:
                    driver.status(amphora_id)
                loop.append(time.perf_counter() - start)
            service.clear_stats()
            driver.statuses(ids)
            requests_batch = sum(service.stats().values())
            service.clear_stats()
            small.statuses(ids)
            requests_50 = sum(service.stats().values())

            best_batch, best_50, best_loop = min(batch), min(batch_50), min(loop)
            print(f"statuses({N} ids), page_size 1000: best {best_batch * 1000:.1f} ms, "
                  f"median {statistics.median(batch) * 1000:.1f} ms, "
                  f"{requests_batch} request(s)")
            print(f"statuses({N} ids), page_size 50:   best {best_50 * 1000:.1f} ms, "
                  f"median {statistics.median(batch_50) * 1000:.1f} ms, "
                  f"{requests_50} request(s)")
            print(f"per-id loop ({N} x status):       best {best_loop * 1000:.1f} ms, "
                  f"median {statistics.median(loop) * 1000:.1f} ms, {N} requests")
            ratio = best_loop / best_batch
            report(f"status of {N}: per-id loop / one statuses call", f"{ratio:.1f}x",
                   ">= 20x", ratio >= 20)
            report(f"status of {N}: per-id loop / statuses, pages of 50",
                   f"{best_loop / best_50:.1f}x", "(info)", None)
            driver.close()
            small.close()
        finally:
            service.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
