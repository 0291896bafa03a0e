"""A real, small Nova stack on loopback: the service behind the ``nova`` driver's tests.

Nova 34 (API, conductor, scheduler and two ``nova-compute`` hosts with
``fake.FakeDriver``), Placement, Glance and Neutron (ML2 with a bind-anything
mechanism driver), RabbitMQ from Debian's packages, all on free loopback
ports, from one cached venv, with sqlite databases copied fresh from cached
empty schemas at every start.  There is no Keystone: a paste filter stands in
for ``authtoken`` and the client's clouds.yaml uses ``auth_type: none``.

By hand::

    python -m tests.services.nova_stack start     # prints the clouds.yaml path; Ctrl-C stops

In tests: ``NovaStack().start()`` ... ``stop()`` (see tests/functional/nova_fixtures.py).
RECIPES.md (the Nova section) has the why of each setting.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.services._proc import (
    ManagedProcess,
    cache_dir,
    cached_venv,
    file_lock,
    free_listen_port,
    http_ok,
    port_open,
    wait_until,
)

from . import configs
from .configs import COMPUTE_HOSTS, Ports
from .requirements import REQUIREMENTS

LOG = logging.getLogger(__name__)

SHIM_DIR = Path(__file__).with_name("shim")
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CLOUD_NAME = "amp-nova-stack"
IMAGE_TAG = "amphora-image"
#: Bump when the schema-building steps change, so a stale cached schema is not reused.
SCHEMA_REVISION = "1"
DB_FILES = ("nova_api.sqlite", "nova_cell0.sqlite", "nova_cell1.sqlite", "placement.sqlite",
            "glance.sqlite", "neutron.sqlite")
#: Flavors made at each start; amp.huge is larger than a fake host, so it never fits.
FLAVORS = {
    "amp.tiny": (1, 512, 1),
    "amp.small": (1, 1024, 2),
    "amp.medium": (2, 2048, 10),
    "amp.huge": (4096, 4_000_000, 2_000_000),
}
NOVA_MICROVERSION = "2.96"


class StackError(RuntimeError):
    """The stack could not start; the message carries the failing service's log tail."""


@dataclass
class StackResources:
    """What ``start`` created for the tests: ids and names to build amphorae with."""

    image_id: str = ""
    image_tag: str = IMAGE_TAG
    flavors: dict[str, str] = field(default_factory=dict)
    network_id: str = ""
    network_name: str = "amp-mgmt-net"
    subnet_id: str = ""
    vip_network_id: str = ""
    vip_network_name: str = "amp-vip-net"
    security_group_id: str = ""
    security_group_name: str = "amp-sec-grp"
    key_name: str = "amp-key"
    compute_hosts: tuple[str, ...] = COMPUTE_HOSTS


def stack_venv() -> Path:
    """The stack's venv (about 550 MB; built once in about 2 minutes, then cached)."""
    return cached_venv("nova-stack", list(REQUIREMENTS))


class NovaStack:
    """Start, use and stop the stack.  ``start`` is idempotent per instance; ``stop`` too."""

    def __init__(self, run_dir: str | Path | None = None, cloud: str = CLOUD_NAME) -> None:
        self._own_dir = run_dir is None
        self.run_dir = Path(run_dir) if run_dir else Path(
            tempfile.mkdtemp(prefix="amp-nova-stack-"))
        self.cloud = cloud
        self.venv: Path | None = None
        self.ports: Ports | None = None
        self.processes: dict[str, ManagedProcess] = {}
        self.resources = StackResources()
        self.timings: dict[str, float] = {}
        self.clouds_yaml = self.run_dir / "clouds.yaml"

    # -- lifecycle -------------------------------------------------------------

    def start(self, timeout: float = 240.0) -> NovaStack:
        """Bring every service up and create the test resources; StackError on failure."""
        t0 = time.monotonic()
        try:
            self._start(t0 + timeout)
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = time.monotonic() - t0
        LOG.info("nova stack up in %.1fs: %s", self.timings["total"], self.timings)
        return self

    def stop(self) -> None:
        """SIGTERM every process group at once (nova-compute alone takes seconds), then SIGKILL."""
        procs = list(self.processes.values())
        threads = [threading.Thread(target=p.stop, kwargs={"timeout": 8.0}) for p in procs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.processes.clear()

    @classmethod
    def attach(cls, stack_json: str | Path) -> NovaStack:
        """A handle on a stack started elsewhere (``start --dir``): a developer's quick loop.

        It cannot stop or restart services (it holds no process), so tests that
        need that skip themselves when attached.
        """
        info = json.loads(Path(stack_json).read_text())
        stack = cls(run_dir=info["run_dir"], cloud=info["cloud"])
        stack.ports = Ports(**info["ports"])
        resources = dict(info["resources"])
        resources["compute_hosts"] = tuple(resources["compute_hosts"])
        stack.resources = StackResources(**resources)
        stack.attached = True
        return stack

    attached = False

    def stop_service(self, name: str) -> None:
        """Stop one service (fault tests: 'nova-api goes away')."""
        if self.attached:
            raise StackError("an attached stack cannot stop its services")
        proc = self.processes.pop(name)
        proc.stop(timeout=5.0)

    def start_service(self, name: str, timeout: float = 60.0) -> None:
        """Start a service stopped by ``stop_service`` again, on the same port."""
        assert self.ports is not None and self.venv is not None
        proc = self._service_process(name)
        self.processes[name] = proc.start()
        url = {"nova-api": self.ports.url("nova"), "glance": self.ports.url("glance"),
               "neutron": self.ports.url("neutron"),
               "placement": self.ports.url("placement")}[name]
        self._wait_for(name, lambda: http_ok(url), time.monotonic() + timeout)

    def __enter__(self) -> NovaStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def info(self) -> dict[str, Any]:
        """What a developer or a test needs to use the stack (also written to stack.json)."""
        assert self.ports is not None
        return {"cloud": self.cloud, "clouds_yaml": str(self.clouds_yaml),
                "run_dir": str(self.run_dir), "ports": asdict(self.ports),
                "resources": asdict(self.resources), "timings": self.timings,
                "pids": {name: proc.pid for name, proc in self.processes.items()}}

    # -- start, step by step ------------------------------------------------------

    def _start(self, deadline: float) -> None:
        if not Path(RABBITMQ_SERVER).exists() or shutil.which("epmd") is None:
            raise StackError("RabbitMQ is not installed (apt-get install rabbitmq-server)")
        step = time.monotonic()
        self.venv = stack_venv()
        self.timings["venv"] = time.monotonic() - step
        # Below the ephemeral range: the services bind 10 to 30 s after the pick,
        # and meanwhile every outgoing connection takes an ephemeral local port.
        picked: set[int] = set()
        while len(picked) < 7:
            picked.add(free_listen_port())
        nova, placement, glance, neutron, amqp, dist, epmd = sorted(picked)
        self.ports = Ports(nova=nova, placement=placement, glance=glance, neutron=neutron,
                           amqp=amqp, rabbit_dist=dist, epmd=epmd)
        step = time.monotonic()
        schemas = ensure_schemas(self.venv)
        self.timings["schemas"] = time.monotonic() - step
        step = time.monotonic()
        configs.write_all(self.run_dir, self.venv, self.ports)
        self._copy_schemas(schemas)
        configs.clouds_yaml(self.clouds_yaml, self.cloud, self.ports)
        (self.run_dir / "logs").mkdir(exist_ok=True)
        self.timings["configs"] = time.monotonic() - step

        step = time.monotonic()
        # Everything but the computes at once: the conductor and scheduler keep
        # retrying RabbitMQ until it listens (2 cores: the imports are the cost).
        for name in ("epmd", "rabbitmq", "placement", "glance", "neutron", "nova-api",
                     "nova-conductor", "nova-scheduler"):
            self.processes[name] = self._service_process(name).start()
        self._wait_for("rabbitmq", lambda: port_open("127.0.0.1", self.ports.amqp), deadline)
        self.timings["rabbitmq"] = time.monotonic() - step
        self._wait_for("nova-conductor", self._conductor_ready, deadline)
        self.timings["conductor"] = time.monotonic() - step
        # Start nova-compute only once the conductor listens: a lost first ping costs 10 s.
        for host in COMPUTE_HOSTS:
            self.processes[host] = self._service_process(host).start()
        for name, svc in (("placement", "placement"), ("glance", "glance"),
                          ("neutron", "neutron"), ("nova-api", "nova")):
            url = self.ports.url(svc)
            self._wait_for(name, lambda url=url: http_ok(url), deadline)
        self.timings["apis"] = time.monotonic() - step
        resources = _Background(self._create_resources)
        self._wait_for("nova-compute", self._computes_ready, deadline)
        self.timings["computes"] = time.monotonic() - step
        resources.join(max(1.0, deadline - time.monotonic()))
        self.timings["resources"] = time.monotonic() - step
        (self.run_dir / "stack.json").write_text(json.dumps(self.info(), indent=2))

    def _copy_schemas(self, schemas: Path) -> None:
        """Fresh databases from the cached empty schemas; cell1 pointed at this run's RabbitMQ."""
        assert self.ports is not None
        db = self.run_dir / "db"
        for name in DB_FILES:
            target = db / name
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(str(target) + suffix).unlink()
            shutil.copyfile(schemas / name, target)
        with contextlib.closing(sqlite3.connect(db / "nova_api.sqlite")) as conn:
            conn.execute("update cell_mappings set transport_url=? where name='cell1'",
                         (self.ports.transport_url,))
            conn.commit()

    def _conductor_ready(self) -> bool:
        """Registered, and connected to RabbitMQ (RabbitMQ logs each client by name)."""
        if self._count("nova_cell1",
                       "select count(*) from services where binary='nova-conductor'") < 1:
            return False
        return "client-provided name: nova-conductor:" in \
            self.processes["rabbitmq"].log_tail(3000)

    def _computes_ready(self) -> bool:
        """Both hosts mapped to the cell (schedulable) and reported to placement."""
        mapped = self._count("nova_api", "select count(*) from host_mappings")
        providers = self._count("placement",
                                "select count(distinct resource_provider_id) from inventories")
        return mapped >= len(COMPUTE_HOSTS) and providers >= len(COMPUTE_HOSTS)

    def _count(self, db: str, query: str) -> int:
        with contextlib.closing(sqlite3.connect(
                f"file:{self.run_dir / 'db' / db}.sqlite?mode=ro", uri=True, timeout=5)) as conn:
            return int(conn.execute(query).fetchone()[0])

    def _wait_for(self, name: str, predicate: Callable[[], bool], deadline: float) -> None:
        def ready() -> bool:
            for proc_name, proc in self.processes.items():
                if not proc.alive():
                    raise StackError(f"{proc_name} exited while waiting for {name}:\n"
                                     f"{proc.log_tail()}")
            return predicate()

        while True:
            try:
                if ready():
                    return
            except StackError:
                raise
            except Exception:  # noqa: BLE001 - not ready yet (sqlite table missing, ...)
                pass
            if time.monotonic() > deadline:
                tail = self.processes[name].log_tail() if name in self.processes else ""
                raise StackError(f"timed out waiting for {name}:\n{tail}")
            time.sleep(0.2)

    # -- processes -------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        assert self.venv is not None
        env = {k: v for k, v in os.environ.items()
               if not k.lower().endswith("_proxy") and not k.startswith(("OS_", "PYTHON"))}
        etc = self.run_dir / "etc"
        env.update({
            "PATH": f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
            "PYTHONPATH": str(SHIM_DIR),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AMPSTACK_TUNE_SQLITE": "1",
            "OS_NOVA_CONFIG_DIR": str(etc / "nova"),
            "OS_PLACEMENT_CONFIG_DIR": str(etc / "placement"),
            "OS_GLANCE_CONFIG_DIR": str(etc / "glance"),
            "OS_NEUTRON_CONFIG_DIR": str(etc / "neutron"),
            "OS_NEUTRON_CONFIG_FILES": "neutron.conf;plugins/ml2/ml2_conf.ini",
            "NO_PROXY": "127.0.0.1,localhost",
        })
        return env

    def _gunicorn(self, name: str, port: int, app: str, threads: int = 8) -> list[str]:
        assert self.venv is not None
        return [str(self.venv / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}",
                "--workers", "1", "--worker-class", "gthread", "--threads", str(threads),
                "--timeout", "300", "--graceful-timeout", "3", "--name", f"ampstack-{name}",
                "--no-control-socket",  # gunicorn 27's default is one shared ~/.gunicorn path
                f"ampstack_shim:{app}()"]

    def _service_process(self, name: str) -> ManagedProcess:
        assert self.venv is not None and self.ports is not None
        ports, bin_dir, log = self.ports, self.venv / "bin", self.run_dir / "logs" / f"{name}.log"
        nova_conf = ["--config-file", str(self.run_dir / "etc" / "nova" / "nova.conf")]
        env = self._env()
        if name == "epmd":
            argv = ["epmd", "-port", str(ports.epmd), "-address", "127.0.0.1"]
        elif name == "rabbitmq":
            argv = [RABBITMQ_SERVER]
            env.update(configs.rabbit_env(self.run_dir, ports))
        elif name == "placement":
            argv = self._gunicorn(name, ports.placement, "placement_app")
        elif name == "glance":
            argv = self._gunicorn(name, ports.glance, "glance_app")
        elif name == "neutron":
            argv = self._gunicorn(name, ports.neutron, "neutron_app")
        elif name == "nova-api":
            argv = self._gunicorn(name, ports.nova, "nova_api_app")
        elif name in ("nova-conductor", "nova-scheduler"):
            argv = [str(bin_dir / name), *nova_conf]
        elif name in COMPUTE_HOSTS:
            argv = [str(bin_dir / "nova-compute"), *nova_conf, "--config-file",
                    str(self.run_dir / "etc" / "nova" / f"{name}.conf")]
        else:
            raise ValueError(f"unknown service {name!r}")
        return ManagedProcess(name, argv, log, env=env, cwd=self.run_dir)

    # -- resources the tests use ------------------------------------------------

    def _create_resources(self) -> None:
        assert self.ports is not None
        api = _Api(self.ports)
        res = self.resources
        for name, (vcpus, ram, disk) in FLAVORS.items():
            flavor = api.post("nova", "/v2.1/flavors", {"flavor": {
                "name": name, "vcpus": vcpus, "ram": ram, "disk": disk}})["flavor"]
            res.flavors[name] = flavor["id"]
        image = api.post("glance", "/v2/images", {
            "name": "amphora-test-image", "disk_format": "raw", "container_format": "bare",
            "visibility": "public", "tags": [IMAGE_TAG]})
        api.put_bytes("glance", f"/v2/images/{image['id']}/file", b"\0" * 1024)
        res.image_id = image["id"]
        for attr, net_name, cidr in (("network_id", res.network_name, "10.99.0.0/24"),
                                     ("vip_network_id", res.vip_network_name, "10.98.0.0/24")):
            net = api.post("neutron", "/v2.0/networks", {"network": {"name": net_name}})
            setattr(res, attr, net["network"]["id"])
            subnet = api.post("neutron", "/v2.0/subnets", {"subnet": {
                "network_id": net["network"]["id"], "ip_version": 4, "cidr": cidr,
                "name": f"{net_name}-subnet"}})
            if attr == "network_id":
                res.subnet_id = subnet["subnet"]["id"]
        group = api.post("neutron", "/v2.0/security-groups", {"security_group": {
            "name": res.security_group_name}})
        res.security_group_id = group["security_group"]["id"]
        api.post("nova", "/v2.1/os-keypairs", {"keypair": {
            "name": res.key_name, "public_key": _ssh_public_key(self.run_dir)}})
        wait_until(lambda: api.get("glance", f"/v2/images/{res.image_id}")["status"]
                   == "active", 30, what="the test image to be active")


class _Background(threading.Thread):
    """Run ``fn`` in a thread; ``join`` re-raises its error."""

    def __init__(self, fn: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self._fn, self._error = fn, None  # type: ignore[var-annotated]
        self.start()

    def run(self) -> None:
        try:
            self._fn()
        except BaseException as exc:  # noqa: BLE001 - handed to join()
            self._error = exc  # type: ignore[assignment]

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.is_alive():
            raise StackError("creating the test resources timed out")
        if self._error is not None:
            raise StackError(f"creating the test resources failed: {self._error}") \
                from self._error


class _Api:
    """Just enough HTTP for the setup calls (no openstacksdk import: start-up time matters)."""

    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, service: str, method: str, path: str, body: bytes | None,
              content_type: str) -> Any:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if service == "nova":
            headers["OpenStack-API-Version"] = f"compute {NOVA_MICROVERSION}"
        request = urllib.request.Request(self.ports.url(service) + path, data=body,
                                         method=method, headers=headers)
        last: Exception | None = None
        for _ in range(30):  # the API may still be warming up right after its port opened
            try:
                with self.opener.open(request, timeout=30) as resp:
                    data = resp.read()
                    return json.loads(data) if data else None
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    raise StackError(f"{method} {service}{path}: HTTP {exc.code}: "
                                     f"{exc.read()[:500]!r}") from exc
                last = exc
            except OSError as exc:
                last = exc
            time.sleep(0.5)
        raise StackError(f"{method} {service}{path}: {last}")

    def get(self, service: str, path: str) -> Any:
        return self._call(service, "GET", path, None, "application/json")

    def post(self, service: str, path: str, body: dict[str, Any]) -> Any:
        return self._call(service, "POST", path, json.dumps(body).encode(), "application/json")

    def put_bytes(self, service: str, path: str, data: bytes) -> Any:
        return self._call(service, "PUT", path, data, "application/octet-stream")


def _ssh_public_key(run_dir: Path) -> str:
    """An ed25519 public key for the test keypair (Nova needs one from microversion 2.92)."""
    key = run_dir / "amp-key"
    if shutil.which("ssh-keygen"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "amp-test",
                        "-f", str(key)], check=True, timeout=30)
        return (run_dir / "amp-key.pub").read_text().strip()
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + hashlib.sha256(b"amp").digest()
    return "ssh-ed25519 " + base64.b64encode(blob).decode() + " amp-test"


# -- cached empty schemas ----------------------------------------------------------


def ensure_schemas(venv: Path) -> Path:
    """Empty databases for every service, built once per requirement set and cached.

    Building them (nova-manage, placement-manage, glance-manage, and for Neutron,
    whose migrations fail on sqlite, ``create_all`` + ``stamp heads``) takes 30 s
    or more on 2 cores; copying them takes milliseconds.
    """
    digest = hashlib.sha256("\n".join([SCHEMA_REVISION, *REQUIREMENTS]).encode()).hexdigest()
    target = cache_dir() / "nova-stack-schemas" / digest[:12]
    marker = target / ".complete"
    with file_lock(cache_dir() / "nova-stack-schemas.lock"):
        if marker.exists():
            return target
        work = Path(tempfile.mkdtemp(prefix="amp-nova-schemas-"))
        try:
            _build_schemas(venv, work)
            target.mkdir(parents=True, exist_ok=True)
            for name in DB_FILES:
                _checkpoint(work / "db" / name)
                shutil.copyfile(work / "db" / name, target / name)
            marker.write_text(digest + "\n")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the main file so that one file is the whole database."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("pragma wal_checkpoint(TRUNCATE)")
        conn.execute("pragma journal_mode=DELETE")


_NEUTRON_CREATE_ALL = """
import sys
import sqlalchemy as sa
from sqlalchemy import orm
from neutron.db.migration.models import head
orm.configure_mappers()
engine = sa.create_engine(sys.argv[1])
head.get_metadata().create_all(engine)
"""


def _build_schemas(venv: Path, work: Path) -> None:
    ports = Ports(nova=1, placement=1, glance=1, neutron=1, amqp=5672, rabbit_dist=1, epmd=1)
    configs.write_all(work, venv, ports)
    stack = NovaStack(run_dir=work)
    stack.venv, stack.ports = venv, ports
    env = stack._env()
    etc, bin_dir = work / "etc", venv / "bin"
    nova = [str(bin_dir / "nova-manage"), "--config-file", str(etc / "nova" / "nova.conf")]
    neutron_conf = ["--config-file", str(etc / "neutron" / "neutron.conf"), "--config-file",
                    str(etc / "neutron" / "plugins" / "ml2" / "ml2_conf.ini")]
    chains: dict[str, list[list[str]]] = {
        "nova": [
            [*nova, "api_db", "sync"],
            [*nova, "cell_v2", "map_cell0", "--database_connection",
             "sqlite:///db/nova_cell0.sqlite"],
            [*nova, "cell_v2", "create_cell", "--name", "cell1", "--verbose"],
            [*nova, "db", "sync"],
        ],
        "placement": [[str(bin_dir / "placement-manage"), "--config-file",
                       str(etc / "placement" / "placement.conf"), "db", "sync"]],
        "glance": [[str(bin_dir / "glance-manage"), "--config-file",
                    str(etc / "glance" / "glance-api.conf"), "db_sync"]],
        "neutron": [
            [str(bin_dir / "python"), "-c", _NEUTRON_CREATE_ALL, "sqlite:///db/neutron.sqlite"],
            [str(bin_dir / "neutron-db-manage"), *neutron_conf, "stamp", "heads"],
        ],
    }
    errors: list[str] = []

    def run_chain(name: str, steps: Sequence[list[str]]) -> None:
        for argv in steps:
            proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, timeout=600,
                                  check=False)
            if proc.returncode != 0:
                errors.append(f"{name}: {' '.join(argv[:4])} failed:\n"
                              f"{proc.stdout.decode(errors='replace')[-2000:]}\n"
                              f"{proc.stderr.decode(errors='replace')[-3000:]}")
                return

    threads = [threading.Thread(target=run_chain, args=item) for item in chains.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise StackError("building the empty schemas failed:\n" + "\n".join(errors))
    missing = [n for n in DB_FILES if not (work / "db" / n).exists()]
    if missing:
        raise StackError(f"building the empty schemas left no {missing}")


@contextlib.contextmanager
def running_stack(run_dir: str | Path | None = None) -> Iterator[NovaStack]:
    """``with running_stack() as stack:`` start, yield, stop (and remove a temporary run dir)."""
    stack = NovaStack(run_dir)
    try:
        yield stack.start()
    finally:
        stack.stop()
        if stack._own_dir and os.environ.get("AMPHORA_KEEP_STACK_DIR") != "1":
            shutil.rmtree(stack.run_dir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.services.nova_stack start [--dir DIR]``: run until Ctrl-C."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m tests.services.nova_stack")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start the stack and keep it running until Ctrl-C")
    start.add_argument("--dir", help="run directory (default: a new temporary one)")
    sub.add_parser("schemas", help="build the venv and the cached empty schemas only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "schemas":
        print(ensure_schemas(stack_venv()))
        return 0

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt  # also mid-start: start() then stops what it started

    # SIGINT set explicitly: a shell's background job inherits it ignored.
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    try:
        with running_stack(args.dir) as stack:
            _serve(stack)
    except KeyboardInterrupt:
        print("interrupted during start; every service stopped")
    return 0


def _serve(stack: NovaStack) -> None:
    """Print what a developer needs and wait for Ctrl-C (SIGINT or SIGTERM)."""
    import signal

    info = stack.info()
    print(json.dumps(info["resources"], indent=2))
    print(f"stack up in {stack.timings['total']:.1f}s; logs in {stack.run_dir}/logs")
    print(f"export OS_CLIENT_CONFIG_FILE={stack.clouds_yaml}")
    print(f"clouds.yaml: {stack.clouds_yaml} (cloud {stack.cloud!r}); Ctrl-C stops")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        # A second Ctrl-C must not cut the stop short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping ...")
