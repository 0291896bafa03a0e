"""Fixtures for the hardware driver's functional tests (imported by the test modules).

Real things only: OpenSSH sshd (``tests.services.sshd``) with HAProxy slots in
network namespaces (``tests.services.netns``), and the asyncssh emulator of
the vendor CLIs (``tests.services.vendor_cli``) driven by netmiko's own
device classes.  Nothing is mocked.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from amphora_compute.breakers import BreakerRegistry
from amphora_compute.config import BreakerSettings
from amphora_compute.drivers.hardware.driver import HardwareDriver
from amphora_compute.enums import AmphoraType
from amphora_compute.models import BuildRequest
from tests.services import netns, sshd
from tests.services._proc import unavailable
from tests.services.vendor_cli import FAMILIES, VendorCliServer

DriverFactory = Callable[..., HardwareDriver]


def linux_missing() -> str | None:
    for tool in ("haproxy", "socat", "curl", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install haproxy socat curl iproute2)"
    return sshd.missing() or netns.missing()


class LinuxLab:
    """Two sshd "appliances" (lb1, lb2) sharing one test network."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.net = netns.TestNetwork(root / "net")
        self.servers = {name: sshd.SshServer(root / name, name=name) for name in ("lb1", "lb2")}

    def start(self) -> LinuxLab:
        self.net.start()
        for server in self.servers.values():
            server.start()
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.net.stop()

    def state_dir(self, device: str) -> Path:
        return self.root / "state" / device

    def device(self, name: str, server: str | None = None, **extra: Any) -> dict[str, Any]:
        params = {"bridge": self.net.bridge, "state_dir": str(self.state_dir(name))}
        params.update(extra.pop("params", {}))
        base = self.servers.get(server or name, self.servers["lb1"])
        return base.device(name, slot_network=self.net.network, params=params, **extra)

    def request(self, name: str, **overrides: Any) -> BuildRequest:
        metadata = {"backends": f"{self.net.backend_address}:{self.net.backend_port}"}
        metadata.update(overrides.pop("metadata", {}))
        overrides.setdefault("amphora_type", AmphoraType.HARDWARE_LB)
        return BuildRequest(name=name, metadata=metadata, **overrides)

    def slots_left(self, device: str) -> list[str]:
        """What a device still holds on disk (slot directories)."""
        path = self.state_dir(device)
        return sorted(p.name for p in path.iterdir()) if path.exists() else []


@pytest.fixture(scope="module")
def linux_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LinuxLab]:
    reason = linux_missing()
    if reason:
        unavailable(reason)
    lab = LinuxLab(tmp_path_factory.mktemp("hwlab"))
    try:
        lab.start()
    except (OSError, subprocess.SubprocessError) as exc:
        lab.stop()
        unavailable(f"Linux appliance lab: {exc}")
    yield lab
    lab.stop()
    leftovers = {n for n in netns.netns_names() if n.startswith("amp")}
    assert not leftovers, f"network namespaces left behind: {sorted(leftovers)}"


def registry(fail_max: int = 5, reset_timeout: float = 60.0) -> BreakerRegistry:
    return BreakerRegistry(BreakerSettings(fail_max=fail_max, reset_timeout=reset_timeout))


@pytest.fixture
def make_driver() -> Iterator[DriverFactory]:
    """``make_driver(devices, **options)``: a HardwareDriver closed (and emptied) afterwards."""
    made: list[HardwareDriver] = []

    def make(devices: list[dict[str, Any]], *, breakers: BreakerRegistry | None = None,
             **options: Any) -> HardwareDriver:
        driver = HardwareDriver({"devices": devices, **options}, breakers=breakers)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        for device in driver.devices:
            try:
                for amphora in driver.ex_list(device):
                    driver.delete(amphora.id)
            except Exception:  # noqa: BLE001 - a test may have killed a device on purpose
                pass
        driver.close()


class VendorLab:
    """One emulated device per vendor family, and a client key they all accept."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.key = root / "id_ed25519"
        self.servers: dict[str, VendorCliServer] = {}

    def start(self) -> VendorLab:
        self.root.mkdir(parents=True, exist_ok=True)
        public = sshd.keygen(self.key)
        for family in FAMILIES:
            self.servers[family] = VendorCliServer(self.root, family,
                                                   client_public_key=public).start()
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def device(self, family: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
        return self.servers[family].device_entry(name or family.split("-")[0],
                                                 key_file=str(self.key), **extra)


@pytest.fixture(scope="module")
def vendor_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VendorLab]:
    if shutil.which("ssh-keygen") is None:
        unavailable("ssh-keygen is not installed (apt-get install openssh-client)")
    lab = VendorLab(tmp_path_factory.mktemp("vendorlab"))
    try:
        lab.start()
    except OSError as exc:
        lab.stop()
        unavailable(f"vendor CLI emulator: {exc}")
    yield lab
    lab.stop()
