"""Hardware benchmark (issue 5).  Ratios measured side by side in one run; no assertions.

Against a real OpenSSH sshd on 127.0.0.1 driving real HAProxy slots in network
namespaces (the Linux appliance of the functional tests; needs root):

* 10 ``status`` calls on one warm pooled netmiko session against 10 calls that
  each open a fresh session (connect, log in, prepare) -- target at least 3x;
  rounds interleaved, the best round of each reported;
* build / status / delete latency of one amphora on linux-haproxy, p50 and p95.

The same warm/fresh ratio is printed for the emulated F5 tmsh CLI, whose
session preparation (tmsh, stty, pager) makes a fresh session dearer.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _util import percentiles, report

from amphora_compute.drivers.hardware.driver import HardwareDriver
from amphora_compute.enums import AmphoraType
from amphora_compute.models import BuildRequest

CALLS = 10
ROUNDS = 3
LATENCY_RUNS = 20


def _warm_vs_fresh(driver: HardwareDriver, device: str, amphora_id: str) -> tuple[float, float]:
    session = driver.sessions[device]

    def warm() -> None:
        for _ in range(CALLS):
            driver.status(amphora_id)

    def fresh() -> None:
        for _ in range(CALLS):
            session.close()
            driver.status(amphora_id)

    best: dict[str, float] = {"warm": float("inf"), "fresh": float("inf")}
    runs: dict[str, Callable[[], None]] = {"warm": warm, "fresh": fresh}
    for _ in range(ROUNDS):
        for name, run in runs.items():
            driver.status(amphora_id)  # each round starts from a connected session
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best["warm"], best["fresh"]


def _print_ratio(label: str, warm: float, fresh: float) -> None:
    ratio = fresh / warm
    print(f"  {CALLS} status calls, warm pooled session: {warm * 1000:8.1f} ms")
    print(f"  {CALLS} status calls, fresh session each:  {fresh * 1000:8.1f} ms")
    report(f"{label}: fresh / warm", f"{ratio:.1f}x", ">= 3x", ratio >= 3)


def bench_linux(root: Path) -> None:
    from tests.functional._hardware import linux_missing
    from tests.services.netns import TestNetwork
    from tests.services.sshd import SshServer

    reason = linux_missing()
    if reason:
        print(f"linux-haproxy bench skipped: {reason}")
        return
    net = TestNetwork(root / "net").start()
    server = SshServer(root / "sshd").start()
    driver = HardwareDriver({"devices": [server.device(
        "lb1", capacity=64, slot_network=net.network,
        params={"bridge": net.bridge, "state_dir": str(root / "state")})]})
    backends = {"backends": f"{net.backend_address}:{net.backend_port}"}
    try:
        amphora_id = driver.build(BuildRequest(name="bench-status",
                                               amphora_type=AmphoraType.HARDWARE_LB,
                                               metadata=backends))
        print("linux-haproxy (real sshd + HAProxy in network namespaces)")
        _print_ratio("linux-haproxy status", *_warm_vs_fresh(driver, "lb1", amphora_id))
        driver.delete(amphora_id)
        times: dict[str, list[float]] = {"build": [], "status": [], "delete": []}
        for i in range(LATENCY_RUNS):
            request = BuildRequest(name=f"bench-{i}", amphora_type=AmphoraType.HARDWARE_LB,
                                   metadata=backends)
            start = time.perf_counter()
            amphora_id = driver.build(request)
            times["build"].append(time.perf_counter() - start)
            start = time.perf_counter()
            driver.status(amphora_id)
            times["status"].append(time.perf_counter() - start)
            start = time.perf_counter()
            driver.delete(amphora_id)
            times["delete"].append(time.perf_counter() - start)
        for op, samples in times.items():
            p50, p95 = percentiles(samples)
            report(f"linux-haproxy {op} latency ({LATENCY_RUNS} runs, warm session)",
                   f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms", "(reported)", None)
    finally:
        for amphora in driver.list():
            driver.delete(amphora.id)
        driver.close()
        server.stop()
        net.stop()


def bench_f5(root: Path) -> None:
    from tests.services.sshd import keygen
    from tests.services.vendor_cli import VendorCliServer

    root.mkdir(parents=True, exist_ok=True)
    key = root / "id_ed25519"
    emulator = VendorCliServer(root, "f5-bigip", client_public_key=keygen(key)).start()
    driver = HardwareDriver({"devices": [emulator.device_entry("bigip", key_file=str(key))]})
    try:
        amphora_id = driver.build(BuildRequest(name="bench-f5",
                                               amphora_type=AmphoraType.HARDWARE_LB))
        print("f5-bigip (tmsh emulator, netmiko f5_tmsh)")
        _print_ratio("f5-bigip status", *_warm_vs_fresh(driver, "bigip", amphora_id))
        driver.delete(amphora_id)
    finally:
        driver.close()
        emulator.stop()


def main() -> int:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-hw-") as tmp:
        root = Path(tmp)
        bench_linux(root / "linux")
        bench_f5(root / "f5")
    return 0


if __name__ == "__main__":
    sys.exit(main())
