"""Octavia benchmark (issue 8): the adapter's overhead inside a real Octavia 19.

Two real Octavias run at the same time (``tests/services/octavia.py``): one
with ``compute_driver = amphora_compute`` over the Noop VM backend (in-memory
state: one worker process), one with Octavia's own ``compute_noop_driver``.
Load balancers (SINGLE topology) are created and cascade-deleted on each, the
two interleaved one LB at a time, so a burst of load elsewhere on the machine
hits both alike.  Measured from the REST API: POST to ``ACTIVE``, and cascade
DELETE until the LB is gone (polled every 20 ms).

Target: the adapter's medians at most 1.2x the baseline's.  The machine's
own load moves single samples by seconds, so the median of the per-pair ratios
(each pair measured back to back) is printed beside the ratio of the medians.

Then, inside Octavia's venv, the two drivers are timed directly (no Octavia
flow around them): construct + build + get_amphora + delete, with Octavia's
real arguments (four config-drive files, user data), in interleaved rounds:
the adapter's own cost per amphora in microseconds.

Prints ratios; asserts nothing about time.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from _util import percentiles, report

from tests.services.octavia import (
    ADAPTER_DRIVER,
    OCTAVIA_NOOP_DRIVER,
    OctaviaService,
    noop_amphora_compute_config,
    octavia_service,
    private_tmp_prefix,
    private_workdir,
)

SAMPLES = 10
WARMUP = 1
POLL = 0.02
TARGET = 1.2


def create_and_delete(service: OctaviaService, name: str) -> tuple[float, float]:
    """(seconds from POST to ACTIVE, seconds from cascade DELETE to gone)."""
    start = time.perf_counter()
    lb = service.create_load_balancer(name)
    done = service.wait_load_balancer(lb["id"], ["ACTIVE", "ERROR"], timeout=120,
                                      interval=POLL)
    created = time.perf_counter() - start
    if done["provisioning_status"] != "ACTIVE":
        raise RuntimeError(f"{name} on {service.compute_driver} ended in "
                           f"{done['provisioning_status']}")
    start = time.perf_counter()
    service.delete_load_balancer(lb["id"], cascade=True)
    service.wait_deleted(lb["id"], timeout=120, interval=POLL)
    return created, time.perf_counter() - start


@contextlib.contextmanager
def both_octavias() -> Iterator[dict[str, OctaviaService]]:
    """Start the adapter's and the baseline's Octavia concurrently (halves the wait)."""
    with private_workdir("amphora-octavia-bench-") as workdir:
        # In-memory Noop state: one worker process builds, deletes and polls.
        config = noop_amphora_compute_config(workdir / "amphora-compute.toml", None,
                                             octavia='[octavia]\ndefault_type = "vm"\n')
        services: dict[str, OctaviaService] = {}
        errors: list[BaseException] = []
        stack = contextlib.ExitStack()
        lock = threading.Lock()

        def start(driver: str) -> None:
            try:
                cm = octavia_service(
                    compute_driver=driver, debug=False, workdir=workdir / driver,
                    amphora_compute_config=config if driver == ADAPTER_DRIVER else None)
                service = cm.__enter__()
                with lock:
                    services[driver] = service
                    stack.push(cm.__exit__)
            except BaseException as exc:  # reported below, after both threads end
                errors.append(exc)

        with stack:
            threads = [threading.Thread(target=start, args=(d,))
                       for d in (ADAPTER_DRIVER, OCTAVIA_NOOP_DRIVER)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors:
                raise errors[0]
            yield services


def main() -> int:
    print("starting two real Octavias (adapter over Noop, and compute_noop_driver)...",
          flush=True)
    started = time.perf_counter()
    try:
        octavias = both_octavias()
        services = octavias.__enter__()
    except Exception as exc:
        print(f"Octavia could not start here: {exc}")
        return 1
    try:
        print(f"both up in {time.perf_counter() - started:.0f} s", flush=True)
        samples: dict[str, dict[str, list[float]]] = {
            d: {"create": [], "delete": []} for d in services}
        order = [ADAPTER_DRIVER, OCTAVIA_NOOP_DRIVER]
        for i in range(WARMUP + SAMPLES):
            for driver in order if i % 2 == 0 else reversed(order):
                created, deleted = create_and_delete(services[driver], f"bench-{i}")
                if i >= WARMUP:
                    samples[driver]["create"].append(created)
                    samples[driver]["delete"].append(deleted)
        micro_us = micro(services, services[ADAPTER_DRIVER].workdir.parent)
    finally:
        octavias.__exit__(*sys.exc_info())
    _print(samples)
    _print_micro(micro_us)
    return 0


_MICRO_SCRIPT = r'''
import json, sys, time
from oslo_config import cfg
from octavia.common import config as octavia_config  # registers Octavia's options
cfg.CONF([], project="octavia", default_config_files=[])
from amphora_compute.octavia import AmphoraComputeOctaviaDriver, config_path
config_path()  # registers [amphora_compute] config_file
cfg.CONF.set_override("config_file", sys.argv[1], group="amphora_compute")
from octavia.compute.drivers.noop_driver.driver import NoopComputeDriver

files = {"/etc/octavia/certs/server.pem": "S" * 3000, "/etc/octavia/certs/client_ca.pem":
         "C" * 1200, "/etc/octavia/amphora-agent.conf": "A" * 1500,
         "/etc/rsyslog.d/10-rsyslog.conf": "R" * 400}
user_data = "#cloud-config\n" + "u" * 1500

def cycle(cls):
    driver = cls()
    compute_id = driver.build(
        name="amphora-0b7e3e5c-2f6a-4c1e-9d7e-3b0d7a1f2c11", amphora_flavor="",
        image_tag="amphora", image_owner="", key_name=None, sec_groups=[],
        network_ids=["00000000-0000-0000-0000-000000000001"], port_ids=[],
        config_drive_files=dict(files), user_data=user_data, server_group_id=None,
        availability_zone=None)
    amphora, fault = driver.get_amphora(compute_id, None)
    assert amphora.status == "ACTIVE", amphora.status
    driver.delete(compute_id)

contenders = {"adapter": AmphoraComputeOctaviaDriver, "octavia_noop": NoopComputeDriver}
for cls in contenders.values():
    cycle(cls)
best = {name: float("inf") for name in contenders}
for _ in range(5):
    for name, cls in contenders.items():
        start = time.perf_counter()
        for _ in range(200):
            cycle(cls)
        best[name] = min(best[name], (time.perf_counter() - start) / 200)
print(json.dumps({name: value * 1e6 for name, value in best.items()}))
'''


def micro(services: dict[str, OctaviaService], workdir: Path) -> dict[str, float] | None:
    """Per-amphora cost of each driver alone, in Octavia's venv (private /tmp)."""
    adapter = services[ADAPTER_DRIVER]
    assert adapter.amphora_compute_config is not None
    private_tmp = workdir / "micro-tmp"
    private_tmp.mkdir(exist_ok=True)
    result = subprocess.run(
        [*private_tmp_prefix(private_tmp), str(adapter.venv / "bin" / "python"), "-c",
         _MICRO_SCRIPT, str(adapter.amphora_compute_config)],
        capture_output=True, text=True, timeout=300, cwd=workdir)
    if result.returncode != 0:
        print(f"micro benchmark failed:\n{result.stderr[-2000:]}")
        return None
    out: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def _print(samples: dict[str, dict[str, list[float]]]) -> None:
    print(f"\n{SAMPLES} SINGLE load balancers per driver, interleaved "
          f"(after {WARMUP} warm-up rounds); seconds")
    for driver, label in ((ADAPTER_DRIVER, "amphora_compute over noop-vm"),
                          (OCTAVIA_NOOP_DRIVER, "Octavia compute_noop_driver")):
        for op in ("create", "delete"):
            p50, p95 = percentiles(samples[driver][op])
            print(f"  {label:32} {op:6} p50 {p50:6.3f}  p95 {p95:6.3f}  "
                  f"mean {statistics.fmean(samples[driver][op]):6.3f}")
    for op, what in (("create", "LB create-to-ACTIVE"), ("delete", "LB cascade delete")):
        ours, theirs = samples[ADAPTER_DRIVER][op], samples[OCTAVIA_NOOP_DRIVER][op]
        ratio = statistics.median(ours) / statistics.median(theirs)
        paired = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
        report(f"Octavia {what}: adapter / compute_noop_driver (p50)", f"{ratio:.2f}x",
               f"<= {TARGET}x", ratio <= TARGET)
        report(f"Octavia {what}: median of paired ratios", f"{paired:.2f}x",
               f"<= {TARGET}x", paired <= TARGET)


def _print_micro(micro_us: dict[str, float] | None) -> None:
    if not micro_us:
        return
    print("\nEach driver alone in Octavia's venv: construct + build + get_amphora + delete")
    print(f"  adapter over noop-vm (dispatcher, breaker, Noop) {micro_us['adapter']:8.1f} us")
    print(f"  Octavia compute_noop_driver                      "
          f"{micro_us['octavia_noop']:8.1f} us")
    report("adapter's own cost per amphora", f"{micro_us['adapter']:.0f} us", "(reported)",
           None)


if __name__ == "__main__":
    sys.exit(main())
