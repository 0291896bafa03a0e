"""A real, standalone Ironic for the functional tests and the bench.

What it runs: Ironic (pinned, from PyPI) in its own cached venv (it pins
eventlet and friends that clash with the project's venv), one ``ironic``
process serving both the API and the conductor (``rpc_transport = none``),
sqlite, ``noauth``, the ``fake-hardware`` type with fake interfaces (storage
and network ``noop``, DHCP ``none``), on a free loopback port.  Nodes are
enrolled one at a time (sqlite locks under concurrent writes) and taken
enroll -> manageable -> available, then powered off explicitly: a freshly
enrolled fake node has no power state for up to two minutes and allocations
skip such nodes.

sqlite and concurrency: every transaction of the Ironic process is made
``BEGIN IMMEDIATE`` with a 30 s busy timeout and WAL (``sqlite_immediate.py``,
installed into Ironic's venv and switched on by the environment), or
concurrent allocation POSTs fail at once with HTTP 500 "database is locked"
(oslo.db opens DEFERRED transactions that read, then write).  The same hook
pools sqlite connections (oslo.db's NullPool reconnects per transaction), and
``sqlite_synchronous = false`` drops the fsync per commit: without both, an
allocation took Ironic about twice as long (py-spy), far slower than on the
pooled MySQL of a production Ironic.

Two test-only deploy interfaces (``ironic_faildeploy/``) are installed into
the same venv: ``amphora-fake``, the default here, is Ironic's fake deploy
with a real deploy's power behaviour (on when deployed, off when torn down);
``amphora-fail`` makes a node's deploy fail for real (``deploy failed`` with
``last_error``).

By hand::

    python -m tests.services.ironic --nodes 10
    # prints the endpoint; Ctrl-C stops Ironic and removes its files

Talking to it uses plain JSON over ``urllib`` (no client library), so this
module works in any venv; the driver under test uses python-ironicclient.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.services import sqlite_immediate
from tests.services._proc import (
    ManagedProcess,
    cached_venv,
    free_port,
    http_ok,
    port_open,
    serve_until_stopped,
    wait_until,
)

IRONIC_REQUIREMENTS = ("ironic==39.0.0",)
#: Microversion this module speaks (Ironic 39 serves up to 1.10x).
API_VERSION = "1.78"
#: The failing deploy interface the fixture installs (see ironic_faildeploy/).
FAIL_DEPLOY_INTERFACE = "amphora-fail"
#: The default deploy interface here: Ironic's fake deploy, powering the node on
#: when deployed and off when torn down, as a real deploy does.
FAKE_DEPLOY_INTERFACE = "amphora-fake"
FAIL_DEPLOY_MESSAGE = "amphora-fail deploy interface: injected deploy failure"
FAILDEPLOY_SOURCE = Path(__file__).resolve().parent / "ironic_faildeploy"
DEFAULT_RESOURCE_CLASS = "amphora-bm"
#: Nodes created at this microversion start ``available`` (1.11 introduced ``enroll``).
AVAILABLE_ON_CREATE_VERSION = "1.10"
START_TIMEOUT = 60.0
STEP_TIMEOUT = 60.0


def ironic_venv() -> Path:
    """Ironic's own venv (cached), with the test deploy interfaces and the sqlite hook."""
    venv = cached_venv("ironic", list(IRONIC_REQUIREMENTS))
    _install_faildeploy(venv)
    sqlite_immediate.install_into(venv)
    return venv


def _install_faildeploy(venv: Path) -> None:
    """pip-install ``ironic_faildeploy`` into ``venv`` unless this exact source is there.

    The source is copied to a temporary directory first so the build leaves
    nothing (egg-info, build/) in the repository.
    """
    digest = hashlib.sha256()
    for path in sorted(FAILDEPLOY_SOURCE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path):
            digest.update(path.relative_to(FAILDEPLOY_SOURCE).as_posix().encode())
            digest.update(path.read_bytes())
    marker = venv / ".amphora-faildeploy"
    if marker.exists() and marker.read_text().strip() == digest.hexdigest():
        return
    with tempfile.TemporaryDirectory(prefix="faildeploy-") as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(FAILDEPLOY_SOURCE, src,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
             "--disable-pip-version-check", "--no-deps",
             "--force-reinstall", str(src)],
            check=True, timeout=300, stdout=subprocess.DEVNULL)
    marker.write_text(digest.hexdigest() + "\n")


def write_config(workdir: Path, port: int, *, host: str = "127.0.0.1",
                 extra: Mapping[str, Mapping[str, str]] | None = None) -> Path:
    """Write ironic.conf for a standalone, noauth, fake-hardware Ironic; return its path."""
    fake = "fake"
    sections: dict[str, dict[str, str]] = {
        "DEFAULT": {
            "auth_strategy": "noauth",
            "rpc_transport": "none",
            "host": "amphora-test-conductor",
            "debug": "false",
            "use_stderr": "true",
            "enabled_hardware_types": "fake-hardware",
            "default_resource_class": DEFAULT_RESOURCE_CLASS,
            "enabled_bios_interfaces": fake,
            "enabled_boot_interfaces": fake,
            "enabled_console_interfaces": fake,
            "enabled_deploy_interfaces": f"{FAKE_DEPLOY_INTERFACE},{FAIL_DEPLOY_INTERFACE},{fake}",
            "default_deploy_interface": FAKE_DEPLOY_INTERFACE,
            "enabled_firmware_interfaces": fake,
            "enabled_inspect_interfaces": fake,
            "enabled_management_interfaces": fake,
            "enabled_network_interfaces": "noop",
            "enabled_power_interfaces": fake,
            "enabled_raid_interfaces": fake,
            "enabled_rescue_interfaces": fake,
            # "fake" storage makes the service hang and ignore SIGTERM (RECIPES.md).
            "enabled_storage_interfaces": "noop",
            "enabled_vendor_interfaces": fake,
        },
        "api": {"host_ip": host, "port": str(port), "api_workers": "1"},
        # sqlite waits up to 30 s for a lock (not 5 s); sqlite_immediate (switched on in
        # the process's environment) makes each transaction BEGIN IMMEDIATE, with WAL.
        # No fsync per commit (oslo.db's own option): a throw-away test database needs
        # no durability against power loss, and a killed Ironic loses nothing the
        # kernel already has.  With fsync every commit cost Ironic's allocation worker
        # more than a query does.
        "database": {"connection": f"sqlite:///{workdir / 'ironic.sqlite'}?timeout=30",
                     "sqlite_synchronous": "false"},
        "dhcp": {"dhcp_provider": "none"},
        "conductor": {
            "automated_clean": "false",
            "heartbeat_interval": "5",
        },
        "oslo_concurrency": {"lock_path": str(workdir / "locks")},
    }
    for section, values in (extra or {}).items():
        sections.setdefault(section, {}).update(values)
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in values.items())
        lines.append("")
    path = workdir / "ironic.conf"
    path.write_text("\n".join(lines))
    return path


class IronicError(RuntimeError):
    """The test Ironic answered with an error or did not reach a state in time."""


@dataclass
class IronicService:
    """One running standalone Ironic; ``endpoint`` is what the driver is given."""

    workdir: Path
    port: int
    venv: Path
    host: str = "127.0.0.1"
    process: ManagedProcess | None = None
    config_path: Path | None = None
    nodes: list[str] = field(default_factory=list)
    #: Extra ironic.conf settings, e.g. ``{"fake": {"deploy_delay": "2"}}``.
    config_extra: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- lifecycle --------------------------------------------------------------

    def prepare(self) -> None:
        """Write the config and create the schema (once per workdir)."""
        (self.workdir / "locks").mkdir(parents=True, exist_ok=True)
        self.config_path = write_config(self.workdir, self.port, host=self.host,
                                        extra=self.config_extra)
        if not (self.workdir / "ironic.sqlite").exists():
            subprocess.run(
                [str(self.venv / "bin" / "ironic-dbsync"), "--config-file",
                 str(self.config_path), "create_schema"],
                check=True, timeout=300, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, env=sqlite_immediate.service_env())

    def start(self, timeout: float = START_TIMEOUT) -> IronicService:
        """Start ``ironic`` and wait until its API answers (about 2 s)."""
        if self.config_path is None:
            self.prepare()
        wait_until(lambda: not port_open(self.host, self.port), timeout=15,
                   what=f"port {self.port} to be free")
        self.process = ManagedProcess(
            "ironic", [str(self.venv / "bin" / "ironic"), "--config-file", str(self.config_path)],
            self.workdir / "ironic.log", env=sqlite_immediate.service_env()).start()
        self.process.wait_ready(lambda: http_ok(self.endpoint + "/v1", timeout=2), timeout,
                                "ironic API", IronicError)
        return self

    def stop(self) -> None:
        """Stop the process group (SIGTERM, then SIGKILL); safe to call twice."""
        if self.process is not None:
            self.process.stop(timeout=15)

    def kill(self) -> None:
        """SIGKILL the process group (the fault tests' 'Ironic dies')."""
        if self.process is not None:
            self.process.kill()

    def restart(self, timeout: float = START_TIMEOUT) -> IronicService:
        """Start again on the same port and database (after ``kill`` or ``stop``)."""
        self.stop()
        return self.start(timeout)

    # -- REST helpers (plain JSON, no client library) -----------------------------

    def request(self, method: str, path: str, body: Any = None,
                version: str = API_VERSION, timeout: float = 30.0) -> Any:
        """One JSON request to the API; IronicError with Ironic's message on 4xx/5xx."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.endpoint + path, data=data, method=method,
            headers={"Content-Type": "application/json",
                     "X-OpenStack-Ironic-API-Version": version})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=timeout) as resp:
                text = resp.read()
        except urllib.error.HTTPError as exc:
            raise IronicError(f"{method} {path}: HTTP {exc.code}: "
                              f"{exc.read().decode(errors='replace')[:500]}") from exc
        return json.loads(text) if text else None

    def node(self, ident: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/v1/nodes/{ident}")
        return result

    def list_nodes(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in {"limit": "1000", **filters}.items())
        result: list[dict[str, Any]] = self.request("GET", f"/v1/nodes?{query}")["nodes"]
        return result

    def allocations(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/v1/allocations")["allocations"]
        return result

    def wait_provision_state(self, ident: str, state: str,
                             timeout: float = STEP_TIMEOUT) -> dict[str, Any]:
        """Poll the node until ``provision_state == state``; IronicError on a failure state."""
        deadline = time.monotonic() + timeout
        while True:
            node = self.node(ident)
            if node["provision_state"] == state and node.get("target_provision_state") is None:
                return node
            if node["provision_state"] in ("enroll", "error", "deploy failed", "clean failed") \
                    and node["provision_state"] != state and not node.get("target_provision_state"):
                raise IronicError(f"node {ident} is {node['provision_state']}: "
                                  f"{node.get('last_error')}")
            if time.monotonic() > deadline:
                raise IronicError(f"node {ident} stuck in {node['provision_state']} "
                                  f"(wanted {state})")
            time.sleep(0.05)

    def set_provision(self, ident: str, target: str, **body: Any) -> None:
        self.request("PUT", f"/v1/nodes/{ident}/states/provision", {"target": target, **body})

    def set_power(self, ident: str, target: str, timeout: float = STEP_TIMEOUT) -> None:
        """Set the power state and wait until Ironic reports it."""
        self.request("PUT", f"/v1/nodes/{ident}/states/power", {"target": target})
        wait_until(lambda: self.node(ident)["power_state"] == target, timeout=timeout,
                   interval=0.05, what=f"node {ident} to be {target}")

    def enroll(self, count: int, *, resource_class: str = DEFAULT_RESOURCE_CLASS,
               name_prefix: str = "fake-node", timeout: float = STEP_TIMEOUT) -> list[str]:
        """Enroll ``count`` fake nodes, each ``available`` and powered off; return their uuids.

        Why it is fast (about 0.1 s a node instead of 0.6 s): a node created at
        API 1.10 starts ``available`` (Ironic's documented behaviour before 1.11
        introduced ``enroll``), which skips the manage/provide round trips that
        do nothing for a fake node; the resource class comes from
        ``[DEFAULT] default_resource_class`` when it is the default one (a PATCH
        otherwise).  Requests go one at a time (sqlite locks under concurrent
        writes); power-off requests are not waited for one by one but checked
        together at the end with one node list.
        """
        made: list[str] = []
        for _ in range(count):
            index = len(self.nodes)
            node = self.request("POST", "/v1/nodes", {
                "driver": "fake-hardware",
                "name": f"{name_prefix}-{index}",
                "properties": {"cpus": 2, "memory_mb": 4096, "local_gb": 40,
                               "cpu_arch": "x86_64"},
            }, version=AVAILABLE_ON_CREATE_VERSION)
            uuid = node["uuid"]
            if node["provision_state"] != "available":
                raise IronicError(f"node {uuid} was created {node['provision_state']!r}")
            self.nodes.append(uuid)
            made.append(uuid)
            if resource_class != DEFAULT_RESOURCE_CLASS:
                self.request("PATCH", f"/v1/nodes/{uuid}", [
                    {"op": "add", "path": "/resource_class", "value": resource_class}])
            self.request("PUT", f"/v1/nodes/{uuid}/states/power", {"target": "power off"})
        wanted = set(made)

        def all_off() -> bool:
            nodes = self.list_nodes(fields="uuid,power_state,target_power_state")
            return all(n["power_state"] == "power off" and not n["target_power_state"]
                       for n in nodes if n["uuid"] in wanted)

        wait_until(all_off, timeout=timeout, interval=0.05,
                   what=f"{len(made)} new nodes to be powered off")
        return made

    def add_trait(self, ident: str, trait: str) -> None:
        """Give a node a trait (allocations asking for it then match only such nodes)."""
        self.request("PUT", f"/v1/nodes/{ident}/traits/{trait}")

    def set_deploy_interface(self, ident: str, interface: str) -> None:
        """Switch a node's deploy interface at run time (fake-hardware accepts any)."""
        self.request("PATCH", f"/v1/nodes/{ident}",
                     [{"op": "replace", "path": "/deploy_interface", "value": interface}])


@contextlib.contextmanager
def ironic_service(nodes: int = 0, *, resource_class: str = DEFAULT_RESOURCE_CLASS,
                   workdir: Path | None = None,
                   config_extra: Mapping[str, Mapping[str, str]] | None = None,
                   ) -> Iterator[IronicService]:
    """Start a standalone Ironic with ``nodes`` available fake nodes; stop it on exit.

    Nothing is left running and (unless ``workdir`` was given) no file is left.
    """
    venv = ironic_venv()
    own_dir = workdir is None
    path = Path(tempfile.mkdtemp(prefix="amphora-ironic-")) if own_dir else Path(workdir)
    service = IronicService(workdir=path, port=free_port(), venv=venv,
                            config_extra=dict(config_extra or {}))
    try:
        service.prepare()
        service.start()
        if nodes:
            service.enroll(nodes, resource_class=resource_class)
        yield service
    finally:
        service.stop()
        if own_dir:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.services.ironic``: run Ironic in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10, help="fake nodes to enroll (10)")
    parser.add_argument("--resource-class", default=DEFAULT_RESOURCE_CLASS)
    args = parser.parse_args(argv)
    print("preparing Ironic's venv (cached after the first run)...", flush=True)
    with ironic_service(args.nodes, resource_class=args.resource_class) as service:
        print(f"Ironic is up: endpoint {service.endpoint}  (noauth, API {API_VERSION})")
        print(f"{len(service.nodes)} fake nodes, resource class {args.resource_class!r}")
        print(f"workdir {service.workdir} (log: ironic.log); Ctrl-C to stop", flush=True)
        assert service.process is not None
        exited = serve_until_stopped(service.process)
        if exited is not None:
            print(f"ironic exited:\n{exited.log_tail()}", file=sys.stderr)
            return 1
    print("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
