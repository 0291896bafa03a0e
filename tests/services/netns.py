"""A small test network for the Linux appliance: a bridge and a backend server namespace.

Layout (nothing gets an address in the root namespace, so no host route or
forwarding setting changes):

    root namespace:  bridge ampbr<tag> (no address)
                       |-- vbk<tag> -- [netns ampbk<tag>: eth0 10.<a>.<b>.2/24,
                       |                 python http.server on :8080, the "backend"]
                       |-- v<slot>  -- [netns <slot>: eth0 10.<a>.<b>.<10+i>/24, HAProxy]
                                          (made by the hardware driver, one per amphora)

A request from inside the backend namespace to a slot's address goes through
the slot's veth into its HAProxy and back out to the backend server: proof
that the slot serves.  Everything here is created with names carrying a random
tag and removed by ``stop()`` (processes first, then links, then namespaces).
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import subprocess
import sys
from pathlib import Path

from ._proc import ManagedProcess, wait_until


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          timeout=30)


def netns_names() -> set[str]:
    """Every named network namespace on the host."""
    out = ip("netns", "list", check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def link_exists(name: str) -> bool:
    return ip("link", "show", name, check=False).returncode == 0


def live_processes_mentioning(text: str) -> list[str]:
    """Live (non-zombie) processes whose command line contains ``text``."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(f"{pid} {state} {cmdline.strip()}")
    return found


def missing() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if ip("netns", "list", check=False).returncode != 0:
        return "iproute2 with netns support is needed (apt-get install iproute2)"
    return None


class TestNetwork:
    """The bridge and the backend server; ``request(url)`` runs from the backend side."""

    __test__ = False  # not a pytest class

    def __init__(self, workdir: Path) -> None:
        self.tag = secrets.token_hex(3)
        self.bridge = f"ampbr{self.tag}"
        self.backend_ns = f"ampbk{self.tag}"
        self.backend_veth = f"vbk{self.tag}"
        octet = random.randint(0, 255)
        self.prefix = f"10.231.{octet}"
        self.network = f"{self.prefix}.0/24"
        self.backend_address = f"{self.prefix}.2"
        self.backend_port = 8080
        self.token = secrets.token_hex(8)
        self.dir = Path(workdir)
        self.server: ManagedProcess | None = None

    def start(self) -> TestNetwork:
        try:
            ip("link", "add", self.bridge, "type", "bridge")
            ip("link", "set", self.bridge, "up")
            ip("netns", "add", self.backend_ns)
            ip("link", "add", self.backend_veth, "type", "veth", "peer", "name", "eth0",
               "netns", self.backend_ns)
            ip("link", "set", self.backend_veth, "master", self.bridge, "up")
            ip("-n", self.backend_ns, "addr", "add", f"{self.backend_address}/24", "dev", "eth0")
            ip("-n", self.backend_ns, "link", "set", "eth0", "up")
            ip("-n", self.backend_ns, "link", "set", "lo", "up")
            site = self.dir / "site"
            site.mkdir(parents=True, exist_ok=True)
            (site / "index.html").write_text(f"backend {self.token}\n")
            self.server = ManagedProcess(
                "backend-http",
                ["ip", "netns", "exec", self.backend_ns, sys.executable, "-m", "http.server",
                 "--bind", self.backend_address, "--directory", str(site),
                 str(self.backend_port)], self.dir / "backend-http.log").start()
            wait_until(lambda: self._curl(
                f"http://{self.backend_address}:{self.backend_port}/").returncode == 0,
                10, 0.1, "the backend http server")
        except (subprocess.CalledProcessError, TimeoutError) as exc:
            detail = getattr(exc, "stderr", "") or ""
            self.stop()
            raise OSError(f"test network setup failed: {exc} {detail}".strip()) from exc
        return self

    def request(self, url: str) -> str:
        """GET ``url`` from the backend namespace (curl, no proxy); the body or an error."""
        result = self._curl(url)
        if result.returncode != 0:
            raise OSError(f"curl {url} failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def _curl(self, url: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.backend_ns, "curl", "--noproxy", "*",
                               "-sS", "-m", "5", url], capture_output=True, text=True,
                              timeout=15)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(timeout=5)
            self.server = None
        with contextlib.suppress(Exception):
            pids = ip("netns", "pids", self.backend_ns, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), 9)
        ip("link", "del", self.backend_veth, check=False)
        ip("netns", "del", self.backend_ns, check=False)
        ip("link", "del", self.bridge, check=False)
